/** -m iprange: xt_iprange_mtinfo (revision 1, 68 bytes). `iptables -m iprange --src-range 10.0.0.1-10.0.0.9` */
import { formatAddr, parseAddr } from '../addr';
import type { IptFamily } from '../types';
import { arg, ParseProblem, type Codec } from './codec';

export interface IprangeMatch {
  type: 'iprange';
  /** "first-last" */
  srcRange?: string;
  dstRange?: string;
  invert?: { srcRange?: boolean; dstRange?: boolean };
}

function split(r: string, family: IptFamily): [Buffer, Buffer] | undefined {
  const [a, z] = r.split('-');
  const lo = a !== undefined ? parseAddr(a, family) : undefined;
  const hi = z !== undefined ? parseAddr(z, family) : lo;
  return lo && hi && Buffer.compare(lo, hi) <= 0 ? [lo, hi] : undefined;
}

export const iprange: Codec<IprangeMatch> = {
  kind: 'match',
  type: 'iprange',
  name: 'iprange',
  revision: () => 1,
  size: () => 65,
  encode(v, b, family) {
    let f = 0;
    if (v.srcRange) {
      const [lo, hi] = split(v.srcRange, family)!;
      lo.copy(b, 0);
      hi.copy(b, 16);
      f |= 1 | (v.invert?.srcRange ? 0x10 : 0);
    }
    if (v.dstRange) {
      const [lo, hi] = split(v.dstRange, family)!;
      lo.copy(b, 32);
      hi.copy(b, 48);
      f |= 2 | (v.invert?.dstRange ? 0x20 : 0);
    }
    b[64] = f;
  },
  decode(b, family, revision) {
    if (revision !== 1) return undefined;
    const len = family === 'ipv4' ? 4 : 16;
    const f = b[64]!;
    const v: IprangeMatch = { type: 'iprange' };
    const r = (o: number) => `${formatAddr(b.subarray(o, o + len))}-${formatAddr(b.subarray(o + 16, o + 16 + len))}`;
    if (f & 1) v.srcRange = r(0);
    if (f & 2) v.dstRange = r(32);
    if (f & 0x30) v.invert = { ...(f & 0x10 ? { srcRange: true } : {}), ...(f & 0x20 ? { dstRange: true } : {}) };
    return v;
  },
  validate(v, family) {
    const out: Array<[string, string]> = [];
    if (!v.srcRange && !v.dstRange) out.push(['', 'needs srcRange or dstRange']);
    for (const k of ['srcRange', 'dstRange'] as const)
      if (v[k] !== undefined && (typeof v[k] !== 'string' || !split(v[k]!, family))) out.push([k, `must be "first-last" ${family} addresses, first <= last`]);
    return out;
  },
  save(v, family) {
    let s = '';
    const norm = (r: string) => split(r, family)!.map(formatAddr).join('-');
    if (v.srcRange) s += `${v.invert?.srcRange ? ' !' : ''} --src-range ${norm(v.srcRange)}`;
    if (v.dstRange) s += `${v.invert?.dstRange ? ' !' : ''} --dst-range ${norm(v.dstRange)}`;
    return s;
  },
  options: { 'src-range': 1, 'dst-range': 1 },
  parse(opts) {
    const v: IprangeMatch = { type: 'iprange' };
    const invert: NonNullable<IprangeMatch['invert']> = {};
    for (const o of opts) {
      const k = o.name === 'src-range' ? 'srcRange' : 'dstRange';
      v[k] = arg(o);
      if (o.invert) invert[k] = true;
    }
    if (!v.srcRange && !v.dstRange) throw new ParseProblem('-m iprange needs --src-range or --dst-range');
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
