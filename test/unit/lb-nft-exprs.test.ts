/**
 * The nftables mode's service rule as kernel expressions (rules.ts), each case beside what nft
 * 1.0.6 emits for the same statement (`nft --debug=netlink -f` of the golden layout), so a listing
 * of kernlb's table and of nft's reads the same. The kernel tier (test/kernel/lb-nftables.test.ts)
 * compares whole listings.
 */
import { describe, expect, it } from 'vitest';
import { nftConstants } from '../../lib/nft';
import { compileService, nameHash, NFT_SHARDS } from '../../lib/lb/modes/nftables/compile';
import { serviceRule, serviceRuleExprs, shardMap } from '../../lib/lb/modes/nftables/rules';
import { validateState, type ServiceSpec } from '../../lib/lb/state';
import { Transaction } from '../../lib/nft/transaction';

const { CMP_OP, META_KEY, NUMGEN_TYPE, HASH_TYPE, NAT_TYPE, FAMILIES } = nftConstants;
const compiled = (s: Omit<ServiceSpec, 'name'>) => compileService(validateState({ services: [{ name: 'web', ...s }] }).services[0]!);

describe('lb nftables service rule expressions', () => {
  it('meta l4proto tcp dnat ip to numgen inc mod 2 . ip daddr . tcp dport map @ep-tcp4-K', () => {
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ]
    // [ numgen reg 1 = inc mod 2 ] [ payload load 4b @ network header + 16 => reg 9 ] [ payload load 2b @ transport header + 2 => reg 10 ]
    // [ lookup reg 1 set ep-tcp4-K dreg 1 ] [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
    const c = compiled({ vip: '10.96.0.10', port: 80, endpoints: [{ address: '10.244.1.2', port: 8080 }, { address: '10.244.1.3', port: 8080 }] });
    expect(c.map).toBe(`ep-tcp4-${nameHash('web') % NFT_SHARDS}`);
    expect(serviceRuleExprs(c)).toEqual([
      { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '06' },
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '02' },
      { type: 'numgen', dreg: 1, modulus: 2, ngType: NUMGEN_TYPE.inc, offset: 0 },
      { type: 'payload', dreg: 9, base: 1, offset: 16, len: 4 },
      { type: 'payload', dreg: 10, base: 2, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
      { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES.ip, regAddrMin: 1, regProtoMin: 9 },
    ]);
    expect(serviceRule(c).comment).toBe('service web rr');
  });

  it('meta l4proto udp dnat ip6 to numgen random mod 4 . ip6 daddr . udp dport map @ep-udp6-K (IPv6: VIP in 9..12, port 13; data port in 128-bit register 2)', () => {
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000011 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ]
    // [ numgen reg 1 = random mod 4 ] [ payload load 16b @ network header + 24 => reg 9 ] [ payload load 2b @ transport header + 2 => reg 13 ]
    // [ lookup reg 1 set ep-udp6-K dreg 1 ] [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
    const c = compiled({ protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'random', endpoints: [{ address: 'fd00::1:1', port: 5353, weight: 1 }, { address: 'fd00::1:2', port: 5353, weight: 3 }] });
    expect(c.map).toBe(`ep-udp6-${nameHash('web') % NFT_SHARDS}`);
    expect(serviceRuleExprs(c)).toEqual([
      { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '11' },
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '0a' },
      { type: 'numgen', dreg: 1, modulus: 4, ngType: NUMGEN_TYPE.random, offset: 0 },
      { type: 'payload', dreg: 9, base: 1, offset: 24, len: 16 },
      { type: 'payload', dreg: 13, base: 2, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
      { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES.ip6, regAddrMin: 1, regProtoMin: 2 },
    ]);
  });

  it('meta l4proto tcp dnat ip to jhash ip saddr mod 2 seed 0x6b6c6221 . ip daddr . tcp dport map @ep-tcp4-K', () => {
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ]
    // [ payload load 4b @ network header + 12 => reg 15 ] [ hash reg 1 = jhash(reg 15, 4, 0x6b6c6221) % mod 2 ]
    // [ payload load 4b @ network header + 16 => reg 9 ] [ payload load 2b @ transport header + 2 => reg 10 ]
    // [ lookup reg 1 set ep-tcp4-K dreg 1 ] [ nat dnat ip addr_min reg 1 proto_min reg 9 ]
    const c = compiled({ vip: '10.96.0.10', port: 80, scheduler: 'sh', endpoints: [{ address: '10.244.1.2', port: 8080 }, { address: '10.244.1.3', port: 8080 }] });
    expect(serviceRuleExprs(c)).toEqual([
      { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '06' },
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '02' },
      { type: 'payload', dreg: 15, base: 1, offset: 12, len: 4 },
      { type: 'hash', sreg: 15, dreg: 1, len: 4, modulus: 2, seed: 0x6b6c6221, hashType: HASH_TYPE.jenkins },
      { type: 'payload', dreg: 9, base: 1, offset: 16, len: 4 },
      { type: 'payload', dreg: 10, base: 2, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
      { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES.ip, regAddrMin: 1, regProtoMin: 9 },
    ]);
  });

  it('jhash over IPv6 sctp: saddr in 32-bit register 18 (after the key\'s 9..13), th dport', () => {
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000084 ] [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ]
    // [ payload load 16b @ network header + 8 => reg 18 ] [ hash reg 1 = jhash(reg 18, 16, 0x6b6c6221) % mod 1 ]
    // [ payload load 16b @ network header + 24 => reg 9 ] [ payload load 2b @ transport header + 2 => reg 13 ]
    // [ lookup reg 1 set ep-sctp6-K dreg 1 ] [ nat dnat ip6 addr_min reg 1 proto_min reg 2 ]
    const c = compiled({ protocol: 'sctp', vip: 'fd00::10', port: 80, scheduler: 'sh', endpoints: [{ address: 'fd00::1', port: 8080 }] });
    expect(c.map).toBe(`ep-sctp6-${nameHash('web') % NFT_SHARDS}`);
    expect(serviceRuleExprs(c)).toEqual([
      { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '84' },
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: '0a' },
      { type: 'payload', dreg: 18, base: 1, offset: 8, len: 16 },
      { type: 'hash', sreg: 18, dreg: 1, len: 16, modulus: 1, seed: 0x6b6c6221, hashType: HASH_TYPE.jenkins },
      { type: 'payload', dreg: 9, base: 1, offset: 24, len: 16 },
      { type: 'payload', dreg: 13, base: 2, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
      { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES.ip6, regAddrMin: 1, regProtoMin: 2 },
    ]);
  });

  it('the shard of a name is FNV-1a (32 bits) mod 1024: fixed, and spread', () => {
    // FNV-1a reference values: "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968
    expect([nameHash(''), nameHash('a'), nameHash('foobar')]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
    const used = new Set(Array.from({ length: 10000 }, (_, i) => nameHash(`svc-${i}`) % NFT_SHARDS));
    expect(used.size).toBeGreaterThan(1000);
  });

  it('no active endpoint: only `counter` (connections to the VIP are not translated)', () => {
    const c = compiled({ vip: '10.96.0.10', port: 80, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 0 }] });
    expect(serviceRuleExprs(c)).toEqual([{ type: 'counter', packets: 0, bytes: 0 }]);
  });

  it('the map and rule of every scheduler and family pass the transaction\'s validation', () => {
    const tx = new Transaction(async () => {});
    for (const [i, scheduler] of ['rr', 'wrr', 'random', 'sh'].entries())
      for (const v6 of [false, true]) {
        const c = compileService(validateState({ services: [{ name: `s${i}${v6 ? 6 : 4}`, vip: v6 ? 'fd00::10' : '10.0.0.1', port: 80, scheduler, endpoints: [{ address: v6 ? 'fd00::1' : '10.1.0.1', port: 1, weight: 2 }, { address: v6 ? 'fd00::2' : '10.1.0.2', port: 65535, weight: 0 }] }] }).services[0]!);
        tx.addChain({ family: 'inet', table: 'kernlb', name: c.chain });
        tx.addSet(shardMap(c.map, [c]));
        tx.addRule(serviceRule(c));
      }
    expect(tx.size).toBe(32); // chain, map, its elements, rule
  });
});
