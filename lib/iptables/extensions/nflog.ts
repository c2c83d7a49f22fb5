/**
 * -j NFLOG: xt_nflog_info (revision 0, 76 bytes: len, group, threshold, flags, pad, prefix[64]).
 * `iptables -j NFLOG --nflog-group 2 --nflog-prefix "dropped: " --nflog-size 128`
 */
import { arg, opt, readCString, saveString, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface NflogTarget {
  type: 'NFLOG';
  /** The nfnetlink_log group, 0-65535 (default 0). */
  group?: number;
  prefix?: string;
  /** Bytes of each packet to copy (--nflog-size). */
  size?: number;
  /** The old --nflog-range (a length the kernel never applied; iptables still prints it). */
  range?: number;
  /** Packets queued in the kernel before a send (default 0: the kernel's own default). */
  threshold?: number;
}

const COPY_LEN = 1;
const u16 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
const u32 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;

export const nflog: Codec<NflogTarget> = {
  kind: 'target',
  type: 'NFLOG',
  name: 'NFLOG',
  revision: () => 0,
  size: () => 76,
  encode(v, b) {
    b.writeUInt32LE(v.size ?? v.range ?? 0, 0);
    b.writeUInt16LE(v.group ?? 0, 4);
    b.writeUInt16LE(v.threshold ?? 0, 6);
    b.writeUInt16LE(v.size !== undefined ? COPY_LEN : 0, 8);
    if (v.prefix) writeCString(b, 12, 64, v.prefix);
  },
  decode(b) {
    const len = b.readUInt32LE(0), group = b.readUInt16LE(4), threshold = b.readUInt16LE(6), flags = b.readUInt16LE(8);
    if (flags & ~COPY_LEN || b.readUInt16LE(10)) return undefined;
    const v: NflogTarget = { type: 'NFLOG' };
    const prefix = readCString(b, 12, 64);
    if (prefix) v.prefix = prefix;
    if (group) v.group = group;
    if (flags & COPY_LEN) v.size = len;
    else if (len) v.range = len;
    if (threshold) v.threshold = threshold;
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.group !== undefined && !u16(v.group)) out.push(['group', 'must be 0-65535']);
    if (v.threshold !== undefined && !u16(v.threshold)) out.push(['threshold', 'must be 0-65535']);
    if (v.size !== undefined && !u32(v.size)) out.push(['size', 'must be a 32-bit unsigned integer']);
    if (v.range !== undefined && !u32(v.range)) out.push(['range', 'must be a 32-bit unsigned integer']);
    if (v.size !== undefined && v.range !== undefined) out.push(['range', 'cannot be combined with size (one length field)']);
    if (v.prefix !== undefined && (typeof v.prefix !== 'string' || Buffer.byteLength(v.prefix) > 63 || v.prefix.includes('\0')))
      out.push(['prefix', 'must be a string of at most 63 bytes without NUL']);
    return out.length ? out : VALID;
  },
  save(v) {
    let s = v.prefix ? ` --nflog-prefix${saveString(v.prefix)}` : '';
    if (v.group) s += ` --nflog-group ${v.group}`;
    if (v.size !== undefined) s += ` --nflog-size ${v.size}`;
    else if (v.range) s += ` --nflog-range ${v.range}`;
    if (v.threshold) s += ` --nflog-threshold ${v.threshold}`;
    return s;
  },
  options: { 'nflog-group': 1, 'nflog-prefix': 1, 'nflog-size': 1, 'nflog-range': 1, 'nflog-threshold': 1 },
  parse(opts) {
    const v: NflogTarget = { type: 'NFLOG' };
    const num = (name: string, max: number) => {
      const o = opt(opts, name);
      if (!o) return undefined;
      const n = Number(arg(o));
      if (!Number.isInteger(n) || n < 0 || n > max) throw new ParseProblem(`--${name} must be 0-${max}`);
      return n;
    };
    const p = opt(opts, 'nflog-prefix');
    if (p) v.prefix = arg(p);
    const group = num('nflog-group', 0xffff), size = num('nflog-size', 0xffffffff), range = num('nflog-range', 0xffffffff), threshold = num('nflog-threshold', 0xffff);
    if (group) v.group = group;
    if (size !== undefined) v.size = size;
    else if (range) v.range = range;
    if (threshold) v.threshold = threshold;
    return v;
  },
};
