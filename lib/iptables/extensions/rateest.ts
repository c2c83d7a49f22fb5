/**
 * -j RATEEST: xt_rateest_target_info (revision 0, 32 bytes: name[16], interval (s8: 2^(i+2) quarter
 * seconds, -2..3), ewma_log (u8), then the kernel's pointer). Keeps a rate estimator by name.
 * -m rateest: xt_rateest_match_info (revision 0, 72 bytes: name1[16], name2[16], flags (u16), mode
 * (u16), bps1, pps1, bps2, pps2 (u32), then the kernel's two pointers). Compares an estimator's
 * rate with a value, or two estimators' rates.
 * `iptables -t mangle -j RATEEST --rateest-name e1 --rateest-interval 250ms --rateest-ewmalog 500ms`
 * `iptables -m rateest --rateest e1 --rateest-gt --rateest-bps 1mbit`
 */
import { arg, opt, readCString, u32, writeCString, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';

const NAME = 16;
const validName = (s: unknown) => typeof s === 'string' && /^[\w.-]{1,15}$/.test(s);
const NAME_PROBLEM = 'must be 1-15 characters (letters, digits, _ . -)';

// ---- RATEEST ----

export interface RateestTarget {
  type: 'RATEEST';
  /** The estimator's name (shared by every rule naming it). */
  name: string;
  /** Sampling interval: 250, 500, 1000, 2000, 4000 or 8000 ms. */
  intervalMs: 250 | 500 | 1000 | 2000 | 4000 | 8000;
  /** The average's time constant is intervalMs * 2^ewmaLog (1-30). */
  ewmaLog: number;
}

const INTERVALS = [250, 500, 1000, 2000, 4000, 8000] as const;
const US = 1_000_000;

/** tc's print_time for what iptables prints (microseconds). */
function timeText(us: number): string {
  if (us >= US) return `${(us / US).toFixed(1)}s`;
  if (us >= 1000) return `${(us / 1000).toFixed(1)}ms`;
  return `${us}us`;
}
/** tc's get_time: a number with s/sec/secs, ms/msec/msecs or us/usec/usecs (none: us), in whole microseconds of 32 bits. */
function parseTime(s: string, what: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(s|sec|secs|ms|msec|msecs|us|usec|usecs)?$/.exec(s);
  if (!m) throw new ParseProblem(`bad ${what} "${s}"`);
  const unit = m[2] ?? 'us';
  const us = Math.trunc(Number(m[1]) * (unit.startsWith('m') ? 1000 : unit.startsWith('u') ? 1 : US));
  if (!(us >= 0 && us <= 0xffffffff)) throw new ParseProblem(`${what} "${s}" is too long`);
  return us;
}

export const rateestTarget: Codec<RateestTarget> = {
  kind: 'target',
  type: 'RATEEST',
  name: 'RATEEST',
  revision: () => 0,
  size: () => 32,
  encode(v, b) {
    writeCString(b, 0, NAME, v.name);
    b.writeInt8(INTERVALS.indexOf(v.intervalMs) - 2, 16);
    b[17] = v.ewmaLog;
  },
  decode(b) {
    const i = b.readInt8(16), e = b[17]!;
    const intervalMs = INTERVALS[i + 2];
    // Past 2^32 us iptables' printing of the time constant wraps around: such an estimator stays raw.
    if (intervalMs === undefined || e < 1 || e > 30 || intervalMs * 1000 * 2 ** e > 0xffffffff || b.readUInt16LE(18) || b.readUInt32LE(20)) return undefined;
    // (A name validation would refuse stays raw: reading never gives a model that cannot be committed.)
    const name = readCString(b, 0, NAME - 1);
    return validName(name) ? { type: 'RATEEST', name, intervalMs, ewmaLog: e } : undefined;
  },
  validate(v) {
    if (!validName(v.name)) return [['name', NAME_PROBLEM]];
    if (!INTERVALS.includes(v.intervalMs)) return [['intervalMs', `must be one of ${INTERVALS.join(', ')}`]];
    if (!(Number.isInteger(v.ewmaLog) && v.ewmaLog >= 1 && v.ewmaLog <= 30)) return [['ewmaLog', 'must be 1-30']];
    if (v.intervalMs * 1000 * 2 ** v.ewmaLog > 0xffffffff) return [['ewmaLog', `makes a time constant over 2^32 us (iptables cannot print it) with intervalMs ${v.intervalMs}`]];
    return VALID;
  },
  save: (v) => ` --rateest-name ${v.name} --rateest-interval ${timeText(v.intervalMs * 1000)} --rateest-ewmalog ${timeText(v.intervalMs * 1000 * 2 ** v.ewmaLog)}`,
  options: { 'rateest-name': 1, 'rateest-interval': 1, 'rateest-ewmalog': 1 },
  parse(opts: ParsedOption[]) {
    const n = opt(opts, 'rateest-name'), iv = opt(opts, 'rateest-interval'), ew = opt(opts, 'rateest-ewmalog');
    if (!n || !iv || !ew) throw new ParseProblem('-j RATEEST needs --rateest-name, --rateest-interval and --rateest-ewmalog');
    const t = parseTime(arg(iv), '--rateest-interval'), ewma = parseTime(arg(ew), '--rateest-ewmalog');
    // As iptables picks them: the shortest interval not below the one asked for, and the largest
    // ewma_log whose time constant (interval / -ln(1 - 2^-e), with the interval as given) is not above the one asked for.
    const i = INTERVALS.findIndex((ms) => t <= ms * 1000);
    if (i < 0) throw new ParseProblem(`--rateest-interval "${arg(iv)}" is over 8s`);
    let e = 1;
    for (; e < 32; e++) if (t / -Math.log(1 - 1 / 2 ** e) > ewma) break;
    e--;
    if (e < 1 || e > 30) throw new ParseProblem(`--rateest-ewmalog "${arg(ew)}" is out of range`);
    return { type: 'RATEEST', name: arg(n), intervalMs: INTERVALS[i]!, ewmaLog: e };
  },
};

// ---- rateest ----

/** A rate in bytes per second (bps) or packets per second (pps). */
export interface RateestValues {
  /** The first estimator's rate is lowered by this (delta only). */
  value1?: number;
  /** The value compared with (absolute), or the second estimator's rate is lowered by it (delta). */
  value2?: number;
}
export interface RateestMatch {
  type: 'rateest';
  /** The estimator (a RATEEST target's name). */
  name1: string;
  /** A second estimator: its rate is compared with the first's (else value2 is). */
  name2?: string;
  /** Compare the rates lowered by the values (--rateest-delta). */
  delta?: boolean;
  compare: 'eq' | 'lt' | 'gt';
  invert?: boolean;
  /** Compare byte rates (bytes per second) and / or packet rates. */
  bps?: RateestValues;
  pps?: RateestValues;
}

const M = { invert: 1, abs: 2, rel: 4, delta: 8, bps: 16, pps: 32 } as const;
const MODES = ['eq', 'lt', 'gt'] as const;
const BPS1 = 36, PPS1 = 40, BPS2 = 44, PPS2 = 48;

/** libxt_rateest's rate text: bits per second, in Mbit from 10^9, Kbit from 10^6 (undefined: not a whole number there). */
function rateText(bytes: number): string | undefined {
  const bits = bytes * 8;
  if (bits >= 1e9) return bits % 1e6 ? undefined : `${bits / 1e6}Mbit`;
  if (bits >= 1e6) return bits % 1e3 ? undefined : `${bits / 1e3}Kbit`;
  return `${bits}bit`;
}
// tc's rate units (bits per second per unit); a bare number is bits per second.
const RATE_UNITS: Record<string, number> = {
  bit: 1, kibit: 1024, kbit: 1000, mibit: 1024 ** 2, mbit: 1e6, gibit: 1024 ** 3, gbit: 1e9, tibit: 1024 ** 4, tbit: 1e12,
  bps: 8, kibps: 8 * 1024, kbps: 8000, mibps: 8 * 1024 ** 2, mbps: 8e6, gibps: 8 * 1024 ** 3, gbps: 8e9, tibps: 8 * 1024 ** 4, tbps: 8e12,
};
function parseRate(s: string, what: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([a-z]*)$/i.exec(s);
  const scale = m && (m[2] === '' ? 1 : RATE_UNITS[m[2]!.toLowerCase()]);
  const bytes = scale ? Math.trunc((Number(m![1]) * scale) / 8) : NaN;
  if (!(bytes >= 0 && bytes <= 0xffffffff)) throw new ParseProblem(`bad ${what} "${s}"`);
  return bytes;
}

function parsePackets(s: string, what: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!u32(n)) throw new ParseProblem(`bad ${what} "${s}"`);
  return n;
}

export const rateest: Codec<RateestMatch> = {
  kind: 'match',
  type: 'rateest',
  name: 'rateest',
  revision: () => 0,
  size: () => 72,
  encode(v, b) {
    writeCString(b, 0, NAME, v.name1);
    if (v.name2 !== undefined) writeCString(b, 16, NAME, v.name2);
    const flags = (v.name2 !== undefined ? M.rel : M.abs) | (v.delta ? M.delta : 0) | (v.invert ? M.invert : 0) | (v.bps ? M.bps : 0) | (v.pps ? M.pps : 0);
    b.writeUInt16LE(flags, 32);
    b.writeUInt16LE(MODES.indexOf(v.compare) + 1, 34);
    b.writeUInt32LE(v.bps?.value1 ?? 0, BPS1);
    b.writeUInt32LE(v.pps?.value1 ?? 0, PPS1);
    b.writeUInt32LE(v.bps?.value2 ?? 0, BPS2);
    b.writeUInt32LE(v.pps?.value2 ?? 0, PPS2);
  },
  decode(b) {
    const flags = b.readUInt16LE(32), mode = b.readUInt16LE(34);
    const rel = (flags & M.rel) !== 0, delta = (flags & M.delta) !== 0;
    // Exactly one of abs / rel, a comparison, and at least one of bps / pps (what iptables writes).
    if (flags & ~63 || rel === ((flags & M.abs) !== 0) || mode < 1 || mode > 3 || !(flags & (M.bps | M.pps))) return undefined;
    const name1 = readCString(b, 0, NAME - 1), name2 = readCString(b, 16, NAME - 1);
    if (rel !== (name2 !== '') || !validName(name1) || (rel && !validName(name2))) return undefined;
    const v: RateestMatch = { type: 'rateest', name1 } as RateestMatch;
    if (rel) v.name2 = name2;
    if (delta) v.delta = true;
    v.compare = MODES[mode - 1]!;
    if (flags & M.invert) v.invert = true;
    for (const [k, o1, o2] of [['bps', BPS1, BPS2], ['pps', PPS1, PPS2]] as const) {
      const x1 = b.readUInt32LE(o1), x2 = b.readUInt32LE(o2);
      if (!(flags & M[k])) {
        if (x1 || x2) return undefined;
        continue;
      }
      // Only values save() prints (value1 with delta; value2 with delta or absolute), in text that reads back exactly.
      if ((!delta && x1) || (!delta && rel && x2)) return undefined;
      if (k === 'bps' && ((delta && rateText(x1) === undefined) || rateText(x2) === undefined)) return undefined;
      const vals: RateestValues = {};
      if (delta) vals.value1 = x1;
      if (delta || !rel) vals.value2 = x2;
      v[k] = vals;
    }
    return v;
  },
  validate(v) {
    if (!validName(v.name1)) return [['name1', NAME_PROBLEM]];
    if (v.name2 !== undefined && !validName(v.name2)) return [['name2', NAME_PROBLEM]];
    if (!MODES.includes(v.compare)) return [['compare', 'must be eq, lt or gt']];
    if (v.bps === undefined && v.pps === undefined) return [['bps', 'or pps is required']];
    for (const k of ['bps', 'pps'] as const) {
      const x = v[k];
      if (x === undefined) continue;
      if (!x || typeof x !== 'object') return [[k, 'must be an object { value1?, value2? }']];
      if (x.value1 !== undefined && (!u32(x.value1) || !v.delta)) return [[`${k}.value1`, v.delta ? 'must be a 32-bit unsigned integer' : 'is only compared with delta']];
      if (x.value2 !== undefined && (!u32(x.value2) || (v.name2 !== undefined && !v.delta))) return [[`${k}.value2`, u32(x.value2) ? 'is only compared with delta or without name2' : 'must be a 32-bit unsigned integer']];
      if (k === 'bps') for (const n of ['value1', 'value2'] as const) if (x[n] !== undefined && rateText(x[n]!) === undefined) return [[`bps.${n}`, 'must be a whole number of Kbit/s from 10^6 bit/s, of Mbit/s from 10^9 (iptables prints no finer)']];
    }
    return VALID;
  },
  save(v) {
    let s = v.delta ? ' --rateest-delta' : '';
    s += v.name2 === undefined ? ` --rateest ${v.name1}` : ` --rateest1 ${v.name1}`;
    const cmp = `${v.invert ? ' !' : ''} --rateest-${v.compare}`;
    for (const k of ['bps', 'pps'] as const) {
      const x = v[k];
      if (!x) continue;
      const text = (n = 0) => (k === 'bps' ? rateText(n) : `${n}`);
      if (v.delta) s += ` --rateest-${k}1 ${text(x.value1)}${cmp} --rateest-${k}2 ${text(x.value2)}`;
      else s += `${cmp} --rateest-${k}${v.name2 === undefined ? ` ${text(x.value2)}` : ''}`;
    }
    if (v.name2 !== undefined) s += ` --rateest2 ${v.name2}`;
    return s;
  },
  // -1: an optional value (taken unless the next word is an option).
  options: {
    rateest: 1, rateest1: 1, rateest2: 1, 'rateest-delta': 0, 'rateest-eq': 0, 'rateest-lt': 0, 'rateest-gt': 0,
    'rateest-bps': -1, 'rateest-pps': -1, 'rateest-bps1': -1, 'rateest-pps1': -1, 'rateest-bps2': -1, 'rateest-pps2': -1,
  },
  parse(opts) {
    const n1 = opt(opts, 'rateest') ?? opt(opts, 'rateest1'), n2 = opt(opts, 'rateest2');
    if (!n1) throw new ParseProblem('-m rateest needs --rateest NAME or --rateest1 NAME');
    const v = { type: 'rateest', name1: arg(n1) } as RateestMatch;
    if (n2) v.name2 = arg(n2);
    if (opt(opts, 'rateest-delta')) v.delta = true;
    const cmps = opts.filter((o) => o.name === 'rateest-eq' || o.name === 'rateest-lt' || o.name === 'rateest-gt');
    if (!cmps.length || cmps.some((c) => c.name !== cmps[0]!.name)) throw new ParseProblem('-m rateest needs one of --rateest-eq, --rateest-lt, --rateest-gt');
    v.compare = cmps[0]!.name.slice(8) as RateestMatch['compare'];
    if (cmps.some((c) => c.invert)) v.invert = true;
    for (const k of ['bps', 'pps'] as const) {
      const o = opt(opts, `rateest-${k}`), o1 = opt(opts, `rateest-${k}1`), o2 = opt(opts, `rateest-${k}2`);
      if (!o && !o1 && !o2) continue;
      const val = (x: ParsedOption | undefined) => (x?.args[0] === undefined ? undefined : k === 'bps' ? parseRate(x.args[0], `--${x.name}`) : parsePackets(x.args[0], `--${x.name}`));
      const x: RateestValues = {};
      // As the kernel holds it: value1 counts with delta only; value2 with delta or against a value.
      if (v.delta) x.value1 = val(o1) ?? 0;
      if (v.delta || v.name2 === undefined) x.value2 = val(o2) ?? val(o) ?? 0;
      v[k] = x;
    }
    if (!v.bps && !v.pps) throw new ParseProblem('-m rateest needs --rateest-bps or --rateest-pps');
    return v;
  },
};
