/**
 * The nftables mode's kernel objects for one service (compile.ts gives the layout): its slot map
 * and its one rule, as the expressions nft 1.0.6 emits for the same statements
 * (`nft --debug=netlink`; test/unit/lb-nft-exprs.test.ts shows each case beside nft's output).
 */
import { nftConstants, type NftExpr, type NftRule, type NftSet, type NftSetRef } from '../../../nft';
import { NFT_FAMILY, NFT_TABLE, typeofModulus, type NftServiceChain, type NftSlotElement } from './compile';

const { CMP_OP, META_KEY, NUMGEN_TYPE, HASH_TYPE, NAT_TYPE, FAMILIES, PAYLOAD_BASE } = nftConstants;
const T = { family: NFT_FAMILY, table: NFT_TABLE } as const;
const L4 = { tcp: '06', udp: '11', sctp: '84' } as const;

/** `meta l4proto P dnat ip|ip6 addr . port to <pick> map @ep-NAME comment "..."` (or `counter` when no endpoint is active). */
export function serviceRuleExprs(c: NftServiceChain): NftExpr[] {
  if (!c.slots) return [{ type: 'counter', packets: 0, bytes: 0 }];
  const v4 = c.dispatch.family === 'ipv4';
  const out: NftExpr[] = [
    { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
    { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: L4[c.dispatch.protocol] },
  ];
  if (c.pick.kind === 'numgen') out.push({ type: 'numgen', dreg: 1, modulus: c.slots, ngType: NUMGEN_TYPE[c.pick.mode], offset: 0 });
  else
    out.push(
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: v4 ? '02' : '0a' },
      { type: 'payload', dreg: 2, base: PAYLOAD_BASE.network, offset: v4 ? 12 : 8, len: v4 ? 4 : 16 },
      { type: 'hash', sreg: 2, dreg: 1, len: v4 ? 4 : 16, modulus: c.slots, seed: c.pick.seed, hashType: HASH_TYPE.jenkins },
    );
  out.push(
    { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
    // (the port follows the address: 32-bit register 9 after an IPv4 address, 128-bit register 2 after IPv6, as nft numbers them)
    { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES[v4 ? 'ip' : 'ip6'], regAddrMin: 1, regProtoMin: v4 ? 9 : 2 },
  );
  return out;
}

export function serviceRule(c: NftServiceChain): NftRule {
  return { ...T, chain: c.chain, exprs: serviceRuleExprs(c), comment: c.comment };
}

function slotElement(e: NftSlotElement) {
  return { key: e.key, data: [e.address, e.port], counter: { packets: 0, bytes: 0 }, ...(e.comment ? { comment: e.comment } : {}) };
}

export function slotMapTypeof(c: NftServiceChain): NonNullable<NftSet['typeof']> {
  const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
  return { key: { numgen: { mod: typeofModulus(c), type: 'inc' } }, data: [`${ip} daddr`, portField(c)] };
}

/**
 * The port half of the map's data as nft names it: `tcp dport` / `udp dport` (nft 1.0.6 refuses a
 * later rule `meta l4proto tcp dnat ... map @m` when m's data says `th dport`: "conflicting
 * protocols specified: tcp vs. th"); kernlb has no typed sctp field, so sctp keeps `th dport`.
 */
export function portField(c: NftServiceChain): 'tcp dport' | 'udp dport' | 'th dport' {
  const p = c.dispatch.protocol;
  return p === 'tcp' ? 'tcp dport' : p === 'udp' ? 'udp dport' : 'th dport';
}

export function slotMap(c: NftServiceChain): NftSet {
  return {
    ...T,
    name: c.map,
    typeof: slotMapTypeof(c),
    exprs: [{ type: 'counter', packets: 0, bytes: 0 }],
    ...(c.elements.length ? { elements: c.elements.map(slotElement) } : {}),
  };
}

export function slotMapRef(c: NftServiceChain): NftSetRef {
  return { ...T, set: c.map, typeof: slotMapTypeof(c) };
}

export function slotElements(els: readonly NftSlotElement[]) {
  return els.map(slotElement);
}
