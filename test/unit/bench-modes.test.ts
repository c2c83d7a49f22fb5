// The pure parts of bench/modes.mjs: its statistics, the rounds' combination, the tables and the plot
// specs (the kernel measurements themselves stay out of the test suite).
import { describe, expect, it } from 'vitest';
import {
  combineRounds, connectPlotSpec, connectionTable, fmtDelta, kernelLabel, markdown, updatePlotSpec, updateTable,
  type Results, type Row,
} from '../../bench/modes/report.mjs';
import {
  endpointsForChange, kernelCpuPerConnection, kernelNs, median, parseProcStat, percentile, perSecond, summarize, type Summary,
} from '../../bench/modes/stats.mjs';

const sum = (p50: number, n = 1000): Summary => ({ n, min: p50 / 2, p50, p90: p50 * 1.5, p99: p50 * 3, max: p50 * 10, mean: p50 * 1.1 });

function row(mode: string, n: number, p50: number, extra: Partial<Row> = {}): Row {
  return {
    mode, n, applyMs: n, connect: sum(p50), firstByte: sum(p50 + 10),
    rate: { perSec: 10_000, failed: 0, concurrency: 16 }, cpu: { procStatUs: 30, clientSysUs: 25 }, established: { perSec: 20_000 },
    ...extra,
  };
}

describe('bench modes: statistics', () => {
  it('percentiles interpolate between closest ranks (numpy default)', () => {
    const s = Float64Array.from({ length: 10 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBeCloseTo(5.5);
    expect(percentile(s, 90)).toBeCloseTo(9.1);
    expect(percentile(s, 99)).toBeCloseTo(9.91);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile(s, 100)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarize sorts nanosecond samples and reports microseconds', () => {
    const samples = [5000, 1000, 3000, 2000, 4000]; // unsorted on purpose
    const s = summarize(samples);
    expect(s).toMatchObject({ n: 5, min: 1, max: 5, p50: 3, mean: 3 });
    expect(s.p90).toBeCloseTo(4.6);
    expect(s.p99).toBeCloseTo(4.96);
    expect(samples).toEqual([5000, 1000, 3000, 2000, 4000]); // the input is left alone
    expect(summarize([]).n).toBe(0);
  });

  it('rates and medians', () => {
    expect(perSecond(5000, 0.5e9)).toBe(10_000);
    expect(perSecond(5, 0)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reads /proc/stat and counts system + irq + softirq ticks as kernel time', () => {
    const a = parseProcStat('cpu  100 5 200 9000 10 1 50 0 0 0\ncpu0 50 2 100 4500 5 1 25 0 0 0\ncpu1 50 3 100 4500 5 0 25 0 0 0\nintr 123\n');
    const b = parseProcStat('cpu  150 5 260 9100 10 3 80 0 0 0\ncpu0 75 2 130 4550 5 2 40 0 0 0\ncpu1 75 3 130 4550 5 1 40 0 0 0\n');
    expect(a.cpus).toHaveLength(2);
    expect(() => parseProcStat('intr 1\n')).toThrow(/cpu line/);
    expect(a.cpus[1]).toMatchObject({ user: 50, system: 100, softirq: 25 });
    // (60 system + 2 irq + 30 softirq) ticks of 10 ms; user time is not kernel time
    expect(kernelNs(a, b)).toBeCloseTo(0.92e9);
  });

  it('kernel CPU per connection subtracts the idle baseline scaled to the run', () => {
    // idle: 0.25 s of kernel time per second; the run: 1.5 s of kernel time in 2 s for 1000 connections
    const v = kernelCpuPerConnection({ runKernelNs: 1.5e9, runWallNs: 2e9, idleKernelNs: 0.25e9, idleWallNs: 1e9, connections: 1000 });
    expect(v).toBeCloseTo(1e6); // (1.5 - 0.5) s / 1000
    expect(kernelCpuPerConnection({ runKernelNs: 1, runWallNs: 1, idleKernelNs: 0, idleWallNs: 1, connections: 0 })).toBeNaN();
  });

  it('the update series alternates removing and restoring the last endpoint', () => {
    const all = ['a', 'b', 'c'];
    expect(endpointsForChange(all, 0)).toEqual(['a', 'b']);
    expect(endpointsForChange(all, 1)).toEqual(['a', 'b', 'c']);
    expect(endpointsForChange(all, 99)).toEqual(all); // 100 changes leave the service as it was
    expect(endpointsForChange(all, 1)).not.toBe(all);
  });
});

describe('bench modes: rounds', () => {
  it('one row per mode and N: medians over the rounds that succeeded, with ranges', () => {
    const rows: Row[] = [
      row('iptables', 10, 40, { round: 1, applyMs: 100, update: { changeMs: 5 }, monitoring: { counters: true, counted: 10, made: 10, statusMs: 2 } }),
      row('iptables', 10, 60, { round: 2, applyMs: 300, rate: { perSec: 8000, failed: 1 } }),
      row('iptables', 10, 50, { round: 3, applyMs: 200, rate: { perSec: 12_000, failed: 2 } }),
      { mode: 'nftables', n: 10, round: 1, error: 'boom' },
      row('nftables', 10, 45, { round: 2 }),
      { mode: 'kube-proxy nftables', n: 10000, skipped: 'not run above N=1000' },
    ];
    const out = combineRounds(rows);
    expect(out.map((r) => `${r.mode}@${r.n}`)).toEqual(['iptables@10', 'nftables@10', 'kube-proxy nftables@10000']);
    const ipt = out[0]!;
    expect(ipt.rounds).toBe(3);
    expect(ipt.connect!.p50).toBe(50);
    expect(ipt.applyMs).toBe(200);
    expect(ipt.connect!.n).toBe(3000);
    expect(ipt.range!.connectP50).toEqual([40, 60]);
    expect(ipt.rate!.perSec).toBe(10_000);
    expect(ipt.range!.ratePerSec).toEqual([8000, 12_000]);
    expect(ipt.rate!.failed).toBe(3);
    expect(ipt.update!.changeMs).toBe(5); // from the round that measured it
    expect(ipt.monitoring!.counters).toBe(true);
    expect(out[1]!.rounds).toBe(1);
    expect(out[1]!.error).toBeUndefined();
    expect(out[1]!.connect!.p50).toBe(45);
    expect(out[2]!.skipped).toBe('not run above N=1000');
  });
});

describe('bench modes: tables', () => {
  const results: Results = {
    kernel: '6.18.44', date: '2026-12-07 12:00 UTC', load: { before: '1', after: '2' },
    params: { endpoints: 10, samples: 3000, concurrency: 16, rateCount: 20_000, requestSize: 64, requestSeconds: 3, changes: 100 },
    floor: { path: sum(40), loopback: sum(20) },
    rows: [
      row('nftables', 10000, 44, { update: { changeMs: 2, underLoad: { changes: 40, applyP50Ms: 2, applyMaxMs: 5, connections: 100, failed: 0, connect: sum(45) } } }),
      row('iptables', 10, 44),
      row('iptables', 10000, 80, { update: { changeMs: 120, updateMs: 4, underLoad: { changes: 100, applyP50Ms: 130, applyMaxMs: 400, connections: 9000, failed: 3, connect: sum(50) } }, monitoring: { counters: true, counted: 5000, made: 5000, statusMs: 900 } }),
      row('kube-proxy iptables', 10000, 88),
      { mode: 'nftables', n: 10, error: 'the measured service does not answer' },
      { mode: 'kube-proxy nftables', n: 10000, skipped: 'not run above N=1000: too slow to load' },
    ],
  };

  it('connection table: ratio to iptables mode at the same N, difference to the path floor, sorted by mode then N', () => {
    const lines = connectionTable(results).split('\n');
    expect(lines[0]).toContain('p50 vs iptables');
    const body = lines.slice(2).map((l) => l.split('|').map((c) => c.trim()).slice(1, -1));
    expect(body.map((c) => `${c[0]}@${c[1]}`)).toEqual(['nftables@10', 'nftables@10000', 'iptables@10', 'iptables@10000', 'kube-proxy iptables@10000', 'kube-proxy nftables@10000']);
    expect(body[5]![2]).toBe('not run above N=1000: too slow to load'); // a skip is not a failure
    expect(body[0]![2]).toContain('failed: the measured service does not answer');
    const nft10k = body[1]!;
    expect(nft10k[2]).toBe('44.0 / 66.0 / 132');
    expect(nft10k[3]).toBe('+4.0');
    expect(nft10k[4]).toBe('0.55x'); // 44 / 80, not 44 / 44 (iptables at N=10)
    expect(body[4]![4]).toBe('1.10x');
    expect(nft10k[6]).toBe('10,000');
    expect(fmtDelta(-2.25)).toBe('−2.3');
  });

  it('update table: reference rows without updates show dashes, counters say how many were counted', () => {
    const lines = updateTable(results).split('\n').slice(2);
    const ipt = lines.find((l) => l.startsWith('| iptables | 10000 '))!;
    expect(ipt).toContain('120 ms / 4.00 ms');
    expect(ipt).toContain('130 ms / 400 ms');
    expect(ipt).toContain('9000 (3)');
    expect(ipt).toContain('yes (5000 of 5000 counted)');
    expect(ipt).toContain('900 ms');
    expect(ipt).not.toContain('time budget');
    // fewer changes than asked for (the time budget ran out) says how many
    expect(lines.find((l) => l.startsWith('| nftables | 10000 '))).toContain('(40 changes: time budget)');
    const kube = lines.find((l) => l.startsWith('| kube-proxy iptables'))!;
    expect(kube.split('|').slice(4, -1).every((c) => c.trim() === '—')).toBe(true);
  });

  it('markdown has both tables, the floors and the plots', () => {
    const md = markdown(results, { plots: [{ title: 'latency', file: 'modes-6.18-connect.png' }] });
    expect(md).toContain('# Data-plane comparison of modes, kernel 6.18.44');
    expect(md).toContain('## New connections');
    expect(md).toContain('## Updates and monitoring');
    expect(md).toContain('path floor');
    expect(md).toContain('![latency](modes-6.18-connect.png)');
  });

  it('kernel labels name the results files', () => {
    expect(kernelLabel('6.18.44-fc-v1300')).toBe('6.18');
    expect(kernelLabel('6.1.0-uml')).toBe('6.1');
  });
});

describe('bench modes: plot specs', () => {
  const results: Results = {
    kernel: '6.1.0', floor: { path: sum(40) },
    rows: [row('iptables', 10, 40), row('iptables', 1000, 60, { update: { changeMs: 9, updateMs: 3, underLoad: { changes: 100, applyP50Ms: 11, applyMaxMs: 20, connections: 1, failed: 0, connect: sum(1) } } }), { mode: 'ipvs', n: 10, error: 'x' }],
  };

  it('latency against N on a log scale: p50 and p99 per measured row, the path floor as a rule', () => {
    const spec = connectPlotSpec(results) as unknown as { layer: { mark: unknown; encoding: Record<string, { scale?: { type?: string } }> }[]; data: { values: { mode: string; n: number; stat: string; us: number }[] } };
    expect(spec.data.values).toHaveLength(4); // the failed IPVS row has no points
    expect(spec.data.values).toContainEqual({ mode: 'iptables', n: 1000, stat: 'p99', us: 180 });
    expect(spec.layer[0]!.encoding.x!.scale!.type).toBe('log');
    expect(spec.layer[1]!.mark).toMatchObject({ type: 'rule' });
  });

  it('update apply time against N, both axes log, only rows that measured updates', () => {
    const spec = updatePlotSpec(results) as unknown as { encoding: Record<string, { scale?: { type?: string } }>; data: { values: { n: number; ms: number; what: string }[] } };
    expect(spec.data.values).toEqual([
      { mode: 'iptables', n: 1000, what: 'one change, idle, apply(state)', ms: 9 },
      { mode: 'iptables', n: 1000, what: 'one change, idle, update()', ms: 3 },
      { mode: 'iptables', n: 1000, what: 'p50 of 100 under load', ms: 11 },
    ]);
    expect(spec.encoding.x!.scale!.type).toBe('log');
    expect(spec.encoding.y!.scale!.type).toBe('log');
  });
});
