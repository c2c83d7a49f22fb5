/**
 * -m hashlimit: xt_hashlimit_mtinfo3 (revision 3, 312 bytes: name[255], then hashlimit_cfg3 at 256:
 * avg (u64, 10^-6 s between packets), burst (u64), mode, size, max, gc_interval, expire, interval,
 * srcmask, dstmask; then the kernel's private pointer). Typed: packet rates and byte rates
 * (mode XT_HASHLIMIT_BYTES: avg is 2^32-1 / (bytes/16 + 1), burst a multiple of the rate);
 * --hashlimit-rate-match stays raw.
 * `iptables -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name ssh`
 * `iptables -m hashlimit --hashlimit-above 1mb/s --hashlimit-burst 2mb --hashlimit-name big`
 */
import type { IptFamily } from '../types';
import { arg, opt, readCString, shown, u32, writeCString, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';

export type HashlimitKey = 'srcip' | 'srcport' | 'dstip' | 'dstport';
export type RateUnit = 'sec' | 'min' | 'hour' | 'day';
export interface HashlimitMatch {
  type: 'hashlimit';
  /** The hash table's name (/proc/net/ipt_hashlimit/NAME). */
  name: string;
  /**
   * count packets per unit, for each bucket; or bytes per second (--hashlimit-upto 100kb/s), held
   * by the kernel in steps of 16 bytes (and coarser from ~1 MB/s: a rate it cannot hold exactly is refused).
   */
  rate: { count: number; per: RateUnit } | { bytes: number };
  /** Match above the rate instead of up to it. */
  above?: boolean;
  /** Packets (default 5); with a byte rate, bytes (default none), a whole multiple of the rate. */
  burst?: number;
  /** What a bucket is keyed on (absent: one bucket for everything). */
  mode?: HashlimitKey[];
  htableSize?: number;
  htableMax?: number;
  /** Milliseconds (default 1000). */
  htableGcinterval?: number;
  /** Milliseconds (default: the rate's unit). */
  htableExpire?: number;
  /** Prefix lengths grouping addresses (default: the whole address). */
  srcmask?: number;
  dstmask?: number;
}

const SCALE = 1_000_000;
const UNITS: Array<[RateUnit, number]> = [['day', 86400], ['hour', 3600], ['min', 60], ['sec', 1]];
// In the order iptables prints them.
const KEYS: Array<[HashlimitKey, number]> = [['srcip', 4], ['srcport', 8], ['dstip', 1], ['dstport', 2]];
const INVERT = 16, BYTES = 32, RATE_MATCH = 64, GC = 1000, BURST = 5, CFG = 256;
const NAME_MAX = 255;
const bits = (f: IptFamily) => (f === 'ipv4' ? 32 : 128);

type PacketRate = { count: number; per: RateUnit };
const isBytes = (r: HashlimitMatch['rate']): r is { bytes: number } => 'bytes' in r;
const avgOf = (r: PacketRate) => Math.floor((SCALE * UNITS.find(([u]) => u === r.per)![1]) / r.count);

// Byte rates: libxt_hashlimit's cost <-> bytes (32-bit arithmetic), and its units.
const U32_MAX = 0xffffffff;
const bytesToCost = (bytes: number) => Math.floor(U32_MAX / ((bytes >>> 4) + 1));
const costToBytes = (cost: number) => (Math.floor(U32_MAX / cost) - 1) * 16;
const BYTE_UNITS: Array<[string, number]> = [['mb', 1 << 20], ['kb', 1 << 10], ['b', 1]];
// Default expiry with a byte rate: 15 s, or 60 s with a burst (XT_HASHLIMIT_BYTE_EXPIRE[_BURST]).
const byteQuantum = (burst: number) => (burst ? 60000 : 15000);
/** The rate as iptables prints it: the largest unit whose whole count still gives the same cost. */
function byteRateText(bytes: number): string {
  const cost = bytesToCost(bytes);
  for (const [name, thresh] of BYTE_UNITS) if (thresh === 1 || (bytes >= thresh && bytesToCost(bytes - (bytes % thresh)) === cost)) return `${Math.floor(bytes / thresh)}${name}`;
  return `${bytes}b`;
}
function byteBurstText(bytes: number): string {
  const [name, thresh] = BYTE_UNITS.find(([, t]) => bytes >= t) ?? BYTE_UNITS[2]!;
  return `${Math.floor(bytes / thresh)}${name}`;
}
function parseBytes(s: string, what: string): number {
  const m = /^(\d+)(b|kb|mb)$/.exec(s);
  const n = m ? Number(m[1]) * BYTE_UNITS.find(([u]) => u === m[2])![1] : NaN;
  if (!(n >= 0 && n <= U32_MAX)) throw new ParseProblem(`bad ${what} "${s}"`);
  return n;
}
/** The kernel's burst (multiples of the rate) for a burst in bytes, rounded up as iptables does. */
const burstUnits = (burstBytes: number, rateBytes: number) => (rateBytes ? Math.ceil(burstBytes / rateBytes) : 0);
/** A byte rate the kernel holds exactly and iptables prints back to the same cost. */
const exactBytes = (bytes: number) => Number.isInteger(bytes) && bytes >= 0 && bytes <= U32_MAX && bytesToCost(bytes) !== 0 && costToBytes(bytesToCost(bytes)) === bytes && bytes >= 16;
/** libxt_hashlimit's print_rate: the largest unit whose count is a whole number of packets... as iptables picks it. */
function rateOf(avg: number): { rate: PacketRate; quantum: number } {
  let i = 1;
  for (; i < UNITS.length; i++) {
    const mult = SCALE * UNITS[i]![1];
    if (avg > mult || Math.floor(mult / avg) < mult % avg) break;
  }
  const [per, secs] = UNITS[i - 1]!;
  return { rate: { count: Math.floor((SCALE * secs) / avg), per }, quantum: secs * 1000 };
}
const quantumOf = (r: PacketRate) => UNITS.find(([u]) => u === r.per)![1] * 1000;

export const hashlimit: Codec<HashlimitMatch> = {
  kind: 'match',
  type: 'hashlimit',
  name: 'hashlimit',
  revision: () => 3,
  size: () => 312,
  encode(v, b, f) {
    writeCString(b, 0, NAME_MAX, v.name);
    const r = v.rate;
    let mode = v.above ? INVERT : 0;
    if (isBytes(r)) {
      mode |= BYTES;
      b.writeBigUInt64LE(BigInt(bytesToCost(r.bytes)), CFG);
      b.writeBigUInt64LE(BigInt(burstUnits(v.burst ?? 0, r.bytes)), CFG + 8);
    } else {
      b.writeBigUInt64LE(BigInt(avgOf(r)), CFG);
      b.writeBigUInt64LE(BigInt(v.burst ?? BURST), CFG + 8);
    }
    for (const [k, bit] of KEYS) if (v.mode?.includes(k)) mode |= bit;
    b.writeUInt32LE(mode, CFG + 16);
    b.writeUInt32LE(v.htableSize ?? 0, CFG + 20);
    b.writeUInt32LE(v.htableMax ?? 0, CFG + 24);
    b.writeUInt32LE(v.htableGcinterval ?? GC, CFG + 28);
    b.writeUInt32LE(v.htableExpire ?? (isBytes(r) ? byteQuantum(v.burst ?? 0) : quantumOf(r)), CFG + 32);
    b[CFG + 40] = v.srcmask ?? bits(f);
    b[CFG + 41] = v.dstmask ?? bits(f);
  },
  decode(b, f, rev) {
    const avgBig = b.readBigUInt64LE(CFG), burstBig = b.readBigUInt64LE(CFG + 8), mode = b.readUInt32LE(CFG + 16);
    if (rev !== 3 || mode & RATE_MATCH || mode & ~0x3f || b.readUInt32LE(CFG + 36) || !avgBig || avgBig > 0xffffffffn || burstBig > 0xffffffffn) return undefined;
    const avg = Number(avgBig);
    let v: HashlimitMatch, quantum: number;
    if (mode & BYTES) {
      // Only what iptables prints back to the same cost and burst is typed (its text rounds others).
      const bytes = costToBytes(avg), burst = Number(burstBig);
      if (!exactBytes(bytes) || bytesToCost(bytes) !== avg || bytesToCost(parseBytes(byteRateText(bytes) + '', 'rate')) !== avg) return undefined;
      if (burst && (burst * bytes > U32_MAX || burstUnits(parseBytes(byteBurstText(burst * bytes), 'burst'), bytes) !== burst)) return undefined;
      v = { type: 'hashlimit', name: readCString(b, 0, NAME_MAX), rate: { bytes } };
      if (burst) v.burst = burst * bytes;
      quantum = byteQuantum(burst);
    } else {
      const p = rateOf(avg);
      // (Only a rate that prints back to the same avg is typed: iptables' text rounds others.)
      if (p.rate.count < 1 || avgOf(p.rate) !== avg) return undefined;
      v = { type: 'hashlimit', name: readCString(b, 0, NAME_MAX), rate: p.rate, burst: Number(burstBig) };
      quantum = p.quantum;
    }
    if (!/^[\w.-]{1,254}$/.test(v.name)) return undefined; // a name validation refuses stays raw
    if (mode & INVERT) v.above = true;
    const keys = KEYS.filter(([, bit]) => mode & bit).map(([k]) => k);
    if (keys.length) v.mode = keys;
    const size = b.readUInt32LE(CFG + 20), max = b.readUInt32LE(CFG + 24), gc = b.readUInt32LE(CFG + 28), exp = b.readUInt32LE(CFG + 32);
    if (size) v.htableSize = size;
    if (max) v.htableMax = max;
    if (gc !== GC) v.htableGcinterval = gc;
    if (exp !== quantum) v.htableExpire = exp;
    if (b[CFG + 40] !== bits(f)) v.srcmask = b[CFG + 40]!;
    if (b[CFG + 41] !== bits(f)) v.dstmask = b[CFG + 41]!;
    return v;
  },
  validate(v, f) {
    if (typeof v.name !== 'string' || !/^[\w.-]{1,254}$/.test(v.name)) return [['name', 'must be 1-254 characters (letters, digits, _ . -)']];
    const r = v.rate;
    if (r && typeof r === 'object' && 'bytes' in r) {
      if (!exactBytes(r.bytes)) return [['rate.bytes', `must be a byte rate the kernel holds exactly (16 bytes up; ${shown(r.bytes)} is not one: multiples of 16, coarser from ~1 MB/s)`]];
      if (v.burst !== undefined && !(u32(v.burst) && v.burst >= r.bytes && v.burst % r.bytes === 0)) return [['burst', 'must be a whole multiple of rate.bytes (bytes), below 2^32']];
    } else {
      if (!r || typeof r !== 'object' || !UNITS.some(([u]) => u === r.per)) return [['rate.per', 'must be sec, min, hour or day']];
      if (!(Number.isInteger(r.count) && r.count >= 1 && r.count <= SCALE * UNITS.find(([u]) => u === r.per)![1])) return [['rate.count', 'must be 1 up to a million a second']];
      if (v.burst !== undefined && !u32(v.burst)) return [['burst', 'must be a 32-bit unsigned integer']];
    }
    if (v.mode !== undefined && (!Array.isArray(v.mode) || !v.mode.every((k) => KEYS.some(([n]) => n === k)))) return [['mode', `must list keys among ${KEYS.map(([k]) => k).join(', ')}, not ${shown(v.mode)}`]];
    for (const k of ['htableSize', 'htableMax', 'htableGcinterval', 'htableExpire'] as const) if (v[k] !== undefined && !u32(v[k])) return [[k, 'must be a 32-bit unsigned integer']];
    for (const k of ['srcmask', 'dstmask'] as const) if (v[k] !== undefined && !(Number.isInteger(v[k]) && v[k]! >= 0 && v[k]! <= bits(f))) return [[k, `must be a prefix length 0-${bits(f)}`]];
    return VALID;
  },
  save(v, f) {
    const r = v.rate;
    let s: string, quantum: number;
    if (isBytes(r)) {
      s = ` --hashlimit-${v.above ? 'above' : 'upto'} ${byteRateText(r.bytes)}/s`;
      const burst = burstUnits(v.burst ?? 0, r.bytes);
      if (burst) s += ` --hashlimit-burst ${byteBurstText(burst * r.bytes)}`;
      quantum = byteQuantum(burst);
    } else {
      const p = rateOf(avgOf(r));
      s = ` --hashlimit-${v.above ? 'above' : 'upto'} ${p.rate.count}/${p.rate.per} --hashlimit-burst ${v.burst ?? BURST}`;
      quantum = p.quantum;
    }
    const keys = KEYS.filter(([k]) => v.mode?.includes(k)).map(([k]) => k);
    if (keys.length) s += ` --hashlimit-mode ${keys.join(',')}`;
    s += ` --hashlimit-name ${v.name}`;
    if (v.htableSize) s += ` --hashlimit-htable-size ${v.htableSize}`;
    if (v.htableMax) s += ` --hashlimit-htable-max ${v.htableMax}`;
    if (v.htableGcinterval !== undefined && v.htableGcinterval !== GC) s += ` --hashlimit-htable-gcinterval ${v.htableGcinterval}`;
    if (v.htableExpire !== undefined && v.htableExpire !== quantum) s += ` --hashlimit-htable-expire ${v.htableExpire}`;
    if (v.srcmask !== undefined && v.srcmask !== bits(f)) s += ` --hashlimit-srcmask ${v.srcmask}`;
    if (v.dstmask !== undefined && v.dstmask !== bits(f)) s += ` --hashlimit-dstmask ${v.dstmask}`;
    return s;
  },
  options: {
    'hashlimit-upto': 1, 'hashlimit-above': 1, 'hashlimit-burst': 1, 'hashlimit-mode': 1, 'hashlimit-name': 1, 'hashlimit-htable-size': 1, 'hashlimit-htable-max': 1,
    'hashlimit-htable-gcinterval': 1, 'hashlimit-htable-expire': 1, 'hashlimit-srcmask': 1, 'hashlimit-dstmask': 1,
  },
  parse(opts, f) {
    const up = opt(opts, 'hashlimit-upto'), ab = opt(opts, 'hashlimit-above'), n = opt(opts, 'hashlimit-name');
    const o = up ?? ab;
    if (!o || !n) throw new ParseProblem('-m hashlimit needs --hashlimit-upto or --hashlimit-above, and --hashlimit-name');
    const mb = /^(\d+(?:b|kb|mb))\/s$/.exec(arg(o));
    if (mb) return parseByteRate(opts, f, o, ab, n, parseBytes(mb[1]!, `--${o.name}`));
    const m = /^(\d+)(?:\/(s|sec|second|m|min|minute|h|hour|d|day))?$/.exec(arg(o));
    if (!m) throw new ParseProblem(`bad rate "${arg(o)}" (N/sec, N/min, N/hour, N/day or N{b,kb,mb}/s)`);
    const per = ({ s: 'sec', sec: 'sec', second: 'sec', m: 'min', min: 'min', minute: 'min', h: 'hour', hour: 'hour', d: 'day', day: 'day' } as const)[(m[2] ?? 'sec') as 'sec'];
    const count = Number(m[1]);
    if (!(count >= 1) || Math.floor((SCALE * UNITS.find(([u]) => u === per)![1]) / count) === 0) throw new ParseProblem(`rate "${arg(o)}" is too fast`);
    // The rate as the kernel will hold it, spelled as iptables prints it back.
    const v: HashlimitMatch = { type: 'hashlimit', name: arg(n), rate: rateOf(avgOf({ count, per })).rate };
    if ((o === ab) !== o.invert) v.above = true;
    v.burst = num(opts, 'hashlimit-burst') ?? BURST;
    return parseRest(opts, f, v, quantumOf(v.rate as PacketRate));
  },
};

function num(opts: ParsedOption[], name: string): number | undefined {
  const x = opt(opts, name);
  if (!x) return undefined;
  const k = /^\d+$/.test(arg(x)) ? Number(arg(x)) : NaN;
  if (!u32(k)) throw new ParseProblem(`bad --${name} "${arg(x)}"`);
  return k;
}

/** A byte rate, its burst in bytes (as the kernel will hold them, spelled as iptables prints them back). */
function parseByteRate(opts: ParsedOption[], f: IptFamily, o: ParsedOption, ab: ParsedOption | undefined, n: ParsedOption, rate: number): HashlimitMatch {
  const cost = bytesToCost(rate), bytes = costToBytes(cost);
  if (!exactBytes(bytes)) throw new ParseProblem(`rate "${arg(o)}" is too slow (16b/s or more)`);
  const v: HashlimitMatch = { type: 'hashlimit', name: arg(n), rate: { bytes } };
  if ((o === ab) !== o.invert) v.above = true;
  const bo = opt(opts, 'hashlimit-burst');
  let burst = 0;
  if (bo) {
    const asked = parseBytes(arg(bo), '--hashlimit-burst');
    burst = burstUnits(asked, bytes);
    if (asked < bytes || burst * bytes > U32_MAX) throw new ParseProblem(`--hashlimit-burst "${arg(bo)}" must be at least the rate and below 4096mb`);
    v.burst = burst * bytes;
  }
  return parseRest(opts, f, v, byteQuantum(burst));
}

/** The options after the rate and burst. */
function parseRest(opts: ParsedOption[], f: IptFamily, v: HashlimitMatch, quantum: number): HashlimitMatch {
  const md = opt(opts, 'hashlimit-mode');
  if (md) {
    const list = arg(md).split(',');
    if (!list.every((k) => KEYS.some(([x]) => x === k))) throw new ParseProblem(`bad --hashlimit-mode "${arg(md)}"`);
    v.mode = KEYS.filter(([k]) => list.includes(k)).map(([k]) => k);
  }
  const size = num(opts, 'hashlimit-htable-size'), max = num(opts, 'hashlimit-htable-max'), gc = num(opts, 'hashlimit-htable-gcinterval'), exp = num(opts, 'hashlimit-htable-expire');
  const sm = num(opts, 'hashlimit-srcmask'), dm = num(opts, 'hashlimit-dstmask');
  if (size) v.htableSize = size;
  if (max) v.htableMax = max;
  if (gc !== undefined && gc !== GC) v.htableGcinterval = gc;
  if (exp !== undefined && exp !== quantum) v.htableExpire = exp;
  if (sm !== undefined && sm !== bits(f)) v.srcmask = sm;
  if (dm !== undefined && dm !== bits(f)) v.dstmask = dm;
  return v;
}
