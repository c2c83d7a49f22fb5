/**
 * The nftables mode's kernel objects for one service (compile.ts gives the layout): its slots in
 * its shard map and its one rule, as the expressions nft 1.0.6 emits for the same statements
 * (`nft --debug=netlink`; test/unit/lb-nft-exprs.test.ts shows each case beside nft's output).
 */
import { nftConstants, type NftExpr, type NftRule, type NftSet, type NftSetRef } from '../../../nft';
import { NFT_FAMILY, NFT_TABLE, portField, SHARD_TYPEOF_MOD, type NftServiceChain, type NftSlotElement } from './compile';

const { CMP_OP, META_KEY, NUMGEN_TYPE, HASH_TYPE, NAT_TYPE, FAMILIES, PAYLOAD_BASE, DYNSET_OP } = nftConstants;
const T = { family: NFT_FAMILY, table: NFT_TABLE } as const;
const L4 = { tcp: '06', udp: '11', sctp: '84' } as const;

/**
 * `meta l4proto P dnat ip|ip6 to <pick> . ip daddr . tcp dport map @ep-tcp4-K comment "..."` (or
 * `counter` when no endpoint is active): the slot, the VIP and the port make the key of the shard map.
 */
export function serviceRuleExprs(c: NftServiceChain): NftExpr[] {
  if (!c.slots) return [{ type: 'counter', packets: 0, bytes: 0 }];
  const v4 = c.dispatch.family === 'ipv4';
  const alen = v4 ? 4 : 16;
  // (nft adds the nfproto dependency for the ip/ip6 payloads of the key whatever the pick)
  const out: NftExpr[] = [
    { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
    { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: L4[c.dispatch.protocol] },
    { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
    { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: v4 ? '02' : '0a' },
  ];
  if (c.pick.kind === 'numgen') out.push({ type: 'numgen', dreg: 1, modulus: c.slots, ngType: NUMGEN_TYPE[c.pick.mode], offset: 0 });
  else {
    // the source address goes to the 32-bit register after the key's (15 after 9..10, 18 after 9..13), as nft allocates them
    const src = v4 ? 15 : 18;
    out.push(
      { type: 'payload', dreg: src, base: PAYLOAD_BASE.network, offset: v4 ? 12 : 8, len: alen },
      { type: 'hash', sreg: src, dreg: 1, len: alen, modulus: c.slots, seed: c.pick.seed, hashType: HASH_TYPE.jenkins },
    );
  }
  out.push(
    // the key's concatenation: slot in 32-bit register 8 (= reg 1), the VIP from 9, the port after it
    { type: 'payload', dreg: 9, base: PAYLOAD_BASE.network, offset: v4 ? 16 : 24, len: alen },
    { type: 'payload', dreg: v4 ? 10 : 13, base: PAYLOAD_BASE.transport, offset: 2, len: 2 },
    { type: 'lookup', sreg: 1, dreg: 1, set: c.map },
    // (the data's port follows the address: 32-bit register 9 after an IPv4 address, 128-bit register 2 after IPv6)
    { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES[v4 ? 'ip' : 'ip6'], regAddrMin: 1, regProtoMin: v4 ? 9 : 2 },
  );
  return out;
}

export function serviceRule(c: NftServiceChain): NftRule {
  return { ...T, chain: c.chain, exprs: serviceRuleExprs(c), comment: c.comment };
}

function slotElement(c: NftServiceChain, e: NftSlotElement) {
  return { key: [e.key, c.dispatch.vip, c.dispatch.port], data: [e.address, e.port], counter: { packets: 0, bytes: 0 }, ...(e.comment ? { comment: e.comment } : {}) };
}

/** `typeof numgen inc mod 1024 . ip daddr . tcp dport : ip daddr . tcp dport` (the same for every shard of a family and protocol). */
export function slotMapTypeof(c: Pick<NftServiceChain, 'dispatch'>): NonNullable<NftSet['typeof']> {
  const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
  return { key: [{ numgen: { mod: SHARD_TYPEOF_MOD, type: 'inc' } }, `${ip} daddr`, portField(c)], data: [`${ip} daddr`, portField(c)] };
}

/**
 * A shard map with the slots of the given services (all of one family and protocol, all in this
 * shard); without them when `withElements` is false (the backend packs them: pack-elements.ts).
 */
export function shardMap(name: string, group: readonly NftServiceChain[], withElements = true): NftSet {
  const elements = withElements ? group.flatMap((c) => c.elements.map((e) => slotElement(c, e))) : [];
  return {
    ...T,
    name,
    typeof: slotMapTypeof(group[0]!),
    exprs: [{ type: 'counter', packets: 0, bytes: 0 }],
    ...(elements.length ? { elements } : {}),
  };
}

export function slotMapRef(c: NftServiceChain): NftSetRef {
  return { ...T, set: c.map, typeof: slotMapTypeof(c) };
}

export function slotElements(c: NftServiceChain, els: readonly NftSlotElement[]) {
  return els.map((e) => slotElement(c, e));
}

/** The keys (slot . VIP . port) of a service's elements, for deletes. */
export function slotKeys(c: NftServiceChain, els: readonly NftSlotElement[]) {
  return els.map((e) => ({ key: [e.key, c.dispatch.vip, c.dispatch.port] }));
}

/*
 * Persistence (client affinity), as kube-proxy's nftables mode keeps it, in dynamic sets with a
 * timeout. nft 1.0.6 can neither parse nor list a set update whose data is a map lookup (the
 * endpoint just picked from the shard map), so the client is recorded after the DNAT, from the
 * translated packet, in a filter chain at dstnat + 1:
 *   chain svc-NAME    { meta l4proto tcp dnat ip to ip saddr map @aff-NAME comment "..."   # a known client
 *                       meta l4proto tcp dnat ip to numgen inc mod R . ip daddr . tcp dport map @ep-tcp4-K }  # the others
 *   chain persist-pre { type filter hook prerouting priority dstnat + 1
 *                       ct state new ct status dnat ct original ip daddr . meta l4proto . ip daddr . th dport vmap @keep4 (ip6 ...) }
 *   map keep4         { VIP . proto . endpoint . endpoint port : goto keep-NAME }
 *   chain keep-NAME   { update @aff-NAME { ip saddr : ip daddr . tcp dport } }             # records, or restarts the timeout
 *   map aff-NAME      { typeof ip saddr : ip daddr . tcp dport; flags dynamic,timeout; timeout T }
 * (`ct original proto-dst`, the VIP's port, cannot be part of a concatenation in nft 1.0.6: it has
 * no fixed type. The endpoint's address and port stand in for it, which is why two services on one
 * VIP and protocol, one of them persistent, may not share an endpoint address:port.)
 */
const CT_DST_IP = 20, CT_DST_IP6 = 22, CT_DIR_ORIGINAL = 0;
const IPS_DST_NAT = 0x20;
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b.toString('hex');
};

/** `ct state new ct status dnat ct original ip daddr . meta l4proto . ip daddr . th dport vmap @keep4` (ip6: @keep6). */
export function persistDispatchRule(chain: string, f: 'ipv4' | 'ipv6'): NftRule {
  const v4 = f === 'ipv4';
  const alen = v4 ? 4 : 16;
  const unit = (u: number) => (u % 4 === 0 ? 1 + u / 4 : 8 + u);
  const proto = alen / 4, daddr = proto + 1, dport = daddr + alen / 4;
  return {
    ...T,
    chain,
    exprs: [
      { type: 'ct', key: 0, dreg: 1 },
      { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(8), xor: le32(0) },
      { type: 'cmp', sreg: 1, op: CMP_OP.neq, data: le32(0) },
      { type: 'ct', key: 2, dreg: 1 },
      { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(IPS_DST_NAT), xor: le32(0) },
      { type: 'cmp', sreg: 1, op: CMP_OP.neq, data: le32(0) },
      { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
      { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: v4 ? '02' : '0a' },
      { type: 'ct', key: v4 ? CT_DST_IP : CT_DST_IP6, dir: CT_DIR_ORIGINAL, dreg: 1 },
      { type: 'meta', key: META_KEY.l4proto, dreg: unit(proto) },
      { type: 'payload', dreg: unit(daddr), base: PAYLOAD_BASE.network, offset: v4 ? 16 : 24, len: alen },
      { type: 'payload', dreg: unit(dport), base: PAYLOAD_BASE.transport, offset: 2, len: 2 },
      { type: 'lookup', sreg: 1, dreg: 0, set: v4 ? 'keep4' : 'keep6' },
    ],
  };
}

export const KEEP_SETS = {
  ipv4: { name: 'keep4', key: ['ipv4_addr', 'inet_proto', 'ipv4_addr', 'inet_service'] },
  ipv6: { name: 'keep6', key: ['ipv6_addr', 'inet_proto', 'ipv6_addr', 'inet_service'] },
} as const;

export function keepMapRef(f: 'ipv4' | 'ipv6'): NftSetRef {
  return { ...T, set: KEEP_SETS[f].name, key: [...KEEP_SETS[f].key], data: 'verdict' };
}

/** keep4/keep6 elements of a persistent service: one per endpoint (weight 0 too: its clients keep their timeout). */
export function keepElements(c: NftServiceChain) {
  if (!c.persistence) return [];
  const seen = new Set<string>();
  const out = [];
  for (const e of c.elements) {
    const k = `${e.address} ${e.port}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ key: [c.dispatch.vip, c.dispatch.protocol, e.address, e.port], verdict: { verdict: 'goto' as const, chain: c.persistence.chain } });
  }
  return out;
}

/** `update @aff-NAME { ip saddr : ip daddr . tcp dport }` (the rule of chain keep-NAME). */
export function keepRule(c: NftServiceChain): NftRule {
  const v4 = c.dispatch.family === 'ipv4';
  const alen = v4 ? 4 : 16;
  const exprs: NftExpr[] = [{ type: 'meta', key: META_KEY.nfproto, dreg: 1 }, { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: v4 ? '02' : '0a' }];
  if (c.dispatch.protocol !== 'sctp') exprs.push({ type: 'meta', key: META_KEY.l4proto, dreg: 1 }, { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: L4[c.dispatch.protocol] });
  exprs.push(
    { type: 'payload', dreg: 1, base: PAYLOAD_BASE.network, offset: v4 ? 12 : 8, len: alen },
    { type: 'payload', dreg: 2, base: PAYLOAD_BASE.network, offset: v4 ? 16 : 24, len: alen },
    // (the port after the address: 32-bit register 13 after an IPv4 address in 128-bit register 2, 3 after IPv6)
    { type: 'payload', dreg: v4 ? 13 : 3, base: PAYLOAD_BASE.transport, offset: 2, len: 2 },
    { type: 'dynset', sregKey: 1, sregData: 2, op: DYNSET_OP.update, set: c.persistence!.map },
  );
  return { ...T, chain: c.persistence!.chain, exprs };
}

/** `meta l4proto tcp dnat ip to ip saddr map @aff-NAME` (a known client goes where it went last). */
export function hitRuleExprs(c: NftServiceChain): NftExpr[] {
  const v4 = c.dispatch.family === 'ipv4';
  return [
    { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
    { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: L4[c.dispatch.protocol] },
    { type: 'meta', key: META_KEY.nfproto, dreg: 1 },
    { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: v4 ? '02' : '0a' },
    { type: 'payload', dreg: 1, base: PAYLOAD_BASE.network, offset: v4 ? 12 : 8, len: v4 ? 4 : 16 },
    { type: 'lookup', sreg: 1, dreg: 1, set: c.persistence!.map },
    { type: 'nat', natType: NAT_TYPE.dnat, family: FAMILIES[v4 ? 'ip' : 'ip6'], regAddrMin: 1, regProtoMin: v4 ? 9 : 2 },
  ];
}

/** The service chain's rules: the pick (with the comment), or with persistence the hit rule (with the comment) and then the pick. */
export function serviceRules(c: NftServiceChain): NftRule[] {
  if (!c.persistence || !c.slots) return [serviceRule(c)];
  return [
    { ...T, chain: c.chain, exprs: hitRuleExprs(c), comment: c.comment },
    { ...T, chain: c.chain, exprs: serviceRuleExprs(c) },
  ];
}

/** `aff-NAME { typeof ip saddr : ip daddr . tcp dport; size 65535; flags dynamic,timeout; timeout T }` */
export function affinityMap(c: NftServiceChain): NftSet {
  const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
  return {
    ...T,
    name: c.persistence!.map,
    typeof: { key: `${ip} saddr`, data: [`${ip} daddr`, portField(c)] },
    flags: ['dynamic', 'timeout'],
    timeout: c.persistence!.timeout * 1000,
    size: 65535,
  };
}
