/**
 * Issue #21, iptables mode: LoadBalancer.counters() (what a `kernlb run` scrape renders: the counters
 * packed, no object per endpoint) gives what status() gives on the same kernel state, after real
 * connections through both families (services of IPv4 and IPv6 interleaved by name, as status()
 * orders them), after a splice (update()), from a handle that found the state already applied (a
 * restarted daemon), and gives way (undefined) once the table is not provably the record: a rule
 * added, or one replaced by one of the same size behind kernlb's back.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderStatusMetrics } from '../../lib/daemon';
import { Iptables } from '../../lib/iptables';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createTopology, kernelTestsSkipReason, sendRequests, type Topology } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb iptables packed counters (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
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
  const state = (weights = [1, 2, 3]): DesiredState => ({
    services: [
      { name: 'web', vip: topo.vip4, port: 80, scheduler: 'wrr', endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: weights[i]! })) },
      { name: 'api6', vip: topo.vip6, port: 80, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv6, port: b.port })) },
      { name: 'other', vip: topo.vip4, port: 81, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv4, port: b.port + 1 })) },
    ],
  });
  const flat = (st: Awaited<ReturnType<LoadBalancer['status']>>) => st.services.flatMap((s) => s.endpoints.map((e) => e.counters));

  it('after real traffic in both families: the same series and values as status(), and no table decoded', async () => {
    await lb.apply(state());
    expect((await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 1 })).failures).toBe(0);
    expect((await sendRequests(topo.client, topo.vip6, 80, 9, { concurrency: 1 })).failures).toBe(0);
    const read = vi.spyOn(Iptables.prototype, 'read');
    const packed = await lb.counters();
    expect(read).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    expect(packed).toBeDefined();
    const st = await lb.status();
    expect(packed!.services.map((s) => s.name)).toEqual(['api6', 'other', 'web']);
    expect(renderStatusMetrics(packed!)).toBe(renderStatusMetrics(st));
    const c = flat(st);
    expect([...packed!.connections]).toEqual(c.map((x) => x.connections));
    expect([...packed!.bytes]).toEqual(c.map((x) => x.bytes));
    // wrr 1:2:3 over 60 connections: 10, 20, 30 (a counter taken from another rule moves them); api6 rr: 3 each
    const web = packed!.services.findIndex((s) => s.name === 'web');
    const at = packed!.services.slice(0, web).reduce((n, s) => n + s.endpoints.length, 0);
    expect([...packed!.connections.subarray(at, at + 3)]).toEqual([10, 20, 30]);
    expect([...packed!.connections.subarray(0, 3)]).toEqual([3, 3, 3]);
    // ... and what a fresh handle's full read and decode of the table gives (bytes too, which the text leaves out)
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
    expect(await fresh.counters()).toBeUndefined(); // (it has no record to prove)
    const full = await fresh.status();
    expect(renderStatusMetrics(full)).toBe(renderStatusMetrics(st));
    expect([...packed!.bytes]).toEqual(flat(full).map((x) => x.bytes));
    expect([...packed!.bytes].every((b, i) => b >= 60 * packed!.packets[i]!)).toBe(true);
  });

  it('after a splice (update() of a weight) and more traffic: the same as status()', async () => {
    await lb.apply(state());
    const sum = await lb.update({ upsert: [state([3, 2, 1]).services[0]!] });
    expect(sum.changed).toBe(true);
    expect((await sendRequests(topo.client, topo.vip4, 80, 12, { concurrency: 1 })).failures).toBe(0);
    const packed = await lb.counters();
    expect(packed).toBeDefined();
    const st = await lb.status();
    expect(st.services.find((s) => s.name === 'web')!.endpoints.map((e) => e.weight)).toEqual([3, 2, 1]);
    expect(renderStatusMetrics(packed!)).toBe(renderStatusMetrics(st));
  });

  it('a handle that found the state already applied (nothing committed, no drift) packs the same counters', async () => {
    await lb.apply(state());
    await using again = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
    const sum = await again.apply(state());
    expect(sum.changed).toBe(false);
    expect((await sendRequests(topo.client, topo.vip4, 80, 6, { concurrency: 1 })).failures).toBe(0);
    const read = vi.spyOn(Iptables.prototype, 'read');
    const packed = await again.counters();
    expect(read).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    expect(packed).toBeDefined();
    expect(renderStatusMetrics(packed!)).toBe(renderStatusMetrics(await again.status()));
  });

  it('a rule added behind its back: undefined (status() reads the table whole, equal to a fresh handle\'s)', async () => {
    await lb.apply(state());
    expect(await lb.counters()).toBeDefined();
    const chain = (await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-S'])).stdout.match(/^-N (KERNLB-SVC-\S+)/m)![1]!;
    await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-I', chain, '1', '-s', '192.0.2.1/32', '-j', 'RETURN']);
    expect(await lb.counters()).toBeUndefined();
    const st = await lb.status();
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: topo.balancer.name });
    expect(st).toEqual(await fresh.status());
  });

  it('a DNAT rule replaced by one of the same size (another port): undefined, though the entry count and size are the same', async () => {
    await lb.apply(state());
    expect(await lb.counters()).toBeDefined();
    await using ipt = await Iptables.open({ netns: topo.balancer.name });
    const { numEntries, size } = await ipt.info('nat');
    const rules = (await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-S'])).stdout;
    const [line, sep, rest] = rules.match(/^-A (KERNLB-SEP-\S+) (.*-j DNAT --to-destination [0-9.]+:)\d+$/m)!;
    const ruleNo = rules.split('\n').filter((l) => l.startsWith(`-A ${sep} `)).indexOf(line) + 1;
    // (the comment is the service's name: no spaces to quote)
    await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-R', sep!, String(ruleNo), ...`${rest}9999`.split(' ')]);
    expect((await topo.balancer.exec(['iptables-legacy', '-t', 'nat', '-S', sep!])).stdout).toContain(':9999');
    expect(await ipt.info('nat')).toMatchObject({ numEntries, size });
    expect(await lb.counters()).toBeUndefined();
  });
});
