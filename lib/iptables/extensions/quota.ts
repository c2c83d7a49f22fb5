/**
 * -m quota: xt_quota_info (revision 0, 24 bytes: flags, pad, quota u64, the kernel's private
 * pointer, which it never copies back). `iptables -m quota --quota 1000000`
 */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface QuotaMatch {
  type: 'quota';
  /** Bytes that match before the quota is spent (up to 2^53 - 1 here). */
  quota: number;
  invert?: boolean;
}

const INVERT = 1;

export const quota: Codec<QuotaMatch> = {
  kind: 'match',
  type: 'quota',
  name: 'quota',
  revision: () => 0,
  size: () => 24,
  encode(v, b) {
    b.writeUInt32LE(v.invert ? INVERT : 0, 0);
    b.writeBigUInt64LE(BigInt(v.quota), 8);
  },
  decode(b) {
    const flags = b.readUInt32LE(0), q = b.readBigUInt64LE(8);
    if (flags & ~INVERT || q > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    return { type: 'quota', quota: Number(q), ...(flags ? { invert: true } : {}) };
  },
  validate: (v) => (Number.isSafeInteger(v.quota) && v.quota >= 0 ? VALID : [['quota', 'must be an integer 0..2^53-1 (bytes)']]),
  save: (v) => `${v.invert ? ' !' : ''} --quota ${v.quota}`,
  options: { quota: 1 },
  parse(opts) {
    const o = opt(opts, 'quota');
    const n = o && /^\d+$/.test(arg(o)) ? Number(arg(o)) : NaN;
    if (!o || !Number.isSafeInteger(n)) throw new ParseProblem('-m quota needs --quota BYTES');
    return { type: 'quota', quota: n, ...(o.invert ? { invert: true } : {}) };
  },
};
