// The pure arithmetic of bench/modes.mjs (no kernel, no I/O), unit-tested in test/unit/bench-modes.test.ts.

/** Linear interpolation between closest ranks (R's type 7, numpy's default) of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0];
  if (p >= 100) return sorted[sorted.length - 1];
  const at = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Samples in nanoseconds -> n, min, p50, p90, p99, max and mean in microseconds. */
export function summarize(samplesNs) {
  const s = Float64Array.from(samplesNs).sort();
  const us = (v) => v / 1000;
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: us(s[0] ?? NaN),
    p50: us(percentile(s, 50)),
    p90: us(percentile(s, 90)),
    p99: us(percentile(s, 99)),
    max: us(s[s.length - 1] ?? NaN),
    mean: us(s.length ? sum / s.length : NaN),
  };
}

/** Events per second from a count and a wall time in nanoseconds. */
export function perSecond(count, wallNs) {
  return wallNs > 0 ? (count * 1e9) / wallNs : NaN;
}

/** The median of a list of numbers (NaN when empty). */
export function median(values) {
  return percentile(Float64Array.from(values).sort(), 50);
}

/**
 * /proc/stat's CPU lines -> per CPU { user, nice, system, idle, iowait, irq, softirq, steal } in
 * USER_HZ ticks (1/100 s on Linux whatever CONFIG_HZ is). The aggregate "cpu" line is `all`.
 */
export function parseProcStat(text) {
  const names = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'];
  const out = { all: undefined, cpus: [] };
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    const row = Object.fromEntries(names.map((k, i) => [k, v[i] ?? 0]));
    if (m[1] === '') out.all = row;
    else out.cpus[Number(m[1])] = row;
  }
  if (!out.all) throw new Error('no aggregate cpu line in /proc/stat text');
  return out;
}

export const USER_HZ = 100;

/** Kernel time (system + irq + softirq) between two parsed /proc/stat readings, in nanoseconds, all CPUs. */
export function kernelNs(before, after) {
  const d = (k) => after.all[k] - before.all[k];
  return ((d('system') + d('irq') + d('softirq')) * 1e9) / USER_HZ;
}

/**
 * Kernel CPU per connection from /proc/stat: the kernel time during the run, less what the machine's
 * kernel did per second while idle (measured just before) times the run's length, over the
 * connections made. Can come out negative or noisy on a machine others are using: report it as such.
 */
export function kernelCpuPerConnection({ runKernelNs, runWallNs, idleKernelNs, idleWallNs, connections }) {
  if (!(connections > 0) || !(runWallNs > 0) || !(idleWallNs > 0)) return NaN;
  const baseline = (idleKernelNs / idleWallNs) * runWallNs;
  return (runKernelNs - baseline) / connections;
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

/**
 * The endpoint list after change i of the update series: even changes remove the last endpoint, odd
 * ones put it back, so an even number of changes leaves the service as it was.
 */
export function endpointsForChange(all, i) {
  return i % 2 === 0 ? all.slice(0, -1) : all.slice();
}
