/**
 * Issue #21, iptables mode: status() of the handle that committed reads only its service chains'
 * counters (native/iptables/counters.cc via lib/lb/modes/iptables/status.ts) and gives what a full
 * read and decode of the table gives on the same kernel state: real connections through wrr 1:2:3
 * (10, 20, 30 of 60: a counter taken from the wrong rule moves connections between endpoints), and
 * after a rule added behind the handle's back (the fast path then gives way to the full read).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Iptables } from '../../lib/iptables';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createTopology, kernelTestsSkipReason, sendRequests, type Topology } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb iptables status from counters (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let topo: Topology;
  let lb: LoadBalancer;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3 });
    lb = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
  });
  afterAll(async () => {
    await lb?.close();
    await topo?.destroy();
  });
  const state = (): DesiredState => ({
    services: [
      { name: 'web', vip: topo.vip4, port: 80, scheduler: 'wrr', endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: i + 1 })) },
      { name: 'other', vip: topo.vip4, port: 81, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv4, port: b.port + 1 })) },
    ],
  });

  it('the counters-only read equals the full read after real traffic (wrr 1:2:3: 10, 20, 30 connections)', async () => {
    await lb.apply(state());
    const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 1 });
    expect(r.failures).toBe(0);
    const counters = vi.spyOn(Iptables.prototype, 'entryCounters');
    const read = vi.spyOn(Iptables.prototype, 'read');
    const fast = await lb.status();
    // (the IPv6 table, which this state never committed to, is read in full)
    expect(read.mock.contexts.map((h) => (h as Iptables).family)).not.toContain('ipv4');
    expect(counters.mock.contexts.map((h) => (h as Iptables).family)).toEqual(['ipv4']);
    expect(await counters.mock.results[0]!.value).toBeInstanceOf(Float64Array);
    vi.restoreAllMocks();
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
    const full = await fresh.status();
    expect(fast).toEqual(full);
    // the next read asks only the planned entries (the first asked every entry's: status.ts)
    expect(await lb.status()).toEqual(full);
    const web = fast.services.find((s) => s.name === 'web')!;
    expect(web.endpoints.map((e) => e.counters.connections)).toEqual([10, 20, 30]);
    expect(web.endpoints.every((e) => e.counters.bytes >= 60 * e.counters.packets)).toBe(true);
  });

  it('a rule added behind its back: the read is the full one, equal to a fresh handle\'s', async () => {
    await lb.apply(state());
    const chain = (await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-S'])).stdout.match(/^-N (KERNLB-SVC-\S+)/m)![1]!;
    await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-I', chain, '1', '-s', '192.0.2.1/32', '-j', 'RETURN']);
    const read = vi.spyOn(Iptables.prototype, 'read');
    const st = await lb.status();
    expect(read.mock.contexts.map((h) => (h as Iptables).family)).toContain('ipv4');
    vi.restoreAllMocks();
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
    expect(st).toEqual(await fresh.status());
  });
});
