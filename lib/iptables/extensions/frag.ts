/**
 * -m frag (IPv6): ip6t_frag (revision 0, 14 bytes: ids[2], hdrlen, flags, invflags).
 * `ip6tables -m frag --fragid 100:200 --fragfirst`
 */
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';
import { parseSpi, spiText, validSpi, writeSpis, type SpiRange } from './esp';

export interface FragMatch {
  type: 'frag';
  /** The fragment identification, or [low, high]. */
  ids?: SpiRange;
  /** The header's length field. */
  length?: number;
  reserved?: boolean;
  first?: boolean;
  more?: boolean;
  last?: boolean;
  invert?: { ids?: boolean; length?: boolean };
}

const IDS = 1, LEN = 2, RES = 4, FST = 8, MF = 16, NMF = 32;
const BITS = [['reserved', RES, 'fragres'], ['first', FST, 'fragfirst'], ['more', MF, 'fragmore'], ['last', NMF, 'fraglast']] as const;

export const frag: Codec<FragMatch> = {
  kind: 'match',
  type: 'frag',
  name: 'frag',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 14,
  encode(v, b) {
    writeSpis(b, v.ids);
    b.writeUInt32LE(v.length ?? 0, 8);
    let f = (v.ids !== undefined ? IDS : 0) | (v.length !== undefined ? LEN : 0);
    for (const [k, bit] of BITS) if (v[k]) f |= bit;
    b[12] = f;
    b[13] = (v.invert?.ids ? 1 : 0) | (v.invert?.length ? 2 : 0);
  },
  decode(b) {
    const f = b[12]!, inv = b[13]!, lo = b.readUInt32LE(0), hi = b.readUInt32LE(4);
    // Without their flag the fields hold what iptables writes for them: all ids, length 0.
    if (f & ~0x3f || inv & ~3 || (!(f & IDS) && (lo !== 0 || hi !== 0xffffffff)) || (!(f & LEN) && b.readUInt32LE(8))) return undefined;
    if ((inv & 1 && !(f & IDS)) || (inv & 2 && !(f & LEN)) || lo > hi) return undefined;
    const v: FragMatch = { type: 'frag' };
    if (f & IDS) v.ids = lo === hi ? lo : [lo, hi];
    if (f & LEN) v.length = b.readUInt32LE(8);
    for (const [k, bit] of BITS) if (f & bit) v[k] = true;
    if (inv) v.invert = { ...(inv & 1 ? { ids: true } : {}), ...(inv & 2 ? { length: true } : {}) };
    return v;
  },
  validate(v) {
    if (v.ids !== undefined && !validSpi(v.ids)) return [['ids', 'must be a 32-bit id or [low, high]']];
    if (v.length !== undefined && !u32(v.length)) return [['length', 'must be a 32-bit unsigned integer']];
    for (const [k] of BITS) if (v[k] !== undefined && typeof v[k] !== 'boolean') return [[k, 'must be true or false']];
    return VALID;
  },
  save(v) {
    let s = spiText('fragid', v.ids, v.invert?.ids);
    if (v.length !== undefined) s += `${v.invert?.length ? ' !' : ''} --fraglen ${v.length}`;
    for (const [k, , o] of BITS) if (v[k]) s += ` --${o}`;
    return s;
  },
  options: { fragid: 1, fraglen: 1, fragres: 0, fragfirst: 0, fragmore: 0, fraglast: 0 },
  parse(opts) {
    const v: FragMatch = { type: 'frag' };
    const invert: NonNullable<FragMatch['invert']> = {};
    const i = opt(opts, 'fragid'), l = opt(opts, 'fraglen');
    if (i) {
      v.ids = parseSpi(i);
      if (i.invert) invert.ids = true;
    }
    if (l) {
      const n = /^\d+$/.test(arg(l)) ? Number(arg(l)) : NaN;
      if (!u32(n)) throw new ParseProblem(`bad --fraglen "${arg(l)}"`);
      v.length = n;
      if (l.invert) invert.length = true;
    }
    for (const [k, , o] of BITS) if (opt(opts, o)) v[k] = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
