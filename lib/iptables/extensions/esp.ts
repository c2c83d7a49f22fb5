/**
 * -m esp: xt_esp (revision 0, 12 bytes: spis[2], invflags) and -m ah: ipt_ah (IPv4, 12 bytes: spis[2],
 * invflags; needs -p ah) or ip6t_ah (IPv6, 16 bytes: spis[2], hdrlen, hdrres, invflags).
 * `iptables -p esp -m esp --espspi 256`, `ip6tables -m ah --ahspi 300 --ahlen 4 --ahres`
 */
import type { IptRule } from '../types';
import { arg, opt, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';
import { protoNumber } from '../proto';

/** An SPI or [low, high] (32-bit). */
export type SpiRange = number | [number, number];
export interface EspMatch {
  type: 'esp';
  spi?: SpiRange;
  invert?: boolean;
}
export interface AhMatch {
  type: 'ah';
  spi?: SpiRange;
  /** IPv6 only: the header's length field. */
  length?: number;
  /** IPv6 only: the reserved field must be 0. */
  reserved?: boolean;
  invert?: { spi?: boolean; length?: boolean };
}

const ALL = 0xffffffff;
const u32 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= ALL;
export const validSpi = (s: unknown) => u32(s) || (Array.isArray(s) && s.length === 2 && u32(s[0]) && u32(s[1]) && s[0] <= s[1]);
export const spiRange = (s: SpiRange | undefined): [number, number] => (s === undefined ? [0, ALL] : typeof s === 'number' ? [s, s] : s);

export function writeSpis(b: Buffer, s: SpiRange | undefined): void {
  const [lo, hi] = spiRange(s);
  b.writeUInt32LE(lo, 0);
  b.writeUInt32LE(hi, 4);
}
/** The SPI range, absent when it is the whole range and not inverted (what iptables writes for no --xxspi). */
export function readSpis(b: Buffer, inverted: boolean): SpiRange | undefined {
  const lo = b.readUInt32LE(0), hi = b.readUInt32LE(4);
  if (lo === 0 && hi === ALL && !inverted) return undefined;
  return lo === hi ? lo : [lo, hi];
}
/** iptables prints no SPI option for the whole range, even inverted. */
export function spiText(name: string, s: SpiRange | undefined, inverted: boolean | undefined): string {
  const [lo, hi] = spiRange(s);
  if (lo === 0 && hi === ALL) return '';
  return `${inverted ? ' !' : ''} --${name} ${lo === hi ? lo : `${lo}:${hi}`}`;
}
export function parseSpi(o: ParsedOption): SpiRange {
  const m = /^(\d*)(?::(\d*))?$/.exec(arg(o));
  const lo = m?.[1] ? Number(m[1]) : 0, hi = m?.[2] !== undefined ? (m[2] ? Number(m[2]) : ALL) : lo;
  if (!m || (!m[1] && m[2] === undefined) || !u32(lo) || !u32(hi) || lo > hi) throw new ParseProblem(`bad --${o.name} "${arg(o)}"`);
  return lo === hi ? lo : [lo, hi];
}

export const esp: Codec<EspMatch> = {
  kind: 'match',
  protocols: [50],
  type: 'esp',
  name: 'esp',
  revision: () => 0,
  size: () => 9,
  encode(v, b) {
    writeSpis(b, v.spi);
    b[8] = v.invert ? 1 : 0;
  },
  decode(b) {
    if (b[8]! > 1) return undefined;
    const spi = readSpis(b, b[8] === 1);
    return { type: 'esp', ...(spi !== undefined ? { spi } : {}), ...(b[8] ? { invert: true } : {}) };
  },
  validate: (v) => (v.spi === undefined || validSpi(v.spi) ? VALID : [['spi', 'must be a 32-bit SPI or [low, high]']]),
  save: (v) => spiText('espspi', v.spi, v.invert),
  options: { espspi: 1 },
  parse(opts) {
    const o = opt(opts, 'espspi');
    return { type: 'esp', ...(o ? { spi: parseSpi(o) } : {}), ...(o?.invert ? { invert: true } : {}) };
  },
};

const AH_INV_SPI = 1, AH_INV_LEN = 2;

export const ah: Codec<AhMatch> = {
  kind: 'match',
  type: 'ah',
  name: 'ah',
  revision: () => 0,
  size: (f) => (f === 'ipv4' ? 9 : 14),
  encode(v, b, f) {
    writeSpis(b, v.spi);
    const iv = v.invert ?? {};
    if (f === 'ipv4') {
      b[8] = iv.spi ? 1 : 0;
      return;
    }
    b.writeUInt32LE(v.length ?? 0, 8);
    b[12] = v.reserved ? 1 : 0;
    b[13] = (iv.spi ? AH_INV_SPI : 0) | (iv.length ? AH_INV_LEN : 0);
  },
  decode(b, f) {
    const inv = f === 'ipv4' ? b[8]! : b[13]!;
    if (inv & ~(f === 'ipv4' ? 1 : 3) || (f === 'ipv6' && b[12]! > 1)) return undefined;
    const v: AhMatch = { type: 'ah' };
    const spi = readSpis(b, (inv & AH_INV_SPI) !== 0);
    if (spi !== undefined) v.spi = spi;
    if (f === 'ipv6') {
      const len = b.readUInt32LE(8);
      if (len || inv & AH_INV_LEN) v.length = len;
      if (b[12]) v.reserved = true;
    }
    if (inv) v.invert = { ...(inv & AH_INV_SPI ? { spi: true } : {}), ...(inv & AH_INV_LEN ? { length: true } : {}) };
    return v;
  },
  validate(v, f, rule: IptRule) {
    const out: Array<[string, string]> = [];
    if (v.spi !== undefined && !validSpi(v.spi)) out.push(['spi', 'must be a 32-bit SPI or [low, high]']);
    if (f === 'ipv4') {
      if (v.length !== undefined || v.reserved !== undefined) out.push([v.length !== undefined ? 'length' : 'reserved', 'IPv6 only']);
      // (IPv4's ah match is bound to the protocol; IPv6's finds the header itself.)
      if (protoNumber(rule.protocol as string) !== 51 || rule.invert?.protocol) out.push(['', 'needs the rule protocol ah (not inverted) on IPv4']);
    } else {
      if (v.length !== undefined && !u32(v.length)) out.push(['length', 'must be a 32-bit unsigned integer']);
      if (v.reserved !== undefined && typeof v.reserved !== 'boolean') out.push(['reserved', 'must be true or false']);
    }
    return out.length ? out : VALID;
  },
  save(v, f) {
    const iv = v.invert ?? {};
    let s = spiText('ahspi', v.spi, iv.spi);
    if (f === 'ipv6') {
      if (v.length !== undefined && (v.length || iv.length)) s += `${iv.length ? ' !' : ''} --ahlen ${v.length}`;
      if (v.reserved) s += ' --ahres';
    }
    return s;
  },
  options: { ahspi: 1, ahlen: 1, ahres: 0 },
  parse(opts) {
    const v: AhMatch = { type: 'ah' };
    const invert: NonNullable<AhMatch['invert']> = {};
    const s = opt(opts, 'ahspi'), l = opt(opts, 'ahlen');
    if (s) {
      v.spi = parseSpi(s);
      if (s.invert) invert.spi = true;
    }
    if (l) {
      const n = /^\d+$/.test(arg(l)) ? Number(arg(l)) : NaN;
      if (!u32(n)) throw new ParseProblem(`bad --ahlen "${arg(l)}"`);
      v.length = n;
      if (l.invert) invert.length = true;
    }
    if (opt(opts, 'ahres')) v.reserved = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
