/**
 * -m connbytes: xt_connbytes_info (revision 0, 18 bytes: from, to (u64), what, direction). An
 * inverted range is held as from > to, which is how iptables writes "!".
 * `iptables -m connbytes --connbytes 10000:100000 --connbytes-mode bytes --connbytes-dir both`
 */
import { arg, opt, shown, ParseProblem, VALID, type Codec } from './codec';

export type ConnbytesMode = 'packets' | 'bytes' | 'avgpkt';
export type ConnbytesDir = 'original' | 'reply' | 'both';
export interface ConnbytesMatch {
  type: 'connbytes';
  from: number;
  /** Absent: no upper bound. */
  to?: number;
  mode: ConnbytesMode;
  direction: ConnbytesDir;
  invert?: boolean;
}

const MODES: ConnbytesMode[] = ['packets', 'bytes', 'avgpkt'];
const DIRS: ConnbytesDir[] = ['original', 'reply', 'both'];
const MAX = 0xffffffffffffffffn;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

export const connbytes: Codec<ConnbytesMatch> = {
  kind: 'match',
  type: 'connbytes',
  name: 'connbytes',
  revision: () => 0,
  size: () => 18,
  encode(v, b) {
    const lo = BigInt(v.from), hi = v.to === undefined ? MAX : BigInt(v.to);
    b.writeBigUInt64LE(v.invert ? hi : lo, 0);
    b.writeBigUInt64LE(v.invert ? lo : hi, 8);
    b[16] = MODES.indexOf(v.mode);
    b[17] = DIRS.indexOf(v.direction);
  },
  decode(b) {
    let lo = b.readBigUInt64LE(0), hi = b.readBigUInt64LE(8);
    const invert = lo > hi;
    if (invert) [lo, hi] = [hi, lo];
    const mode = MODES[b[16]!], direction = DIRS[b[17]!];
    // (Bounds beyond 2^53, or an upper bound of 0, are nothing iptables prints back exactly: kept raw.)
    if (!mode || !direction || lo > SAFE || (hi > SAFE && hi !== MAX) || hi === 0n) return undefined;
    const v: ConnbytesMatch = { type: 'connbytes', from: Number(lo), mode, direction };
    if (hi !== MAX) v.to = Number(hi);
    if (invert) v.invert = true;
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (!count(v.from)) out.push(['from', 'must be an integer 0..2^53-1']);
    if (v.to !== undefined && (!count(v.to) || v.to === 0 || (count(v.from) && v.to < v.from))) out.push(['to', 'must be an integer from..2^53-1, above 0']);
    if (v.invert && v.to !== undefined && v.to === v.from) out.push(['invert', 'needs to > from (the kernel holds an inverted range as from > to)']);
    if (!MODES.includes(v.mode)) out.push(['mode', `must be one of ${MODES.join(', ')}, not ${shown(v.mode)}`]);
    if (!DIRS.includes(v.direction)) out.push(['direction', `must be one of ${DIRS.join(', ')}, not ${shown(v.direction)}`]);
    return out.length ? out : VALID;
  },
  save: (v) => `${v.invert ? ' !' : ''} --connbytes ${v.from}${v.to !== undefined ? `:${v.to}` : ''} --connbytes-mode ${v.mode} --connbytes-dir ${v.direction}`,
  options: { connbytes: 1, 'connbytes-mode': 1, 'connbytes-dir': 1 },
  parse(opts) {
    const c = opt(opts, 'connbytes'), m = opt(opts, 'connbytes-mode'), d = opt(opts, 'connbytes-dir');
    if (!c || !m || !d) throw new ParseProblem('-m connbytes needs --connbytes, --connbytes-mode and --connbytes-dir');
    const r = /^(\d+)(?::(\d*))?$/.exec(arg(c));
    const mode = arg(m) as ConnbytesMode, direction = arg(d) as ConnbytesDir;
    if (!r || !MODES.includes(mode) || !DIRS.includes(direction)) throw new ParseProblem(`bad -m connbytes options "${arg(c)} ${arg(m)} ${arg(d)}"`);
    const v: ConnbytesMatch = { type: 'connbytes', from: Number(r[1]), mode, direction };
    if (r[2]) v.to = Number(r[2]);
    if (c.invert) v.invert = true;
    return v;
  },
};
