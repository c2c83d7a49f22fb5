/**
 * Real TCP connections from a client namespace through a virtual service on the balancer to HTTP
 * backends in their own namespaces (masquerading over veth): rr is exactly even, wrr follows the
 * weights, a weight-0 destination gets nothing new, and the counters move by what was sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import { Ipvs, type Service, type ServiceKey } from '../../lib/ipvs';
import { createTopology, sendRequests, type Topology } from '../../lib/testing';
import { skip, title } from './helpers';

async function cli(args: string[]): Promise<string> {
  let out = '';
  await main(args, { out: (t) => void (out += t), err: (t) => void (out += t), readInput: async () => '' });
  return out;
}

/** The kernel folds per-CPU counters into the totals every 2 s (kernel 6.1 estimator): wait for them. */
async function settledStats(ipvs: Ipvs, key: ServiceKey, conns: number): Promise<Service> {
  const end = Date.now() + 10_000;
  for (;;) {
    const s = await ipvs.getService(key);
    if (s.stats.connections >= conns || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(skip !== undefined)(title('IPVS traffic: masquerading to backends in namespaces'), () => {
  let t: Topology;
  let ipvs: Ipvs;
  let vip: ServiceKey;
  const names = ['backend-1', 'backend-2', 'backend-3'];

  beforeAll(async () => {
    t = await createTopology({ backends: 3, port: 8080 });
    ipvs = await Ipvs.open({ netns: t.balancer.name });
    vip = { protocol: 'tcp', address: t.vip4, port: 80 };
  });
  afterAll(async () => {
    await ipvs?.close();
    await t?.destroy();
  });

  it('rr spreads 30 connections exactly 10/10/10, and every counter agrees', async () => {
    await ipvs.addService({ ...vip, scheduler: 'rr', destinations: t.backends.map((b) => ({ address: b.ipv4, port: 8080, forwarding: 'masq' })) });
    const r = await sendRequests(t.client, t.vip4, 80, 30, { concurrency: 1 });
    expect(r.failures).toBe(0);
    expect(r.counts).toEqual({ 'backend-1': 10, 'backend-2': 10, 'backend-3': 10 });
    const s = await settledStats(ipvs, vip, 30);
    expect(s.stats.connections).toBe(30);
    // each HTTP exchange is at least SYN, ACK+request, FIN/ACK in, and SYN-ACK, response, FIN out
    expect(s.stats.packetsIn).toBeGreaterThanOrEqual(30 * 3);
    expect(s.stats.packetsOut).toBeGreaterThanOrEqual(30 * 3);
    expect(s.stats.bytesIn).toBeGreaterThan(30 * 100);
    expect(s.stats.bytesOut).toBeGreaterThan(30 * 100);
    for (const d of s.destinations) expect(d.stats.connections).toBe(10);
    for (const k of ['connections', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut'] as const)
      expect(s.destinations.reduce((a, d) => a + d.stats[k], 0), k).toBe(s.stats[k]);
    // the numbers ipvsadm prints are the ones kernlb prints
    const theirs = (await t.balancer.exec(['ipvsadm', '-Ln', '--stats', '--exact'])).stdout;
    expect(await cli(['ipvs', 'list', '-n', '--stats', '--exact', '--netns', t.balancer.name])).toBe(theirs);
    expect(theirs).toMatch(new RegExp(`TCP  ${t.vip4.replace(/\./g, '\\.')}:80 +30 `));
  });

  it('the connection table shows those connections, as ipvsadm -Lnc does', async () => {
    const conns = (await ipvs.listConnections()).filter((c) => c.virtual.address === t.vip4);
    expect(conns.length).toBeGreaterThan(0);
    for (const c of conns) {
      expect(c).toMatchObject({ protocol: 'tcp', client: { address: '10.200.0.2' }, virtual: { address: t.vip4, port: 80 } });
      expect(t.backends.map((b) => b.ipv4)).toContain(c.destination.address);
      expect(c.destination.port).toBe(8080);
    }
    const theirs = (await t.balancer.exec(['ipvsadm', '-Lnc'])).stdout.split('\n').slice(2).filter(Boolean);
    const strip = (l: string) => l.replace(/^(\S+)\s+\S+\s+/, '$1 '); // drop the ticking expiry column
    const ours = (await cli(['ipvs', 'list', '-n', '-c', '--netns', t.balancer.name])).split('\n').slice(2).filter(Boolean);
    expect(ours.map(strip).sort()).toEqual(theirs.map(strip).sort());
  });

  it('zero() resets the counters', async () => {
    await ipvs.zero(vip);
    const s = await ipvs.getService(vip);
    expect([s.stats.connections, s.stats.packetsIn, ...s.destinations.map((d) => d.stats.connections)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('wrr with weights 1/2/3 gives 10/20/30 of 60 connections', async () => {
    await ipvs.updateService({ ...vip, scheduler: 'wrr' });
    for (const [i, b] of t.backends.entries()) await ipvs.updateDestination(vip, { address: b.ipv4, port: 8080, weight: i + 1 });
    const r = await sendRequests(t.client, t.vip4, 80, 60, { concurrency: 1 });
    expect(r.failures).toBe(0);
    expect(r.counts).toEqual({ 'backend-1': 10, 'backend-2': 20, 'backend-3': 30 });
  });

  it('a weight-0 destination receives no new connections', async () => {
    await ipvs.updateService({ ...vip, scheduler: 'rr' });
    await ipvs.updateDestination(vip, { address: t.backends[2]!.ipv4, port: 8080, weight: 0 });
    const r = await sendRequests(t.client, t.vip4, 80, 20, { concurrency: 2 });
    expect(r.failures).toBe(0);
    expect(r.counts).toEqual({ 'backend-1': 10, 'backend-2': 10 });
    expect(Object.keys(r.counts)).not.toContain(names[2]);
  });

  it('IPv6: rr over an IPv6 virtual service is exactly even too', async () => {
    const vip6: ServiceKey = { protocol: 'tcp', address: t.vip6, port: 80 };
    await ipvs.addService({ ...vip6, scheduler: 'rr', destinations: t.backends.map((b) => ({ address: b.ipv6, port: 8080 })) });
    const r = await sendRequests(t.client, t.vip6, 80, 15, { concurrency: 1 });
    expect(r.failures).toBe(0);
    expect(r.counts).toEqual({ 'backend-1': 5, 'backend-2': 5, 'backend-3': 5 });
    expect((await settledStats(ipvs, vip6, 15)).stats.connections).toBe(15);
  });
});
