/**
 * Traffic: the load balancer's nftables shape (one table, a concatenated vmap dispatching services,
 * a `daddr . dport . numgen` map choosing the endpoint) spreads real TCP connections over backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables, nftStatements as s, type NftSetRef } from '../../lib';
import { createTopology, kernelTestsSkipReason, sendRequests, type Topology } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const T = { family: 'ip' as const, table: 'lb' };

describe.skipIf(skip !== undefined)(`nft numgen DNAT traffic${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3, port: 8080 });
  }, 60_000);
  afterAll(async () => {
    await topo?.destroy();
  });

  it('spreads connections over every backend, and an element update moves traffic', async () => {
    await using nft = await Nftables.open({ netns: topo.balancer.name });
    const n = topo.backends.length;
    const backends: NftSetRef = { ...T, set: 'backends', typeof: { key: ['ip daddr', 'th dport', { numgen: { mod: n } }], data: ['ip daddr', 'th dport'] } };
    const tx = nft.transaction();
    tx.addTable({ family: 'ip', name: 'lb' });
    tx.addChain({ ...T, name: 'svc-web' });
    tx.addChain({ ...T, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } });
    tx.addObject({ ...T, name: 'web-hits', type: 'counter' });
    tx.addSet({
      ...T, name: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
      elements: [{ key: [topo.vip4, 'tcp', 80], verdict: { verdict: 'goto', chain: 'svc-web' } }],
    });
    tx.addSet({
      ...T, name: 'backends', typeof: backends.typeof!,
      elements: topo.backends.map((b, i) => ({ key: [topo.vip4, 80, i], data: [b.ipv4, b.port] })),
    });
    tx.addRule({ ...T, chain: 'pre', exprs: [s.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'services')] });
    tx.addRule({ ...T, chain: 'svc-web', exprs: [s.counterRef('web-hits'), s.match('meta l4proto', 'tcp'), s.dnatMap(['ip daddr', 'th dport', { numgen: { mod: n } }], 'backends', { port: true })] });
    await tx.commit();

    const r = await sendRequests(topo.client, topo.vip4, 80, 90, { concurrency: 6 });
    expect(r.failures).toBe(0);
    for (const b of topo.backends) expect(r.counts[b.name] ?? 0).toBeGreaterThan(10);
    const hits = (await nft.list({ table: 'lb' })).objects.find((o) => o.name === 'web-hits');
    expect(hits).toMatchObject({ type: 'counter' });
    expect((hits as { packets: number }).packets).toBeGreaterThanOrEqual(90);

    // point every numgen slot at backend 1: element updates only
    await nft.transaction()
      .replaceElements(backends, topo.backends.map((_, i) => ({ key: [topo.vip4, 80, i], data: [topo.backends[0]!.ipv4, 8080] })))
      .commit();
    const r2 = await sendRequests(topo.client, topo.vip4, 80, 30, { concurrency: 6 });
    expect(r2.failures).toBe(0);
    expect(r2.counts[topo.backends[0]!.name]).toBe(30);
  }, 120_000);
});
