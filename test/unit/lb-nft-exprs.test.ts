/**
 * The nftables mode's rules as kernel expressions. `referenceExprs` states them as expression
 * objects, checked against what nft 1.0.6 emits for the same statements (`nft --debug=netlink add
 * rule inet kernlb svc-web ...`, shown above each case). The mode itself writes them packed, without
 * the objects (packed-rules.ts): its bytes must be exactly what addRule packs for the reference.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native';
import { nftConstants, nftStatements as st, type NftExpr } from '../../lib/nft';
import { appendPackedRules, Transaction } from '../../lib/nft/transaction';
import { compileService, NFT_FAMILY, NFT_TABLE, type NftServiceChain, type NftServiceRule } from '../../lib/lb/modes/nftables/compile';
import { writeServiceRules } from '../../lib/lb/modes/nftables/packed-rules';
import { validateState, type DesiredState } from '../../lib/lb/state';
import { parseAddress } from '../../lib/lb/address';

const { CMP_OP, META_KEY, NUMGEN_TYPE, HASH_TYPE, NAT_TYPE, NAT_FLAG, FAMILIES } = nftConstants;
const hex32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** `meta nfproto ipv4|ipv6`: the dependency nft adds before ip/ip6 payloads in an inet table. */
const nfproto = (f: 'ipv4' | 'ipv6'): NftExpr[] => [
  { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
  { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: f === 'ipv4' ? '02' : '0a' },
];

/** A service rule as expression objects (what the mode committed through addRule before it packed them itself). */
function referenceExprs(r: NftServiceRule, family: 'ipv4' | 'ipv6'): NftExpr[] {
  const out: NftExpr[] = [];
  const p = r.pick;
  if (p) {
    if (p.kind === 'numgen') out.push({ type: 'numgen', dreg: 1, modulus: p.modulus, ngType: NUMGEN_TYPE[p.mode], offset: 0 });
    else {
      out.push(...nfproto(family));
      out.push(family === 'ipv4' ? { type: 'payload', dreg: 2, base: 1, offset: 12, len: 4 } : { type: 'payload', dreg: 2, base: 1, offset: 8, len: 16 });
      out.push({ type: 'hash', sreg: 2, dreg: 1, len: family === 'ipv4' ? 4 : 16, modulus: p.modulus, seed: p.seed, hashType: HASH_TYPE.jenkins });
    }
    out.push({ type: 'byteorder', sreg: 1, dreg: 1, op: 1, len: 4, size: 4 });
    out.push({ type: 'cmp', sreg: 1, op: CMP_OP.lt, data: hex32(p.lessThan) });
  }
  const t = r.target;
  if (t) {
    out.push({ type: 'meta', key: META_KEY.l4proto, dreg: 1 }, { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: { tcp: '06', udp: '11', sctp: '84' }[t.protocol] });
    out.push(...st.counter());
    out.push(
      { type: 'immediate', dreg: 1, data: parseAddress(t.address)!.bytes.toString('hex') },
      { type: 'immediate', dreg: 2, data: t.port.toString(16).padStart(4, '0') },
      { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES[t.family === 'ipv4' ? 'ip' : 'ip6'], regAddrMin: 1, regProtoMin: 2, flags: NAT_FLAG.protoSpecified },
    );
  } else out.push(...st.counter());
  return out;
}

describe('lb nftables rule expressions', () => {
  it('numgen inc mod 2 < 1 meta l4proto tcp counter dnat ip to 10.244.1.2:8080', () => {
    // [ numgen reg 1 = inc mod 2 ] [ byteorder reg 1 = hton(reg 1, 4, 4) ] [ cmp lt reg 1 0x01000000 ]
    // [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] [ counter pkts 0 bytes 0 ]
    // [ immediate reg 1 0x0201f40a ] [ immediate reg 2 0x0000901f ] [ nat dnat ip addr_min reg 1 proto_min reg 2 ]
    const e = referenceExprs(
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
    const e = referenceExprs({ pick: { kind: 'jhash', modulus: 6, seed: 0x6b6c6221, lessThan: 3 }, comment: 'c' }, 'ipv4');
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
    const e = referenceExprs({ target: { family: 'ipv6', protocol: 'udp', address: 'fd00::1:2', port: 5353 }, comment: 'c' }, 'ipv6');
    expect(e[1]).toEqual({ type: 'cmp', sreg: 1, op: 0, data: '11' });
    expect(e.slice(-3)).toEqual(st.dnat({ family: 'ip6', addr: 'fd00::1:2', port: 5353 }));
  });
});

describe('lb nftables rules packed without expression objects', () => {
  const noCommit = async () => {};
  /** The packed run and the netlink batch of `chains`' rules, written by `add`. */
  function encoded(chains: NftServiceChain[], add: (tx: Transaction, c: NftServiceChain) => void) {
    const tx = new Transaction(noCommit);
    for (const c of chains) add(tx, c);
    const items = tx.items();
    return { size: tx.size, packed: items.map((i) => (i.kind === 'packed' ? i.packed : Buffer.alloc(0))), batch: native().nft.encodeBatch(items as never, {}).buffer };
  }
  const byObjects = (tx: Transaction, c: NftServiceChain) => {
    for (const r of c.rules) tx.addRule({ family: NFT_FAMILY, table: NFT_TABLE, chain: c.chain, exprs: referenceExprs(r, c.dispatch.family), comment: r.comment });
  };
  const packed = (tx: Transaction, c: NftServiceChain) => appendPackedRules(tx, c.rules.length, (w) => writeServiceRules(w, c));

  /** Every rule shape: each scheduler, both families, each protocol, weight-0 and single endpoints, ports at their limits. */
  function variety(): NftServiceChain[] {
    const services: DesiredState['services'] = [];
    const schedulers = ['rr', 'wrr', 'random', 'sh'] as const;
    const protocols = ['tcp', 'udp', 'sctp'] as const;
    let n = 0;
    for (const scheduler of schedulers)
      for (const protocol of protocols)
        for (const v6 of [false, true])
          for (const count of [1, 2, 5]) {
            n++;
            services.push({
              name: `s-${scheduler}-${protocol}-${v6 ? 6 : 4}-${count}`,
              protocol,
              vip: v6 ? `fd00:96::${n.toString(16)}` : `10.96.${n >> 8}.${n & 255}`,
              port: n === 1 ? 1 : n === 2 ? 65535 : 80 + n,
              scheduler,
              ...(scheduler === 'sh' && n % 2 ? { persistence: { timeout: 300 } } : {}),
              endpoints: Array.from({ length: count }, (_, j) => ({
                address: v6 ? `fd00:244:${j}::${(n * 7 + j).toString(16)}` : `10.${244 + (j % 3)}.${n}.${j * 40 + 1}`,
                port: j === 0 ? 65535 : j === 1 ? 1 : 8000 + j * 1000 + n,
                weight: count > 2 && j === 1 ? 0 : j * 3 + 1,
              })),
            });
          }
    return validateState({ services }).services.map(compileService);
  }

  it('writes exactly the bytes addRule packs for the reference expressions, and native builds the same batch', () => {
    const chains = variety();
    const rules = chains.reduce((s, c) => s + c.rules.length, 0);
    expect(rules).toBeGreaterThan(200);
    // (every shape is there: the header, numgen inc and random, jhash, the last endpoint, weight 0)
    const kinds = new Set(chains.flatMap((c) => c.rules.map((r) => `${r.pick?.kind === 'numgen' ? r.pick.mode : r.pick?.kind ?? '-'}/${r.target ? r.target.family : 'none'}`)));
    expect([...kinds].sort()).toEqual(['-/ipv4', '-/ipv6', '-/none', 'inc/ipv4', 'inc/ipv6', 'jhash/ipv4', 'jhash/ipv6', 'random/ipv4', 'random/ipv6']);
    const a = encoded(chains, packed), b = encoded(chains, byObjects);
    expect(a.size).toBe(rules);
    expect(b.size).toBe(rules);
    expect(Buffer.concat(a.packed).equals(Buffer.concat(b.packed))).toBe(true);
    expect(a.batch.equals(b.batch)).toBe(true);
  });

  it('keeps a comment that is not ASCII through the general userdata path', () => {
    const [c] = variety();
    const odd: NftServiceChain = { ...c!, rules: c!.rules.map((r, i) => ({ ...r, comment: i === 0 ? 'service ünïcode' : r.comment })) };
    expect(encoded([odd], packed).batch.equals(encoded([odd], byObjects).batch)).toBe(true);
  });

  it('keeps nothing of a write that throws, and the transaction goes on', () => {
    const chains = variety().slice(0, 3);
    const tx = new Transaction(noCommit);
    packed(tx, chains[0]!);
    expect(() => appendPackedRules(tx, 1, (w) => {
      w.u8(1);
      throw new Error('half-written');
    })).toThrow('half-written');
    packed(tx, chains[1]!);
    const ref = encoded([chains[0]!, chains[1]!], byObjects);
    expect(tx.size).toBe(ref.size);
    expect(native().nft.encodeBatch(tx.items() as never, {}).buffer.equals(ref.batch)).toBe(true);
  });
});
