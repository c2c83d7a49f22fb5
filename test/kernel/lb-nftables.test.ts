/**
 * nftables mode in fresh namespaces on the host kernel: the oracle (nft prints what kernlb committed
 * exactly as it prints the golden script), minimal diffs, no-op re-apply, and real traffic.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import { nftMapName } from '../../lib/lb/modes/nftables/compile';
import type { Scheduler } from '../../lib/lb/schedulers';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, createTopology, kernelTestsSkipReason, sendRequests, type TestNetns, type Topology } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const golden = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.nft'), 'utf8');
const zeroCounters = (s: string) => s.replace(/counter packets \d+ bytes \d+/g, 'counter packets 0 bytes 0');

async function ruleset(ns: TestNetns): Promise<string> {
  return zeroCounters((await ns.exec(['nft', 'list', 'ruleset'])).stdout);
}

describe.skipIf(skip)(`lb nftables mode (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('commits exactly what `nft -f` of the golden script makes; the same state again is a no-op', async () => {
    await using a = await createNetns('lbn');
    await using b = await createNetns('lbn');
    await b.exec(['nft', '-f', '-'], { input: golden });
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    const first = await lb.apply(demoState);
    expect(first.changed).toBe(true);
    expect(first.lines).toHaveLength(2);
    expect(await ruleset(a)).toBe(await ruleset(b));
    const gen = (await a.exec(['nft', 'list', 'ruleset'])).stdout;
    const again = await lb.apply(demoState);
    expect(again).toMatchObject({ changed: false, operations: 0, lines: [] });
    expect((await a.exec(['nft', 'list', 'ruleset'])).stdout).toBe(gen);
  });

  it('status reads the state back exactly (names, schedulers, weights incl. 0)', async () => {
    await using a = await createNetns('lbn');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await lb.apply(demoState);
    const st = await lb.status();
    expect(st.state).toEqual(lb.validate(demoState) && { services: [...lb.validate(demoState).services].sort((x, y) => (x.name < y.name ? -1 : 1)) });
    expect(st.services.flatMap((s) => s.endpoints.map((e) => e.counters.connections))).toEqual([0, 0, 0, 0, 0]);
  });

  it('a one-endpoint change touches one service chain only, in one commit', async () => {
    await using a = await createNetns('lbn');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await lb.apply(demoState);
    const before = (await a.exec(['nft', '-a', 'list', 'chain', 'inet', 'kernlb', 'svc-api'])).stdout;
    const next = JSON.parse(JSON.stringify(demoState)) as DesiredState;
    next.services[0]!.endpoints.push({ address: '10.244.1.9', port: 8080 });
    const r = await lb.apply(next);
    expect(r.lines).toEqual(['~ service web tcp/10.96.0.10:80: +10.244.1.9:8080 w1']);
    // R changes (2 -> 3 slots): flush chain, slot 2 replaced (destroy + add), slot 3 added (the w0 endpoint moves up), add rule;
    // the shard map stays (other services' slots may live in it)
    expect(r.operations).toBe(5);
    expect((await a.exec(['nft', '-a', 'list', 'chain', 'inet', 'kernlb', 'svc-api'])).stdout).toBe(before);
    const map = nftMapName({ name: 'web', protocol: 'tcp', family: 'ipv4' });
    expect((await a.exec(['nft', 'list', 'chain', 'inet', 'kernlb', 'svc-web'])).stdout).toContain(`dnat ip to numgen inc mod 3 . ip daddr . tcp dport map @${map}`);
    const els = (await a.exec(['nft', 'list', 'map', 'inet', 'kernlb', map])).stdout;
    expect(els).toMatch(/2 \. 10\.96\.0\.10 \. 80 counter packets 0 bytes 0 comment "w1" : 10\.244\.1\.9 \. 8080/);
    expect(els).toMatch(/3 \. 10\.96\.0\.10 \. 80 counter packets 0 bytes 0 comment "w0" : 10\.244\.1\.4 \. 8080/);
    // an endpoint replaced by one of the same weight keeps R: element operations only, the rule keeps its handle
    const rule = (await a.exec(['nft', '-a', 'list', 'chain', 'inet', 'kernlb', 'svc-web'])).stdout;
    next.services[0]!.endpoints[3] = { address: '10.244.1.8', port: 8080 };
    const r1 = await lb.apply(next);
    expect(r1.lines).toEqual(['~ service web tcp/10.96.0.10:80: +10.244.1.8:8080 w1, -10.244.1.9:8080']);
    expect(r1.operations).toBeLessThanOrEqual(3); // destroy + add of the changed slot (one or two elements items)
    expect((await a.exec(['nft', '-a', 'list', 'chain', 'inet', 'kernlb', 'svc-web'])).stdout).toBe(rule);
    // removing a service deletes its dispatch element and chain
    const r2 = await lb.apply({ services: [next.services[0]!] });
    expect(r2.lines).toEqual(['- service api udp/[fd00::10]:53']);
    expect((await a.exec(['nft', 'list', 'ruleset'])).stdout).not.toMatch(/svc-api/);
  });

  it('dry run validates in the kernel and changes nothing', async () => {
    await using a = await createNetns('lbn');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    const r = await lb.apply(demoState, { dryRun: true });
    expect(r.changed).toBe(true);
    expect(r.dryRun).toBe(true);
    expect((await a.exec(['nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
  });

  describe('traffic through the VIP (client -> balancer -> 3 backends)', () => {
    let topo: Topology;
    let lb: LoadBalancer;
    beforeAll(async () => {
      topo = await createTopology({ backends: 3 });
      lb = await LoadBalancer.open({ mode: 'nftables', netns: topo.balancer.name });
    });
    afterAll(async () => {
      await lb?.close();
      await topo?.destroy();
    });
    const state = (scheduler: Scheduler, weights: number[], v6 = false): DesiredState => ({
      services: [
        {
          name: 'web',
          vip: v6 ? topo.vip6 : topo.vip4,
          port: 80,
          scheduler,
          endpoints: topo.backends.map((b, i) => ({ address: v6 ? b.ipv6 : b.ipv4, port: b.port, weight: weights[i]! })),
        },
      ],
    });

    it('rr (numgen inc) is exact: 300 connections -> 100 each, counters agree', async () => {
      await lb.apply(state('rr', [1, 1, 1]));
      const r = await sendRequests(topo.client, topo.vip4, 80, 300, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 100, 'backend-2': 100, 'backend-3': 100 });
      const st = await lb.status();
      expect(st.services[0]!.endpoints.map((e) => e.counters.connections)).toEqual([100, 100, 100]);
    });

    it('wrr 1:2:3 is exact per cycle over IPv6', async () => {
      await lb.apply({ services: [] });
      await lb.apply(state('wrr', [1, 2, 3], true));
      const r = await sendRequests(topo.client, topo.vip6, 80, 300, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 50, 'backend-2': 100, 'backend-3': 150 });
    });

    it('random 1:1:2 over 400 connections: each share within 4.5 sigma of its expectation', async () => {
      await lb.apply(state('random', [1, 1, 2]));
      const n = 400;
      const r = await sendRequests(topo.client, topo.vip4, 80, n, { concurrency: 4 });
      expect(r.failures).toBe(0);
      // Binomial bound: |k - n p| <= 4.5 sqrt(n p (1-p)) (false failure rate < 1e-5 per endpoint).
      for (const [name, p] of [['backend-1', 0.25], ['backend-2', 0.25], ['backend-3', 0.5]] as const) {
        const k = r.counts[name] ?? 0;
        expect(Math.abs(k - n * p)).toBeLessThanOrEqual(4.5 * Math.sqrt(n * p * (1 - p)));
      }
    });

    it('sh: one client always lands on the same backend; weight 0 gets nothing', async () => {
      await lb.apply(state('sh', [1, 0, 1]));
      const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 2 });
      expect(r.failures).toBe(0);
      expect(Object.keys(r.counts)).toHaveLength(1);
      expect(r.counts['backend-2']).toBeUndefined();
    });
  });
});
