/**
 * iptables mode in fresh namespaces on the host kernel: iptables-legacy-save prints kernlb's commit
 * exactly as it prints iptables-legacy-restore of the golden file; other rules are left alone;
 * no-op re-apply; counters survive for unchanged services; real traffic.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileIptables, LoadBalancer, renderIptables } from '../../lib/lb';
import type { Scheduler } from '../../lib/lb/schedulers';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, createTopology, kernelTestsSkipReason, sendRequests, type TestNetns, type Topology } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const golden4 = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.iptables'), 'utf8');
const golden6 = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.ip6tables'), 'utf8');
const iptState: DesiredState = { services: demoState.services.map((s) => ({ ...s, scheduler: s.name === 'web' ? 'rr' : 'random' })) };

async function save(ns: TestNetns, v6 = false): Promise<string> {
  const out = (await ns.exec([v6 ? 'ip6tables-legacy-save' : 'iptables-legacy-save', '-t', 'nat'])).stdout;
  return out.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
}

describe.skipIf(skip)(`lb iptables mode (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it.each(['direct', 'libiptc'] as const)('commits what iptables-legacy-restore of the golden file makes (IPv4 and IPv6); same state again is a no-op (%s engine)', async (engine) => {
    await using a = await createNetns('lbi');
    await using b = await createNetns('lbi');
    await b.exec(['iptables-legacy-restore'], { input: golden4 });
    await b.exec(['ip6tables-legacy-restore'], { input: golden6 });
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name, iptables: { engine } });
    const r = await lb.apply(iptState);
    expect(r.changed).toBe(true);
    expect(await save(a)).toBe(await save(b));
    expect(await save(a, true)).toBe(await save(b, true));
    const again = await lb.apply(iptState);
    expect(again).toMatchObject({ changed: false, operations: 0 });
    const st = await lb.status();
    expect(st.state.services.map((s) => [s.name, s.scheduler, s.endpoints.length])).toEqual([['api', 'random', 2], ['web', 'rr', 3]]);
  });

  it('a table in the earlier layout (a comment and a bare port match in each endpoint rule) reads as drift in each endpoint chain, and the next apply writes the golden', async () => {
    await using a = await createNetns('lbi');
    await using b = await createNetns('lbi');
    // The earlier layout, as iptables-legacy-restore loads it: each KERNLB-SEP- rule with the service's
    // name as a comment, the DNAT rule with `-m tcp`.
    const earlier = golden4
      .replace(/^(-A KERNLB-SEP-\S+ -s \S+) (-j KERNLB-MARK-MASQ)$/gm, '$1 -m comment --comment web $2')
      .replace(/^(-A KERNLB-SEP-\S+ -p tcp) (-j DNAT .*)$/gm, '$1 -m comment --comment web -m tcp $2');
    expect(earlier.match(/--comment web/g)).toHaveLength(4);
    await a.exec(['iptables-legacy-restore'], { input: earlier });
    await b.exec(['iptables-legacy-restore'], { input: golden4 });
    const v4: DesiredState = { services: iptState.services.filter((s) => !s.vip.includes(':')) };
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    const seps = [...new Set([...golden4.matchAll(/^-A (KERNLB-SEP-\S+) /gm)].map((m) => m[1]!))].sort();
    expect(seps).toHaveLength(2);
    const drift = seps.map((c) => `! chain ${c} (ipv4): its 2 rules differ from the 2 kernlb writes`);
    expect([...(await lb.diff(v4)).lines].sort()).toEqual(drift);
    const r = await lb.apply(v4);
    expect(r.changed).toBe(true);
    expect([...r.lines].sort()).toEqual(drift.map((l) => `${l} (repaired)`));
    expect(await save(a)).toBe(await save(b));
    expect((await lb.diff(v4)).empty).toBe(true);
  });

  it.each(['direct', 'libiptc'] as const)('a small change reuses the last commit: unchanged services keep counters set meanwhile; a foreign rule added meanwhile is kept (%s engine)', async (engine) => {
    await using a = await createNetns('lbi');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name, iptables: { engine } });
    // web and extra are IPv4: a change of extra commits the IPv4 table, web's chains are reused.
    const change = (weight: number): DesiredState => ({
      services: [...iptState.services, { name: 'extra', vip: '10.96.0.20', port: 80, scheduler: 'random', endpoints: [{ address: '10.244.2.1', port: 80, weight }, { address: '10.244.2.2', port: 80 }] }],
    });
    await lb.apply(change(1));
    // Someone sets counters on web's endpoint rules (same entries: the digest, which skips counters, is unchanged).
    const saved = (await a.exec(['iptables-legacy-save', '-c', '-t', 'nat'])).stdout;
    const svcWeb = /-j (KERNLB-SVC-\S+)$/m.exec(saved.split('\n').find((l) => l.includes('"web tcp/'))!)![1]!;
    const bumped = saved.replace(new RegExp(`^\\[0:0\\] (-A ${svcWeb} .*-j KERNLB-SEP-.*)$`, 'gm'), '[7:700] $1');
    expect(bumped).not.toBe(saved);
    await a.exec(['iptables-legacy-restore', '-c'], { input: bumped });
    const r = await lb.apply(change(3));
    expect(r.lines).toHaveLength(1);
    const web = (await lb.status()).services.find((s) => s.name === 'web')!;
    expect(web.endpoints.filter((e) => e.weight > 0).map((e) => e.counters.packets)).toEqual([7, 7]);
    // A foreign rule between two applies: the table is no longer what kernlb committed, so it is read again.
    await a.exec(['iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '22', '-j', 'DNAT', '--to-destination', '10.9.9.9:22']);
    const r2 = await lb.apply(change(4));
    expect(r2.lines).toHaveLength(1);
    const out = await save(a);
    expect(out).toMatch(/--dport 22 -j DNAT --to-destination 10\.9\.9\.9:22/);
    const fresh = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    try {
      expect((await fresh.diff(change(4))).empty).toBe(true);
    } finally {
      await fresh.close();
    }
    expect((await lb.apply(change(4))).changed).toBe(false);
    // A foreign flush, then an apply with nothing to change: no commit proves the table kernlb
    // remembers, so it is compared with the kernel, read again, and repaired.
    const before = await save(a);
    await a.exec(['iptables-legacy', '-t', 'nat', '-F']);
    const r3 = await lb.apply(change(4));
    expect(r3.changed).toBe(true);
    // (The flush took the foreign rule too: it is not kernlb's to put back.)
    expect(await save(a)).toBe(before.replace(/^-A PREROUTING -p tcp .*--dport 22 .*\n/m, ''));
  });

  it('leaves rules that are not kernlb\'s alone and removes only its own on clear()', async () => {
    await using a = await createNetns('lbi');
    await a.exec(['iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '22', '-j', 'DNAT', '--to-destination', '10.9.9.9:22']);
    await a.exec(['iptables-legacy', '-t', 'nat', '-N', 'MY-CHAIN']);
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    await lb.apply(iptState);
    const mid = await save(a);
    expect(mid).toMatch(/-A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10\.9\.9\.9:22/);
    expect(mid).toMatch(/^-A PREROUTING -m comment --comment "kernlb service portals" -j KERNLB-SERVICES$/m);
    await lb.clear();
    const after = await save(a);
    expect(after).not.toMatch(/KERNLB/);
    expect(after).toMatch(/:MY-CHAIN - \[0:0\]/);
    expect(after).toMatch(/--dport 22 -j DNAT/);
  });

  it('a bad iptables engine is a ValidationError naming iptables.engine, before anything is opened', async () => {
    await expect(LoadBalancer.open({ mode: 'iptables', iptables: { engine: 'xtables' as never } })).rejects.toMatchObject({ field: 'iptables.engine' });
  });

  it('sctp and schedulers iptables cannot do are ValidationErrors before the kernel is touched', async () => {
    await using a = await createNetns('lbi');
    await using lb = await LoadBalancer.open({ mode: 'iptables', netns: a.name });
    // (typed callers cannot write 'sh' for iptables; untyped input gets the same check at run time)
    await expect(lb.apply({ services: [{ name: 'x', vip: '10.0.0.1', port: 1, scheduler: 'sh', endpoints: [] }] } as DesiredState)).rejects.toThrow(/services\[0\]\.scheduler/);
    await expect(lb.apply({ services: [{ name: 'x', protocol: 'sctp', vip: '10.0.0.1', port: 1, endpoints: [] }] })).rejects.toThrow(/services\[0\]\.protocol/);
    expect(await save(a)).not.toMatch(/KERNLB/);
  });

  describe('traffic through the VIP', () => {
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
    const state = (scheduler: Scheduler, weights: number[]): DesiredState => ({
      services: [{ name: 'web', vip: topo.vip4, port: 80, scheduler, endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: weights[i]! })) }],
    });

    it('rr (statistic nth cascade) is exact: 300 -> 100 each; rule counters agree', async () => {
      await lb.apply(state('rr', [1, 1, 1]));
      const r = await sendRequests(topo.client, topo.vip4, 80, 300, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 100, 'backend-2': 100, 'backend-3': 100 });
      expect((await lb.status()).services[0]!.endpoints.map((e) => e.counters.connections)).toEqual([100, 100, 100]);
    });

    it('persistence (recent, kube-proxy ClientIP affinity): one client sticks to one backend; read back; restore of the rendered text is identical', async () => {
      const st = { services: [{ ...state('random', [1, 1, 1]).services[0]!, persistence: { timeout: 30 } }] };
      const r0 = await lb.apply(st);
      expect(r0.lines).toEqual(['~ service web tcp/10.96.0.10:80: scheduler changed, persistence changed']);
      const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 2 });
      expect(r.failures).toBe(0);
      expect(Object.keys(r.counts)).toHaveLength(1);
      expect((await lb.status()).state.services[0]!.persistence).toEqual({ timeout: 30 });
      await using ref = await createNetns('lbi');
      await ref.exec(['iptables-legacy-restore'], { input: renderIptables(compileIptables(lb.validate(st)).ipv4) });
      expect(await save(topo.balancer)).toBe(await save(ref));
      await lb.apply(state('random', [1, 1, 1]));
    });

    it('random 1:2:1 over 400 connections: each share within 4.5 sigma', async () => {
      await lb.apply(state('random', [1, 2, 1]));
      const n = 400;
      const r = await sendRequests(topo.client, topo.vip4, 80, n, { concurrency: 4 });
      expect(r.failures).toBe(0);
      for (const [name, p] of [['backend-1', 0.25], ['backend-2', 0.5], ['backend-3', 0.25]] as const)
        expect(Math.abs((r.counts[name] ?? 0) - n * p)).toBeLessThanOrEqual(4.5 * Math.sqrt(n * p * (1 - p)));
    });
  });
});
