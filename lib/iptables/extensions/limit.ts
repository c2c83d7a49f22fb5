/**
 * -m limit: xt_rateinfo (revision 0, 40 bytes; only avg and burst are the user's, the rest is kernel
 * state it zeroes on read). avg is XT_LIMIT_SCALE (10000) * seconds per packet.
 * `iptables -m limit --limit 5/min --limit-burst 10`
 */
import { arg, opt, ParseProblem, type Codec } from './codec';
import { isOwnKey } from '../../own-key';

export type RateUnit = 'sec' | 'min' | 'hour' | 'day';
export interface LimitMatch {
  type: 'limit';
  /** Packets per unit (default 3/hour). */
  rate?: { count: number; per: RateUnit };
  /** Default 5. */
  burst?: number;
}

const SCALE = 10000;
const UNIT: Record<RateUnit, number> = { sec: 1, min: 60, hour: 3600, day: 86400 };
// print_rate walks these from the longest unit down.
const RATES: Array<[RateUnit, number]> = [['day', SCALE * 86400], ['hour', SCALE * 3600], ['min', SCALE * 60], ['sec', SCALE]];

export function rateToAvg(r: { count: number; per: RateUnit }): number {
  return Math.floor((SCALE * UNIT[r.per]) / r.count);
}
export function saveRate(avg: number): string {
  if (avg === 0) return 'inf';
  let i = 1;
  for (; i < RATES.length; i++) {
    const mult = RATES[i]![1];
    if (avg > mult || Math.floor(mult / avg) < mult % avg) break;
  }
  const [name, mult] = RATES[i - 1]!;
  return `${Math.floor(mult / avg)}/${name}`;
}
export function parseRate(s: string): { count: number; per: RateUnit } {
  const m = /^(\d+)(?:\/(\w+))?$/.exec(s);
  if (!m || Number(m[1]) === 0) throw new ParseProblem(`bad rate "${s}"`);
  const u = (m[2] ?? 'sec').toLowerCase();
  const per = (['sec', 'min', 'hour', 'day'] as RateUnit[]).find((x) => ({ sec: 'second', min: 'minute', hour: 'hour', day: 'day' })[x].startsWith(u) || x === u);
  if (!per) throw new ParseProblem(`bad rate unit "${m[2]}"`);
  return { count: Number(m[1]), per };
}

export const limit: Codec<LimitMatch> = {
  kind: 'match',
  type: 'limit',
  name: 'limit',
  revision: () => 0,
  size: () => 40,
  encode(v, b) {
    b.writeUInt32LE(rateToAvg(v.rate ?? { count: 3, per: 'hour' }), 0);
    b.writeUInt32LE(v.burst ?? 5, 4);
  },
  decode(b) {
    const avg = b.readUInt32LE(0), burst = b.readUInt32LE(4);
    // Keep the kernel's exact avg reachable: a rate that encodes back to it, else decline (raw).
    const text = saveRate(avg);
    if (text === 'inf') return undefined;
    const rate = parseRate(text);
    if (rateToAvg(rate) !== avg) return undefined;
    return { type: 'limit', rate, ...(burst !== 5 ? { burst } : {}) };
  },
  validate(v) {
    if (v.rate !== undefined && (!v.rate || typeof v.rate !== 'object' || !(Number.isInteger(v.rate.count) && v.rate.count > 0) || !isOwnKey(UNIT, v.rate.per))) return [['rate', 'needs a positive count and a unit sec|min|hour|day']];
    if (v.rate && rateToAvg(v.rate) === 0) return [['rate', 'too fast']];
    if (v.burst !== undefined && !(Number.isInteger(v.burst) && v.burst > 0 && v.burst <= 10000)) return [['burst', 'must be 1-10000']];
    return [];
  },
  save(v) {
    const burst = v.burst ?? 5;
    return ` --limit ${saveRate(rateToAvg(v.rate ?? { count: 3, per: 'hour' }))}${burst !== 5 ? ` --limit-burst ${burst}` : ''}`;
  },
  options: { limit: 1, 'limit-burst': 1 },
  parse(opts) {
    const l = opt(opts, 'limit'), b = opt(opts, 'limit-burst');
    return { type: 'limit', ...(l ? { rate: parseRate(arg(l)) } : {}), ...(b ? { burst: Number(arg(b)) } : {}) };
  },
};
