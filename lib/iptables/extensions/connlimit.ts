/**
 * -m connlimit: xt_connlimit_info (revision 1, 32 bytes: mask, limit, flags, the kernel's private
 * pointer, never copied back). `iptables -p tcp --dport 22 -m connlimit --connlimit-above 3 --connlimit-mask 32`
 */
import { maskPrefix } from '../addr';
import type { IptFamily } from '../types';
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';

export interface ConnlimitMatch {
  type: 'connlimit';
  /** Matches when the connections counted exceed `above`, or (with upto) do not exceed `upto`. */
  above?: number;
  upto?: number;
  /** Prefix length grouping the addresses counted (default: the whole address). */
  mask?: number;
  /** Count by destination address instead of source. */
  daddr?: boolean;
}

const INVERT = 1, DADDR = 2;
const bits = (f: IptFamily) => (f === 'ipv4' ? 32 : 128);

export const connlimit: Codec<ConnlimitMatch> = {
  kind: 'match',
  type: 'connlimit',
  name: 'connlimit',
  revision: () => 1,
  size: () => 32,
  encode(v, b, family) {
    const p = v.mask ?? bits(family);
    for (let i = 0; i < p; i++) b[i >> 3]! |= 0x80 >> (i & 7);
    b.writeUInt32LE(v.upto ?? v.above ?? 0, 16);
    b.writeUInt32LE((v.upto !== undefined ? INVERT : 0) | (v.daddr ? DADDR : 0), 20);
  },
  decode(b, family) {
    const flags = b.readUInt32LE(20);
    const len = family === 'ipv4' ? 4 : 16;
    const mask = maskPrefix(b.subarray(0, len));
    if (flags & ~(INVERT | DADDR) || mask < 0 || b.subarray(len, 16).some((x) => x !== 0)) return undefined;
    const limit = b.readUInt32LE(16);
    const v: ConnlimitMatch = { type: 'connlimit' };
    if (flags & INVERT) v.upto = limit;
    else v.above = limit;
    v.mask = mask;
    if (flags & DADDR) v.daddr = true;
    return v;
  },
  validate(v, family) {
    if ((v.above === undefined) === (v.upto === undefined)) return [['above', 'give above or upto (one of them)']];
    if (v.above !== undefined && !u32(v.above)) return [['above', 'must be a 32-bit unsigned integer']];
    if (v.upto !== undefined && !u32(v.upto)) return [['upto', 'must be a 32-bit unsigned integer']];
    if (v.mask !== undefined && !(Number.isInteger(v.mask) && v.mask >= 0 && v.mask <= bits(family))) return [['mask', `must be a prefix length 0-${bits(family)}`]];
    return VALID;
  },
  save(v, family) {
    const n = v.upto !== undefined ? ` --connlimit-upto ${v.upto}` : ` --connlimit-above ${v.above}`;
    return `${n} --connlimit-mask ${v.mask ?? bits(family)} --connlimit-${v.daddr ? 'daddr' : 'saddr'}`;
  },
  options: { 'connlimit-above': 1, 'connlimit-upto': 1, 'connlimit-mask': 1, 'connlimit-saddr': 0, 'connlimit-daddr': 0 },
  parse(opts, family) {
    const num = (s: string, what: string) => {
      const n = /^\d+$/.test(s) ? Number(s) : NaN;
      if (!u32(n)) throw new ParseProblem(`bad ${what} "${s}"`);
      return n;
    };
    const a = opt(opts, 'connlimit-above'), u = opt(opts, 'connlimit-upto'), m = opt(opts, 'connlimit-mask');
    const o = a ?? u;
    if (!o) throw new ParseProblem('-m connlimit needs --connlimit-above or --connlimit-upto');
    // "! --connlimit-above N" is --connlimit-upto N and the other way round.
    const upto = (o === u) !== o.invert;
    const v: ConnlimitMatch = { type: 'connlimit' };
    v[upto ? 'upto' : 'above'] = num(arg(o), `--${o.name}`);
    v.mask = m ? num(arg(m), '--connlimit-mask') : bits(family);
    if (v.mask > bits(family)) throw new ParseProblem(`--connlimit-mask must be 0-${bits(family)}`);
    if (opt(opts, 'connlimit-daddr')) v.daddr = true;
    return v;
  },
};
