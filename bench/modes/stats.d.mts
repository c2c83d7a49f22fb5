// Types of stats.mjs (for the unit test; the bench itself is plain JavaScript).
export interface Summary { n: number; min: number; p50: number; p90: number; p99: number; max: number; mean: number }
export interface CpuTimes { user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softirq: number; steal: number }
export function percentile(sorted: ArrayLike<number>, p: number): number;
export function summarize(samplesNs: ArrayLike<number>): Summary;
export function perSecond(count: number, wallNs: number): number;
export function median(values: number[]): number;
export function parseProcStat(text: string): { all: CpuTimes; cpus: CpuTimes[] };
export const USER_HZ: number;
export function kernelNs(before: { all: CpuTimes }, after: { all: CpuTimes }): number;
export function kernelCpuPerConnection(o: { runKernelNs: number; runWallNs: number; idleKernelNs: number; idleWallNs: number; connections: number }): number;
export function ratio(a: number | undefined, b: number | undefined): number;
export function endpointsForChange<T>(all: T[], i: number): T[];
