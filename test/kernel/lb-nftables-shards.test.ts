/**
 * nftables mode's shard maps (compile.ts): services whose names hash to the same shard share one
 * map `ep-tcp4-K`, each owning the elements keyed by its VIP and port; removing one service takes
 * out exactly its slots, removing the last one deletes the map; what kernlb commits is what `nft -f`
 * of renderNft() makes, and `nft -f` of nft's own listing loads it again.
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import { compileNft, nameHash, nftMapName, NFT_SHARDS, renderNft } from '../../lib/lb/modes/nftables/compile';
import { validateState, type DesiredState, type ServiceSpec } from '../../lib/lb/state';
import { createNetns, createTopology, kernelTestsSkipReason, sendRequests, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const zero = (s: string) => s.replace(/counter packets \d+ bytes \d+/g, 'counter packets 0 bytes 0');
const ruleset = async (ns: TestNetns) => zero((await ns.exec(['nft', 'list', 'ruleset'])).stdout);
/** The listing's maps and chains in name order (an incremental change creates a map after the fixed ones; nft lists in creation order). */
const blocks = (listing: string) => listing.split(/\n(?=\t(?:map|chain) )/).map((b) => b.replace(/\n+\}?\n*$/, '')).sort();

// Three tcp/IPv4 names in one shard (FNV-1a % 1024 = 145; the unit test checks the hash), api elsewhere.
const SAME = ['web', 'shop-3091', 'shop-3446'] as const;
const svc = (name: string, vip: string, n: number, scheduler: ServiceSpec['scheduler'] = 'rr'): ServiceSpec => ({
  name,
  vip,
  port: 80,
  scheduler,
  endpoints: Array.from({ length: n }, (_, i) => ({ address: `10.244.${vip.split('.')[3]}.${i + 1}`, port: 8080, weight: i + 1 })),
});
const web = svc('web', '10.96.0.1', 2);
const shopA = svc('shop-3091', '10.96.0.2', 3, 'wrr');
const shopB = svc('shop-3446', '10.96.0.3', 1, 'sh');
const api: ServiceSpec = { name: 'api', protocol: 'udp', vip: 'fd00::10', port: 53, endpoints: [{ address: 'fd00::1:1', port: 5353 }] };

/** The elements of a map as `slot . VIP . port [wN] : endpoint . port`, sorted. */
async function slots(ns: TestNetns, map: string): Promise<string[]> {
  const text = (await ns.exec(['nft', 'list', 'map', 'inet', 'kernlb', map])).stdout;
  return [...text.matchAll(/(\d+) \. (\S+) \. (\d+) counter packets \d+ bytes \d+(?: comment "(w\d+)")? : (\S+) \. (\d+)/g)].map((m) => `${m[1]} ${m[2]}:${m[3]}${m[4] ? ` ${m[4]}` : ''} -> ${m[5]}:${m[6]}`).sort();
}

/** kernlb's table equals what `nft -f` of renderNft() makes, and nft reloads its own listing of it. */
async function sameAsRender(ns: TestNetns, state: DesiredState): Promise<void> {
  const listing = await ruleset(ns);
  await using ref = await createNetns('lbs');
  await ref.exec(['nft', '-f', '-'], { input: renderNft(compileNft(validateState(state))) });
  expect(blocks(listing)).toEqual(blocks(await ruleset(ref)));
  await using again = await createNetns('lbs');
  await again.exec(['nft', '-f', '-'], { input: listing });
  expect(await ruleset(again)).toBe(listing);
}

describe.skipIf(skip)(`lb nftables shard maps (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('the three names share one shard map; the others get their own', () => {
    expect(new Set(SAME.map((n) => nameHash(n) % NFT_SHARDS))).toEqual(new Set([145]));
    expect(new Set(SAME.map((name) => nftMapName({ name, protocol: 'tcp', family: 'ipv4' })))).toEqual(new Set(['ep-tcp4-145']));
    expect(nftMapName({ name: 'web', protocol: 'udp', family: 'ipv4' })).toBe('ep-udp4-145');
    expect(nftMapName({ name: 'api', protocol: 'udp', family: 'ipv6' })).not.toBe('ep-udp6-145');
  });

  for (const how of ['update', 'apply'] as const) {
    it(`${how}(): removing one service of a shared map keeps the others' slots; removing the last deletes the map`, async () => {
      await using a = await createNetns('lbs');
      await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      const all = { services: [web, shopA, shopB, api] };
      await lb.apply(all);
      const maps = (await a.exec(['nft', 'list', 'table', 'inet', 'kernlb'])).stdout;
      expect([...maps.matchAll(/map (ep-\S+) \{/g)].map((m) => m[1]).sort()).toEqual(['ep-tcp4-145', nftMapName({ name: 'api', protocol: 'udp', family: 'ipv6' })].sort());
      const before = await slots(a, 'ep-tcp4-145');
      expect(before).toHaveLength(2 + 6 + 1); // rr: 2 slots, wrr 1:2:3: 6, sh: 1
      expect(before.filter((l) => l.includes(' 10.96.0.2:80'))).toHaveLength(6);
      await sameAsRender(a, all);

      const rest = { services: [web, shopB, api] };
      const r = how === 'update' ? await lb.update({ remove: ['shop-3091'] }) : await lb.apply(rest);
      expect(r.lines).toEqual(['- service shop-3091 tcp/10.96.0.2:80']);
      expect(await slots(a, 'ep-tcp4-145')).toEqual(before.filter((l) => !l.includes(' 10.96.0.2:80')));
      await sameAsRender(a, rest);
      // a fresh reader decodes the shared map into the same services, with no drift
      await using reader = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      const st = await reader.status();
      expect(st.drift ?? []).toEqual([]);
      expect(st.state).toEqual({ services: [...validateState(rest).services].sort((x, y) => (x.name < y.name ? -1 : 1)) });

      const last = { services: [api] };
      if (how === 'update') await lb.update({ remove: ['web', 'shop-3446'] });
      else await lb.apply(last);
      expect((await a.exec(['nft', 'list', 'table', 'inet', 'kernlb'])).stdout).not.toMatch(/ep-tcp4-145/);
      await sameAsRender(a, last);
      // and the map comes back with a service of that shard
      if (how === 'update') await lb.update({ upsert: [shopB] });
      else await lb.apply({ services: [shopB, api] });
      expect(await slots(a, 'ep-tcp4-145')).toEqual(before.filter((l) => l.includes(' 10.96.0.3:80')));
      expect((await lb.diff({ services: [shopB, api] })).empty).toBe(true);
    });
  }

  it('traffic: two services in one shard map each rotate over their own slots (rr exact per service)', async () => {
    await using topo = await createTopology();
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: topo.balancer.name });
    const eps = (n: number) => topo.backends.slice(0, n).map((b) => ({ address: b.ipv4, port: b.port }));
    // same VIP, ports 80 and 81: the shard map's key (slot . VIP . port) keeps their slots apart
    await lb.apply({ services: [{ name: 'web', vip: topo.vip4, port: 80, endpoints: eps(3) }, { name: 'shop-3091', vip: topo.vip4, port: 81, endpoints: eps(2) }] });
    expect((await topo.balancer.exec(['nft', 'list', 'table', 'inet', 'kernlb'])).stdout.match(/map ep-\S+/g)).toEqual(['map ep-tcp4-145']);
    const w1 = await sendRequests(topo.client, topo.vip4, 80, 30, { concurrency: 1 });
    const s1 = await sendRequests(topo.client, topo.vip4, 81, 31, { concurrency: 1 });
    const w2 = await sendRequests(topo.client, topo.vip4, 80, 30, { concurrency: 1 });
    expect([w1.failures, s1.failures, w2.failures]).toEqual([0, 0, 0]);
    expect(w1.counts).toEqual({ 'backend-1': 10, 'backend-2': 10, 'backend-3': 10 });
    expect(w2.counts).toEqual({ 'backend-1': 10, 'backend-2': 10, 'backend-3': 10 });
    expect(s1.counts).toEqual({ 'backend-1': 16, 'backend-2': 15 });
    const st = await lb.status();
    expect(st.services.map((x) => [x.name, x.endpoints.map((e) => e.counters.connections)])).toEqual([['shop-3091', [16, 15]], ['web', [20, 20, 20]]]);
  });

  it('every family x protocol x pick: kernlb lists as nft -f of the render, and nft reloads the listing', async () => {
    await using a = await createNetns('lbs');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    const services: ServiceSpec[] = [];
    let i = 0;
    for (const protocol of ['tcp', 'udp', 'sctp'] as const)
      for (const v6 of [false, true])
        for (const scheduler of ['rr', 'random', 'sh'] as const) {
          i++;
          services.push({
            name: `v${i}`, protocol, vip: v6 ? `fd00::${i}` : `10.96.1.${i}`, port: 80, scheduler,
            endpoints: [{ address: v6 ? `fd00:1::${i}` : `10.244.9.${i}`, port: 8080, weight: 2 }, { address: v6 ? `fd00:2::${i}` : `10.244.8.${i}`, port: 8081, weight: 0 }],
          });
        }
    const state = { services };
    await lb.apply(state);
    await sameAsRender(a, state);
    const st = await lb.status();
    expect(st.drift ?? []).toEqual([]);
    expect(st.state).toEqual({ services: [...validateState(state).services].sort((x, y) => (x.name < y.name ? -1 : 1)) });
  });

  it('a service moving to another protocol leaves its old shard map (deleted when empty) for the new one', async () => {
    await using a = await createNetns('lbs');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await lb.apply({ services: [web, shopB] });
    const udp = { ...web, protocol: 'udp' as const };
    await lb.update({ upsert: [udp] }); // same name: the change moves its slots
    expect((await slots(a, 'ep-tcp4-145')).filter((l) => l.includes(' 10.96.0.1:80'))).toEqual([]);
    expect(await slots(a, 'ep-udp4-145')).toHaveLength(2);
    await sameAsRender(a, { services: [udp, shopB] });
  });
});
