/**
 * -m rt (IPv6 routing header): ip6t_rt (revision 0, 277 bytes: rt_type, segsleft[2], hdrlen, flags,
 * invflags, addrs[16], addrnr). `ip6tables -m rt --rt-type 0 --rt-segsleft 1:2 --rt-0-addrs 2001:db8::1,2001:db8::2`
 */
import { formatAddr, parseAddr } from '../addr';
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';
import { parseSpi, spiText, validSpi, type SpiRange } from './esp';

export interface RtMatch {
  type: 'rt';
  rtType?: number;
  /** Segments left, or [low, high]. */
  segsLeft?: SpiRange;
  /** The header's length field. */
  length?: number;
  /** Type 0: the reserved field must be 0. */
  reserved?: boolean;
  /** Type 0: these addresses, in order (at most 16). */
  addrs?: string[];
  /** Other addresses may come between them. */
  notStrict?: boolean;
  invert?: { rtType?: boolean; segsLeft?: boolean; length?: boolean };
}

const TYP = 1, SGS = 2, LEN = 4, RES = 8, FST = 0x10, NSTRICT = 0x20, HOPS = 16, ALL = 0xffffffff;
const INV = [['rtType', 1], ['segsLeft', 2], ['length', 4]] as const;

export const rt: Codec<RtMatch> = {
  kind: 'match',
  type: 'rt',
  name: 'rt',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 277,
  encode(v, b) {
    b.writeUInt32LE(v.rtType ?? 0, 0);
    const [lo, hi] = v.segsLeft === undefined ? [0, ALL] : typeof v.segsLeft === 'number' ? [v.segsLeft, v.segsLeft] : v.segsLeft;
    b.writeUInt32LE(lo, 4);
    b.writeUInt32LE(hi, 8);
    b.writeUInt32LE(v.length ?? 0, 12);
    b[16] = (v.rtType !== undefined ? TYP : 0) | (v.segsLeft !== undefined ? SGS : 0) | (v.length !== undefined ? LEN : 0) | (v.reserved ? RES : 0)
      | (v.addrs ? FST : 0) | (v.notStrict ? NSTRICT : 0);
    let inv = 0;
    for (const [k, bit] of INV) if (v.invert?.[k]) inv |= bit;
    b[17] = inv;
    (v.addrs ?? []).forEach((a, i) => parseAddr(a, 'ipv6')!.copy(b, 20 + 16 * i));
    b[276] = v.addrs?.length ?? 0;
  },
  decode(b) {
    const f = b[16]!, inv = b[17]!, n = b[276]!, lo = b.readUInt32LE(4), hi = b.readUInt32LE(8);
    if (f & ~0x3f || inv & ~7 || n > HOPS || (!(f & FST) && n) || (f & NSTRICT && !(f & FST)) || lo > hi) return undefined;
    // Without their flag the fields hold what iptables writes for them.
    if ((!(f & TYP) && b.readUInt32LE(0)) || (!(f & SGS) && (lo !== 0 || hi !== ALL)) || (!(f & LEN) && b.readUInt32LE(12))) return undefined;
    if ((inv & 1 && !(f & TYP)) || (inv & 2 && !(f & SGS)) || (inv & 4 && !(f & LEN))) return undefined;
    const v: RtMatch = { type: 'rt' };
    if (f & TYP) v.rtType = b.readUInt32LE(0);
    if (f & SGS) v.segsLeft = lo === hi ? lo : [lo, hi];
    if (f & LEN) v.length = b.readUInt32LE(12);
    if (f & RES) v.reserved = true;
    if (f & FST) {
      v.addrs = [];
      for (let i = 0; i < n; i++) v.addrs.push(formatAddr(b.subarray(20 + 16 * i, 36 + 16 * i)));
    }
    if (f & NSTRICT) v.notStrict = true;
    if (inv) {
      const invert: NonNullable<RtMatch['invert']> = {};
      for (const [k, bit] of INV) if (inv & bit) invert[k] = true;
      v.invert = invert;
    }
    return v;
  },
  validate(v) {
    if (v.rtType !== undefined && !u32(v.rtType)) return [['rtType', 'must be a 32-bit unsigned integer']];
    if (v.segsLeft !== undefined && !validSpi(v.segsLeft)) return [['segsLeft', 'must be a number or [low, high]']];
    if (v.length !== undefined && !u32(v.length)) return [['length', 'must be a 32-bit unsigned integer']];
    if (v.addrs !== undefined && (!Array.isArray(v.addrs) || v.addrs.length > HOPS || !v.addrs.every((a) => parseAddr(a, 'ipv6'))))
      return [['addrs', `must be a list of at most ${HOPS} IPv6 addresses`]];
    if (v.notStrict && !v.addrs) return [['notStrict', 'needs addrs']];
    return VALID;
  },
  save(v) {
    const iv = v.invert ?? {};
    let s = v.rtType !== undefined ? `${iv.rtType ? ' !' : ''} --rt-type ${v.rtType}` : '';
    s += spiText('rt-segsleft', v.segsLeft, iv.segsLeft);
    if (v.length !== undefined) s += `${iv.length ? ' !' : ''} --rt-len ${v.length}`;
    if (v.reserved) s += ' --rt-0-res';
    if (v.addrs) s += ` --rt-0-addrs ${v.addrs.map((a) => formatAddr(parseAddr(a, 'ipv6')!)).join(',')}`;
    if (v.notStrict) s += ' --rt-0-not-strict';
    return s;
  },
  options: { 'rt-type': 1, 'rt-segsleft': 1, 'rt-len': 1, 'rt-0-res': 0, 'rt-0-addrs': 1, 'rt-0-not-strict': 0 },
  parse(opts) {
    const v: RtMatch = { type: 'rt' };
    const invert: NonNullable<RtMatch['invert']> = {};
    const num = (s: string, what: string) => {
      const n = /^\d+$/.test(s) ? Number(s) : NaN;
      if (!u32(n)) throw new ParseProblem(`bad ${what} "${s}"`);
      return n;
    };
    const t = opt(opts, 'rt-type'), g = opt(opts, 'rt-segsleft'), l = opt(opts, 'rt-len'), a = opt(opts, 'rt-0-addrs');
    if (t) {
      v.rtType = num(arg(t), '--rt-type');
      if (t.invert) invert.rtType = true;
    }
    if (g) {
      v.segsLeft = parseSpi(g);
      if (g.invert) invert.segsLeft = true;
    }
    if (l) {
      v.length = num(arg(l), '--rt-len');
      if (l.invert) invert.length = true;
    }
    if (opt(opts, 'rt-0-res')) v.reserved = true;
    if (a) {
      v.addrs = arg(a).split(',').map((x) => {
        const b = parseAddr(x, 'ipv6');
        if (!b) throw new ParseProblem(`bad address "${x}" in --rt-0-addrs`);
        return formatAddr(b);
      });
      if (v.addrs.length > HOPS) throw new ParseProblem(`at most ${HOPS} addresses`);
    }
    if (opt(opts, 'rt-0-not-strict')) v.notStrict = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
