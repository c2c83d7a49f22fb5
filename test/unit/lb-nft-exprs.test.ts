/**
 * The nftables mode's rules as kernel expressions, against what nft 1.0.6 emits for the same
 * statements (`nft --debug=netlink add rule inet kernlb svc-web ...`, shown above each case).
 */
import { describe, expect, it } from 'vitest';
import { ruleExprs } from '../../lib/lb/modes/nftables/backend';
import { nftStatements as st } from '../../lib/nft';

describe('lb nftables rule expressions', () => {
  it('numgen inc mod 2 < 1 meta l4proto tcp counter dnat ip to 10.244.1.2:8080', () => {
    // [ numgen reg 1 = inc mod 2 ] [ byteorder reg 1 = hton(reg 1, 4, 4) ] [ cmp lt reg 1 0x01000000 ]
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] [ counter pkts 0 bytes 0 ]
    // [ immediate reg 1 0x0201f40a ] [ immediate reg 2 0x0000901f ] [ nat dnat ip addr_min reg 1 proto_min reg 2 ]
    const e = ruleExprs(
      { pick: { kind: 'numgen', mode: 'inc', modulus: 2, lessThan: 1 }, target: { family: 'ipv4', protocol: 'tcp', address: '10.244.1.2', port: 8080 }, comment: 'c' },
      'ipv4',
    );
    expect(e.map((x) => x.type)).toEqual(['numgen', 'byteorder', 'cmp', 'meta', 'cmp', 'counter', 'immediate', 'immediate', 'nat']);
    expect(e[0]).toEqual({ type: 'numgen', dreg: 1, modulus: 2, ngType: 0, offset: 0 });
    expect(e[1]).toEqual({ type: 'byteorder', sreg: 1, dreg: 1, op: 1, len: 4, size: 4 });
    expect(e[2]).toEqual({ type: 'cmp', sreg: 1, op: 2, data: '00000001' });
    expect(e[4]).toEqual({ type: 'cmp', sreg: 1, op: 0, data: '06' });
    expect(e[6]).toEqual({ type: 'immediate', dreg: 1, data: '0af40102' });
    expect(e[7]).toEqual({ type: 'immediate', dreg: 2, data: '1f90' });
    // the same as the statement builder's dnat, which the nft subsystem tests against nft itself
    expect(e.slice(6)).toEqual(st.dnat({ family: 'ip', addr: '10.244.1.2', port: 8080 }));
  });

  it('jhash ip saddr mod 6 seed 0x6b6c6221 < 3 (with the nfproto dependency nft adds in inet tables)', () => {
    // [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] [ payload load 4b @ network header + 12 => reg 2 ]
    // [ hash reg 1 = jhash(reg 2, 4, 0x6b6c6221) % mod 6 ] [ byteorder reg 1 = hton(reg 1, 4, 4) ] [ cmp lt reg 1 0x03000000 ]
    const e = ruleExprs({ pick: { kind: 'jhash', modulus: 6, seed: 0x6b6c6221, lessThan: 3 }, comment: 'c' }, 'ipv4');
    expect(e.slice(0, 6)).toEqual([
      { type: 'meta', key: 15, dreg: 1 },
      { type: 'cmp', sreg: 1, op: 0, data: '02' },
      { type: 'payload', dreg: 2, base: 1, offset: 12, len: 4 },
      { type: 'hash', sreg: 2, dreg: 1, len: 4, modulus: 6, seed: 0x6b6c6221, hashType: 0 },
      { type: 'byteorder', sreg: 1, dreg: 1, op: 1, len: 4, size: 4 },
      { type: 'cmp', sreg: 1, op: 2, data: '00000003' },
    ]);
    expect(e[6]).toEqual({ type: 'counter', packets: 0, bytes: 0 });
  });

  it('IPv6 dnat matches the statement builder', () => {
    const e = ruleExprs({ target: { family: 'ipv6', protocol: 'udp', address: 'fd00::1:2', port: 5353 }, comment: 'c' }, 'ipv6');
    expect(e[1]).toEqual({ type: 'cmp', sreg: 1, op: 0, data: '11' });
    expect(e.slice(-3)).toEqual(st.dnat({ family: 'ip6', addr: 'fd00::1:2', port: 5353 }));
  });
});
