/**
 * -j SYNPROXY: xt_synproxy_info (revision 0, 4 bytes: options, wscale, mss). Needs -p tcp.
 * `iptables -p tcp --dport 80 -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460`
 */
import { arg, opt, port, ParseProblem, VALID, type Codec } from './codec';

export interface SynproxyTarget {
  type: 'SYNPROXY';
  mss?: number;
  wscale?: number;
  sackPerm?: boolean;
  timestamp?: boolean;
  ecn?: boolean;
}

const MSS = 1, WSCALE = 2, SACK = 4, TS = 8, ECN = 16;

export const synproxy: Codec<SynproxyTarget> = {
  kind: 'target',
  protocols: [6],
  type: 'SYNPROXY',
  name: 'SYNPROXY',
  revision: () => 0,
  size: () => 4,
  encode(v, b) {
    b[0] = (v.mss !== undefined ? MSS : 0) | (v.wscale !== undefined ? WSCALE : 0) | (v.sackPerm ? SACK : 0) | (v.timestamp ? TS : 0) | (v.ecn ? ECN : 0);
    b[1] = v.wscale ?? 0;
    b.writeUInt16LE(v.mss ?? 0, 2);
  },
  decode(b) {
    const o = b[0]!;
    if (o & ~0x1f || (!(o & WSCALE) && b[1]) || (!(o & MSS) && b.readUInt16LE(2))) return undefined;
    const v: SynproxyTarget = { type: 'SYNPROXY' };
    if (o & MSS) v.mss = b.readUInt16LE(2);
    if (o & WSCALE) v.wscale = b[1]!;
    if (o & SACK) v.sackPerm = true;
    if (o & TS) v.timestamp = true;
    if (o & ECN) v.ecn = true;
    return v;
  },
  validate(v) {
    if (v.mss !== undefined && !port(v.mss)) return [['mss', 'must be 0-65535']];
    if (v.wscale !== undefined && !(Number.isInteger(v.wscale) && v.wscale >= 0 && v.wscale <= 255)) return [['wscale', 'must be 0-255']];
    return VALID;
  },
  save(v) {
    let s = '';
    if (v.sackPerm) s += ' --sack-perm';
    if (v.timestamp) s += ' --timestamp';
    if (v.wscale !== undefined) s += ` --wscale ${v.wscale}`;
    if (v.mss !== undefined) s += ` --mss ${v.mss}`;
    if (v.ecn) s += ' --ecn';
    return s;
  },
  options: { 'sack-perm': 0, timestamp: 0, wscale: 1, mss: 1, ecn: 0 },
  parse(opts) {
    const v: SynproxyTarget = { type: 'SYNPROXY' };
    const m = opt(opts, 'mss'), w = opt(opts, 'wscale');
    if (m) {
      v.mss = Number(arg(m));
      if (!port(v.mss)) throw new ParseProblem(`bad --mss "${arg(m)}"`);
    }
    if (w) {
      v.wscale = Number(arg(w));
      if (!(Number.isInteger(v.wscale) && v.wscale >= 0 && v.wscale <= 255)) throw new ParseProblem(`bad --wscale "${arg(w)}"`);
    }
    if (opt(opts, 'sack-perm')) v.sackPerm = true;
    if (opt(opts, 'timestamp')) v.timestamp = true;
    if (opt(opts, 'ecn')) v.ecn = true;
    return v;
  },
};
