/**
 * ipvs mode's status() (decoded straight from the packed listing: lib/lb/modes/ipvs/status.ts)
 * against the full read (IpvsBackend.read(): the Ipvs objects converted) on the same kernel state,
 * after real traffic, with what a full read must sort out: a foreign service and a fwmark one
 * (left out), a draining destination, IPv6 and persistence, endpoints added out of order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ipvs } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import { IpvsBackend } from '../../lib/lb/modes/ipvs/backend';
import type { DesiredState } from '../../lib/lb/state';
import { createTopology, ipvsSkipReason, sendRequests, type Topology } from '../../lib/testing';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);

describe.skipIf(skip)(t('lb ipvs status()'), () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3 });
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  it('equals the full read after real traffic (counters, drains, foreign and fwmark services left out)', async () => {
    const b = topo.backends;
    const state: DesiredState = {
      services: [
        // endpoints in descending order: the kernel lists them in its own order, status() sorts
        { name: 'web', vip: topo.vip4, port: 80, scheduler: 'wrr', endpoints: [...b].reverse().map((x, i) => ({ address: x.ipv4, port: x.port, weight: i + 1 })) },
        { name: 'six', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', persistence: { timeout: 60 }, endpoints: [{ address: 'fd00::1:2', port: 5353 }, { address: 'fd00::1:1', port: 5353 }] },
        { name: 'alt', vip: '10.96.7.7', port: 443, scheduler: 'rr', endpoints: [{ address: b[0]!.ipv4, port: 8443 }] },
      ],
    };
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: topo.balancer.name });
    await lb.apply(state);
    const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 1 });
    expect(r.failures).toBe(0);
    // IPVS reports per-CPU counters summed by its rate estimator's timer (every 2 s): read once they show.
    for (const end = Date.now() + 6000; Date.now() < end; await new Promise((res) => setTimeout(res, 250))) {
      const w = (await lb.status()).services.find((s) => s.name === 'web');
      if (w && w.endpoints.reduce((n, e) => n + e.counters.connections, 0) >= 60) break;
    }
    // Behind kernlb's back: a draining destination as a crashed kernlb leaves it, another client's
    // service (no tag) and a fwmark service.
    const since = Math.floor(Date.now() / 1000);
    const ex = (argv: string[]) => topo.balancer.exec(['ipvsadm', ...argv]);
    await ex(['-a', '-t', '10.96.7.7:443', '-r', `${b[2]!.ipv4}:9443`, '-m', '-w', '0', '-x', String(since), '-y', String(since)]);
    await ex(['-A', '-t', '10.96.8.8:80', '-s', 'rr']);
    await ex(['-a', '-t', '10.96.8.8:80', '-r', `${b[1]!.ipv4}:80`, '-m']);
    await ex(['-A', '-f', '7', '-s', 'rr']);

    const fast = await lb.status();
    await using ipvs = await Ipvs.open({ netns: topo.balancer.name });
    const full = await new IpvsBackend(ipvs).read();
    // (the LoadBalancer knows the names; a fresh backend names services after their identity)
    const names = new Map(fast.services.map((s) => [`${s.protocol}-${s.vip.replace(/:/g, '_')}-${s.port}`, s.name]));
    for (const s of [...full.services, ...full.state.services]) s.name = names.get(s.name) ?? s.name;
    expect(fast.services).toStrictEqual(full.services);
    expect(fast.state).toStrictEqual(full.state);
    expect(fast.services.map((s) => s.name)).toEqual(['web', 'alt', 'six']);
    // The traffic is in the counters (so a counter read from the wrong word shows), both directions.
    const web = fast.services.find((s) => s.name === 'web')!;
    const sum = (k: 'connections' | 'packets' | 'bytes') => web.endpoints.reduce((n, e) => n + e.counters[k], 0);
    expect(sum('connections')).toBe(60);
    expect(sum('packets')).toBeGreaterThan(60 * 4);
    expect(sum('bytes')).toBeGreaterThan(sum('packets') * 40);
    expect(web.endpoints.map((e) => e.address)).toEqual(b.map((x) => x.ipv4));
    expect(web.endpoints.map((e) => e.counters.connections)).toEqual([30, 20, 10]);
    const alt = fast.services.find((s) => s.name === 'alt')!;
    expect(alt.endpoints.find((e) => e.port === 9443)?.drainingSince).toBe(since);
    expect(fast.state.services.find((s) => s.name === 'alt')!.endpoints).toHaveLength(1);
    // status() is a read: the record stays, the same state again sends nothing.
    expect(await lb.apply(state)).toMatchObject({ changed: false, operations: 0 });
  });
});
