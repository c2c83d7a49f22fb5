/**
 * IPVS genl codec against golden bytes (no privileges, no IPVS needed). Expected messages are built
 * here from <linux/ip_vs.h> with a tiny independent attribute builder; each case names the ipvsadm
 * command that asks the kernel for the same thing.
 */
import { describe, expect, it } from 'vitest';
import { DestWord, servicesFromListing, SvcWord } from '../../lib/ipvs/packed';
import { native, type NativeIpvsOp } from '../../lib/native';

const FAM = 0x24; // any family id: the kernel assigns IPVS's at module load
const REQ_ACK = 0x5;

function u8(v: number) { return Buffer.from([v]); }
function u16(v: number) { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; }
function be16(v: number) { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; }
function u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; }
function be32(v: number) { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; }
function u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; }
function str(s: string) { return Buffer.from(s + '\0'); }
function addr16(bytes: number[]) { const b = Buffer.alloc(16); Buffer.from(bytes).copy(b); return b; }
function pad4(b: Buffer) { return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]); }
function nla(type: number, payload: Buffer) {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + payload.length, 0);
  h.writeUInt16LE(type, 2);
  return pad4(Buffer.concat([h, payload]));
}
function nest(type: number, ...children: Buffer[]) { return nla(type | 0x8000, Buffer.concat(children)); }
function msg(cmd: number, attrs: Buffer[], flags = REQ_ACK, type = FAM) {
  const body = Buffer.concat([Buffer.from([cmd, 1, 0, 0]), ...attrs]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  return Buffer.concat([h, body]);
}
const encode = (op: NativeIpvsOp) => native().ipvs.encode(op, FAM);

// Attribute numbers from <linux/ip_vs.h>
const CMD = { SERVICE: 1, DEST: 2, DAEMON: 3, TCP: 4, TCP_FIN: 5, UDP: 6 };
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE: 11, STATS64: 12 };
const DST = { ADDR: 1, PORT: 2, FWD: 3, WEIGHT: 4, U: 5, L: 6, ACTIVE: 7, INACT: 8, PERSIST: 9, STATS: 10, AF: 11, STATS64: 12, TUN_TYPE: 13, TUN_PORT: 14, TUN_FLAGS: 15 };
const svcTcp = (a: number[], port: number) => [nla(SVC.AF, u16(2)), nla(SVC.PROTOCOL, u16(6)), nla(SVC.ADDR, addr16(a)), nla(SVC.PORT, be16(port))];
const flags = (f: number) => Buffer.concat([u32(f), u32(0xffffffff)]);

describe('IPVS codec: requests', () => {
  it('ipvsadm -A -t 10.0.0.1:80 -s rr', () => {
    const got = encode({ cmd: 1, service: { family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff } });
    const want = msg(1, [nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80), nla(SVC.SCHED, str('rr')), nla(SVC.FLAGS, flags(0)), nla(SVC.TIMEOUT, u32(0)), nla(SVC.NETMASK, be32(0xffffffff)))]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm -A -t 10.0.0.1:80 -s sh -b sh-fallback,sh-port -p 300 -M 255.255.255.0 --pe sip: IPv4 mask big-endian, flags with a full mask', () => {
    const got = encode({ cmd: 1, service: { family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'sh', flags: 0x19, timeout: 300, netmask: 0xffffff00, pe: 'sip' } });
    const want = msg(1, [nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80), nla(SVC.SCHED, str('sh')), nla(SVC.PE, str('sip')), nla(SVC.FLAGS, flags(0x19)), nla(SVC.TIMEOUT, u32(300)), nla(SVC.NETMASK, Buffer.from([255, 255, 255, 0])))]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm -A -f 7 -6 -s mh -b mh-port -p 60 -M 64: fwmark identity, IPv6 prefix as a native-endian u32', () => {
    const got = encode({ cmd: 1, service: { family: 10, fwmark: 7, scheduler: 'mh', flags: 0x11, timeout: 60, netmask: 64 } });
    const want = msg(1, [nest(CMD.SERVICE, nla(SVC.AF, u16(10)), nla(SVC.FWMARK, u32(7)), nla(SVC.SCHED, str('mh')), nla(SVC.FLAGS, flags(0x11)), nla(SVC.TIMEOUT, u32(60)), nla(SVC.NETMASK, u32(64)))]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm -D -u [2001:db8::1]:53: identity only, 16-byte address', () => {
    const got = encode({ cmd: 3, service: { family: 10, protocol: 17, address: '2001:db8::1', port: 53 } });
    const a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const want = msg(3, [nest(CMD.SERVICE, nla(SVC.AF, u16(10)), nla(SVC.PROTOCOL, u16(17)), nla(SVC.ADDR, addr16(a)), nla(SVC.PORT, be16(53)))]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm -a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 3 -x 100 -y 10: service identity + destination', () => {
    const got = encode({ cmd: 5, service: { family: 2, protocol: 6, address: '10.0.0.1', port: 80 }, dest: { family: 2, address: '10.1.0.2', port: 8080, fwd: 0, weight: 3, upperThreshold: 100, lowerThreshold: 10 } });
    const want = msg(5, [
      nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80)),
      nest(CMD.DEST, nla(DST.ADDR, addr16([10, 1, 0, 2])), nla(DST.PORT, be16(8080)), nla(DST.AF, u16(2)), nla(DST.FWD, u32(0)), nla(DST.WEIGHT, u32(3)), nla(DST.U, u32(100)), nla(DST.L, u32(10))),
    ]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm -a -t 10.0.0.1:80 -r 10.1.0.3:8080 -i --tun-type gue --tun-port 6080 --tun-csum: tunnel attributes', () => {
    const got = encode({ cmd: 5, service: { family: 2, protocol: 6, address: '10.0.0.1', port: 80 }, dest: { family: 2, address: '10.1.0.3', port: 8080, fwd: 2, weight: 1, upperThreshold: 0, lowerThreshold: 0, tunType: 1, tunPort: 6080, tunFlags: 1 } });
    const want = msg(5, [
      nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80)),
      nest(CMD.DEST, nla(DST.ADDR, addr16([10, 1, 0, 3])), nla(DST.PORT, be16(8080)), nla(DST.AF, u16(2)), nla(DST.FWD, u32(2)), nla(DST.WEIGHT, u32(1)),
        nla(DST.TUN_TYPE, u8(1)), nla(DST.TUN_PORT, be16(6080)), nla(DST.TUN_FLAGS, u16(1)), nla(DST.U, u32(0)), nla(DST.L, u32(0))),
    ]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 5 --sync-maxlen 1400 --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 2', () => {
    const got = encode({ cmd: 9, daemon: { state: 2, ifname: 'eth0', syncId: 5, syncMaxLen: 1400, group: '224.0.0.81', port: 8848, ttl: 2 } });
    const want = msg(9, [nest(CMD.DAEMON, nla(1, u32(2)), nla(2, str('eth0')), nla(3, u32(5)), nla(4, u16(1400)), nla(5, Buffer.from([224, 0, 0, 81])), nla(7, u16(8848)), nla(8, u8(2)))]);
    expect(got.toString('hex')).toBe(want.toString('hex'));
  });

  it('ipvsadm --set 900 120 300, ipvsadm -C, ipvsadm -Z', () => {
    expect(encode({ cmd: 12, timeouts: { tcp: 900, tcpFin: 120, udp: 300 } }).toString('hex')).toBe(msg(12, [nla(CMD.TCP, u32(900)), nla(CMD.TCP_FIN, u32(120)), nla(CMD.UDP, u32(300))]).toString('hex'));
    expect(encode({ cmd: 17 }).toString('hex')).toBe(msg(17, []).toString('hex'));
    expect(encode({ cmd: 16 }).toString('hex')).toBe(msg(16, []).toString('hex'));
  });

  it('rejects what it cannot encode with a TypeError, never a crash', () => {
    expect(() => encode({ cmd: 1, service: { family: 2, protocol: 6, address: 'not-an-ip', port: 80 } })).toThrow(TypeError);
    expect(() => encode({ cmd: 99 })).toThrow(/unknown command/);
    expect(() => encode({ cmd: 5, service: { family: 2, fwmark: 1 }, dest: { family: 10, address: '10.0.0.1', port: 1, fwd: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0 } })).toThrow(TypeError);
  });
});

describe('IPVS codec: replies', () => {
  const stats = (conns: number, wide: boolean) => {
    const v = wide ? u64 : u32;
    const attrs = [nla(1, v(conns)), nla(2, v(10)), nla(3, v(9)), nla(4, v(1000)), nla(5, v(900)), nla(6, v(1)), nla(7, v(2)), nla(8, v(3)), nla(9, v(4)), nla(10, v(5))];
    return wide ? attrs.flatMap((a) => [nla(11, Buffer.alloc(0)), a]) : attrs; // STATS64 pads with IPVS_STATS_ATTR_PAD
  };

  it('a service as the kernel dumps it: 64-bit stats win over 32-bit, HASHED kept in flags, mask decoded', () => {
    const reply = msg(1, [nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80), nla(SVC.SCHED, str('wrr')), nla(SVC.FLAGS, flags(0x3)), nla(SVC.TIMEOUT, u32(300)),
      nla(SVC.NETMASK, Buffer.from([255, 255, 0, 0])), nest(SVC.STATS, ...stats(7, false)), nest(SVC.STATS64, ...stats(5_000_000_000, true)))], 0x2);
    const [r] = native().ipvs.decode(reply);
    expect(r).toMatchObject({ kind: 'service', family: 2, protocol: 6, address: '10.0.0.1', port: 80, scheduler: 'wrr', flags: 3, timeout: 300, netmask: 0xffff0000 });
    expect(r!.kind === 'service' && r.stats).toEqual({ connections: 5_000_000_000, packetsIn: 10, packetsOut: 9, bytesIn: 1000, bytesOut: 900, rates: { connections: 1, packetsIn: 2, packetsOut: 3, bytesIn: 4, bytesOut: 5 } });
  });

  it('a destination with counters, tunnel fields and an older kernel\'s 32-bit stats only', () => {
    const reply = msg(5, [nest(CMD.DEST, nla(DST.ADDR, addr16([10, 1, 0, 2])), nla(DST.PORT, be16(8080)), nla(DST.FWD, u32(2)), nla(DST.WEIGHT, u32(4)), nla(DST.U, u32(0)), nla(DST.L, u32(0)),
      nla(DST.ACTIVE, u32(3)), nla(DST.INACT, u32(2)), nla(DST.PERSIST, u32(1)), nest(DST.STATS, ...stats(42, false)), nla(DST.TUN_TYPE, u8(2)), nla(DST.TUN_PORT, be16(0)), nla(DST.TUN_FLAGS, u16(1)))], 0x2);
    const [r] = native().ipvs.decode(reply);
    expect(r).toMatchObject({ kind: 'dest', family: 2, address: '10.1.0.2', port: 8080, fwd: 2, weight: 4, activeConns: 3, inactConns: 2, persistConns: 1, tunType: 2, tunPort: 0, tunFlags: 1 });
    expect(r!.kind === 'dest' && r.stats.connections).toBe(42);
  });

  it('GET_INFO and GET_CONFIG replies (SET_INFO / SET_CONFIG commands), and a daemon', () => {
    const info = msg(14, [nla(1, u32(0x010201)), nla(2, u32(4096))], 0);
    const cfg = msg(12, [nla(CMD.TCP, u32(900)), nla(CMD.TCP_FIN, u32(120)), nla(CMD.UDP, u32(300))], 0);
    const dmn = msg(9, [nest(CMD.DAEMON, nla(1, u32(1)), nla(2, str('eth0')), nla(3, u32(9)), nla(6, addr16([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51])), nla(7, u16(8848)), nla(8, u8(1)))], 0);
    expect(native().ipvs.decode(Buffer.concat([info, cfg, dmn]))).toEqual([
      { kind: 'info', version: 0x010201, connTabSize: 4096 },
      { kind: 'config', tcp: 900, tcpFin: 120, udp: 300 },
      { kind: 'daemon', state: 1, ifname: 'eth0', syncId: 9, syncMaxLen: 0, group: 'ff02::51', port: 8848, ttl: 1 },
    ]);
  });
});

describe('IPVS codec: packed listings (what listServices decodes)', () => {
  const stats = (conns: number, wide: boolean) => {
    const v = wide ? u64 : u32;
    const attrs = [nla(1, v(conns)), nla(2, v(10)), nla(3, v(9)), nla(4, v(1000)), nla(5, v(900)), nla(6, v(1)), nla(7, v(2)), nla(8, v(3)), nla(9, v(4)), nla(10, v(5))];
    return wide ? attrs.flatMap((a) => [nla(11, Buffer.alloc(0)), a]) : attrs;
  };
  const svc6 = (port: number) => [nla(SVC.AF, u16(10)), nla(SVC.PROTOCOL, u16(17)), nla(SVC.ADDR, addr16([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), nla(SVC.PORT, be16(port))];
  const dest = (a: number[], ...more: Buffer[]) => msg(5, [nest(CMD.DEST, nla(DST.ADDR, addr16(a)), nla(DST.PORT, be16(53)), nla(DST.FWD, u32(0)), nla(DST.WEIGHT, u32(1)), nla(DST.U, u32(0)), nla(DST.L, u32(0)), ...more)], 0x2);

  it('services in dump order, each with its own destinations; 64-bit counters exact beyond 2^32; IPv6 text as inet_ntop', () => {
    const replies = Buffer.concat([
      msg(1, [nest(CMD.SERVICE, ...svcTcp([10, 0, 0, 1], 80), nla(SVC.SCHED, str('wrr')), nla(SVC.FLAGS, flags(0x3)), nla(SVC.TIMEOUT, u32(300)),
        nla(SVC.NETMASK, Buffer.from([255, 255, 0, 0])), nest(SVC.STATS, ...stats(7, false)), nest(SVC.STATS64, ...stats(5_000_000_000, true)))], 0x2),
      dest([10, 1, 0, 2], nla(DST.AF, u16(2)), nla(DST.ACTIVE, u32(3)), nest(DST.STATS, ...stats(42, false))),
      dest([10, 1, 0, 3], nla(DST.AF, u16(2))),
      // ipvsadm -A -u [2001:db8::1]:53 -s wlc: an older kernel's destination without ADDR_FAMILY is of the service's family
      msg(1, [nest(CMD.SERVICE, ...svc6(53), nla(SVC.SCHED, str('wlc')), nla(SVC.FLAGS, flags(0x2)), nla(SVC.TIMEOUT, u32(0)), nla(SVC.NETMASK, u32(128)))], 0x2),
      dest([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
      dest([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 9], nla(DST.AF, u16(10))),
    ]);
    const l = native().ipvs.pack(replies);
    expect(l.services).toBe(2);
    expect(l.buffer.byteLength).toBe((2 * SvcWord.size + 4 * DestWord.size) * 4);
    const [a, b] = servicesFromListing(l);
    expect(a).toMatchObject({ protocol: 'tcp', address: '10.0.0.1', port: 80, family: 'inet', scheduler: 'wrr', persistence: { timeout: 300, netmask: '255.255.0.0' } });
    expect(a!.stats).toEqual({ connections: 5_000_000_000, packetsIn: 10, packetsOut: 9, bytesIn: 1000, bytesOut: 900, rates: { connections: 1, packetsIn: 2, packetsOut: 3, bytesIn: 4, bytesOut: 5 } });
    expect(a!.destinations.map((d) => [d.address, d.activeConnections, d.stats.connections])).toEqual([['10.1.0.2', 3, 42], ['10.1.0.3', 0, 0]]);
    expect(b).toMatchObject({ protocol: 'udp', address: '2001:db8::1', port: 53, family: 'inet6', scheduler: 'wlc' });
    expect(b!.persistence).toBeUndefined();
    expect(b!.destinations.map((d) => [d.address, d.family, d.port])).toEqual([['2001:db8:1::5', 'inet6', 53], ['::ffff:10.1.0.9', 'inet6', 53]]);
  });

  it('an empty listing, and a service without destinations', () => {
    expect(servicesFromListing(native().ipvs.pack(Buffer.alloc(0)))).toEqual([]);
    const [s] = servicesFromListing(native().ipvs.pack(msg(1, [nest(CMD.SERVICE, nla(SVC.AF, u16(2)), nla(SVC.FWMARK, u32(7)), nla(SVC.SCHED, str('rr')), nla(SVC.FLAGS, flags(2)), nla(SVC.TIMEOUT, u32(0)), nla(SVC.NETMASK, be32(0xffffffff)))], 0x2)));
    expect(s).toEqual({ fwmark: 7, family: 'inet', scheduler: 'rr', schedulerFlags: [], onePacket: false, stats: expect.any(Object), destinations: [] });
  });
});
