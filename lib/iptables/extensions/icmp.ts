/**
 * -m icmp (IPv4, ipt_icmp) and -m icmp6 (IPv6, ip6t_icmp): revision 0, 4 bytes: type, code range, invert.
 * `iptables -p icmp -m icmp --icmp-type 3/4`, `ip6tables -p ipv6-icmp -m icmp6 --icmpv6-type 128`
 */
import { arg, ParseProblem, type Codec } from './codec';
import { isOwnKey } from '../../own-key';

export interface IcmpMatch {
  type: 'icmp';
  /** ICMP type, or "any". */
  icmpType: number | 'any';
  code?: number;
  invert?: boolean;
}
export interface Icmp6Match {
  type: 'icmp6';
  icmpType: number;
  code?: number;
  invert?: boolean;
}

const ICMP_NAMES: Record<string, [number, number?]> = {
  'echo-reply': [0], pong: [0], 'destination-unreachable': [3], 'network-unreachable': [3, 0], 'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2], 'port-unreachable': [3, 3], 'fragmentation-needed': [3, 4], 'source-quench': [4],
  redirect: [5], 'echo-request': [8], ping: [8], 'router-advertisement': [9], 'router-solicitation': [10],
  'time-exceeded': [11], 'ttl-exceeded': [11], 'ttl-zero-during-transit': [11, 0], 'parameter-problem': [12],
  'timestamp-request': [13], 'timestamp-reply': [14], 'address-mask-request': [17], 'address-mask-reply': [18],
};
const ICMP6_NAMES: Record<string, [number, number?]> = {
  'destination-unreachable': [1], 'no-route': [1, 0], 'communication-prohibited': [1, 1], 'address-unreachable': [1, 3],
  'port-unreachable': [1, 4], 'packet-too-big': [2], 'time-exceeded': [3], 'ttl-exceeded': [3], 'parameter-problem': [4],
  'echo-request': [128], ping: [128], 'echo-reply': [129], pong: [129], 'router-solicitation': [133],
  'router-advertisement': [134], 'neighbour-solicitation': [135], 'neighbor-solicitation': [135],
  'neighbour-advertisement': [136], 'neighbor-advertisement': [136], redirect: [137],
};

function parseType(s: string, names: Record<string, [number, number?]>): [number, number?] {
  const named = isOwnKey(names, s) ? names[s] : undefined;
  if (named) return named;
  const m = /^(\d+)(?:\/(\d+))?$/.exec(s);
  if (!m || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) throw new ParseProblem(`bad ICMP type "${s}"`);
  return m[2] === undefined ? [Number(m[1])] : [Number(m[1]), Number(m[2])];
}
const byte = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 255;

function encode(b: Buffer, t: number, code: number | undefined, invert: boolean | undefined) {
  b[0] = t;
  b[1] = code ?? 0;
  b[2] = code ?? 0xff;
  b[3] = invert ? 1 : 0;
}
function saveIt(name: string, t: number | 'any', code: number | undefined, invert: boolean | undefined): string {
  const c = code !== undefined ? `/${code}` : '';
  return `${invert ? ' !' : ''} --${name} ${t === 'any' ? 'any' : `${t}${c}`}`;
}

export const icmp: Codec<IcmpMatch> = {
  kind: 'match',
  protocols: [1],
  type: 'icmp',
  name: 'icmp',
  families: ['ipv4'],
  revision: () => 0,
  size: () => 4,
  encode(v, b) {
    encode(b, v.icmpType === 'any' ? 0xff : v.icmpType, v.icmpType === 'any' ? undefined : v.code, v.invert);
    if (v.icmpType === 'any') b[1] = 0;
  },
  decode(b) {
    const v: IcmpMatch = { type: 'icmp', icmpType: b[0] === 0xff ? 'any' : b[0]! };
    // iptables prints a code unless the range is the full 0-255.
    if (b[0] !== 0xff && (b[1] !== 0 || b[2] !== 0xff)) v.code = b[1]!;
    if (b[3]! & 1) v.invert = true;
    return v;
  },
  validate(v) {
    if (v.icmpType !== 'any' && !byte(v.icmpType)) return [['icmpType', 'must be 0-255 or "any"']];
    if (v.code !== undefined && !byte(v.code)) return [['code', 'must be 0-255']];
    return [];
  },
  save: (v) => saveIt('icmp-type', v.icmpType, v.code, v.invert),
  options: { 'icmp-type': 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m icmp needs --icmp-type');
    const a = arg(o);
    const v: IcmpMatch = a === 'any' ? { type: 'icmp', icmpType: 'any' } : { type: 'icmp', icmpType: parseType(a, ICMP_NAMES)[0] };
    const code = a === 'any' ? undefined : parseType(a, ICMP_NAMES)[1];
    if (code !== undefined) v.code = code;
    if (o.invert) v.invert = true;
    return v;
  },
};

export const icmp6: Codec<Icmp6Match> = {
  kind: 'match',
  protocols: [58],
  type: 'icmp6',
  name: 'icmp6',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 4,
  encode: (v, b) => encode(b, v.icmpType, v.code, v.invert),
  decode(b) {
    const v: Icmp6Match = { type: 'icmp6', icmpType: b[0]! };
    if (b[1] !== 0 || b[2] !== 0xff) v.code = b[1]!;
    if (b[3]! & 1) v.invert = true;
    return v;
  },
  validate(v) {
    if (!byte(v.icmpType)) return [['icmpType', 'must be 0-255']];
    if (v.code !== undefined && !byte(v.code)) return [['code', 'must be 0-255']];
    return [];
  },
  save: (v) => saveIt('icmpv6-type', v.icmpType, v.code, v.invert),
  options: { 'icmpv6-type': 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m icmp6 needs --icmpv6-type');
    const [t, code] = parseType(arg(o), ICMP6_NAMES);
    const v: Icmp6Match = { type: 'icmp6', icmpType: t };
    if (code !== undefined) v.code = code;
    if (o.invert) v.invert = true;
    return v;
  },
};
