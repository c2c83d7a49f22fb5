/**
 * Every error the issue lists, as the kernel reports it (KernelError with errno name, operation and
 * the service/destination concerned) or as validation rejects it before anything is sent; batches
 * with per-item failures; concurrency on one handle and handles side by side in namespaces.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, ValidationError } from '../../lib/errors';
import { main } from '../../lib/cli/main';
import { Ipvs, type IpvsOp, type ServiceSpec } from '../../lib/ipvs';
import { kernelTestsSkipReason, run } from '../../lib/testing';
import { bed, skip, title, startBackupDaemon, type Bed } from './helpers';

const web = { protocol: 'tcp', address: '10.0.0.1', port: 80 } as const;
const missing = { protocol: 'tcp', address: '10.0.0.99', port: 80 } as const;

async function rejection(p: Promise<unknown>): Promise<KernelError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(KernelError);
  return e as KernelError;
}

const noIpvsSkip = kernelTestsSkipReason() ?? (existsSync('/proc/net/ip_vs') ? 'this kernel has IPVS' : undefined);

describe('IPVS absent', () => {
  it.skipIf(noIpvsSkip !== undefined)(`open() fails clearly, never empty lists${noIpvsSkip ? ` - skipped: ${noIpvsSkip}` : ''}`, async () => {
    const e = await rejection(Ipvs.open());
    expect(e.code).toBe('ENOENT');
    expect(e.message).toMatch(/kernel has no IPVS/);
    let err = '';
    const code = await main(['ipvs', 'list'], { out: () => {}, err: (t) => void (err += t), readInput: async () => '' });
    expect(code).toBe(4);
    expect(err).toMatch(/kernel has no IPVS/);
  });
});

describe.skipIf(skip !== undefined)(title('IPVS errors'), () => {
  let b: Bed;
  beforeAll(async () => {
    b = await bed();
    await b.ipvs.addService({ ...web, scheduler: 'rr', destinations: [{ address: '10.1.0.2', port: 8080 }] });
  });
  afterAll(async () => b?.destroy());

  it('missing service: ESRCH naming the service, for every operation', async () => {
    for (const [op, p] of [
      ['delete', () => b.ipvs.deleteService(missing)],
      ['update', () => b.ipvs.updateService({ ...missing, scheduler: 'rr' })],
      ['get', () => b.ipvs.getService(missing)],
      ['add', () => b.ipvs.addDestination(missing, { address: '10.1.0.9' })],
    ] as const) {
      const e = await rejection(p());
      expect(e.code, op).toBe('ESRCH');
      expect(e.op).toBe(op);
      expect(e.message).toContain('service tcp 10.0.0.99:80');
    }
    expect((await rejection(b.ipvs.listDestinations(missing))).code).toBe('ESRCH');
    expect((await rejection(b.ipvs.zero(missing))).code).toBe('ESRCH');
  });

  it('missing destination: ENOENT naming destination and service', async () => {
    const e = await rejection(b.ipvs.deleteDestination(web, { address: '10.1.0.9', port: 8080 }));
    expect(e.code).toBe('ENOENT');
    expect(e.object).toBe('destination 10.1.0.9:8080 of service tcp 10.0.0.1:80');
    expect((await rejection(b.ipvs.updateDestination(web, { address: '10.1.0.9', port: 8080, weight: 2 }))).code).toBe('ENOENT');
  });

  it('duplicates: EEXIST', async () => {
    const e = await rejection(b.ipvs.addService({ ...web, scheduler: 'wlc' }));
    expect(e.code).toBe('EEXIST');
    expect(e.message).toMatch(/^add service tcp 10\.0\.0\.1:80: EEXIST/);
    const d = await rejection(b.ipvs.addDestination(web, { address: '10.1.0.2', port: 8080 }));
    expect(d.code).toBe('EEXIST');
    expect(d.object).toBe('destination 10.1.0.2:8080 of service tcp 10.0.0.1:80');
  });

  it('unknown scheduler or persistence engine: ENOENT explained', async () => {
    const e = await rejection(b.ipvs.addService({ ...missing, scheduler: 'nosuch' }));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toContain('unknown scheduler "nosuch"');
    expect((await rejection(b.ipvs.updateService({ ...web, scheduler: 'nosuch' }))).code).toBe('ENOENT');
    expect((await rejection(b.ipvs.addService({ ...missing, scheduler: 'rr', persistenceEngine: 'nope', persistence: {} }))).code).toBe('ENOENT');
    expect((await b.ipvs.getService(web)).scheduler).toBe('rr'); // the failed update changed nothing
  });

  it('non-unicast destination and refused mixed families: EINVAL', async () => {
    for (const address of ['224.0.0.1', '255.255.255.255']) {
      const e = await rejection(b.ipvs.addDestination(web, { address }));
      expect(e.code).toBe('EINVAL');
      expect(e.object).toBe(`destination ${address}:80 of service tcp 10.0.0.1:80`);
    }
    // an IPv6 real server behind an IPv4 service needs tunnelling
    expect((await rejection(b.ipvs.addDestination(web, { address: '2001:db8::2', forwarding: 'masq' }))).code).toBe('EINVAL');
    // ...and no sync daemon may run: no such destination while one runs, no daemon while one exists
    await startBackupDaemon(() => b.ipvs.startDaemon({ state: 'backup', interface: 'lo', syncId: 1 }));
    const e = await rejection(b.ipvs.addDestination(web, { address: '2001:db8::3', forwarding: 'tunnel' }));
    expect([e.code, e.object]).toEqual(['EINVAL', 'destination [2001:db8::3]:80 of service tcp 10.0.0.1:80']);
    await b.ipvs.stopDaemon('backup');
    expect((await rejection(b.ipvs.stopDaemon('backup'))).code).toBe('ESRCH');
    await b.ipvs.addDestination(web, { address: '2001:db8::2', forwarding: 'tunnel' });
    expect((await rejection(b.ipvs.startDaemon({ state: 'master', interface: 'lo' }))).code).toBe('EINVAL');
    await b.ipvs.deleteDestination(web, { address: '2001:db8::2' });
  });

  it('addService with a destination the kernel refuses leaves nothing behind', async () => {
    const svc: ServiceSpec = { protocol: 'udp', address: '10.0.0.5', port: 53, scheduler: 'rr', destinations: [{ address: '10.1.0.1' }, { address: '224.0.0.5' }] };
    const e = await rejection(b.ipvs.addService(svc));
    expect(e.code).toBe('EINVAL');
    expect(e.index).toBe(2);
    expect(e.item).toBe('destination 224.0.0.5:53 of service udp 10.0.0.5:53');
    expect((await rejection(b.ipvs.getService(svc))).code).toBe('ESRCH');
  });

  it('a batch reports each failed item by index and applies the rest', async () => {
    const ops: IpvsOp[] = [
      { op: 'addService', service: { protocol: 'tcp', address: '10.0.1.1', port: 443, scheduler: 'rr' } },
      { op: 'addService', service: { protocol: 'tcp', address: '10.0.1.1', port: 443, scheduler: 'rr' } },
      { op: 'addDestination', service: missing, destination: { address: '10.1.1.1' } },
      { op: 'addDestination', service: { protocol: 'tcp', address: '10.0.1.1', port: 443 }, destination: { address: '10.1.1.1' } },
    ];
    const r = await b.ipvs.batch(ops);
    expect(r.applied).toBe(2);
    expect(r.failures[0]!.message).toBe('IPVS batch (item 1: add service tcp 10.0.1.1:443): EEXIST (already exists)');
    expect(r.failures.map((f) => [f.index, f.code, f.item])).toEqual([
      [1, 'EEXIST', 'add service tcp 10.0.1.1:443'],
      [2, 'ESRCH', 'add destination 10.1.1.1:80 of service tcp 10.0.0.99:80'],
    ]);
    expect((await b.ipvs.getService({ protocol: 'tcp', address: '10.0.1.1', port: 443 })).destinations).toHaveLength(1);
    const stop = await b.ipvs.batch([ops[1]!, ops[0]!], { stopOnError: true, chunk: 1 });
    expect(stop.failures.map((f) => f.index)).toEqual([0]);
    expect(stop.applied).toBe(0);
  });

  it('malformed input is a ValidationError naming the field, and nothing is sent', async () => {
    const before = await b.ipvsadm('-Ln');
    const cases: [() => Promise<unknown>, string][] = [
      [() => b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.300', port: 80 }), 'service.address'],
      [() => b.ipvs.addService({ protocol: 'tcp', address: '10.0.0.3', port: 65536 }), 'service.port'],
      [() => b.ipvs.addService({ protocol: 'icmp' as 'tcp', address: '10.0.0.3', port: 1 }), 'service.protocol'],
      [() => b.ipvs.addService({ fwmark: 0 }), 'service.fwmark'],
      [() => b.ipvs.addService({ ...web, scheduler: 'a-very-long-scheduler' }), 'service.scheduler'],
      [() => b.ipvs.addService({ ...web, scheduler: 'rr', schedulerFlags: ['sh-port'] }), 'service.schedulerFlags[0]'],
      [() => b.ipvs.addService({ ...web, persistence: { netmask: 64 } }), 'service.persistence.netmask'],
      [() => b.ipvs.addService({ ...web, persistence: { netmask: '255.0.255.0' } }), 'service.persistence.netmask'],
      [() => b.ipvs.addService({ protocol: 'tcp', address: '2001:db8::1', port: 1, family: 'inet' }), 'service.family'],
      [() => b.ipvs.addDestination(web, { address: '10.1.0.7', weight: -1 }), 'destination.weight'],
      [() => b.ipvs.addDestination(web, { address: '10.1.0.7', upperThreshold: 5, lowerThreshold: 10 }), 'destination.lowerThreshold'],
      [() => b.ipvs.addDestination(web, { address: '10.1.0.7', forwarding: 'tunnel', tunnel: { type: 'gue' } }), 'destination.tunnel.port'],
      [() => b.ipvs.addDestination(web, { address: '10.1.0.7', tunnel: { type: 'ipip' } }), 'destination.tunnel'],
      [() => b.ipvs.addDestination(web, { address: 'backend.local' }), 'destination.address'],
      [() => b.ipvs.startDaemon({ state: 'primary' as 'master', interface: 'lo' }), 'daemon.state'],
      [() => b.ipvs.setTimeouts({ tcp: -5 }), 'timeouts.tcp'],
      [
        () => b.ipvs.batch([{ op: 'addService', service: { protocol: 'tcp', address: '10.0.2.1', port: 1 } }, { op: 'addService', service: { ...web, destinations: [{ address: '10.1.0.1', port: 70000 }] } }]),
        'ops[1].service.destinations[0].port',
      ],
    ];
    for (const [fn, field] of cases) {
      const e = await fn().then(() => undefined, (x: unknown) => x);
      expect(e, field).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe(field);
    }
    expect(await b.ipvsadm('-Ln')).toBe(before); // not even the valid first op of the batch was sent
  });

  it('needs CAP_NET_ADMIN in the initial user namespace: EPERM with that hint', async () => {
    const js = `require('${process.cwd()}/dist/index.js').Ipvs.open().then((i) => i.listServices()).then(() => console.log('no error'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
    const r = await run(['unshare', '-r', '-n', process.execPath, '-e', js], { allowFail: true });
    if (r.code !== 0 && /unshare/.test(r.stderr)) return expect.soft(r.stderr, 'user namespaces unavailable').toBe('');
    const out = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    expect(out.code).toBe('EPERM');
    expect(out.message).toContain('CAP_NET_ADMIN in the initial user namespace is needed for IPVS');
  });
});

describe.skipIf(skip !== undefined)(title('IPVS concurrency and namespaces'), () => {
  it('one handle, many concurrent callers: every write lands, every read is whole', async () => {
    const b = await bed();
    try {
      const writes = Array.from({ length: 60 }, (_, i) =>
        b.ipvs.addService({ protocol: 'tcp', address: `10.3.${i >> 4}.${(i & 15) + 1}`, port: 80, scheduler: 'rr', destinations: [{ address: `10.4.0.${i + 1}` }] }),
      );
      const reads = Array.from({ length: 20 }, () => b.ipvs.listServices());
      await Promise.all([...writes, ...reads]);
      for (const r of await Promise.all(reads)) for (const s of r) expect(s.destinations).toHaveLength(1);
      expect(await b.ipvs.listServices()).toHaveLength(60);
      expect((await b.ipvsadm('-Ln')).split('\n').filter((l) => l.startsWith('TCP'))).toHaveLength(60);
    } finally {
      await b.destroy();
    }
  });

  it('handles in different namespaces see only their own services', async () => {
    const [x, y] = await Promise.all([bed(), bed()]);
    try {
      await Promise.all([x.ipvs.addService({ ...web, scheduler: 'rr' }), y.ipvs.addService({ fwmark: 5, scheduler: 'wrr' })]);
      expect((await x.ipvs.listServices()).map((s) => s.scheduler)).toEqual(['rr']);
      expect((await y.ipvs.listServices()).map((s) => s.scheduler)).toEqual(['wrr']);
      expect(await x.ipvsadm('-Ln')).toContain('TCP  10.0.0.1:80 rr');
      expect(await y.ipvsadm('-Ln')).not.toContain('TCP');
      await x.ipvs.close();
      await expect(x.ipvs.listServices()).rejects.toThrow(/handle is closed/);
    } finally {
      await Promise.all([x.destroy(), y.destroy()]);
    }
  });
});
