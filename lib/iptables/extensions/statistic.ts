/**
 * -m statistic: xt_statistic_info (revision 0, 24 bytes; the kernel-private `master` pointer is not
 * part of what it copies back). Random probability is lround(p * 2^31).
 * `iptables -m statistic --mode random --probability 0.25`, `--mode nth --every 3 --packet 1`
 */
import { arg, getU16LE, getU32LE, opt, ParseProblem, putU32LE, VALID, type Codec } from './codec';

export type StatisticMatch =
  | { type: 'statistic'; mode: 'random'; probability: number; invert?: boolean }
  | { type: 'statistic'; mode: 'nth'; every: number; packet?: number; invert?: boolean };

const SCALE = 0x80000000;

/** The kernel's value for a probability (libxt_statistic: lround(0x80000000 * p)). */
export function probabilityToKernel(p: number): number {
  return Math.min(Math.round(SCALE * p), 0xffffffff) >>> 0;
}

/** printf("%.11f", k / 2^31) exactly: k/2^31 = k*5^31/10^31, rounded half-to-even at 11 digits. */
export function formatProbability(k: number): string {
  const exact = BigInt(k) * 5n ** 31n; // value * 10^31
  const div = 10n ** 20n;
  let q = exact / div;
  const r = exact % div;
  if (r * 2n > div || (r * 2n === div && q % 2n === 1n)) q += 1n;
  const s = q.toString().padStart(12, '0');
  return `${s.slice(0, -11)}.${s.slice(-11)}`;
}

export const statistic: Codec<StatisticMatch> = {
  kind: 'match',
  type: 'statistic',
  name: 'statistic',
  revision: () => 0,
  size: () => 24,
  encodeAt(v, b, off) {
    b[off] = v.mode === 'random' ? 0 : 1;
    b[off + 2] = v.invert ? 1 : 0;
    const first = v.mode === 'random' ? probabilityToKernel(v.probability) : v.every - 1;
    const packet = v.mode === 'nth' ? v.packet ?? 0 : 0;
    putU32LE(b, off + 4, first);
    putU32LE(b, off + 8, packet);
    putU32LE(b, off + 12, (first - packet) >>> 0);
  },
  encode(v, b) {
    b.writeUInt16LE(v.mode === 'random' ? 0 : 1, 0);
    b.writeUInt16LE(v.invert ? 1 : 0, 2);
    // union { random.probability | nth.every } then nth.packet, nth.count; libxt_statistic sets
    // count = every - packet for both modes, which the kernel copies back.
    const first = v.mode === 'random' ? probabilityToKernel(v.probability) : v.every - 1;
    const packet = v.mode === 'nth' ? v.packet ?? 0 : 0;
    b.writeUInt32LE(first, 4);
    b.writeUInt32LE(packet, 8);
    b.writeUInt32LE((first - packet) >>> 0, 12);
  },
  decodeAt(b, off) {
    const mode = getU16LE(b, off);
    const invert = (getU16LE(b, off + 2) & 1) === 1;
    if (mode === 0) {
      const probability = getU32LE(b, off + 4) / SCALE;
      return invert ? { type: 'statistic', mode: 'random', probability, invert } : { type: 'statistic', mode: 'random', probability };
    }
    return statistic.decode(b.subarray(off, off + 24), 'ipv4', 0);
  },
  decode(b) {
    const mode = b.readUInt16LE(0);
    const invert = (b.readUInt16LE(2) & 1) === 1;
    if (mode === 0) return { type: 'statistic', mode: 'random', probability: b.readUInt32LE(4) / SCALE, ...(invert ? { invert } : {}) };
    if (mode === 1) {
      const packet = b.readUInt32LE(8);
      return { type: 'statistic', mode: 'nth', every: b.readUInt32LE(4) + 1, ...(packet ? { packet } : {}), ...(invert ? { invert } : {}) };
    }
    return undefined;
  },
  validate(v) {
    if (v.mode === 'random') {
      if (typeof v.probability !== 'number' || !(v.probability >= 0 && v.probability <= 1)) return [['probability', 'must be between 0 and 1']];
      return VALID;
    }
    if (v.mode === 'nth') {
      if (!Number.isInteger(v.every) || v.every < 1 || v.every > 0xffffffff) return [['every', 'must be an integer >= 1']];
      if (v.packet !== undefined && !(Number.isInteger(v.packet) && v.packet >= 0 && v.packet < v.every)) return [['packet', 'must be 0..every-1']];
      return VALID;
    }
    return [['mode', 'must be "random" or "nth"']];
  },
  save(v) {
    const inv = v.invert ? ' !' : '';
    if (v.mode === 'random') return ` --mode random${inv} --probability ${formatProbability(probabilityToKernel(v.probability))}`;
    return ` --mode nth${inv} --every ${v.every} --packet ${v.packet ?? 0}`;
  },
  options: { mode: 1, probability: 1, every: 1, packet: 1 },
  parse(opts) {
    const mode = opt(opts, 'mode');
    if (!mode) throw new ParseProblem('-m statistic needs --mode');
    const invert = opts.some((o) => o.invert && o.name !== 'mode') || mode.invert;
    if (arg(mode) === 'random') {
      const p = opt(opts, 'probability');
      const probability = p ? Number(arg(p)) : NaN;
      if (!(probability >= 0 && probability <= 1)) throw new ParseProblem('--probability must be between 0 and 1');
      // The value the kernel holds for it (what a read gives back): the text's 11 decimals are a rounding of it.
      const held = probabilityToKernel(probability) / SCALE;
      return { type: 'statistic', mode: 'random', probability: held, ...(invert ? { invert } : {}) };
    }
    if (arg(mode) === 'nth') {
      const e = opt(opts, 'every'), p = opt(opts, 'packet');
      const every = e ? Number(arg(e)) : NaN;
      if (!(Number.isInteger(every) && every >= 1)) throw new ParseProblem('--every must be >= 1');
      const packet = p ? Number(arg(p)) : 0;
      return { type: 'statistic', mode: 'nth', every, ...(packet ? { packet } : {}), ...(invert ? { invert } : {}) };
    }
    throw new ParseProblem(`unknown statistic mode "${arg(mode)}"`);
  },
};
