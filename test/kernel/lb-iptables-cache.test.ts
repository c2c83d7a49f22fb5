/**
 * iptables mode's record of its last commit: the same state again reads no table and sends
 * nothing (one IPT_SO_GET_INFO compares entry count and size); what that check notices behind
 * kernlb's back (a rule added, a flush) and what only a full read finds (a rule replaced by one of
 * the same size); wrr as an nth cascade with real traffic, exact per cycle.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Iptables } from '../../lib/iptables';
import { compileIptables, LoadBalancer, renderIptables } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, createTopology, kernelTestsSkipReason, sendRequests, type TestNetns, type Topology } from '../../lib/testing';

const skip = kernelTestsSkipReason();

async function save(ns: TestNetns): Promise<string> {
  const out = (await ns.exec(['iptables-legacy-save', '-t', 'nat'])).stdout;
  return out.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
}

const state = (weight = 1): DesiredState => ({
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'random', endpoints: [{ address: '10.244.1.2', port: 8080, weight }, { address: '10.244.1.3', port: 8080 }] },
    { name: 'api', vip: '10.96.0.11', port: 443, scheduler: 'rr', endpoints: [{ address: '10.244.2.2', port: 8443 }] },
  ],
});

describe.skipIf(skip)(`lb iptables mode: what it reads (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  afterEach(() => vi.restoreAllMocks());

  it('the same state again reads no table and commits nothing; a rule added or a flush behind its back is noticed and repaired', async () => {
    await using a = await createNetns('lbc');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    await lb.apply(state());
    const want = await save(a);
    const calls = { read: vi.spyOn(Iptables.prototype, 'read'), readState: vi.spyOn(Iptables.prototype, 'readState'), refresh: vi.spyOn(Iptables.prototype, 'refreshCounters'), commit: vi.spyOn(Iptables.prototype, 'commit'), info: vi.spyOn(Iptables.prototype, 'info') };
    for (let i = 0; i < 3; i++) expect(await lb.apply(state())).toMatchObject({ changed: false, operations: 0 });
    expect([calls.read, calls.readState, calls.refresh, calls.commit].map((c) => c.mock.calls.length)).toEqual([0, 0, 0, 0]);
    expect(calls.info.mock.calls.length).toBe(6); // one IPT_SO_GET_INFO per family per apply
    // A rule appended to one of kernlb's chains: another entry count, noticed by the no-op apply.
    const svc = /-j (KERNLB-SVC-\S+)$/m.exec(want.split('\n').find((l) => l.includes('"web tcp/'))!)![1]!;
    await a.exec(['iptables-legacy', '-t', 'nat', '-A', svc, '-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.9.9.9:80']);
    // (diff() reads the table whole: the model's states agree, the chain does not)
    expect((await lb.diff(state())).lines).toEqual([`! chain ${svc} (ipv4): its 4 rules differ from the 3 kernlb writes`]);
    const fixed = await lb.apply(state());
    expect(fixed.changed).toBe(true);
    expect(fixed.lines).toEqual([`! chain ${svc} (ipv4): its 4 rules differ from the 3 kernlb writes (repaired)`]);
    expect(await save(a)).toBe(want);
    await a.exec(['iptables-legacy', '-t', 'nat', '-F']);
    expect((await lb.apply(state())).changed).toBe(true);
    expect(await save(a)).toBe(want);
    // A new handle reads the table: what it committed is what it compiles, so nothing to do.
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    expect((await fresh.apply(state())).changed).toBe(false);
  });

  it('a change commits with the entry-count-and-size check only (no read of the table) and still refuses a table changed since', async () => {
    await using a = await createNetns('lbc');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    await lb.apply(state());
    const readState = vi.spyOn(Iptables.prototype, 'readState');
    const read = vi.spyOn(Iptables.prototype, 'read');
    const commit = vi.spyOn(Iptables.prototype, 'commit');
    const chains = vi.spyOn(Iptables.prototype, 'commitChains');
    const r = await lb.apply(state(3));
    expect(r.lines).toHaveLength(1);
    expect(read.mock.calls.length + readState.mock.calls.length).toBe(0);
    // (the change's chains spliced into the last blob: no whole-table commit)
    expect(commit).not.toHaveBeenCalled();
    expect(chains.mock.calls.map((c) => c[2])).toEqual([expect.objectContaining({ layout: expect.objectContaining({ numEntries: expect.any(Number) }) })]);
    expect(await chains.mock.results[0]!.value).not.toBeNull();
    // Someone else's commit between two applies: the commit's check fails (EAGAIN), LoadBalancer
    // reads the table and commits again, keeping the foreign rule.
    await a.exec(['iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '22', '-j', 'DNAT', '--to-destination', '10.9.9.9:22']);
    const r2 = await lb.apply(state(4));
    expect(r2.lines).toHaveLength(1);
    expect(read.mock.calls.length).toBeGreaterThan(0);
    const out = await save(a);
    expect(out).toMatch(/--dport 22 -j DNAT --to-destination 10\.9\.9\.9:22/);
    expect(out).toMatch(/"ep 10\.244\.1\.2:8080 w4"/);
  });

  it('changes spliced into the last blob (endpoints, weights, services added and removed) leave the table a fresh apply of the same state makes, counters carried', async () => {
    await using a = await createNetns('lbc');
    await using b = await createNetns('lbc');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    await lb.apply(state());
    const chains = vi.spyOn(Iptables.prototype, 'commitChains');
    const commit = vi.spyOn(Iptables.prototype, 'commit');
    const db = { name: 'db', vip: '10.96.0.5', port: 5432, scheduler: 'rr' as const, endpoints: [{ address: '10.244.3.2', port: 5432 }, { address: '10.244.3.3', port: 5432 }] };
    const s1: DesiredState = { services: [...state(2).services, db] };
    await lb.apply(s1); // a weight and a service added: the services chain too
    await lb.update({ upsert: [{ ...db, endpoints: [{ address: '10.244.3.4', port: 5432 }] }] }); // endpoints replaced (chains removed)
    await lb.update({ remove: ['api'] });
    const final: DesiredState = { services: [s1.services[0]!, { ...db, endpoints: [{ address: '10.244.3.4', port: 5432 }] }] };
    expect(chains).toHaveBeenCalledTimes(3);
    for (const r of chains.mock.results) expect(await r.value).not.toBeNull();
    expect(commit).not.toHaveBeenCalled();
    await using fresh = await LoadBalancer.open({ mode: 'iptables', netns: b.name });
    await fresh.apply(final);
    expect(await save(a)).toBe(await save(b));
    // and the record the splices left is the kernel's: the same state again is a no-op, status reads it
    expect((await lb.apply(final)).changed).toBe(false);
    expect((await lb.status()).services.map((x) => x.name).sort()).toEqual(['db', 'web']);
  });

  it('a rule replaced by one of the same size is not noticed by the cheap check; diff() (a full read) shows it and the next apply repairs it', async () => {
    await using a = await createNetns('lbc');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    await lb.apply(state());
    const want = await save(a);
    // web's first endpoint rule re-labelled to weight 9 (comment matches are fixed-size: same size).
    const line = want.split('\n').find((l) => l.includes('"ep 10.244.1.2:8080 w1"'))!;
    const [, chain] = /^-A (\S+) /.exec(line)!;
    const rules = want.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
    const edited = line.replace(/^-A \S+ /, '').replace('w1"', 'w9"');
    await a.exec(['iptables-legacy', '-t', 'nat', '-R', chain!, String(rules.indexOf(line) + 1), ...edited.match(/"[^"]*"|\S+/g)!.map((x) => x.replace(/^"|"$/g, ''))]);
    expect(await save(a)).not.toBe(want);
    expect((await lb.apply(state())).changed).toBe(false); // (the blind spot: documented in lib/lb/modes/iptables/README.md)
    const d = await lb.diff(state());
    expect(d.lines).toEqual(['~ service web tcp/10.96.0.10:80: 10.244.1.2:8080 w9->w1']);
    expect((await lb.apply(state())).changed).toBe(true);
    expect(await save(a)).toBe(want);
  });

  describe('wrr traffic through the VIP', () => {
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
    const wrr = (weights: number[]): DesiredState => ({
      services: [{ name: 'web', vip: topo.vip4, port: 80, scheduler: 'wrr', endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: weights[i]! })) }],
    });

    it('wrr 1:2:3 is exact per cycle: 120 connections -> 20/40/60, counters agree; iptables-legacy-restore of the rendered rules makes the same table', async () => {
      const st = wrr([1, 2, 3]);
      await lb.apply(st);
      const r = await sendRequests(topo.client, topo.vip4, 80, 120, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 20, 'backend-2': 40, 'backend-3': 60 });
      const status = await lb.status();
      expect(status.services[0]!.endpoints.map((e) => [e.weight, e.counters.connections])).toEqual([[1, 20], [2, 40], [3, 60]]);
      expect(status.state.services[0]!.scheduler).toBe('wrr');
      await using ref = await createNetns('lbc');
      await ref.exec(['iptables-legacy-restore'], { input: renderIptables(compileIptables(lb.validate(st)).ipv4) });
      expect(await save(topo.balancer)).toBe(await save(ref));
    });
  });
});
