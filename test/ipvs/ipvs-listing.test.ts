/**
 * The listing path (packed records, the io_uring destination fan-out and the buffer reused across
 * listings): every path reads the same set, ipvsadm prints it exactly, and a listing that grows or
 * shrinks between calls on one handle is read right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatIpvsadm, Ipvs, type IpvsOp, type ServiceSpec } from '../../lib/ipvs';
import { bed, normalized, skip, title, type Bed } from './helpers';

// 40 services (above the fan-out's minimum of 8), destination counts 0..12 plus one service of 400
// destinations (its dump spans several datagrams), IPv4, IPv6 and fwmark.
function services(n: number, big: boolean): ServiceSpec[] {
  const out: ServiceSpec[] = [];
  for (let i = 0; i < n; i++) {
    const dests = Array.from({ length: i % 13 }, (_, k) => ({ address: `10.1.${i}.${k + 1}`, port: 8080, weight: k }));
    if (i % 3 === 0) out.push({ protocol: 'tcp', address: `10.0.${i >> 8}.${(i & 255) + 1}`, port: 80, scheduler: 'rr', destinations: dests });
    else if (i % 3 === 1) out.push({ protocol: 'udp', address: `2001:db8::${i.toString(16)}`, port: 53, destinations: dests.map((d, k) => ({ ...d, address: `2001:db8:1:${i.toString(16)}::${k + 1}` })) });
    else out.push({ fwmark: i, scheduler: 'wrr', destinations: dests });
  }
  if (big) out.push({ protocol: 'tcp', address: '10.9.9.9', port: 443, destinations: Array.from({ length: 400 }, (_, k) => ({ address: `10.2.${k >> 8}.${k & 255}`, port: 443 })) });
  return out;
}

describe.skipIf(skip !== undefined)(title('IPVS listings'), () => {
  let b: Bed;
  let plain: Ipvs;
  let few: Ipvs;
  beforeAll(async () => {
    b = await bed();
    plain = await Ipvs.open({ netns: b.ns.name, dumpSockets: 0 });
    few = await Ipvs.open({ netns: b.ns.name, dumpSockets: 3 });
  });
  afterAll(async () => {
    await plain?.close();
    await few?.close();
    await b?.destroy();
  });

  const same = async (count: number) => {
    const fanout = await b.ipvs.listServices();
    expect(fanout).toHaveLength(count);
    expect(normalized(await plain.listServices())).toEqual(normalized(fanout));
    expect(normalized(await few.listServices())).toEqual(normalized(fanout));
    expect(formatIpvsadm(await b.ipvs.info(), fanout)).toBe(await b.ipvsadm('-Ln'));
    return fanout;
  };

  it('fan-out, a few sockets and the plain path read the same; the buffer grows and shrinks with the set', async () => {
    const small = services(10, false);
    expect((await b.ipvs.batch(small.map((service) => ({ op: 'addService', service })))).failures).toEqual([]);
    await same(10);
    const more = services(40, true).slice(10);
    expect((await b.ipvs.batch(more.map((service) => ({ op: 'addService', service })))).failures).toEqual([]);
    const all = await same(41);
    expect(all.find((s) => 'address' in s && s.address === '10.9.9.9')?.destinations).toHaveLength(400);
    const drop: IpvsOp[] = services(40, true).slice(5).map((service) => ({ op: 'deleteService', service }));
    expect((await b.ipvs.batch(drop)).failures).toEqual([]);
    await same(5);
  });

  it('a single-service read through the big reused buffer returns only that service', async () => {
    const third = services(4, false)[3]!; // tcp 10.0.0.4:80 with 3 destinations
    const s = await b.ipvs.getService(third);
    expect(normalized([s])).toEqual(normalized((await plain.listServices()).filter((x) => 'address' in x && x.address === '10.0.0.4')));
    expect(s.destinations).toHaveLength(3);
  });

  it('getServices reads the services named in one read: those that exist, in the order given, each as getService reads it', async () => {
    // (the five services the first test left: 10.0.0.1 tcp, 2001:db8::1 udp, fwmark 2, 10.0.0.4 tcp, 2001:db8::4 udp)
    const five = services(5, false);
    const missing = { protocol: 'tcp' as const, address: '10.0.0.99', port: 80 };
    const before = b.ipvs.traffic.reads;
    // a missing service between two that exist: left out, and the ones after it still read
    const got = await b.ipvs.getServices([five[4]!, missing, five[3]!, five[2]!]);
    expect(b.ipvs.traffic.reads - before).toBe(1);
    expect(got.map((s) => ('fwmark' in s && s.fwmark ? s.fwmark : 'address' in s ? s.address : undefined))).toEqual(['2001:db8::4', '10.0.0.4', 2]);
    expect(got.map((s) => s.destinations.length)).toEqual([4, 3, 2]);
    const each = [await b.ipvs.getService(five[4]!), await b.ipvs.getService(five[3]!), await b.ipvs.getService(five[2]!)];
    expect(normalized(got)).toEqual(normalized(each));
    await expect(b.ipvs.getService(missing)).rejects.toMatchObject({ errno: 3 });
    expect(await b.ipvs.getServices([missing])).toEqual([]);
    const reads = b.ipvs.traffic.reads;
    expect(await b.ipvs.getServices([])).toEqual([]);
    expect(b.ipvs.traffic.reads).toBe(reads); // (nothing named: nothing read)
    // bad input names the item and reads nothing
    await expect(b.ipvs.getServices([five[3]!, { protocol: 'icmp', address: '10.0.0.1', port: 1 } as never])).rejects.toMatchObject({ name: 'ValidationError', field: 'services[1].protocol' });
    await expect(b.ipvs.getServices('10.0.0.4' as never)).rejects.toMatchObject({ name: 'ValidationError', field: 'services' });
    expect(b.ipvs.traffic.reads).toBe(reads);
  });
});
