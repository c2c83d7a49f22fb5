/**
 * Generated bad input for IPVS: valid batches (address and fwmark services, IPv4 and IPv6, every
 * scheduler, flags, persistence, destinations with every forwarding method), timeouts and sync
 * daemons, each with one thing broken, through everything that runs before the netlink send: the
 * batch planner, the per-object validators and the native encoder of what they accepted. Each case
 * is a ValidationError or is accepted; never another error, and never a value native refuses.
 */
import { describe, expect, it } from 'vitest';
import { Ipvs, plan } from '../../lib/ipvs/ipvs';
import { servicesFromListing } from '../../lib/ipvs/packed';
import { batchOptionsDesc, daemonDesc, destDesc, destKeyDesc, serviceDesc, serviceKeyDesc, timeoutsDesc } from '../../lib/ipvs/validate';
import type { DaemonSpec, IpvsOp, Timeouts } from '../../lib/ipvs/types';
import { native, type NativeIpvsOp } from '../../lib/native';
import { caseLine, mutate, outcomeSync, rng, type Mutation } from '../bad-input';

const CASES = 1500;
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'];

const v4 = { protocol: 'tcp', address: '10.0.0.1', port: 80 } as const;
const v6 = { protocol: 'udp', address: '2001:db8::10', port: 53, family: 'inet6' } as const;
const mark = { fwmark: 7 } as const;
const mark6 = { fwmark: 0xffffffff, family: 'inet6' } as const;

/** Valid batches: together they cover every field of the model. */
const batches: IpvsOp[][] = [
  [
    {
      op: 'addService',
      service: {
        ...v4, scheduler: 'sh', schedulerFlags: ['sh-fallback', 'sh-port'], persistence: { timeout: 600, netmask: '255.255.255.0' }, onePacket: false,
        destinations: [
          { address: '10.1.0.1', port: 8080, weight: 3, forwarding: 'masq', upperThreshold: 100, lowerThreshold: 10 },
          { address: '10.1.0.2', weight: 0, forwarding: 'route' },
          { address: '2001:db8::2', forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'remcsum' } },
        ],
      },
    },
    { op: 'updateService', service: { ...v4, scheduler: 'mh', schedulerFlags: ['mh-fallback', 'mh-port'] } },
    { op: 'addDestination', service: v4, destination: { address: '10.1.0.3', port: 8081, weight: 2, forwarding: 'direct' } },
    { op: 'updateDestination', service: v4, destination: { address: '10.1.0.3', port: 8081, weight: 5, upperThreshold: 0, lowerThreshold: 0 } },
    { op: 'deleteDestination', service: v4, destination: { address: '10.1.0.3', port: 8081 } },
    { op: 'deleteService', service: v4 },
  ],
  [
    {
      op: 'addService',
      service: {
        ...v6, scheduler: 'wrr', persistence: { timeout: 30, netmask: 64 }, onePacket: true, persistenceEngine: 'sip',
        destinations: [
          { address: '2001:db8::1:1', port: 5353, weight: 65535, forwarding: 'masq' },
          { address: '2001:db8::1:2', port: 5353, forwarding: 'tunnel', tunnel: { type: 'ipip', checksum: 'none' } },
          { address: '10.2.0.1', forwarding: 'tunnel', tunnel: { type: 'gre', checksum: 'csum' } },
        ],
      },
    },
    { op: 'addService', service: { protocol: 'sctp', address: 'fd00::1', port: 3868, scheduler: 'lblcr', schedulerFlags: ['flag-1', 'flag-2', 'flag-3'] } },
    { op: 'deleteDestination', service: v6, destination: { address: '2001:db8::1:2' } },
  ],
  [
    { op: 'addService', service: { ...mark, scheduler: 'lc', persistence: {}, destinations: [{ address: '10.3.0.1', port: 80, weight: 1 }, { address: '10.3.0.2' }] } },
    { op: 'addService', service: { ...mark6, scheduler: 'twos', destinations: [{ address: 'fd00::3:1', port: 443, forwarding: 'route', upperThreshold: 0xffffffff, lowerThreshold: 1 }] } },
    { op: 'updateService', service: { ...mark, scheduler: 'dh', persistence: { timeout: 0x7fffffff } } },
    { op: 'addDestination', service: mark6, destination: { address: 'fd00::3:2', weight: 0x7fffffff } },
    { op: 'updateDestination', service: mark, destination: { address: '10.3.0.1', port: 80, weight: 9, forwarding: 'tunnel' } },
    { op: 'deleteService', service: mark6 },
  ],
  // every scheduler, on both families
  SCHEDULERS.map((scheduler, i): IpvsOp => ({
    op: 'addService',
    service: i % 2
      ? { protocol: 'tcp', address: `10.9.0.${i + 1}`, port: 1000 + i, scheduler, destinations: [{ address: '10.8.0.1', port: 1, weight: i }] }
      : { protocol: 'udp', address: `fd00::9:${i + 1}`, port: 65535 - i, family: 'inet6', scheduler, destinations: [{ address: 'fd00::8:1', port: 65535 }] },
  })),
];

const timeouts: Partial<Timeouts>[] = [{ tcp: 900, tcpFin: 120, udp: 300 }, { tcp: 0, udp: 0x7fffffff }];
const daemons: DaemonSpec[] = [
  { state: 'master', interface: 'eth0', syncId: 3, maxLength: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
  { state: 'backup', interface: 'veth-lb.1', syncId: 255, group: 'ff02::1:2', port: 65535, ttl: 255 },
  { state: 'master', interface: 'lo' },
];

/** The native encoder takes every op validation let through (it throws on a value it cannot handle). */
function encodeAll(ops: NativeIpvsOp[]): void {
  for (const op of ops) native().ipvs.encode(op, 0x20, 0);
}

describe('IPVS: generated bad input', () => {
  it('the valid inputs are valid (so the mutations start from good ground)', () => {
    for (const b of batches) encodeAll(plan(b, (i) => `ops[${i}].`).map((p) => p.op));
    for (const t of timeouts) timeoutsDesc(t, 'timeouts');
    for (const d of daemons) encodeAll([{ cmd: 9, daemon: daemonDesc(d, 'daemon') }]);
  });

  it('batches: a ValidationError or accepted and encodable, never another error', () => {
    const wrong: string[] = [];
    let validation = 0, ok = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const { input, mutation } = mutate(batches[seed % batches.length]!, rng(seed));
      const check = (call: () => unknown, m: Mutation = mutation) => {
        const o = outcomeSync(call);
        if (o.kind !== 'ok' && o.kind !== 'validation') wrong.push(caseLine(seed, m, o.error));
        return o.kind;
      };
      let planned: ReturnType<typeof plan> | undefined;
      const kind = check(() => (planned = plan(input, (i) => `ops[${i}].`)));
      if (kind === 'validation') validation++;
      if (kind === 'ok') {
        ok++;
        // what validation accepted, native encodes; a service with its destinations decodes back
        check(() => encodeAll(planned!.map((p) => p.op)));
        const adds = planned!.filter((p) => p.op.cmd === 1 || p.op.cmd === 5);
        const first = adds.findIndex((p) => p.op.cmd === 1);
        if (first >= 0) check(() => {
          const parts: Buffer[] = [];
          const svc = adds[first]!;
          const dests = adds.filter((p) => p.from === svc.from && p.op.cmd === 5);
          for (const p of [svc, ...dests]) parts.push(native().ipvs.encode(p.op, 0x20, 0));
          const got = servicesFromListing(native().ipvs.pack(Buffer.concat(parts)));
          if (got.length !== 1 || got[0]!.destinations.length !== dests.length)
            wrong.push(caseLine(seed, mutation, new Error(`decoded ${got.length} services, ${got[0]?.destinations.length} destinations of ${dests.length}`)));
        });
      }
      // the single-object validators the Ipvs methods call, on each mutated op's parts
      for (const o of input as unknown[]) {
        if (typeof o !== 'object' || o === null) continue;
        const { service, destination } = o as { service?: unknown; destination?: unknown };
        check(() => serviceKeyDesc(service as never, 'service'));
        check(() => serviceDesc(service as never, 'service'));
        if (destination !== undefined) {
          const key = serviceKeyDesc(v4, 'service');
          check(() => destKeyDesc(destination as never, key, 'destination'));
          check(() => destDesc(destination as never, key, 'destination'));
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(validation).toBeGreaterThan(CASES / 3);
    expect(ok).toBeGreaterThan(0);
  });

  it('timeouts, sync daemons and batch options: a ValidationError or accepted, never another error', () => {
    const wrong: string[] = [];
    let validation = 0, ok = 0;
    const count = (kind: string) => (kind === 'validation' ? validation++ : kind === 'ok' ? ok++ : 0);
    for (let seed = 1; seed <= 300; seed++) {
      const t = mutate({ timeouts: timeouts[seed % timeouts.length]! }, rng(seed));
      const to = outcomeSync(() => encodeAll([{ cmd: 12, timeouts: timeoutsDesc(t.input.timeouts, 'timeouts') }]));
      if (to.kind !== 'ok' && to.kind !== 'validation') wrong.push(caseLine(seed, t.mutation, to.error));
      count(to.kind);
      const d = mutate({ daemon: daemons[seed % daemons.length]! }, rng(seed));
      const dd = outcomeSync(() => encodeAll([{ cmd: 9, daemon: daemonDesc(d.input.daemon, 'daemon') }]));
      if (dd.kind !== 'ok' && dd.kind !== 'validation') wrong.push(caseLine(seed, d.mutation, dd.error));
      count(dd.kind);
      const b = mutate({ opts: { stopOnError: seed % 2 === 0, chunk: 1 + (seed % 1024) } }, rng(seed));
      const bo = outcomeSync(() => batchOptionsDesc(b.input.opts));
      if (bo.kind !== 'ok' && bo.kind !== 'validation') wrong.push(caseLine(seed, b.mutation, bo.error));
      count(bo.kind);
    }
    expect(wrong).toEqual([]);
    expect(validation).toBeGreaterThan(300);
    expect(ok).toBeGreaterThan(0);
  });

  it('Ipvs.open refuses options that are not an object before anything is opened', async () => {
    for (const bad of [null, 5, 'lb']) await expect(Ipvs.open(bad as never)).rejects.toMatchObject({ name: 'ValidationError', field: 'opts' });
  });

  it('names inherited and non-string lookup keys as the field at fault', () => {
    const key = serviceKeyDesc(v4, 'service');
    const field = (call: () => unknown) => {
      const o = outcomeSync(call);
      return o.kind === 'validation' ? (o.error as { field: string }).field : `${o.kind}: ${String(o.error)}`;
    };
    // names of Object.prototype members are not forwarding methods, tunnel types or daemon states
    expect(field(() => destDesc({ address: '10.1.0.1', forwarding: 'toString' as never }, key, 'd'))).toBe('d.forwarding');
    expect(field(() => destDesc({ address: '10.1.0.1', forwarding: Object.create(null) as never }, key, 'd'))).toBe('d.forwarding');
    expect(field(() => destDesc({ address: '10.1.0.1', forwarding: 'tunnel', tunnel: { type: 'constructor' as never } }, key, 'd'))).toBe('d.tunnel.type');
    expect(field(() => destDesc({ address: '10.1.0.1', forwarding: 'tunnel', tunnel: { type: 'gre', checksum: '__proto__' as never } }, key, 'd'))).toBe('d.tunnel.checksum');
    expect(field(() => daemonDesc({ state: 'valueOf' as never, interface: 'eth0' }, 'daemon'))).toBe('daemon.state');
    expect(field(() => serviceDesc({ ...v4, schedulerFlags: ['hasOwnProperty' as never] }, 's'))).toBe('s.schedulerFlags[0]');
    expect(field(() => serviceDesc({ ...v4, schedulerFlags: [Object.create(null) as never] }, 's'))).toBe('s.schedulerFlags[0]');
    expect(field(() => batchOptionsDesc(null))).toBe('opts');
    expect(field(() => batchOptionsDesc({ stopOnError: 'yes' }))).toBe('stopOnError');
    expect(field(() => batchOptionsDesc({ chunk: 0 }))).toBe('chunk');
  });
});
