/**
 * -m ipv6header: ip6t_ipv6header_info (revision 0, 3 bytes: matchflags, invflags, modeflag; ip6tables
 * writes 0xff in the last two for "!" and --soft). `ip6tables -m ipv6header --header hop-by-hop,ipv6-frag --soft`
 */
import { arg, opt, shown, ParseProblem, VALID, type Codec } from './codec';

export type Ipv6HeaderName = 'hop-by-hop' | 'ipv6-opts' | 'ipv6-route' | 'ipv6-frag' | 'ah' | 'esp' | 'ipv6-nonxt' | 'protocol';
export interface Ipv6headerMatch {
  type: 'ipv6header';
  /** The headers the packet has (all of them exactly, or with soft at least one of them). */
  headers: Ipv6HeaderName[];
  soft?: boolean;
  invert?: boolean;
}

// In the order ip6tables prints them.
const NAMES: Array<[Ipv6HeaderName, number]> = [['hop-by-hop', 128], ['ipv6-opts', 64], ['ipv6-route', 32], ['ipv6-frag', 16], ['ah', 8], ['esp', 4], ['ipv6-nonxt', 2], ['protocol', 1]];
const ALIASES: Record<string, Ipv6HeaderName> = { hop: 'hop-by-hop', dst: 'ipv6-opts', route: 'ipv6-route', frag: 'ipv6-frag', auth: 'ah', none: 'ipv6-nonxt', prot: 'protocol' };

const bitsOf = (l: string[]) => l.reduce((m, n) => m | (NAMES.find(([x]) => x === n)?.[1] ?? 0), 0);
const namesOf = (m: number) => NAMES.filter(([, bit]) => m & bit).map(([n]) => n);

export const ipv6header: Codec<Ipv6headerMatch> = {
  kind: 'match',
  type: 'ipv6header',
  name: 'ipv6header',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 3,
  encode(v, b) {
    b[0] = bitsOf(v.headers);
    b[1] = v.invert ? 0xff : 0;
    b[2] = v.soft ? 0xff : 0;
  },
  decode(b) {
    if ((b[1] !== 0 && b[1] !== 0xff) || (b[2] !== 0 && b[2] !== 0xff) || !b[0]) return undefined;
    return { type: 'ipv6header', headers: namesOf(b[0]!), ...(b[2] ? { soft: true } : {}), ...(b[1] ? { invert: true } : {}) };
  },
  validate(v) {
    if (!Array.isArray(v.headers) || !v.headers.length) return [['headers', 'must list at least one header']];
    for (const h of v.headers) if (!NAMES.some(([n]) => n === h)) return [['headers', `unknown header ${shown(h)} (${NAMES.map(([n]) => n).join(', ')})`]];
    // (Held as a bitmap: printed in ip6tables' order, once each.)
    const canon = namesOf(bitsOf(v.headers));
    return canon.length === v.headers.length && canon.every((n, i) => n === v.headers[i]) ? VALID : [['headers', `must be in the order ${NAMES.map(([n]) => n).join(', ')} without repeats`]];
  },
  save: (v) => `${v.invert ? ' !' : ''} --header ${namesOf(bitsOf(v.headers)).join(',')}${v.soft ? ' --soft' : ''}`,
  options: { header: 1, soft: 0 },
  parse(opts) {
    const o = opt(opts, 'header');
    if (!o) throw new ParseProblem('-m ipv6header needs --header');
    const list = arg(o).split(',').map((x) => {
      const n = (NAMES.some(([k]) => k === x) ? x : ALIASES[x]) as Ipv6HeaderName | undefined;
      if (!n) throw new ParseProblem(`unknown IPv6 header "${x}"`);
      return n;
    });
    return { type: 'ipv6header', headers: namesOf(bitsOf(list)), ...(opt(opts, 'soft') ? { soft: true } : {}), ...(o.invert ? { invert: true } : {}) };
  },
};
