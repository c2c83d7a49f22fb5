/**
 * -m hashlimit: xt_hashlimit_mtinfo3 (revision 3, 312 bytes: name[255], then hashlimit_cfg3 at 256:
 * avg (u64, 10^-6 s between packets), burst (u64), mode, size, max, gc_interval, expire, interval,
 * srcmask, dstmask; then the kernel's private pointer). Typed: packet rates. Byte rates
 * (--hashlimit-upto 100kb/s) and --hashlimit-rate-match stay raw.
 * `iptables -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name ssh`
 */
import type { IptFamily } from '../types';
import { arg, opt, readCString, shown, u32, writeCString, ParseProblem, VALID, type Codec } from './codec';

export type HashlimitKey = 'srcip' | 'srcport' | 'dstip' | 'dstport';
export type RateUnit = 'sec' | 'min' | 'hour' | 'day';
export interface HashlimitMatch {
  type: 'hashlimit';
  /** The hash table's name (/proc/net/ipt_hashlimit/NAME). */
  name: string;
  /** count packets per unit, for each bucket. */
  rate: { count: number; per: RateUnit };
  /** Match above the rate instead of up to it. */
  above?: boolean;
  /** Default 5. */
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

const avgOf = (r: HashlimitMatch['rate']) => Math.floor((SCALE * UNITS.find(([u]) => u === r.per)![1]) / r.count);
/** libxt_hashlimit's print_rate: the largest unit whose count is a whole number of packets... as iptables picks it. */
function rateOf(avg: number): { rate: HashlimitMatch['rate']; quantum: number } {
  let i = 1;
  for (; i < UNITS.length; i++) {
    const mult = SCALE * UNITS[i]![1];
    if (avg > mult || Math.floor(mult / avg) < mult % avg) break;
  }
  const [per, secs] = UNITS[i - 1]!;
  return { rate: { count: Math.floor((SCALE * secs) / avg), per }, quantum: secs * 1000 };
}
const quantumOf = (r: HashlimitMatch['rate']) => UNITS.find(([u]) => u === r.per)![1] * 1000;

export const hashlimit: Codec<HashlimitMatch> = {
  kind: 'match',
  type: 'hashlimit',
  name: 'hashlimit',
  revision: () => 3,
  size: () => 312,
  encode(v, b, f) {
    writeCString(b, 0, NAME_MAX, v.name);
    b.writeBigUInt64LE(BigInt(avgOf(v.rate)), CFG);
    b.writeBigUInt64LE(BigInt(v.burst ?? BURST), CFG + 8);
    let mode = v.above ? INVERT : 0;
    for (const [k, bit] of KEYS) if (v.mode?.includes(k)) mode |= bit;
    b.writeUInt32LE(mode, CFG + 16);
    b.writeUInt32LE(v.htableSize ?? 0, CFG + 20);
    b.writeUInt32LE(v.htableMax ?? 0, CFG + 24);
    b.writeUInt32LE(v.htableGcinterval ?? GC, CFG + 28);
    b.writeUInt32LE(v.htableExpire ?? quantumOf(v.rate), CFG + 32);
    b[CFG + 40] = v.srcmask ?? bits(f);
    b[CFG + 41] = v.dstmask ?? bits(f);
  },
  decode(b, f, rev) {
    const avgBig = b.readBigUInt64LE(CFG), burstBig = b.readBigUInt64LE(CFG + 8), mode = b.readUInt32LE(CFG + 16);
    if (rev !== 3 || mode & (BYTES | RATE_MATCH) || mode & ~0x1f || b.readUInt32LE(CFG + 36) || !avgBig || avgBig > 0xffffffffn || burstBig > 0xffffffffn) return undefined;
    const avg = Number(avgBig), { rate, quantum } = rateOf(avg);
    // (Only a rate that prints back to the same avg is typed: iptables' text rounds others.)
    if (rate.count < 1 || avgOf(rate) !== avg) return undefined;
    const v: HashlimitMatch = { type: 'hashlimit', name: readCString(b, 0, NAME_MAX), rate, burst: Number(burstBig) };
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
    if (!r || typeof r !== 'object' || !UNITS.some(([u]) => u === r.per)) return [['rate.per', 'must be sec, min, hour or day']];
    if (!(Number.isInteger(r.count) && r.count >= 1 && r.count <= SCALE * UNITS.find(([u]) => u === r.per)![1])) return [['rate.count', 'must be 1 up to a million a second']];
    if (v.burst !== undefined && !u32(v.burst)) return [['burst', 'must be a 32-bit unsigned integer']];
    if (v.mode !== undefined && (!Array.isArray(v.mode) || !v.mode.every((k) => KEYS.some(([n]) => n === k)))) return [['mode', `must list keys among ${KEYS.map(([k]) => k).join(', ')}, not ${shown(v.mode)}`]];
    for (const k of ['htableSize', 'htableMax', 'htableGcinterval', 'htableExpire'] as const) if (v[k] !== undefined && !u32(v[k])) return [[k, 'must be a 32-bit unsigned integer']];
    for (const k of ['srcmask', 'dstmask'] as const) if (v[k] !== undefined && !(Number.isInteger(v[k]) && v[k]! >= 0 && v[k]! <= bits(f))) return [[k, `must be a prefix length 0-${bits(f)}`]];
    return VALID;
  },
  save(v, f) {
    const { rate, quantum } = rateOf(avgOf(v.rate));
    let s = ` --hashlimit-${v.above ? 'above' : 'upto'} ${rate.count}/${rate.per} --hashlimit-burst ${v.burst ?? BURST}`;
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
    const m = /^(\d+)(?:\/(s|sec|second|m|min|minute|h|hour|d|day))?$/.exec(arg(o));
    if (!m) throw new ParseProblem(`bad rate "${arg(o)}" (N/sec, N/min, N/hour or N/day: byte rates are not typed)`);
    const per = ({ s: 'sec', sec: 'sec', second: 'sec', m: 'min', min: 'min', minute: 'min', h: 'hour', hour: 'hour', d: 'day', day: 'day' } as const)[(m[2] ?? 'sec') as 'sec'];
    const count = Number(m[1]);
    if (!(count >= 1) || Math.floor((SCALE * UNITS.find(([u]) => u === per)![1]) / count) === 0) throw new ParseProblem(`rate "${arg(o)}" is too fast`);
    // The rate as the kernel will hold it, spelled as iptables prints it back.
    const v: HashlimitMatch = { type: 'hashlimit', name: arg(n), rate: rateOf(avgOf({ count, per })).rate };
    if ((o === ab) !== o.invert) v.above = true;
    const num = (name: string) => {
      const x = opt(opts, name);
      if (!x) return undefined;
      const k = /^\d+$/.test(arg(x)) ? Number(arg(x)) : NaN;
      if (!u32(k)) throw new ParseProblem(`bad --${name} "${arg(x)}"`);
      return k;
    };
    v.burst = num('hashlimit-burst') ?? BURST;
    const md = opt(opts, 'hashlimit-mode');
    if (md) {
      const list = arg(md).split(',');
      if (!list.every((k) => KEYS.some(([x]) => x === k))) throw new ParseProblem(`bad --hashlimit-mode "${arg(md)}"`);
      v.mode = KEYS.filter(([k]) => list.includes(k)).map(([k]) => k);
    }
    const size = num('hashlimit-htable-size'), max = num('hashlimit-htable-max'), gc = num('hashlimit-htable-gcinterval'), exp = num('hashlimit-htable-expire');
    const sm = num('hashlimit-srcmask'), dm = num('hashlimit-dstmask');
    if (size) v.htableSize = size;
    if (max) v.htableMax = max;
    if (gc !== undefined && gc !== GC) v.htableGcinterval = gc;
    if (exp !== undefined && exp !== quantumOf(v.rate)) v.htableExpire = exp;
    if (sm !== undefined && sm !== bits(f)) v.srcmask = sm;
    if (dm !== undefined && dm !== bits(f)) v.dstmask = dm;
    return v;
  },
};
