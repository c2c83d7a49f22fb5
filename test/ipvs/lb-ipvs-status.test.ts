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
import { createTopology, ipvsSkipReason, sendRequests, type Topology } from '../../lib/testing';
import { addOutsideObjects, counted, statusState } from './status-scene';

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
    const state = statusState(topo);
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: topo.balancer.name });
    await lb.apply(state);
    const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 1 });
    expect(r.failures).toBe(0);
    // IPVS reports per-CPU counters summed by its rate estimator's timer (every 2 s): read once they show.
    await counted(lb, 'web', 60, 6000);
    const since = await addOutsideObjects(topo);

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
