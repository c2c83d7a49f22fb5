/**
 * The statement builder against the bytecode nft 1.0.6 generates for the same statement, as printed by
 * `nft --debug=netlink` (quoted above each case). The kernel tier (test/kernel/nft-builder) checks the
 * same thing end to end through the kernel and `nft list ruleset`.
 */
import { describe, expect, it } from 'vitest';
import { nftStatements as s, ValidationError } from '../../lib';

describe('nft statement builder', () => {
  it('ip saddr != 10.0.0.0/8: a byte-aligned prefix loads only its bytes', () => {
    // [ payload load 1b @ network header + 12 => reg 1 ] [ cmp neq reg 1 0x0000000a ]
    expect(s.match('ip saddr', '10.0.0.0/8', 'neq')).toEqual([
      { type: 'payload', dreg: 1, base: 1, offset: 12, len: 1 },
      { type: 'cmp', sreg: 1, op: 1, data: '0a' },
    ]);
  });

  it('ip saddr 10.0.0.0/9: an unaligned prefix is masked', () => {
    // [ payload load 4b @ network header + 12 => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x000080ff ) ^ 0x00000000 ] [ cmp eq reg 1 0x0000000a ]
    expect(s.match('ip saddr', '10.0.0.0/9')).toEqual([
      { type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 },
      { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: 'ff800000', xor: '00000000' },
      { type: 'cmp', sreg: 1, op: 0, data: '0a000000' },
    ]);
  });

  it('tcp dport 80 carries the meta l4proto dependency', () => {
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] [ payload load 2b @ transport header + 2 => reg 1 ] [ cmp eq reg 1 0x00005000 ]
    expect(s.match('tcp dport', 80)).toEqual([
      { type: 'meta', key: 16, dreg: 1 },
      { type: 'cmp', sreg: 1, op: 0, data: '06' },
      { type: 'payload', dreg: 1, base: 2, offset: 2, len: 2 },
      { type: 'cmp', sreg: 1, op: 0, data: '0050' },
    ]);
  });

  it('ip daddr . meta l4proto . th dport vmap @service-ips: concatenation in 32-bit registers', () => {
    // [ payload load 4b @ network header + 16 => reg 1 ] [ meta load l4proto => reg 9 ]
    // [ payload load 2b @ transport header + 2 => reg 10 ] [ lookup reg 1 set service-ips dreg 0 ]
    expect(s.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'service-ips')).toEqual([
      { type: 'payload', dreg: 1, base: 1, offset: 16, len: 4 },
      { type: 'meta', key: 16, dreg: 9 },
      { type: 'payload', dreg: 10, base: 2, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 0, set: 'service-ips' },
    ]);
  });

  it('dnat to ip daddr . tcp dport . numgen random mod 2 map @backends', () => {
    // [ payload load 4b @ network header + 16 => reg 1 ] [ payload load 2b @ transport header + 2 => reg 9 ]
    // [ numgen reg 10 = random mod 2 ] [ lookup reg 1 set backends dreg 1 ] [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
    expect(s.dnatMap(['ip daddr', 'th dport', { numgen: { mod: 2 } }], 'backends', { port: true })).toEqual([
      { type: 'payload', dreg: 1, base: 1, offset: 16, len: 4 },
      { type: 'payload', dreg: 9, base: 2, offset: 2, len: 2 },
      { type: 'numgen', dreg: 10, modulus: 2, ngType: 1, offset: 0 },
      { type: 'lookup', sreg: 1, dreg: 1, set: 'backends' },
      { type: 'nat', natType: 1, family: 2, regAddrMin: 1, regProtoMin: 9 },
    ]);
  });

  it('dnat to jhash ip saddr mod 2 map @m', () => {
    // [ payload load 4b @ network header + 12 => reg 2 ] [ hash reg 1 = jhash(reg 2, 4, 0x0) % mod 2 ]
    // [ lookup reg 1 set m dreg 1 ] [ nat dnat ip addr_min reg 1 ]
    expect(s.dnatMap({ jhash: { field: 'ip saddr', mod: 2 } }, 'm')).toEqual([
      { type: 'payload', dreg: 2, base: 1, offset: 12, len: 4 },
      { type: 'hash', sreg: 2, dreg: 1, len: 4, modulus: 2, seed: 0, hashType: 0 },
      { type: 'lookup', sreg: 1, dreg: 1, set: 'm' },
      { type: 'nat', natType: 1, family: 2, regAddrMin: 1 },
    ]);
  });

  it('meta l4proto tcp dnat to 10.180.0.1:80', () => {
    // [ immediate reg 1 0x0100b40a ] [ immediate reg 2 0x00005000 ] [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]
    expect(s.dnat({ addr: '10.180.0.1', port: 80 })).toEqual([
      { type: 'immediate', dreg: 1, data: '0ab40001' },
      { type: 'immediate', dreg: 2, data: '0050' },
      { type: 'nat', natType: 1, family: 2, regAddrMin: 1, regProtoMin: 2, flags: 2 },
    ]);
  });

  it('kube-proxy marks: or / and-compare / xor, and masquerade fully-random', () => {
    // [ meta load mark => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0xffffbfff ) ^ 0x00004000 ] [ meta set mark with reg 1 ]
    expect(s.markOr(0x4000)).toEqual([
      { type: 'meta', key: 3, dreg: 1 },
      { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: 'ffbfffff', xor: '00400000' },
      { type: 'meta', key: 3, sreg: 1 },
    ]);
    // [ bitwise reg 1 = ( reg 1 & 0x00004000 ) ^ 0x00000000 ] [ cmp eq reg 1 0x00000000 ]
    expect(s.markMasked(0x4000, 0)[1]).toEqual({ type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: '00400000', xor: '00000000' });
    // [ bitwise reg 1 = ( reg 1 & 0xffffffff ) ^ 0x00004000 ]
    expect(s.markXor(0x4000)[1]).toEqual({ type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: 'ffffffff', xor: '00400000' });
    // [ masq flags 0x10 ]
    expect(s.masquerade({ fullyRandom: true })).toEqual([{ type: 'masq', flags: 0x10 }]);
  });

  it('ct state established,related accept; update @affinity { ip saddr }; counter name "x"', () => {
    // [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ] [ cmp neq reg 1 0x00000000 ]
    expect(s.ctState(['established', 'related'])).toEqual([
      { type: 'ct', key: 0, dreg: 1 },
      { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: '06000000', xor: '00000000' },
      { type: 'cmp', sreg: 1, op: 1, data: '00000000' },
    ]);
    // [ payload load 4b @ network header + 12 => reg 1 ] [ dynset update reg_key 1 set affinity ]
    expect(s.updateSet('affinity', 'ip saddr')[1]).toEqual({ type: 'dynset', sregKey: 1, op: 1, set: 'affinity' });
    // [ objref type 1 name x ]
    expect(s.counterRef('x')).toEqual([{ type: 'objref', objType: 1, name: 'x' }]);
    // [ immediate reg 0 goto -> endpoint ]
    expect(s.goto('endpoint')).toEqual([{ type: 'immediate', dreg: 0, verdict: -4, chain: 'endpoint' }]);
  });

  it('rejects values that do not fit the field, naming it', () => {
    expect(() => s.match('tcp dport', 70000)).toThrow(ValidationError);
    expect(() => s.match('ip daddr', 'not-an-ip')).toThrow(/ip daddr/);
    expect(() => s.match('ip daddr', '10.0.0.0/33')).toThrow(/prefix/);
    expect(() => s.ctState(['bogus' as never])).toThrow(/unknown state/);
    expect(() => s.match('ether type' as never, 1)).toThrow(/unknown field/);
  });
});
