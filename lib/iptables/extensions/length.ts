/** -m length: xt_length_info (revision 0, 6 bytes: min, max, invert). `iptables -m length --length 100:1500` */
import { arg, opt, parsePortRange, portRange, validPortRange, ParseProblem, VALID, type Codec, type PortRange } from './codec';

export interface LengthMatch {
  type: 'length';
  /** The IP packet's length (IPv6: payload + 40), or [low, high]. */
  length: PortRange;
  invert?: boolean;
}

export const length: Codec<LengthMatch> = {
  kind: 'match',
  type: 'length',
  name: 'length',
  revision: () => 0,
  size: () => 6,
  encode(v, b) {
    const [lo, hi] = portRange(v.length);
    b.writeUInt16LE(lo, 0);
    b.writeUInt16LE(hi, 2);
    b[4] = v.invert ? 1 : 0;
  },
  decode(b) {
    const lo = b.readUInt16LE(0), hi = b.readUInt16LE(2);
    if (b[4]! > 1 || lo > hi) return undefined;
    return { type: 'length', length: lo === hi ? lo : [lo, hi], ...(b[4] ? { invert: true } : {}) };
  },
  validate: (v) => (validPortRange(v.length) ? VALID : [['length', 'must be a length 0-65535 or [low, high]']]),
  save(v) {
    const [lo, hi] = portRange(v.length);
    return `${v.invert ? ' !' : ''} --length ${lo === hi ? lo : `${lo}:${hi}`}`;
  },
  options: { length: 1 },
  parse(opts) {
    const o = opt(opts, 'length');
    if (!o) throw new ParseProblem('-m length needs --length');
    return { type: 'length', length: parsePortRange(arg(o)), ...(o.invert ? { invert: true } : {}) };
  },
};
