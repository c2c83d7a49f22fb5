/**
 * Traffic: kube-proxy's statistic-random DNAT layout, committed by kernlb in the balancer namespace,
 * spreads real TCP connections over backends in their own namespaces in proportion to the
 * probabilities (IPv4 and IPv6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, iptCreateChain as createChain, iptEmptyTable as emptyTable, Iptables, type IptFamily } from '../../lib';
import { createTopology, kernelTestsSkipReason, sendRequests, type Topology } from '../../lib/testing';
import { loadXtables } from './iptables-helpers';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined)(`iptables traffic${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3, port: 8080 });
    await loadXtables(topo.balancer);
  }, 120_000);
  afterAll(async () => {
    await topo?.destroy();
  });

  /** KUBE-SERVICES -> KUBE-SVC (statistic random 1/3, 1/2, rest) -> KUBE-SEP-i (DNAT). */
  async function program(family: IptFamily, weights?: number[]) {
    const vip = family === 'ipv4' ? topo.vip4 : topo.vip6;
    const t = emptyTable(family, 'nat');
    for (const c of ['KUBE-SERVICES', 'KUBE-SVC-WEB']) createChain(t, c);
    appendRule(t, 'PREROUTING', { matches: [{ type: 'comment', comment: 'kubernetes service portals' }], target: { type: 'jump', chain: 'KUBE-SERVICES' } });
    appendRule(t, 'KUBE-SERVICES', { destination: vip, protocol: 'tcp', matches: [{ type: 'tcp', dport: 80 }], target: { type: 'jump', chain: 'KUBE-SVC-WEB' } });
    const n = topo.backends.length;
    // Probabilities from weights like kube-proxy: each rule takes its share of what is left.
    const w = weights ?? topo.backends.map(() => 1);
    let left = w.reduce((a, b) => a + b, 0);
    topo.backends.forEach((b, i) => {
      const sep = `KUBE-SEP-${i + 1}`;
      createChain(t, sep);
      const p = w[i]! / left;
      left -= w[i]!;
      appendRule(t, 'KUBE-SVC-WEB', {
        matches: [{ type: 'comment', comment: `web -> ${b.name}` }, ...(i < n - 1 ? [{ type: 'statistic' as const, mode: 'random' as const, probability: p }] : [])],
        target: { type: 'jump', chain: sep },
      });
      appendRule(t, sep, { protocol: 'tcp', matches: [{ type: 'tcp' }], target: { type: 'DNAT', address: family === 'ipv4' ? b.ipv4 : b.ipv6, port: b.port } });
    });
    await using ipt = await Iptables.open({ family, netns: topo.balancer.name });
    await ipt.commit(t);
    return vip;
  }

  for (const family of ['ipv4', 'ipv6'] as const) {
    it(`spreads TCP connections evenly over 3 backends (${family})`, async () => {
      const vip = await program(family);
      const r = await sendRequests(topo.client, vip, 80, 300, { concurrency: 8 });
      expect(r.failures, r.errors.join('; ')).toBe(0);
      // Expected 100 each; binomial sd ~8.2, so 55..145 fails only on a >5 sd fluke.
      for (const b of topo.backends) expect(r.counts[b.name] ?? 0, JSON.stringify(r.counts)).toBeGreaterThan(55);
      for (const b of topo.backends) expect(r.counts[b.name] ?? 0, JSON.stringify(r.counts)).toBeLessThan(145);
    }, 120_000);
  }

  it('follows unequal probabilities (weights 6:3:1)', async () => {
    const vip = await program('ipv4', [6, 3, 1]);
    const r = await sendRequests(topo.client, vip, 80, 400, { concurrency: 8 });
    expect(r.failures, r.errors.join('; ')).toBe(0);
    const c = topo.backends.map((b) => r.counts[b.name] ?? 0);
    // Expected 240 / 120 / 40.
    expect(c[0]).toBeGreaterThan(200);
    expect(c[0]).toBeLessThan(280);
    expect(c[1]).toBeGreaterThan(85);
    expect(c[1]).toBeLessThan(155);
    expect(c[2]).toBeGreaterThan(15);
    expect(c[2]).toBeLessThan(70);
  }, 120_000);
});
