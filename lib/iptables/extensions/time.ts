/**
 * -m time: xt_time_info (revision 0, 22 bytes: date_start, date_stop (Unix seconds), daytime_start,
 * daytime_stop (seconds of the day), monthdays bitmap, weekdays bitmap, flags).
 * `iptables -m time --timestart 08:00 --timestop 17:30 --weekdays Mon,Tue,Wed,Thu,Fri --kerneltz`
 */
import { arg, opt, ParseProblem, VALID, type Codec, type Problems } from './codec';

export type Weekday = 'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun';
export interface TimeMatch {
  type: 'time';
  /** Time of day "HH:MM:SS", both or neither (absent: the whole day). */
  timeStart?: string;
  timeStop?: string;
  /** Absent: every day of the week. */
  weekdays?: Weekday[];
  /** Days of the month 1-31 (absent: all). */
  monthdays?: number[];
  /** "YYYY-MM-DDTHH:MM:SS" in UTC (absent: 1970-01-01 / 2038-01-19T03:14:07). */
  dateStart?: string;
  dateStop?: string;
  /** The kernel's time zone instead of UTC for the times of day and the days. */
  kerneltz?: boolean;
  /** A timestop before timestart ends on the next day, not this one. */
  contiguous?: boolean;
}

const DAYS: Weekday[] = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const ALL_WEEKDAYS = 0xfe, ALL_MONTHDAYS = 0xfffffffe, MAX_DAYTIME = 86399, DATE_MAX = 0x7fffffff;
const LOCAL_TZ = 1, CONTIGUOUS = 2;

const two = (n: number) => String(n).padStart(2, '0');
const dayTime = (s: number) => `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
function daySeconds(s: unknown): number | undefined {
  const m = typeof s === 'string' ? /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(s) : null;
  if (!m) return undefined;
  const h = Number(m[1]), mi = Number(m[2]), se = Number(m[3] ?? 0);
  return h < 24 && mi < 60 && se < 60 ? h * 3600 + mi * 60 + se : undefined;
}
const dateText = (t: number) => new Date(t * 1000).toISOString().slice(0, 19);
function dateSeconds(s: unknown): number | undefined {
  const m = typeof s === 'string' ? /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2}))?)?)?)?)?$/.exec(s) : null;
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2] ?? 1) - 1, Number(m[3] ?? 1), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)) / 1000;
  return Number.isInteger(t) && t >= 0 && t <= DATE_MAX ? t : undefined;
}
const dayBits = (l: Weekday[]) => l.reduce((m, d) => m | (1 << (DAYS.indexOf(d) + 1)), 0);
const monthBits = (l: number[]) => l.reduce((m, d) => (m | (1 << d)) >>> 0, 0);

export const time: Codec<TimeMatch> = {
  kind: 'match',
  type: 'time',
  name: 'time',
  revision: () => 0,
  size: () => 22,
  encode(v, b) {
    b.writeUInt32LE(v.dateStart !== undefined ? dateSeconds(v.dateStart)! : 0, 0);
    b.writeUInt32LE(v.dateStop !== undefined ? dateSeconds(v.dateStop)! : DATE_MAX, 4);
    b.writeUInt32LE(v.timeStart !== undefined ? daySeconds(v.timeStart)! : 0, 8);
    b.writeUInt32LE(v.timeStop !== undefined ? daySeconds(v.timeStop)! : MAX_DAYTIME, 12);
    b.writeUInt32LE(v.monthdays ? monthBits(v.monthdays) : ALL_MONTHDAYS, 16);
    b[20] = v.weekdays ? dayBits(v.weekdays) : ALL_WEEKDAYS;
    b[21] = (v.kerneltz ? LOCAL_TZ : 0) | (v.contiguous ? CONTIGUOUS : 0);
  },
  decode(b) {
    const ds = b.readUInt32LE(0), de = b.readUInt32LE(4), ts = b.readUInt32LE(8), te = b.readUInt32LE(12), md = b.readUInt32LE(16), wd = b[20]!, f = b[21]!;
    if (ds > DATE_MAX || de > DATE_MAX || ts > MAX_DAYTIME || te > MAX_DAYTIME || md & 1 || !md || wd & 1 || !wd || f & ~3) return undefined;
    const v: TimeMatch = { type: 'time' };
    if (ts !== 0 || te !== MAX_DAYTIME) {
      v.timeStart = dayTime(ts);
      v.timeStop = dayTime(te);
    }
    if (wd !== ALL_WEEKDAYS) v.weekdays = DAYS.filter((_, i) => wd & (1 << (i + 1)));
    if (md !== ALL_MONTHDAYS) v.monthdays = Array.from({ length: 31 }, (_, i) => i + 1).filter((d) => md & (1 << d));
    if (ds) v.dateStart = dateText(ds);
    if (de !== DATE_MAX) v.dateStop = dateText(de);
    if (f & LOCAL_TZ) v.kerneltz = true;
    if (f & CONTIGUOUS) v.contiguous = true;
    return v;
  },
  validate(v): Problems {
    const out: Array<[string, string]> = [];
    for (const k of ['timeStart', 'timeStop'] as const) if (v[k] !== undefined && daySeconds(v[k]) === undefined) out.push([k, 'must be "HH:MM:SS" (or "HH:MM")']);
    for (const k of ['dateStart', 'dateStop'] as const) if (v[k] !== undefined && dateSeconds(v[k]) === undefined) out.push([k, 'must be "YYYY-MM-DDTHH:MM:SS" (UTC) from 1970 to 2038-01-19T03:14:07']);
    if (v.weekdays !== undefined && (!Array.isArray(v.weekdays) || !v.weekdays.length || !v.weekdays.every((d) => DAYS.includes(d)))) out.push(['weekdays', `must list days among ${DAYS.join(', ')}`]);
    if (v.monthdays !== undefined && (!Array.isArray(v.monthdays) || !v.monthdays.length || !v.monthdays.every((d) => Number.isInteger(d) && d >= 1 && d <= 31))) out.push(['monthdays', 'must list days 1-31']);
    return out.length ? out : VALID;
  },
  save(v) {
    let s = '';
    const ts = v.timeStart !== undefined ? daySeconds(v.timeStart)! : 0, te = v.timeStop !== undefined ? daySeconds(v.timeStop)! : MAX_DAYTIME;
    if (ts !== 0 || te !== MAX_DAYTIME) s += ` --timestart ${dayTime(ts)} --timestop ${dayTime(te)}`;
    if (v.weekdays) {
      const bits = dayBits(v.weekdays);
      if (bits !== ALL_WEEKDAYS) s += ` --weekdays ${DAYS.filter((_, i) => bits & (1 << (i + 1))).join(',')}`;
    }
    if (v.monthdays) {
      const bits = monthBits(v.monthdays);
      if (bits !== ALL_MONTHDAYS) s += ` --monthdays ${Array.from({ length: 31 }, (_, i) => i + 1).filter((d) => bits & (1 << d)).join(',')}`;
    }
    const ds = v.dateStart !== undefined ? dateSeconds(v.dateStart)! : 0;
    if (ds) s += ` --datestart ${dateText(ds)}`;
    // (iptables prints the stop date always, the default 2038-01-19T03:14:07 too.)
    s += ` --datestop ${dateText(v.dateStop !== undefined ? dateSeconds(v.dateStop)! : DATE_MAX)}`;
    if (v.kerneltz) s += ' --kerneltz';
    if (v.contiguous) s += ' --contiguous';
    return s;
  },
  options: { timestart: 1, timestop: 1, weekdays: 1, monthdays: 1, datestart: 1, datestop: 1, kerneltz: 0, localtz: 0, utc: 0, contiguous: 0 },
  parse(opts) {
    const v: TimeMatch = { type: 'time' };
    const ts = opt(opts, 'timestart'), te = opt(opts, 'timestop'), wd = opt(opts, 'weekdays'), md = opt(opts, 'monthdays'), ds = opt(opts, 'datestart'), de = opt(opts, 'datestop');
    const sec = (o: NonNullable<typeof ts>, f: (s: string) => number | undefined) => {
      const n = f(arg(o));
      if (n === undefined) throw new ParseProblem(`bad --${o.name} "${arg(o)}"`);
      return n;
    };
    const a = ts ? sec(ts, daySeconds) : 0, z = te ? sec(te, daySeconds) : MAX_DAYTIME;
    if (a !== 0 || z !== MAX_DAYTIME) {
      v.timeStart = dayTime(a);
      v.timeStop = dayTime(z);
    }
    if (wd) {
      const bits = arg(wd).split(',').reduce((m, d) => {
        const i = /^[1-7]$/.test(d) ? Number(d) - 1 : DAYS.findIndex((x) => x.toLowerCase() === d.toLowerCase().slice(0, 3));
        if (i < 0) throw new ParseProblem(`bad weekday "${d}"`);
        return m | (1 << (i + 1));
      }, 0);
      if (bits !== ALL_WEEKDAYS) v.weekdays = DAYS.filter((_, i) => bits & (1 << (i + 1)));
    }
    if (md) {
      const days = arg(md).split(',').map((d) => {
        const n = /^\d+$/.test(d) ? Number(d) : NaN;
        if (!(n >= 1 && n <= 31)) throw new ParseProblem(`bad month day "${d}"`);
        return n;
      });
      const bits = monthBits(days);
      if (bits !== ALL_MONTHDAYS) v.monthdays = Array.from({ length: 31 }, (_, i) => i + 1).filter((d) => bits & (1 << d));
    }
    if (ds) {
      const n = sec(ds, dateSeconds);
      if (n) v.dateStart = dateText(n);
    }
    if (de) {
      const n = sec(de, dateSeconds);
      if (n !== DATE_MAX) v.dateStop = dateText(n);
    }
    if (opt(opts, 'contiguous')) v.contiguous = true;
    if (opt(opts, 'kerneltz') || opt(opts, 'localtz')) v.kerneltz = true;
    return v;
  },
};
