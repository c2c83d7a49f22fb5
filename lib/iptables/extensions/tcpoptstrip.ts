/**
 * -j TCPOPTSTRIP: xt_tcpoptstrip_target_info (revision 0, 32 bytes: a bitmap of the 256 TCP option
 * kinds). Needs -p tcp. `iptables -t mangle -p tcp -j TCPOPTSTRIP --strip-options wscale,sack-permitted,timestamp`
 */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface TcpoptstripTarget {
  type: 'TCPOPTSTRIP';
  /** The option kinds to strip, by number (parse also takes iptables' names: mss 2, wscale 3, sack-permitted 4, sack 5, timestamp 8, md5 19; iptables-save prints numbers). */
  options: number[];
}

const NAMES: Record<number, string> = { 2: 'mss', 3: 'wscale', 4: 'sack-permitted', 5: 'sack', 8: 'timestamp', 19: 'md5' };
const BY_NAME = new Map(Object.entries(NAMES).map(([n, s]) => [s, Number(n)]));
const sorted = (l: number[]) => [...new Set(l)].sort((a, b) => a - b);

export const tcpoptstrip: Codec<TcpoptstripTarget> = {
  kind: 'target',
  protocols: [6],
  type: 'TCPOPTSTRIP',
  name: 'TCPOPTSTRIP',
  revision: () => 0,
  size: () => 32,
  encode(v, b) {
    // strip_bmap is u32[8], bit k of word k / 32 (host order).
    for (const k of v.options) b.writeUInt32LE((b.readUInt32LE((k >> 5) * 4) | (1 << (k & 31))) >>> 0, (k >> 5) * 4);
  },
  decode(b) {
    const options: number[] = [];
    for (let k = 0; k < 256; k++) if (b.readUInt32LE((k >> 5) * 4) & (1 << (k & 31))) options.push(k);
    return { type: 'TCPOPTSTRIP', options };
  },
  validate(v) {
    if (!Array.isArray(v.options) || !v.options.every((k) => Number.isInteger(k) && k >= 0 && k <= 255)) return [['options', 'must be a list of TCP option kinds 0-255']];
    // (Listed in order, once each: the kernel keeps a bitmap.)
    return v.options.every((k, i) => i === 0 || k > v.options[i - 1]!) ? VALID : [['options', 'must be in increasing order without repeats']];
  },
  save: (v) => (v.options.length ? ` --strip-options ${v.options.join(',')}` : ''),
  options: { 'strip-options': 1 },
  parse(opts) {
    const o = opt(opts, 'strip-options');
    if (!o) return { type: 'TCPOPTSTRIP', options: [] };
    return {
      type: 'TCPOPTSTRIP',
      options: sorted(arg(o).split(',').map((s) => {
        const n = BY_NAME.get(s) ?? (/^\d+$/.test(s) ? Number(s) : NaN);
        if (!(n >= 0 && n <= 255)) throw new ParseProblem(`unknown TCP option "${s}"`);
        return n;
      })),
    };
  },
};
