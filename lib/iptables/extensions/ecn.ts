/**
 * -m ecn: xt_ecn_info (revision 0, 4 bytes: operation, invert, ip_ect, tcp ect) and -j ECN:
 * ipt_ECN_info (revision 0, 3 bytes: operation, ip_ect, tcp ece/cwr bits; IPv4 only).
 * The TCP flags of both need -p tcp. `iptables -p tcp -m ecn --ecn-tcp-cwr`, `iptables -t mangle -p tcp -j ECN --ecn-tcp-remove`
 */
import type { IptRule } from '../types';
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface EcnMatch {
  type: 'ecn';
  /** The TCP ECE flag is set (with invert.ece: is not). */
  ece?: boolean;
  cwr?: boolean;
  /** The IP header's ECN field, 0-3. */
  ipEct?: number;
  invert?: { ece?: boolean; cwr?: boolean; ipEct?: boolean };
}
export interface EcnTarget {
  type: 'ECN';
  /** Set the TCP ECE / CWR flag to 0 or 1 (both 0: --ecn-tcp-remove). */
  ece?: 0 | 1;
  cwr?: 0 | 1;
  /** Set the IP header's ECN field, 0-3. */
  ipEct?: number;
}

const IP = 0x01, ECE = 0x10, CWR = 0x20;
const isTcp = (r: IptRule) => (r.protocol === 'tcp' || r.protocol === 6) && !r.invert?.protocol;
const ect = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 3;

export const ecn: Codec<EcnMatch> = {
  kind: 'match',
  type: 'ecn',
  name: 'ecn',
  revision: () => 0,
  size: () => 4,
  encode(v, b) {
    const iv = v.invert ?? {};
    b[0] = (v.ece ? ECE : 0) | (v.cwr ? CWR : 0) | (v.ipEct !== undefined ? IP : 0);
    b[1] = (iv.ece ? ECE : 0) | (iv.cwr ? CWR : 0) | (iv.ipEct ? IP : 0);
    b[2] = v.ipEct ?? 0;
  },
  decode(b) {
    const op = b[0]!, inv = b[1]!;
    if (op & ~(IP | ECE | CWR) || inv & ~op || b[2]! > 3 || (!(op & IP) && b[2]) || b[3]) return undefined;
    const v: EcnMatch = { type: 'ecn' };
    if (op & ECE) v.ece = true;
    if (op & CWR) v.cwr = true;
    if (op & IP) v.ipEct = b[2]!;
    if (inv) v.invert = { ...(inv & ECE ? { ece: true } : {}), ...(inv & CWR ? { cwr: true } : {}), ...(inv & IP ? { ipEct: true } : {}) };
    return v;
  },
  validate(v, _f, rule) {
    const out: Array<[string, string]> = [];
    if (v.ece !== undefined && typeof v.ece !== 'boolean') out.push(['ece', 'must be true or false']);
    if (v.cwr !== undefined && typeof v.cwr !== 'boolean') out.push(['cwr', 'must be true or false']);
    if (v.ipEct !== undefined && !ect(v.ipEct)) out.push(['ipEct', 'must be 0-3']);
    if (!v.ece && !v.cwr && v.ipEct === undefined) out.push(['', 'needs ece, cwr or ipEct']);
    if ((v.ece || v.cwr) && !isTcp(rule)) out.push([v.ece ? 'ece' : 'cwr', 'needs the rule protocol tcp (not inverted)']);
    return out.length ? out : VALID;
  },
  save(v) {
    const iv = v.invert ?? {};
    let s = '';
    if (v.ece) s += `${iv.ece ? ' !' : ''} --ecn-tcp-ece`;
    if (v.cwr) s += `${iv.cwr ? ' !' : ''} --ecn-tcp-cwr`;
    if (v.ipEct !== undefined) s += `${iv.ipEct ? ' !' : ''} --ecn-ip-ect ${v.ipEct}`;
    return s;
  },
  options: { 'ecn-tcp-ece': 0, 'ecn-tcp-cwr': 0, 'ecn-ip-ect': 1 },
  parse(opts) {
    const v: EcnMatch = { type: 'ecn' };
    const invert: NonNullable<EcnMatch['invert']> = {};
    for (const o of opts) {
      if (o.name === 'ecn-tcp-ece') v.ece = true;
      else if (o.name === 'ecn-tcp-cwr') v.cwr = true;
      else {
        const n = Number(arg(o));
        if (!ect(n)) throw new ParseProblem('--ecn-ip-ect must be 0-3');
        v.ipEct = n;
      }
      if (o.invert) invert[o.name === 'ecn-tcp-ece' ? 'ece' : o.name === 'ecn-tcp-cwr' ? 'cwr' : 'ipEct'] = true;
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};

export const ecnTarget: Codec<EcnTarget> = {
  kind: 'target',
  type: 'ECN',
  name: 'ECN',
  families: ['ipv4'],
  revision: () => 0,
  size: () => 3,
  encode(v, b) {
    b[0] = (v.ece !== undefined ? ECE : 0) | (v.cwr !== undefined ? CWR : 0) | (v.ipEct !== undefined ? IP : 0);
    b[1] = v.ipEct ?? 0;
    b[2] = (v.ece ? 1 : 0) | (v.cwr ? 2 : 0);
  },
  decode(b) {
    const op = b[0]!;
    if (op & ~(IP | ECE | CWR) || b[1]! > 3 || b[2]! & ~3) return undefined;
    if ((!(op & ECE) && b[2]! & 1) || (!(op & CWR) && b[2]! & 2) || (!(op & IP) && b[1])) return undefined;
    const v: EcnTarget = { type: 'ECN' };
    if (op & ECE) v.ece = (b[2]! & 1) as 0 | 1;
    if (op & CWR) v.cwr = ((b[2]! >> 1) & 1) as 0 | 1;
    if (op & IP) v.ipEct = b[1]!;
    return v;
  },
  validate(v, _f, rule) {
    const out: Array<[string, string]> = [];
    if (v.ece !== undefined && v.ece !== 0 && v.ece !== 1) out.push(['ece', 'must be 0 or 1']);
    if (v.cwr !== undefined && v.cwr !== 0 && v.cwr !== 1) out.push(['cwr', 'must be 0 or 1']);
    if (v.ipEct !== undefined && !ect(v.ipEct)) out.push(['ipEct', 'must be 0-3']);
    if (v.ece === undefined && v.cwr === undefined && v.ipEct === undefined) out.push(['', 'needs ece, cwr or ipEct']);
    if ((v.ece !== undefined || v.cwr !== undefined) && !isTcp(rule)) out.push([v.ece !== undefined ? 'ece' : 'cwr', 'needs the rule protocol tcp (not inverted)']);
    return out.length ? out : VALID;
  },
  save(v) {
    if (v.ece === 0 && v.cwr === 0 && v.ipEct === undefined) return ' --ecn-tcp-remove';
    let s = '';
    if (v.ece !== undefined) s += ` --ecn-tcp-ece ${v.ece}`;
    if (v.cwr !== undefined) s += ` --ecn-tcp-cwr ${v.cwr}`;
    if (v.ipEct !== undefined) s += ` --ecn-ip-ect ${v.ipEct}`;
    return s;
  },
  options: { 'ecn-tcp-remove': 0, 'ecn-tcp-ece': 1, 'ecn-tcp-cwr': 1, 'ecn-ip-ect': 1 },
  parse(opts) {
    const v: EcnTarget = { type: 'ECN' };
    if (opt(opts, 'ecn-tcp-remove')) {
      v.ece = 0;
      v.cwr = 0;
    }
    for (const o of opts) {
      if (o.name === 'ecn-tcp-remove') continue;
      const n = Number(arg(o));
      if (o.name === 'ecn-ip-ect') {
        if (!ect(n)) throw new ParseProblem('--ecn-ip-ect must be 0-3');
        v.ipEct = n;
      } else {
        if (n !== 0 && n !== 1) throw new ParseProblem(`--${o.name} must be 0 or 1`);
        v[o.name === 'ecn-tcp-ece' ? 'ece' : 'cwr'] = n;
      }
    }
    return v;
  },
};
