/**
 * The IPVS model without a kernel: validation (field paths, defaults, normalization into the codec's
 * descriptions), decoding replies into the public shapes, the ipvsadm renderer and the
 * /proc/net/ip_vs_conn parser.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { parseConnections } from '../../lib/ipvs/connections';
import { Ipvs } from '../../lib/ipvs/ipvs';
import { schedulerFlagsFrom, servicesFromListing } from '../../lib/ipvs/packed';
import { formatIpvsadm, formatIpvsadmConnections, largeNum } from '../../lib/ipvs/format';
import { daemonDesc, destDesc, serviceDesc, serviceKeyDesc } from '../../lib/ipvs/validate';
import { native, type NativeIpvsDestDesc, type NativeIpvsServiceDesc } from '../../lib/native';
import type { Destination, Service } from '../../lib/ipvs/types';


function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.field;
    throw e;
  }
  return undefined;
}

describe('IPVS validation', () => {
  it('normalizes a service with ipvsadm defaults (wlc, full IPv4 mask, no flags)', () => {
    expect(serviceDesc({ protocol: 'tcp', address: '10.0.0.1', port: 80 }, 'service')).toEqual({
      family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'wlc', flags: 0, timeout: 0, netmask: 0xffffffff,
    });
  });

  it('encodes persistence, one-packet and scheduler flags into flag bits', () => {
    expect(serviceDesc({ fwmark: 9, family: 'inet6', scheduler: 'sh', schedulerFlags: ['sh-fallback', 'sh-port'], persistence: { netmask: 64 }, onePacket: true, persistenceEngine: 'sip' }, 's')).toEqual({
      family: 10, fwmark: 9, scheduler: 'sh', flags: 0x1 | 0x4 | 0x8 | 0x10, timeout: 300, netmask: 64, pe: 'sip',
    });
    expect(serviceDesc({ protocol: 'udp', address: '10.0.0.1', port: 53, persistence: { timeout: 60, netmask: '255.255.255.0' } }, 's').netmask).toBe(0xffffff00);
  });

  it('names the field of every malformed input', () => {
    const svc = { protocol: 'tcp', address: '10.0.0.1', port: 80 } as const;
    const key = serviceKeyDesc(svc, 'service');
    expect(fieldOf(() => serviceKeyDesc({ protocol: 'tcp', address: '::ffff:1.2.3.4.5', port: 1 }, 'service'))).toBe('service.address');
    expect(fieldOf(() => serviceKeyDesc({ protocol: 'tcp', address: '10.0.0.1', port: 1.5 }, 'service'))).toBe('service.port');
    expect(fieldOf(() => serviceKeyDesc({ fwmark: 0 }, 'service'))).toBe('service.fwmark');
    expect(fieldOf(() => serviceKeyDesc({ fwmark: 2 ** 32 }, 'service'))).toBe('service.fwmark');
    expect(fieldOf(() => serviceKeyDesc({ fwmark: 1, family: 'ipx' as 'inet' }, 'service'))).toBe('service.family');
    expect(fieldOf(() => serviceDesc({ ...svc, scheduler: 'sixteen-chars-xx' }, 'service'))).toBe('service.scheduler');
    expect(fieldOf(() => serviceDesc({ ...svc, scheduler: 'r r' }, 'service'))).toBe('service.scheduler');
    expect(fieldOf(() => serviceDesc({ ...svc, scheduler: 'mh', schedulerFlags: ['sh-port'] }, 'service'))).toBe('service.schedulerFlags[0]');
    expect(fieldOf(() => serviceDesc({ ...svc, persistence: { timeout: 0 } }, 'service'))).toBe('service.persistence.timeout');
    expect(fieldOf(() => serviceDesc({ ...svc, persistence: { netmask: '255.255.255.1' } }, 'service'))).toBe('service.persistence.netmask');
    expect(fieldOf(() => serviceDesc({ protocol: 'tcp', address: '2001:db8::1', port: 1, persistence: { netmask: 129 } }, 'service'))).toBe('service.persistence.netmask');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', weight: -1 }, key, 'd'))).toBe('d.weight');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', weight: 2 ** 31 }, key, 'd'))).toBe('d.weight');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', upperThreshold: 1, lowerThreshold: 2 }, key, 'd'))).toBe('d.lowerThreshold');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', forwarding: 'nat' as 'masq' }, key, 'd'))).toBe('d.forwarding');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', forwarding: 'local' }, key, 'd'))).toBe('d.forwarding');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', forwarding: 'tunnel', tunnel: { type: 'vxlan' as 'gre' } }, key, 'd'))).toBe('d.tunnel.type');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', forwarding: 'tunnel', tunnel: { type: 'gue', port: 0 } }, key, 'd'))).toBe('d.tunnel.port');
    expect(fieldOf(() => destDesc({ address: '10.1.0.1', forwarding: 'tunnel', tunnel: { type: 'gre', checksum: 'md5' as 'csum' } }, key, 'd'))).toBe('d.tunnel.checksum');
    expect(fieldOf(() => daemonDesc({ state: 'master', interface: 'an-interface-name-too-long' }, 'daemon'))).toBe('daemon.interface');
    expect(fieldOf(() => daemonDesc({ state: 'master', interface: 'eth0', syncId: 256 }, 'daemon'))).toBe('daemon.syncId');
  });

  it('destinations default to the service port, weight 1, masq; direct = route; tunnels default to ipip', () => {
    const key = serviceKeyDesc({ protocol: 'tcp', address: '10.0.0.1', port: 443 }, 'service');
    expect(destDesc({ address: '10.1.0.1' }, key, 'd')).toEqual({ family: 2, address: '10.1.0.1', port: 443, fwd: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0 });
    expect(destDesc({ address: '10.1.0.1', forwarding: 'direct' }, key, 'd').fwd).toBe(3);
    expect(destDesc({ address: '2001:db8::1', forwarding: 'tunnel' }, key, 'd')).toMatchObject({ family: 10, fwd: 2, tunType: 0, tunPort: 0, tunFlags: 0 });
    expect(destDesc({ address: '10.1.0.1', port: 8080 }, serviceKeyDesc({ fwmark: 3 }, 's'), 'd').port).toBe(8080);
    expect(destDesc({ address: '10.1.0.1' }, serviceKeyDesc({ fwmark: 3 }, 's'), 'd').port).toBe(0);
  });
});

// Replies as the kernel dumps them (a NEW_SERVICE/NEW_DEST message carries the same nests as the
// request encode() builds), packed natively and decoded as listServices() decodes them.
const svcDesc = (over: Partial<NativeIpvsServiceDesc>): NativeIpvsServiceDesc => ({
  family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'rr', flags: 2, timeout: 0, netmask: 0xffffffff, ...over,
});
const destOf = (over: Partial<NativeIpvsDestDesc>): NativeIpvsDestDesc => ({
  family: 2, address: '10.1.0.1', port: 8080, fwd: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0, ...over,
});
function read(...services: [Partial<NativeIpvsServiceDesc>, Partial<NativeIpvsDestDesc>[]?][]): Service[] {
  const parts: Buffer[] = [];
  for (const [over, dests = []] of services) {
    const svc = svcDesc(over);
    parts.push(native().ipvs.encode({ cmd: 1, service: svc }, 0x20, 0));
    const key = svc.fwmark ? { family: svc.family, fwmark: svc.fwmark } : { family: svc.family, protocol: svc.protocol, address: svc.address, port: svc.port };
    for (const d of dests) parts.push(native().ipvs.encode({ cmd: 5, service: key, dest: destOf(d) }, 0x20, 0));
  }
  return servicesFromListing(native().ipvs.pack(Buffer.concat(parts)));
}
const serviceFrom = (over: Partial<NativeIpvsServiceDesc>, dests?: Partial<NativeIpvsDestDesc>[]): Service => read([over, dests])[0]!;
const destinationFrom = (over: Partial<NativeIpvsDestDesc>): Destination => serviceFrom({}, [over]).destinations[0]!;

describe('IPVS decoding', () => {
  it('dumpSockets is checked before anything is opened', async () => {
    for (const bad of [-1, 1.5, 1025]) await expect(Ipvs.open({ dumpSockets: bad })).rejects.toMatchObject({ field: 'dumpSockets' });
  });

  it('returns the shape addService accepts: persistence only when set, HASHED dropped, mask as text', () => {
    const s = serviceFrom({ flags: 0x2 | 0x1 | 0x4, timeout: 300, netmask: 0xffffff00, pe: 'sip' });
    expect(s).toMatchObject({ protocol: 'tcp', address: '10.0.0.1', port: 80, family: 'inet', scheduler: 'rr', schedulerFlags: [], onePacket: true, persistence: { timeout: 300, netmask: '255.255.255.0' }, persistenceEngine: 'sip' });
    expect(serviceDesc(s, 's')).toEqual({ family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'rr', flags: 0x5, timeout: 300, netmask: 0xffffff00, pe: 'sip' });
    const f = serviceFrom({ family: 10, fwmark: 12, flags: 2, netmask: 128 });
    expect(f).toEqual({ fwmark: 12, family: 'inet6', scheduler: 'rr', schedulerFlags: [], onePacket: false, stats: expect.any(Object), destinations: [] });
  });

  it('scheduler flags are named after the scheduler that owns the bits', () => {
    expect(schedulerFlagsFrom('sh', 0x18)).toEqual(['sh-fallback', 'sh-port']);
    expect(schedulerFlagsFrom('mh', 0x10)).toEqual(['mh-port']);
    expect(schedulerFlagsFrom('fo', 0x28)).toEqual(['flag-1', 'flag-3']);
  });

  it('tunnel details only for tunnel destinations; gue keeps its port', () => {
    expect(destinationFrom({ fwd: 0, tunType: 1, tunPort: 99 }).tunnel).toBeUndefined();
    expect(destinationFrom({ fwd: 2, tunType: 1, tunPort: 6080, tunFlags: 2 }).tunnel).toEqual({ type: 'gue', port: 6080, checksum: 'remcsum' });
    expect(destinationFrom({ fwd: 2, tunType: 2, tunFlags: 1 }).tunnel).toEqual({ type: 'gre', checksum: 'csum' });
    expect(destinationFrom({ fwd: 1 }).forwarding).toBe('local');
  });
});

describe('ipvsadm rendering', () => {
  it('print_largenum: 9 columns, K/M/G/T abbreviations, --exact widens', () => {
    expect(largeNum(99_999_999)).toBe(' 99999999');
    expect(largeNum(123_456_789)).toBe('  123456K');
    expect(largeNum(12_345_678_901)).toBe('   12345M');
    expect(largeNum(123_456_789_012_345)).toBe('     123T');
    expect(largeNum(123_456_789, true)).toBe(' 123456789');
    expect(largeNum(5, true)).toBe('        5');
  });

  it('sorts like ipvsadm: fwmark and address compared by wrapping int subtraction, glibc merge sort', () => {
    const info = { version: '1.2.1', versionCode: 0x10201, connectionTableSize: 4096 };
    // FWM 4294967295 prints as -1 and sorts first (0xffffffff - 0 is -1 as an int). Addresses far
    // apart (200.x vs 1.x) compare wrapped; that case is checked against ipvsadm in the UML oracle.
    const services = [
      serviceFrom({ address: '10.0.0.1' }),
      serviceFrom({ address: '100.0.0.1' }),
      serviceFrom({ address: '1.0.0.1' }),
      serviceFrom({ fwmark: 4294967295 }),
      serviceFrom({ fwmark: 1 }),
      serviceFrom({ address: '10.0.0.5', protocol: 17, scheduler: 'sh', flags: 0x1b, timeout: 60, netmask: 0xffff0000 }, [
        ({ address: '10.1.0.2' }),
        ({ address: '10.1.0.1', fwd: 3, weight: 0 }),
      ]),
    ];
    expect(formatIpvsadm(info, services)).toBe(
      'IP Virtual Server version 1.2.1 (size=4096)\n' +
        'Prot LocalAddress:Port Scheduler Flags\n' +
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
        'FWM  -1 rr\n' +
        'TCP  1.0.0.1:80 rr\n' +
        'TCP  10.0.0.1:80 rr\n' +
        'TCP  100.0.0.1:80 rr\n' +
        'UDP  10.0.0.5:80 sh (sh-fallback,sh-port) persistent 60 mask 255.255.0.0\n' +
        '  -> 10.1.0.1:8080                Route   0      0          0         \n' +
        '  -> 10.1.0.2:8080                Masq    1      0          0         \n' +
        'FWM  1 rr\n',
    );
  });

  it('connections as ipvsadm -Lnc prints them', () => {
    const text = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n' +
      'TCP 0AC80002 B6E2 0A60000A 0050 0AC90102 1F90 TIME_WAIT         119\n' +
      'UDP 20010DB8000000000000000000000002 0035 20010DB8000000000000000000000001 0035 20010DB8000000010000000000000005 14E9 UDP               299\n' +
      'UDP 0A000002 13C4 0A000001 13C4 0A010001 13C4 NONE              179 sip 1234@example\n';
    const conns = parseConnections(text.replace(/20010DB8000000000000000000000002/, '2001:0db8:0000:0000:0000:0000:0000:0002').replace(/20010DB8000000000000000000000001/, '2001:0db8:0000:0000:0000:0000:0000:0001').replace(/20010DB8000000010000000000000005/, '2001:0db8:0000:0001:0000:0000:0000:0005'));
    expect(conns).toEqual([
      { protocol: 'tcp', client: { address: '10.200.0.2', port: 46818 }, virtual: { address: '10.96.0.10', port: 80 }, destination: { address: '10.201.1.2', port: 8080 }, state: 'TIME_WAIT', expiresSeconds: 119 },
      { protocol: 'udp', client: { address: '2001:db8::2', port: 53 }, virtual: { address: '2001:db8::1', port: 53 }, destination: { address: '2001:db8:0:1::5', port: 5353 }, state: 'UDP', expiresSeconds: 299 },
      { protocol: 'udp', client: { address: '10.0.0.2', port: 5060 }, virtual: { address: '10.0.0.1', port: 5060 }, destination: { address: '10.1.0.1', port: 5060 }, state: 'NONE', expiresSeconds: 179, persistenceEngine: 'sip', persistenceData: '1234@example' },
    ]);
    expect(formatIpvsadmConnections(conns.slice(0, 1))).toBe(
      'IPVS connection entries\npro expire state       source             virtual            destination\nTCP 01:59  TIME_WAIT   10.200.0.2:46818   10.96.0.10:80      10.201.1.2:8080\n',
    );
  });
});
