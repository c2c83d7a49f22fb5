/** -j LOG: xt_log_info (revision 0, 32 bytes: level, flags, prefix[30]). `iptables -j LOG --log-prefix "in: " --log-level 6` */
import { arg, readCString, saveString, writeCString, ParseProblem, type Codec } from './codec';

export interface LogTarget {
  type: 'LOG';
  prefix?: string;
  /** syslog level 0-7 (default 4, warning). */
  level?: number;
  tcpSequence?: boolean;
  tcpOptions?: boolean;
  ipOptions?: boolean;
  uid?: boolean;
  macDecode?: boolean;
}

const FLAGS = [['tcpSequence', 1, 'log-tcp-sequence'], ['tcpOptions', 2, 'log-tcp-options'], ['ipOptions', 4, 'log-ip-options'], ['uid', 8, 'log-uid'], ['macDecode', 0x20, 'log-macdecode']] as const;
const LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];

export const log: Codec<LogTarget> = {
  kind: 'target',
  type: 'LOG',
  name: 'LOG',
  revision: () => 0,
  size: () => 32,
  encode(v, b) {
    b[0] = v.level ?? 4;
    let f = 0;
    for (const [k, bit] of FLAGS) if (v[k]) f |= bit;
    b[1] = f;
    if (v.prefix) writeCString(b, 2, 30, v.prefix);
  },
  decode(b) {
    const v: LogTarget = { type: 'LOG' };
    const prefix = readCString(b, 2, 30);
    if (prefix) v.prefix = prefix;
    if (b[0] !== 4) v.level = b[0]!;
    for (const [k, bit] of FLAGS) if (b[1]! & bit) v[k] = true;
    if (b[1]! & ~0x2f) return undefined;
    return v;
  },
  validate(v) {
    if (v.prefix !== undefined && (typeof v.prefix !== 'string' || Buffer.byteLength(v.prefix) > 29)) return [['prefix', 'at most 29 bytes']];
    if (v.level !== undefined && !(Number.isInteger(v.level) && v.level >= 0 && v.level <= 7)) return [['level', 'must be 0-7']];
    return [];
  },
  save(v) {
    let s = v.prefix ? ` --log-prefix${saveString(v.prefix)}` : '';
    if (v.level !== undefined && v.level !== 4) s += ` --log-level ${v.level}`;
    for (const [k, , name] of FLAGS) if (v[k]) s += ` --${name}`;
    return s;
  },
  options: { 'log-prefix': 1, 'log-level': 1, 'log-tcp-sequence': 0, 'log-tcp-options': 0, 'log-ip-options': 0, 'log-uid': 0, 'log-macdecode': 0 },
  parse(opts) {
    const v: LogTarget = { type: 'LOG' };
    for (const o of opts) {
      if (o.name === 'log-prefix') v.prefix = arg(o);
      else if (o.name === 'log-level') {
        const a = arg(o);
        const n = /^\d$/.test(a) ? Number(a) : LEVELS.indexOf(a === 'err' ? 'error' : a === 'warn' ? 'warning' : a);
        if (n < 0 || n > 7) throw new ParseProblem(`bad --log-level "${a}"`);
        if (n !== 4) v.level = n;
      } else {
        const f = FLAGS.find(([, , name]) => name === o.name);
        if (f) v[f[0]] = true;
      }
    }
    return v;
  },
};
