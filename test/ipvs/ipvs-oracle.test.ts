/**
 * Oracle both ways against ipvsadm 1.31 in a fresh namespace: what kernlb writes, ipvsadm prints
 * exactly (-Ln, --stats, --rate, --exact, --persistent-conn, --thresholds, -S); what ipvsadm writes
 * with its options, kernlb reads back with the right values. Plus protocol x scheduler x family loops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import { formatIpvsadm, type IpvsOp, type Service, type ServiceSpec } from '../../lib/ipvs';
import { bed, config, normalized, skip, title, startBackupDaemon, type Bed } from './helpers';

const rich: ServiceSpec[] = [
  {
    protocol: 'tcp', address: '10.0.0.1', port: 80, scheduler: 'sh', schedulerFlags: ['sh-fallback', 'sh-port'],
    persistence: { timeout: 300, netmask: '255.255.255.0' },
    destinations: [
      { address: '10.1.0.2', port: 8080, weight: 3, upperThreshold: 100, lowerThreshold: 10 },
      { address: '10.1.0.3', port: 8080, forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'csum' } },
      { address: '10.1.0.4', port: 8080, forwarding: 'tunnel', tunnel: { type: 'gre', checksum: 'csum' } },
      { address: '10.1.0.5', port: 80, forwarding: 'route', weight: 0 },
      { address: '10.1.0.6', port: 8080, forwarding: 'tunnel' },
    ],
  },
  {
    protocol: 'udp', address: '2001:db8::1', port: 53, scheduler: 'mh', schedulerFlags: ['mh-fallback', 'mh-port'], onePacket: true,
    destinations: [
      { address: '2001:db8:1::5', port: 5353, weight: 7 },
      { address: '2001:db8:1::6', port: 53, forwarding: 'tunnel', tunnel: { type: 'gue', port: 5555, checksum: 'remcsum' } },
    ],
  },
  { protocol: 'sctp', address: '10.0.0.2', port: 9999, scheduler: 'rr', persistence: { timeout: 600 }, persistenceEngine: 'sip' },
  { fwmark: 7, family: 'inet6', scheduler: 'wrr', persistence: { timeout: 60, netmask: 64 }, destinations: [{ address: '2001:db8:2::1', weight: 2 }] },
  {
    fwmark: 1234, scheduler: 'lblcr',
    destinations: [{ address: '10.2.0.1', forwarding: 'route' }, { address: '2001:db8:3::1', forwarding: 'tunnel' }],
  },
];

// What `ipvsadm -Ln` must print for `rich` (sorted by fwmark, family, protocol, address, port).
const richLn = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
  -> 10.1.0.2:8080                Masq    3      0          0         
  -> 10.1.0.3:8080                Tunnel  1      0          0         
  -> 10.1.0.4:8080                Tunnel  1      0          0         
  -> 10.1.0.5:80                  Route   0      0          0         
  -> 10.1.0.6:8080                Tunnel  1      0          0         
SCTP 10.0.0.2:9999 rr persistent 600 pe sip
UDP  [2001:db8::1]:53 mh (mh-fallback,mh-port) ops
  -> [2001:db8:1::5]:5353         Masq    7      0          0         
  -> [2001:db8:1::6]:53           Tunnel  1      0          0         
FWM  7 IPv6 wrr persistent 60 mask 64
  -> [2001:db8:2::1]:0            Masq    2      0          0         
FWM  1234 lblcr
  -> 10.2.0.1:0                   Route   1      0          0         
  -> [2001:db8:3::1]:0            Tunnel  1      0          0         
`;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), readInput: async () => '' });
  return { code, out, err };
}

describe.skipIf(skip !== undefined)(title('IPVS oracle: kernlb writes, ipvsadm reads'), () => {
  let b: Bed;
  beforeAll(async () => {
    b = await bed();
    for (const s of rich) await b.ipvs.addService(s);
  });
  afterAll(async () => b?.destroy());

  it('ipvsadm -Ln prints exactly the configuration written, and formatIpvsadm() and the CLI print the same', async () => {
    const theirs = await b.ipvsadm('-Ln');
    expect(theirs).toBe(richLn);
    expect(formatIpvsadm(await b.ipvs.info(), await b.ipvs.listServices())).toBe(theirs);
    const r = await cli(['ipvs', 'list', '-n', '--netns', b.ns.name]);
    expect(r).toEqual({ code: 0, out: theirs, err: '' });
  });

  it('sorts as ipvsadm does even where its comparison wraps (addresses 2^31 apart, fwmark above 2^31)', async () => {
    const other = await bed();
    try {
      for (const address of ['10.0.0.1', '200.0.0.1', '1.0.0.1', '130.0.0.1', '10.0.0.5', '255.0.0.1', '127.0.0.2'])
        await other.ipvs.addService({ protocol: 'tcp', address, port: 80, scheduler: 'rr' });
      await other.ipvs.addService({ fwmark: 4294967295, scheduler: 'rr' });
      await other.ipvs.addService({ fwmark: 1, scheduler: 'rr', destinations: ['10.1.0.1', '200.1.0.1', '1.1.0.1', '130.1.0.1'].map((address) => ({ address, forwarding: 'route' as const })) });
      const theirs = await other.ipvsadm('-Ln');
      expect(theirs).toContain('FWM  -1 rr\n');
      expect(formatIpvsadm(await other.ipvs.info(), await other.ipvs.listServices())).toBe(theirs);
    } finally {
      await other.destroy();
    }
  });

  it('--stats, --rate, --exact, --persistent-conn and --thresholds match ipvsadm', async () => {
    for (const flags of [['--stats'], ['--rate'], ['--stats', '--exact'], ['--rate', '--exact'], ['--persistent-conn'], ['--thresholds']]) {
      const theirs = await b.ipvsadm('-Ln', ...flags);
      const r = await cli(['ipvs', 'list', '-n', ...flags, '--netns', b.ns.name]);
      expect(r.out, flags.join(' ')).toBe(theirs);
    }
    const th = await b.ipvsadm('-Ln', '--thresholds');
    expect(th).toContain('  -> 10.1.0.2:8080                100        10         0          0         \n');
  });

  it('ipvsadm -S shows every attribute it saves (tunnel type/port/checksum, pe, ops, sched flags)', async () => {
    const lines = (await b.ipvsadm('-S', '-n')).trim().split('\n').sort();
    expect(lines).toEqual([
      '-A -t 10.0.0.1:80 -s sh -p 300 -M 255.255.255.0 -b sh-fallback,sh-port',
      '-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 3',
      '-a -t 10.0.0.1:80 -r 10.1.0.3:8080 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum',
      '-a -t 10.0.0.1:80 -r 10.1.0.4:8080 -i -w 1 --tun-type gre --tun-csum',
      '-a -t 10.0.0.1:80 -r 10.1.0.5:80 -g -w 0',
      '-a -t 10.0.0.1:80 -r 10.1.0.6:8080 -i -w 1 --tun-type ipip',
      '-A -u [2001:db8::1]:53 -s mh -o -b mh-fallback,mh-port',
      '-a -u [2001:db8::1]:53 -r [2001:db8:1::5]:5353 -m -w 7',
      '-a -u [2001:db8::1]:53 -r [2001:db8:1::6]:53 -i -w 1 --tun-type gue --tun-port 5555 --tun-remcsum',
      '-A --sctp-service 10.0.0.2:9999 -s rr -p 600 --pe sip',
      '-A -f 7 -6 -s wrr -p 60 -M 64',
      '-a -f 7 -6 -r [2001:db8:2::1]:0 -m -w 2',
      '-A -f 1234 -s lblcr',
      '-a -f 1234 -r 10.2.0.1:0 -g -w 1',
      '-a -f 1234 -r [2001:db8:3::1]:0 -i -w 1 --tun-type ipip',
    ].sort());
  });

  it('--tun-info matches ipvsadm', async () => {
    const theirs = await b.ipvsadm('-Ln', '--tun-info');
    expect(theirs).toContain('  -> 10.1.0.3:8080                Tunnel  gue:6080:+c   1      0          0         \n');
    expect((await cli(['ipvs', 'list', '--tun-info', '--netns', b.ns.name])).out).toBe(theirs);
  });

  it('reads back the same shapes it wrote: add(get(x)) round-trips into another namespace', async () => {
    const read = await b.ipvs.listServices();
    for (const spec of rich) {
      const got = read.find((s) => ('fwmark' in spec ? 'fwmark' in s && s.fwmark === spec.fwmark : 'address' in s && s.address === spec.address));
      expect(got, JSON.stringify(spec)).toBeDefined();
      const { destinations, ...attrs } = spec;
      expect(got).toMatchObject(attrs);
      expect(got!.destinations).toHaveLength(destinations?.length ?? 0);
      for (const d of destinations ?? []) expect(got!.destinations.find((x) => x.address === d.address)).toMatchObject(d);
    }
    const other = await bed();
    try {
      for (const s of read) await other.ipvs.addService(s);
      expect(normalized(await other.ipvs.listServices())).toEqual(normalized(read));
      expect(await other.ipvsadm('-Ln')).toBe(richLn);
    } finally {
      await other.destroy();
    }
  });

  it('getService and listDestinations agree with the listing', async () => {
    const s = await b.ipvs.getService({ protocol: 'udp', address: '2001:db8::1', port: 53 });
    expect(config(s)).toEqual(config((await b.ipvs.listServices()).find((x) => 'address' in x && x.address === '2001:db8::1')));
    const d = await b.ipvs.listDestinations({ fwmark: 1234 });
    expect(d.map((x) => [x.address, x.family, x.forwarding]).sort()).toEqual([['10.2.0.1', 'inet', 'route'], ['2001:db8:3::1', 'inet6', 'tunnel']]);
  });

  it('ipvsadm --timeout and --daemon show what kernlb set', async () => {
    // A sync daemon cannot run while mixed-family destinations exist: this one gets its own namespace.
    const b = await bed();
    try {
    await b.ipvs.setTimeouts({ tcp: 901, tcpFin: 121, udp: 301 });
    expect(await b.ipvsadm('-L', '--timeout')).toBe('Timeout (tcp tcpfin udp): 901 121 301\n');
    await b.ipvs.setTimeouts({ udp: 77 }); // 0/absent keeps the others
    expect(await b.ipvs.getTimeouts()).toEqual({ tcp: 901, tcpFin: 121, udp: 77 });
    await b.ipvs.startDaemon({ state: 'master', interface: 'lo', syncId: 9, maxLength: 1000, group: '224.0.0.99', port: 9000, ttl: 3 });
    expect(await b.ipvsadm('-L', '--daemon')).toBe('master sync daemon (mcast=lo, syncid=9, maxlen=1000, group=224.0.0.99, port=9000, ttl=3)\n');
    await b.ipvs.stopDaemon('master');
    expect(await b.ipvsadm('-L', '--daemon')).toBe('');
    } finally {
      await b.destroy();
    }
  });
});

describe.skipIf(skip !== undefined)(title('IPVS oracle: ipvsadm writes, kernlb reads'), () => {
  let b: Bed;
  beforeAll(async () => {
    b = await bed();
  });
  afterAll(async () => b?.destroy());

  it('every service and destination option of ipvsadm', async () => {
    const rules = [
      '-A -t 10.9.0.1:443 -s wlc',
      '-A -u 10.9.0.1:53 -s rr -o',
      '-A -t [2001:db8::9]:443 -s sed -p 120 -M 48',
      '-A -f 42 -s sh -b sh-port',
      '-A -f 43 -6 -s dh -p',
      '-A --sctp-service 10.9.0.2:38412 -s nq -p 30 -M 255.255.0.0 --pe sip',
      '-A -u 10.9.0.3:5060 -s fo -b flag-3',
      '-a -t 10.9.0.1:443 -r 10.9.1.1:8443 -m -w 5 -x 50 -y 5',
      '-a -t 10.9.0.1:443 -r 10.9.1.2 -g -w 0',
      '-a -t 10.9.0.1:443 -r 10.9.1.3:8443 -i --tun-type gue --tun-port 7777 --tun-nocsum',
      '-a -t 10.9.0.1:443 -r 10.9.1.4:8443 -i --tun-type gre --tun-csum',
      '-a -t [2001:db8::9]:443 -r [2001:db8:9::1]:443 -m',
      '-a -f 42 -r 10.9.1.5 -g',
      '-a -f 42 -r 2001:db8:9::5 -i',
      '-E -t 10.9.0.1:443 -s lc',
      '-e -t 10.9.0.1:443 -r 10.9.1.2 -g -w 4',
    ];
    await b.ns.exec(['ipvsadm', '-R'], { input: rules.join('\n') + '\n' });
    const got = normalized(await b.ipvs.listServices());
    const find = (p: (s: Service) => boolean) => got.find(p)!;
    expect(find((s) => 'address' in s && s.address === '10.9.0.1' && s.protocol === 'tcp')).toEqual({
      protocol: 'tcp', address: '10.9.0.1', port: 443, family: 'inet', scheduler: 'lc', schedulerFlags: [], onePacket: false,
      destinations: [
        { address: '10.9.1.1', port: 8443, family: 'inet', weight: 5, forwarding: 'masq', upperThreshold: 50, lowerThreshold: 5 },
        { address: '10.9.1.2', port: 443, family: 'inet', weight: 4, forwarding: 'route', upperThreshold: 0, lowerThreshold: 0 },
        { address: '10.9.1.3', port: 443, family: 'inet', weight: 1, forwarding: 'tunnel', upperThreshold: 0, lowerThreshold: 0, tunnel: { type: 'gue', port: 7777, checksum: 'none' } },
        { address: '10.9.1.4', port: 443, family: 'inet', weight: 1, forwarding: 'tunnel', upperThreshold: 0, lowerThreshold: 0, tunnel: { type: 'gre', checksum: 'csum' } },
      ],
    } as unknown as Service);
    expect(find((s) => 'address' in s && s.protocol === 'udp' && s.port === 53)).toMatchObject({ scheduler: 'rr', onePacket: true });
    expect(find((s) => 'address' in s && s.address === '2001:db8::9')).toMatchObject({
      family: 'inet6', scheduler: 'sed', persistence: { timeout: 120, netmask: 48 },
      destinations: [{ address: '2001:db8:9::1', port: 443, family: 'inet6', forwarding: 'masq', weight: 1 }],
    });
    expect(find((s) => 'fwmark' in s && s.fwmark === 42)).toMatchObject({
      family: 'inet', scheduler: 'sh', schedulerFlags: ['sh-port'],
      destinations: expect.arrayContaining([
        expect.objectContaining({ address: '10.9.1.5', port: 0, forwarding: 'route' }),
        expect.objectContaining({ address: '2001:db8:9::5', family: 'inet6', forwarding: 'tunnel', tunnel: { type: 'ipip', checksum: 'none' } }),
      ]),
    });
    expect(find((s) => 'fwmark' in s && s.fwmark === 43)).toMatchObject({ family: 'inet6', scheduler: 'dh', persistence: { timeout: 360, netmask: 128 } }) // ipvsadm -p default: 360;
    expect(find((s) => 'address' in s && s.protocol === 'sctp')).toMatchObject({ port: 38412, scheduler: 'nq', persistence: { timeout: 30, netmask: '255.255.0.0' }, persistenceEngine: 'sip' });
    expect(find((s) => 'address' in s && s.port === 5060)).toMatchObject({ scheduler: 'fo', schedulerFlags: ['flag-3'] });
    expect(got).toHaveLength(7);
  });

  it('flush, then timeouts, sync daemons (both states, all options) and info', async () => {
    await b.ipvs.flush(); // a sync daemon refuses to start while mixed-family destinations exist
    expect(await b.ipvs.listServices()).toEqual([]);
    await b.ipvsadm('--set', '100', '20', '30');
    expect(await b.ipvs.getTimeouts()).toEqual({ tcp: 100, tcpFin: 20, udp: 30 });
    await b.ipvsadm('--start-daemon', 'master', '--mcast-interface', 'lo', '--syncid', '3', '--sync-maxlen', '1200', '--mcast-group', '224.0.0.82', '--mcast-port', '8849', '--mcast-ttl', '4');
    await startBackupDaemon(() => b.ipvsadm('--start-daemon', 'backup', '--mcast-interface', 'lo', '--syncid', '4'));
    const daemons = await b.ipvs.listDaemons();
    expect(daemons).toContainEqual({ state: 'master', interface: 'lo', syncId: 3, maxLength: 1200, group: '224.0.0.82', port: 8849, ttl: 4 });
    expect(daemons).toContainEqual(expect.objectContaining({ state: 'backup', interface: 'lo', syncId: 4 }));
    await b.ipvsadm('--stop-daemon', 'master');
    await b.ipvsadm('--stop-daemon', 'backup');
    expect(await b.ipvs.listDaemons()).toEqual([]);
    const info = await b.ipvs.info();
    expect(info).toEqual({ version: '1.2.1', versionCode: 0x010201, connectionTableSize: 4096 });
  });
});

const protocols = ['tcp', 'udp', 'sctp'] as const;
const schedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf'];
const families = ['inet', 'inet6'] as const;

describe.skipIf(skip !== undefined)(title('IPVS loops: protocols x schedulers x families'), () => {
  it(`adds, reads, updates and deletes ${protocols.length * schedulers.length * families.length} services with destinations, checked by ipvsadm`, async () => {
    const b = await bed();
    try {
      const specs: ServiceSpec[] = [];
      for (const protocol of protocols)
        schedulers.forEach((scheduler, i) => {
          for (const family of families) {
            const v6 = family === 'inet6';
            const address = v6 ? `2001:db8:${protocols.indexOf(protocol) + 1}::${i + 1}` : `10.${protocols.indexOf(protocol)}.0.${i + 1}`;
            const dest = (n: number) => (v6 ? `2001:db8:ff::${n}` : `10.255.0.${n}`);
            specs.push({ protocol, address, port: 1000 + i, scheduler, destinations: [{ address: dest(1), weight: 1 }, { address: dest(2), port: 8080, weight: 2 }] });
          }
        });
      const r = await b.ipvs.batch(specs.map((service) => ({ op: 'addService', service }) as IpvsOp));
      expect(r.failures).toEqual([]);
      expect(r.applied).toBe(specs.length * 3);
      const read = await b.ipvs.listServices();
      expect(read).toHaveLength(specs.length);
      for (const spec of specs) {
        const { destinations, ...attrs } = spec;
        const got = read.find((s) => 'address' in s && 'address' in spec && s.address === spec.address && s.protocol === spec.protocol);
        expect(got).toMatchObject(attrs);
        expect(config(got!.destinations).map((d) => [d.address, d.port, d.weight]).sort()).toEqual(destinations!.map((d) => [d.address, d.port ?? (spec as { port: number }).port, d.weight]).sort());
      }
      expect(formatIpvsadm(await b.ipvs.info(), read)).toBe(await b.ipvsadm('-Ln'));
      // update every scheduler to the next one, then delete all
      const upd = specs.map((s, i) => ({ op: 'updateService', service: { ...s, destinations: undefined, scheduler: schedulers[(schedulers.indexOf(s.scheduler!) + 1) % schedulers.length] } }) as IpvsOp);
      expect((await b.ipvs.batch(upd)).failures).toEqual([]);
      expect(formatIpvsadm(await b.ipvs.info(), await b.ipvs.listServices())).toBe(await b.ipvsadm('-Ln'));
      expect((await b.ipvs.listServices()).map((s) => s.scheduler).sort()).toEqual(upd.map((u) => (u.op === 'updateService' ? u.service.scheduler : '')).sort());
      const del = await b.ipvs.batch(specs.map((service) => ({ op: 'deleteService', service }) as IpvsOp));
      expect(del.failures).toEqual([]);
      expect(await b.ipvsadm('-Ln')).toBe('IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n');
    } finally {
      await b.destroy();
    }
  });
});

describe.skipIf(skip !== undefined)(title('IPVS listing over the socket pool (io_uring fan-out, 8+ services)'), () => {
  it('more services than pool sockets, an empty service and one whose destinations span several dump datagrams: ipvsadm -Ln exactly', async () => {
    const b = await bed();
    try {
      const specs: ServiceSpec[] = [];
      for (let i = 0; i < 150; i++) {
        const n = i === 0 ? 0 : i === 1 ? 400 : 3;
        const v6 = i % 5 === 4;
        const destinations = Array.from({ length: n }, (_, k) => ({
          address: v6 ? `2001:db8:ff::${(k + 1).toString(16)}` : `10.255.${(k + 1) >> 8}.${(k + 1) & 255}`,
          port: 8080 + (k % 3),
          weight: k % 7,
        }));
        specs.push(v6 ? { protocol: 'udp', address: `2001:db8::${(i + 1).toString(16)}`, port: 53, scheduler: 'wrr', destinations }
                      : { protocol: 'tcp', address: `10.9.${i >> 8}.${i & 255}`, port: 80, scheduler: 'rr', destinations });
      }
      specs.push({ fwmark: 77, scheduler: 'sh', destinations: [{ address: '10.3.0.1', forwarding: 'route' }] });
      expect((await b.ipvs.batch(specs.map((service) => ({ op: 'addService', service }) as IpvsOp))).failures).toEqual([]);
      const read = await b.ipvs.listServices();
      expect(read).toHaveLength(specs.length);
      expect(read.reduce((x, s) => x + s.destinations.length, 0)).toBe(400 + 148 * 3 + 1);
      expect(formatIpvsadm(await b.ipvs.info(), read)).toBe(await b.ipvsadm('-Ln'));
      // The single-service path (one dump on the handle's own socket) returns the same, in the same order.
      const big = read.find((s) => 'address' in s && s.address === '10.9.0.1')!;
      expect(big.destinations).toHaveLength(400);
      expect(config(await b.ipvs.listDestinations(big))).toEqual(config(big.destinations));
    } finally {
      await b.destroy();
    }
  });
});
