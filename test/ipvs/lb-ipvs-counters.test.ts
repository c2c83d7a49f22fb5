/**
 * ipvs mode's counters() (packed: status.ts readPacked, what a `kernlb run` scrape reads) against
 * status() on the same kernel state after real traffic: the rendered /metrics series must be the same
 * text, with what the packed read must get right besides the counters: a draining destination added
 * behind kernlb's back (listed at weight 0), another client's service and a fwmark one (left out),
 * IPv6 and persistence, endpoints applied out of order. Then LbDaemon's scrape in ipvs mode, which
 * renders from counters(): its endpoint and service series equal status()'s rendering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LbDaemon } from '../../lib/daemon';
import { renderStatusMetrics } from '../../lib/daemon/endpoint-metrics';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import type { PackedStatus } from '../../lib/lb/types';
import { createTopology, ipvsSkipReason, sendRequests, type Topology } from '../../lib/testing';
import { addOutsideObjects, counted, statusState } from './status-scene';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** The per-endpoint and per-service series of a scrape (the daemon's own metrics and timings left out). */
const statusSeries = (text: string) => text.split('\n').filter((l) => /^(# (HELP|TYPE) )?kernlb_(endpoint|service)_/.test(l)).join('\n');

/**
 * `packed` rendered (as read by `read`) equals `status` rendered, once the counters hold still: the
 * kernel's connection states expire while the test runs, so the comparison is taken between two
 * equal packed reads (a few tries), never between reads of different moments.
 */
async function sameAsStatus(read: () => Promise<string>, status: () => Promise<string>): Promise<{ packed: string; status: string }> {
  let last = { packed: '', status: '' };
  for (let i = 0; i < 5; i++) {
    const a = await read();
    const s = await status();
    const b = await read();
    last = { packed: a, status: s };
    if (a === b) break;
    await sleep(300);
  }
  return last;
}

describe.skipIf(skip)(t('lb ipvs counters()'), () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3 });
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  it('renders the same series as status() after real traffic (drains, IPv6, persistence; foreign and fwmark services left out)', async () => {
    const state = statusState(topo);
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: topo.balancer.name });
    await lb.apply(state);
    const r = await sendRequests(topo.client, topo.vip4, 80, 60, { concurrency: 1 });
    expect(r.failures).toBe(0);
    await counted(lb, 'web', 60);
    await addOutsideObjects(topo);

    const packed = async () => {
      const c = await lb.counters();
      expect(c).toBeDefined();
      return c!;
    };
    const { packed: text, status } = await sameAsStatus(async () => renderStatusMetrics(await packed()), async () => renderStatusMetrics(await lb.status()));
    expect(text).toBe(status);
    // The traffic is in what was compared (a counter read from the wrong word shows): per endpoint and both directions.
    const c = await packed();
    expect(c.services.map((s) => s.name)).toEqual(['web', 'alt', 'six']);
    expect(Array.from(c.connections.subarray(0, 3))).toEqual([30, 20, 10]);
    expect(c.packets[0]).toBeGreaterThan(30 * 4);
    expect(c.bytes[0]).toBeGreaterThan(c.packets[0]! * 40);
    // (closed connections stay in IPVS's table as inactive ones for a while: 60 were just made)
    expect(c.inactiveConnections![0]! + c.inactiveConnections![1]! + c.inactiveConnections![2]!).toBeGreaterThan(0);
    expect(text).toMatch(/^kernlb_endpoint_inactive_connections\{service="web",endpoint="[^"]+",mode="ipvs"\} [1-9]/m);
    // The draining destination is listed at weight 0, as status() lists it.
    expect(c.services[1]!.endpoints.map((e) => [e.port, e.weight])).toEqual([[8443, 1], [9443, 0]]);
    // A service the kernel lists as applied is the apply's own object, read after read (nothing built per scrape).
    const again = await packed();
    expect(again.services[0]).toBe(c.services[0]);
    expect(again.services[2]).toBe(c.services[2]);
    // counters() is a read: the record stays, the same state again sends nothing.
    expect(await lb.apply(state)).toMatchObject({ changed: false, operations: 0 });
  }, 60_000);

  it('LbDaemon in ipvs mode: its scrape renders the packed read, series for series what status() renders', async () => {
    const b = topo.backends;
    const state: DesiredState = {
      services: [{ name: 'd-web', vip: topo.vip4, port: 81, scheduler: 'rr', endpoints: b.map((x) => ({ address: x.ipv4, port: x.port })) }],
    };
    const d = await LbDaemon.start(state, { mode: 'ipvs', netns: topo.balancer.name, resyncIntervalS: 0, processMetrics: false });
    try {
      const r = await sendRequests(topo.client, topo.vip4, 81, 30, { concurrency: 1 });
      expect(r.failures).toBe(0);
      await counted(d.lb, 'd-web', 30);
      const c: PackedStatus | undefined = await d.lb.counters();
      expect(c).toBeDefined();
      const scrape = async () => (await d.metrics()).toString();
      const { packed: text, status } = await sameAsStatus(async () => statusSeries(await scrape()), async () => statusSeries(renderStatusMetrics(await d.lb.status())));
      expect(text).toBe(status);
      expect(text).toMatch(/^kernlb_endpoint_connections_total\{service="d-web",endpoint="[^"]+",mode="ipvs"\} 10$/m);
      expect(text).toMatch(/^kernlb_endpoint_inactive_connections\{service="d-web",endpoint="[^"]+",mode="ipvs"\} [1-9]/m);
      expect(await scrape()).toMatch(/^kernlb_status_read_seconds\{mode="ipvs"\} \d/m);
    } finally {
      await d.close({ clear: true });
    }
  }, 60_000);
});
