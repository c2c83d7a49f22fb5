/**
 * -j HMARK: xt_hmark_info (revision 0, 60 bytes: src_mask[16], dst_mask[16], port_mask (sport,
 * dport as big-endian u16, or an SPI mask as a big-endian u32), port_set (the same), flags,
 * proto_mask (u16), hashrnd, hmodulus, hoffset). Sets the packet mark to a hash of the chosen
 * fields, modulo mod, plus offset.
 * `iptables -t mangle -j HMARK --hmark-tuple src,dst,sport,dport,proto --hmark-rnd 0xfeedcafe --hmark-mod 10 --hmark-offset 100`
 */
import { maskPrefix, prefixMask } from '../addr';
import type { IptFamily } from '../types';
import { arg, opt, u32, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';

export interface HmarkTarget {
  type: 'HMARK';
  /** Prefix lengths of the addresses hashed (absent: the address is not hashed). */
  srcPrefix?: number;
  dstPrefix?: number;
  /** Masks of the ports hashed (16 bits each), or of the ESP/AH SPI (32 bits; not with port masks). */
  sportMask?: number;
  dportMask?: number;
  spiMask?: number;
  /** Values OR'd into the ports (or the SPI) before hashing. */
  sport?: number;
  dport?: number;
  spi?: number;
  /** Mask of the layer-4 protocol number hashed (16 bits). */
  protoMask?: number;
  /** The hash's random seed. */
  rnd: number;
  /** The mark is hash % mod + offset (mod >= 1). */
  mod: number;
  offset?: number;
  /** Hash the conntrack entry's original tuple instead of the packet. */
  ct?: boolean;
}

// XT_HMARK_FLAG bits.
const B = { saddr: 1 << 0, daddr: 1 << 1, spi: 1 << 2, spiMask: 1 << 3, sport: 1 << 4, dport: 1 << 5, sportMask: 1 << 6, dportMask: 1 << 7, proto: 1 << 8, rnd: 1 << 9, mod: 1 << 10, offset: 1 << 11, ct: 1 << 12 } as const;
const KNOWN = (1 << 13) - 1;
const PMASK = 32, PSET = 36, FLAGS = 40, PROTO = 44, RND = 48, MOD = 52, OFF = 56;
const bits = (f: IptFamily) => (f === 'ipv4' ? 32 : 128);
const hexw = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;
const u16 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;

export const hmark: Codec<HmarkTarget> = {
  kind: 'target',
  type: 'HMARK',
  name: 'HMARK',
  revision: () => 0,
  size: () => 60,
  encode(v, b, f) {
    let flags = B.rnd | B.mod;
    const len = f === 'ipv4' ? 4 : 16;
    if (v.srcPrefix !== undefined) {
      flags |= B.saddr;
      prefixMask(v.srcPrefix, len).copy(b, 0);
    }
    if (v.dstPrefix !== undefined) {
      flags |= B.daddr;
      prefixMask(v.dstPrefix, len).copy(b, 16);
    }
    if (v.spiMask !== undefined) {
      flags |= B.spiMask;
      b.writeUInt32BE(v.spiMask, PMASK);
    }
    if (v.sportMask !== undefined) {
      flags |= B.sportMask;
      b.writeUInt16BE(v.sportMask, PMASK);
    }
    if (v.dportMask !== undefined) {
      flags |= B.dportMask;
      b.writeUInt16BE(v.dportMask, PMASK + 2);
    }
    if (v.spi !== undefined) {
      flags |= B.spi;
      b.writeUInt32BE(v.spi, PSET);
    }
    if (v.sport !== undefined) {
      flags |= B.sport;
      b.writeUInt16BE(v.sport, PSET);
    }
    if (v.dport !== undefined) {
      flags |= B.dport;
      b.writeUInt16BE(v.dport, PSET + 2);
    }
    if (v.protoMask !== undefined) {
      flags |= B.proto;
      b.writeUInt16LE(v.protoMask, PROTO);
    }
    if (v.offset !== undefined) flags |= B.offset;
    if (v.ct) flags |= B.ct;
    b.writeUInt32LE(flags, FLAGS);
    b.writeUInt32LE(v.rnd, RND);
    b.writeUInt32LE(v.mod, MOD);
    b.writeUInt32LE(v.offset ?? 0, OFF);
  },
  decode(b, f) {
    const flags = b.readUInt32LE(FLAGS), len = f === 'ipv4' ? 4 : 16;
    const has = (k: keyof typeof B) => (flags & B[k]) !== 0;
    // iptables always sets rnd and mod; a port mask and an SPI mask share their bytes (so do the sets).
    if (flags & ~KNOWN || !has('rnd') || !has('mod') || (has('spiMask') && (has('sportMask') || has('dportMask'))) || (has('spi') && (has('sport') || has('dport')))) return undefined;
    const prefix = (o: number, on: boolean): number | undefined | null => {
      const m = b.subarray(o, o + 16);
      if (!on) return m.every((x) => x === 0) ? undefined : null;
      if (m.subarray(len).some((x) => x !== 0)) return null;
      const p = maskPrefix(Buffer.from(m.subarray(0, len)));
      return p < 0 ? null : p;
    };
    const src = prefix(0, has('saddr')), dst = prefix(16, has('daddr'));
    if (src === null || dst === null) return undefined;
    const v: HmarkTarget = { type: 'HMARK' } as HmarkTarget;
    if (src !== undefined) v.srcPrefix = src;
    if (dst !== undefined) v.dstPrefix = dst;
    // Each field's bytes are zero unless its flag says it was given.
    const pm = b.readUInt32BE(PMASK), ps = b.readUInt32BE(PSET);
    if (has('spiMask')) v.spiMask = pm;
    else {
      if ((!has('sportMask') && pm >>> 16) || (!has('dportMask') && pm & 0xffff)) return undefined;
      if (has('sportMask')) v.sportMask = pm >>> 16;
      if (has('dportMask')) v.dportMask = pm & 0xffff;
    }
    if (has('spi')) v.spi = ps;
    else {
      if ((!has('sport') && ps >>> 16) || (!has('dport') && ps & 0xffff)) return undefined;
      if (has('sport')) v.sport = ps >>> 16;
      if (has('dport')) v.dport = ps & 0xffff;
    }
    const proto = b.readUInt16LE(PROTO), off = b.readUInt32LE(OFF);
    if (has('proto')) v.protoMask = proto;
    else if (proto) return undefined;
    if (b.readUInt16LE(PROTO + 2)) return undefined;
    v.rnd = b.readUInt32LE(RND);
    v.mod = b.readUInt32LE(MOD);
    if (!v.mod) return undefined; // (the kernel refuses it; validation too)
    if (has('offset')) v.offset = off;
    else if (off) return undefined;
    if (has('ct')) v.ct = true;
    return v;
  },
  validate(v, f) {
    for (const k of ['srcPrefix', 'dstPrefix'] as const) if (v[k] !== undefined && !(Number.isInteger(v[k]) && v[k]! >= 0 && v[k]! <= bits(f))) return [[k, `must be a prefix length 0-${bits(f)}`]];
    for (const k of ['sportMask', 'dportMask', 'sport', 'dport', 'protoMask'] as const) if (v[k] !== undefined && !u16(v[k])) return [[k, 'must be 0-0xffff']];
    for (const k of ['spiMask', 'spi', 'rnd', 'offset'] as const) if (v[k] !== undefined && !u32(v[k])) return [[k, 'must be a 32-bit unsigned integer']];
    if (v.rnd === undefined) return [['rnd', 'is required (a 32-bit unsigned integer)']];
    if (!u32(v.mod) || v.mod < 1) return [['mod', 'must be 1 up to 2^32-1']];
    if (v.spiMask !== undefined && (v.sportMask !== undefined || v.dportMask !== undefined)) return [['spiMask', 'cannot be combined with sportMask or dportMask']];
    if (v.spi !== undefined && (v.sport !== undefined || v.dport !== undefined)) return [['spi', 'cannot be combined with sport or dport']];
    if (v.ct !== undefined && typeof v.ct !== 'boolean') return [['ct', 'must be a boolean']];
    return VALID;
  },
  save(v) {
    let s = '';
    if (v.srcPrefix !== undefined) s += ` --hmark-src-prefix ${v.srcPrefix}`;
    if (v.dstPrefix !== undefined) s += ` --hmark-dst-prefix ${v.dstPrefix}`;
    if (v.sportMask !== undefined) s += ` --hmark-sport-mask ${hexw(v.sportMask, 4)}`;
    if (v.dportMask !== undefined) s += ` --hmark-dport-mask ${hexw(v.dportMask, 4)}`;
    if (v.spiMask !== undefined) s += ` --hmark-spi-mask ${hexw(v.spiMask, 8)}`;
    if (v.sport !== undefined) s += ` --hmark-sport ${hexw(v.sport, 4)}`;
    if (v.dport !== undefined) s += ` --hmark-dport ${hexw(v.dport, 4)}`;
    if (v.spi !== undefined) s += ` --hmark-spi ${hexw(v.spi, 8)}`;
    if (v.protoMask !== undefined) s += ` --hmark-proto-mask ${hexw(v.protoMask, 2)}`;
    s += ` --hmark-rnd ${hexw(v.rnd, 8)} --hmark-mod ${v.mod}`;
    if (v.offset !== undefined) s += ` --hmark-offset ${v.offset}`;
    if (v.ct) s += ' --hmark-tuple ct';
    return s;
  },
  options: {
    'hmark-tuple': 1, 'hmark-src-prefix': 1, 'hmark-dst-prefix': 1, 'hmark-sport-mask': 1, 'hmark-dport-mask': 1, 'hmark-spi-mask': 1,
    'hmark-sport': 1, 'hmark-dport': 1, 'hmark-spi': 1, 'hmark-proto-mask': 1, 'hmark-rnd': 1, 'hmark-mod': 1, 'hmark-offset': 1,
  },
  parse(opts: ParsedOption[], f) {
    const num = (name: string, max: number) => {
      const o = opt(opts, name);
      if (!o) return undefined;
      const n = /^(0x[0-9a-f]+|\d+)$/i.test(arg(o)) ? Number(arg(o)) : NaN;
      if (!(n >= 0 && n <= max)) throw new ParseProblem(`bad --${name} "${arg(o)}"`);
      return n;
    };
    const rnd = num('hmark-rnd', 0xffffffff), mod = num('hmark-mod', 0xffffffff);
    if (rnd === undefined || mod === undefined) throw new ParseProblem('-j HMARK needs --hmark-rnd and --hmark-mod');
    const v = { type: 'HMARK' } as HmarkTarget;
    // --hmark-tuple names fields to hash whole; the explicit options below narrow them.
    const tuple = opt(opts, 'hmark-tuple');
    const full: Partial<HmarkTarget> = {};
    for (const t of tuple ? arg(tuple).split(',') : []) {
      if (t === 'src') full.srcPrefix = bits(f);
      else if (t === 'dst') full.dstPrefix = bits(f);
      else if (t === 'sport') full.sportMask = 0xffff;
      else if (t === 'dport') full.dportMask = 0xffff;
      else if (t === 'spi') full.spiMask = 0xffffffff;
      else if (t === 'proto') full.protoMask = 0xffff;
      else if (t === 'ct') full.ct = true;
      else throw new ParseProblem(`bad --hmark-tuple field "${t}"`);
    }
    const val = <K extends keyof HmarkTarget>(k: K, x: HmarkTarget[K] | undefined) => {
      if (x !== undefined) v[k] = x;
    };
    val('srcPrefix', num('hmark-src-prefix', bits(f)) ?? full.srcPrefix);
    val('dstPrefix', num('hmark-dst-prefix', bits(f)) ?? full.dstPrefix);
    val('sportMask', num('hmark-sport-mask', 0xffff) ?? full.sportMask);
    val('dportMask', num('hmark-dport-mask', 0xffff) ?? full.dportMask);
    val('spiMask', num('hmark-spi-mask', 0xffffffff) ?? full.spiMask);
    val('sport', num('hmark-sport', 0xffff));
    val('dport', num('hmark-dport', 0xffff));
    val('spi', num('hmark-spi', 0xffffffff));
    val('protoMask', num('hmark-proto-mask', 0xffff) ?? full.protoMask);
    v.rnd = rnd;
    v.mod = mod;
    val('offset', num('hmark-offset', 0xffffffff));
    if (full.ct) v.ct = true;
    return v;
  },
};
