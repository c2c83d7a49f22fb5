/**
 * -j NFQUEUE: xt_NFQ_info_v3 (revision 3, 6 bytes: first queue, number of queues, flags).
 * `iptables -j NFQUEUE --queue-balance 0:3 --queue-bypass --queue-cpu-fanout`
 */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface NfqueueTarget {
  type: 'NFQUEUE';
  /** The queue (or the first of a balanced range). */
  queue: number;
  /** The last queue of a balanced range (--queue-balance queue:queueMax). */
  queueMax?: number;
  /** Accept packets when no program listens on the queue. */
  bypass?: boolean;
  /** Pick the queue by CPU rather than by flow hash. */
  cpuFanout?: boolean;
}

const BYPASS = 1, FANOUT = 2;
const u16 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;

export const nfqueue: Codec<NfqueueTarget> = {
  kind: 'target',
  type: 'NFQUEUE',
  name: 'NFQUEUE',
  revision: () => 3,
  size: () => 6,
  encode(v, b) {
    b.writeUInt16LE(v.queue, 0);
    b.writeUInt16LE(v.queueMax !== undefined ? v.queueMax - v.queue + 1 : 1, 2);
    b.writeUInt16LE((v.bypass ? BYPASS : 0) | (v.cpuFanout ? FANOUT : 0), 4);
  },
  decode(b, _f, rev) {
    const queue = b.readUInt16LE(0), total = b.readUInt16LE(2), flags = b.readUInt16LE(4);
    if (rev !== 3 || flags & ~3 || total === 0 || queue + total - 1 > 0xffff) return undefined;
    const v: NfqueueTarget = { type: 'NFQUEUE', queue };
    if (total > 1) v.queueMax = queue + total - 1;
    if (flags & BYPASS) v.bypass = true;
    if (flags & FANOUT) v.cpuFanout = true;
    return v;
  },
  validate(v) {
    if (!u16(v.queue)) return [['queue', 'must be 0-65535']];
    if (v.queueMax !== undefined && (!u16(v.queueMax) || v.queueMax <= v.queue)) return [['queueMax', 'must be above queue, at most 65535']];
    return VALID;
  },
  save(v) {
    const q = v.queueMax !== undefined ? ` --queue-balance ${v.queue}:${v.queueMax}` : ` --queue-num ${v.queue}`;
    return `${q}${v.bypass ? ' --queue-bypass' : ''}${v.cpuFanout ? ' --queue-cpu-fanout' : ''}`;
  },
  options: { 'queue-num': 1, 'queue-balance': 1, 'queue-bypass': 0, 'queue-cpu-fanout': 0 },
  parse(opts) {
    const n = opt(opts, 'queue-num'), bal = opt(opts, 'queue-balance');
    const v: NfqueueTarget = { type: 'NFQUEUE', queue: 0 };
    if (bal) {
      const m = /^(\d+):(\d+)$/.exec(arg(bal));
      const lo = Number(m?.[1]), hi = Number(m?.[2]);
      if (!m || !u16(lo) || !u16(hi) || hi < lo) throw new ParseProblem(`bad --queue-balance "${arg(bal)}"`);
      v.queue = lo;
      if (hi > lo) v.queueMax = hi;
    } else if (n) {
      v.queue = Number(arg(n));
      if (!u16(v.queue)) throw new ParseProblem(`bad --queue-num "${arg(n)}"`);
    }
    if (opt(opts, 'queue-bypass')) v.bypass = true;
    if (opt(opts, 'queue-cpu-fanout')) v.cpuFanout = true;
    return v;
  },
};
