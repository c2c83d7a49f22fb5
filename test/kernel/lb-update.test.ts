/**
 * LoadBalancer.update / resync against the host kernel: an update must leave the kernel exactly as
 * an apply() of the whole resulting state leaves a fresh namespace (read by the reference tool), and
 * resync() must repair changes made behind kernlb's back.
 */
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../lib/cli/command';
import { main } from '../../lib/cli/main';
import { LoadBalancer } from '../../lib/lb';
import type { Mode } from '../../lib/lb/schedulers';
import type { ServiceSpec } from '../../lib/lb/state';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();

const svc = (name: string, i: number, eps: number, weight = 1): ServiceSpec => ({
  name,
  vip: `10.96.0.${i}`,
  port: 80,
  scheduler: 'random',
  endpoints: Array.from({ length: eps }, (_, j) => ({ address: `10.244.${i}.${j + 1}`, port: 8080, weight: j === 0 ? weight : 1 })),
});

/** The mode's kernel objects as its reference tool prints them, counters zeroed. */
async function dump(ns: TestNetns, mode: Mode): Promise<string> {
  if (mode === 'nftables') {
    // (an update recreates one service's map: it lists after the others; order is not meaning)
    const text = (await ns.exec(['nft', 'list', 'ruleset'])).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');
    return text.split(/\n(?=\t(?:map|chain|set) )/).sort().join('\n');
  }
  const out = (await ns.exec(['iptables-legacy-save', '-t', 'nat'])).stdout;
  return out.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');
}

describe.skipIf(skip)(`lb update/resync (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const mode of ['nftables', 'iptables'] as const) {
    it(`${mode}: update (endpoint added, weight changed, service added, removed) = apply of the whole result`, async () => {
      await using a = await createNetns('lbu');
      await using b = await createNetns('lbu');
      await using lb = await LoadBalancer.open({ mode, netns: a.name });
      await using ref = await LoadBalancer.open({ mode, netns: b.name });
      await lb.apply({ services: [svc('s1', 1, 2), svc('s2', 2, 2), svc('s3', 3, 3)] });
      const r1 = await lb.update({ upsert: [svc('s2', 2, 3, 4)] });
      expect(r1.lines).toEqual(['~ service s2 tcp/10.96.0.2:80: +10.244.2.3:8080 w1, 10.244.2.1:8080 w1->w4']);
      await ref.apply({ services: [svc('s1', 1, 2), svc('s2', 2, 3, 4), svc('s3', 3, 3)] });
      expect(await dump(a, mode)).toBe(await dump(b, mode));
      const r2 = await lb.update({ upsert: [svc('s4', 4, 1)], remove: ['s1'] });
      expect(r2.lines).toEqual(['+ service s4 tcp/10.96.0.4:80 random (1 endpoints)', '- service s1 tcp/10.96.0.1:80']);
      await ref.apply({ services: [svc('s2', 2, 3, 4), svc('s3', 3, 3), svc('s4', 4, 1)] });
      expect(await dump(a, mode)).toBe(await dump(b, mode));
      // a fresh handle (another LoadBalancer, nothing in memory) reads the same services back
      await using reader = await LoadBalancer.open({ mode, netns: a.name });
      expect((await reader.status()).state.services.map((s) => s.name).sort()).toEqual(['s2', 's3', 's4']);
      // and its first update builds on what the kernel holds
      await reader.update({ remove: ['s3'] });
      await ref.apply({ services: [svc('s2', 2, 3, 4), svc('s4', 4, 1)] });
      expect(await dump(a, mode)).toBe(await dump(b, mode));
    });
  }

  it('nftables: update() after a foreign commit (generation moved) re-reads and repairs; otherwise it sends only the change', async () => {
    await using a = await createNetns('lbu');
    await using b = await createNetns('lbu');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await using ref = await LoadBalancer.open({ mode: 'nftables', netns: b.name });
    await lb.apply({ services: [svc('s1', 1, 2), svc('s2', 2, 2)] });
    const quiet = await lb.update({ upsert: [svc('s2', 2, 3)] });
    // R 2 -> 3: flush s2's chain, its new slot element, its rule; nothing of s1
    expect(quiet.operations).toBe(3);
    // a second one builds on the generation the first one made (no read in between: the same 3)
    expect((await lb.update({ upsert: [svc('s2', 2, 2)] })).operations).toBe(3);
    expect((await lb.update({ upsert: [svc('s2', 2, 3)] })).operations).toBe(3);
    await a.exec(['nft', 'flush', 'chain', 'inet', 'kernlb', 'svc-s1']);
    const r = await lb.update({ upsert: [svc('s2', 2, 2)] });
    expect(r.operations).toBeGreaterThan(5); // s1's chain refilled too
    await ref.apply({ services: [svc('s1', 1, 2), svc('s2', 2, 2)] });
    expect(await dump(a, 'nftables')).toBe(await dump(b, 'nftables'));
  });

  it('nftables: resync() repairs a service chain flushed behind kernlb\'s back', async () => {
    await using a = await createNetns('lbu');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await lb.apply({ services: [svc('s1', 1, 2), svc('s2', 2, 2)] });
    const good = await dump(a, 'nftables');
    await a.exec(['nft', 'flush', 'chain', 'inet', 'kernlb', 'svc-s1']);
    expect(await dump(a, 'nftables')).not.toBe(good);
    const r = await lb.resync();
    expect(r.changed).toBe(true);
    expect(await dump(a, 'nftables')).toBe(good);
  });

  it('kernlb apply --resync (nftables) repairs a chain flushed behind kernlb\'s back', async () => {
    await using a = await createNetns('lbu');
    const state = { services: [svc('s1', 1, 2)] };
    let out = '';
    const io: CliIO = { out: (t) => void (out += t), err: (t) => void (out += t), readInput: async () => JSON.stringify(state) };
    expect(await main(['apply', '-', '--mode', 'nftables', '--netns', a.name], io)).toBe(0);
    const good = await dump(a, 'nftables');
    await a.exec(['nft', 'flush', 'chain', 'inet', 'kernlb', 'svc-s1']);
    out = '';
    expect(await main(['apply', '-', '--mode', 'nftables', '--netns', a.name, '--resync'], io)).toBe(0);
    expect(out).toMatch(/^applied \(nftables\)/);
    expect(await dump(a, 'nftables')).toBe(good);
  });
});
