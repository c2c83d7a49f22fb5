/**
 * A service's rule written straight into the transaction's packed run (lib/nft/pack.ts layout) as
 * Transaction.addRule packs serviceRule(c) of rules.ts: the same record bytes
 * (test/unit/lb-nft-pack.test.ts compares them for every family x protocol x pick), without the
 * rule's ten expression objects and their attribute-by-attribute checks (input validateState
 * checked). A full apply at 10k services writes 10^4 of them. Persistent services (two rules) and
 * comments that are not short ASCII take the general path.
 */
import { nftConstants, type NftTransaction } from '../../../nft';
import { PACKED_KIND, PACKED_OP, PACKED_RULE, type PackWriter } from '../../../nft/pack';
import { appendPackedRules } from '../../../nft/transaction';
import { UDATA } from '../../../nft/udata';
import { NFT_TABLE, type NftServiceChain } from './compile';

const { CMP_OP, META_KEY, NUMGEN_TYPE, HASH_TYPE, NAT_TYPE, FAMILIES, PAYLOAD_BASE } = nftConstants;
const L4 = { tcp: [6], udp: [17], sctp: [132] } as const;
const NFPROTO = { ipv4: [2], ipv6: [10] } as const;

/** Whether packServiceRule writes this service's rules (else serviceRules() through addRule). */
export function packable(c: NftServiceChain): boolean {
  if (c.persistence || c.comment.length > 252) return false;
  for (let i = 0; i < c.comment.length; i++) if (c.comment.charCodeAt(i) > 0x7f) return false;
  return true;
}

function meta(w: PackWriter, key: number): void {
  w.exprHead('meta', 2);
  w.attrNum('key', key);
  w.attrNum('dreg', 1);
}
function cmpEq(w: PackWriter, data: readonly number[]): void {
  w.exprHead('cmp', 3);
  w.attrNum('sreg', 1);
  w.attrNum('op', CMP_OP.eq);
  w.attrData('data', data);
}
function payload(w: PackWriter, dreg: number, base: number, offset: number, len: number): void {
  w.exprHead('payload', 4);
  w.attrNum('dreg', dreg);
  w.attrNum('base', base);
  w.attrNum('offset', offset);
  w.attrNum('len', len);
}

/** rules.ts serviceRuleExprs(c), expression by expression and attribute by attribute in the same order. */
function packExprs(w: PackWriter, c: NftServiceChain): void {
  if (!c.slots) {
    w.u16(1);
    w.exprHead('counter', 2);
    w.attrNum('packets', 0);
    w.attrNum('bytes', 0);
    return;
  }
  const v4 = c.dispatch.family === 'ipv4';
  const alen = v4 ? 4 : 16;
  const pick = c.pick;
  w.u16(pick.kind === 'numgen' ? 9 : 10);
  meta(w, META_KEY.l4proto);
  cmpEq(w, L4[c.dispatch.protocol]);
  meta(w, META_KEY.nfproto);
  cmpEq(w, NFPROTO[c.dispatch.family]);
  if (pick.kind === 'numgen') {
    w.exprHead('numgen', 4);
    w.attrNum('dreg', 1);
    w.attrNum('modulus', c.slots);
    w.attrNum('ngType', NUMGEN_TYPE[pick.mode]);
    w.attrNum('offset', 0);
  } else {
    const src = v4 ? 15 : 18;
    payload(w, src, PAYLOAD_BASE.network, v4 ? 12 : 8, alen);
    w.exprHead('hash', 6);
    w.attrNum('sreg', src);
    w.attrNum('dreg', 1);
    w.attrNum('len', alen);
    w.attrNum('modulus', c.slots);
    w.attrNum('seed', pick.seed);
    w.attrNum('hashType', HASH_TYPE.jenkins);
  }
  payload(w, 9, PAYLOAD_BASE.network, v4 ? 16 : 24, alen);
  payload(w, v4 ? 10 : 13, PAYLOAD_BASE.transport, 2, 2);
  w.exprHead('lookup', 3);
  w.attrNum('sreg', 1);
  w.attrNum('dreg', 1);
  w.attrStr('set', c.map);
  w.exprHead('nat', 4);
  w.attrNum('natType', NAT_TYPE.dnat);
  w.attrNum('family', FAMILIES[v4 ? 'ip' : 'ip6']);
  w.attrNum('regAddrMin', 1);
  w.attrNum('regProtoMin', v4 ? 9 : 2);
}

/** One `add rule` record of serviceRule(c) (packable(c) must hold). */
export function packServiceRule(w: PackWriter, c: NftServiceChain): void {
  w.u8(PACKED_KIND.rule);
  w.u8(PACKED_OP.add);
  w.u8(FAMILIES.inet);
  w.str16(NFT_TABLE);
  w.str16(c.chain);
  w.u16(PACKED_RULE.userdata | PACKED_RULE.exprs);
  w.commentTlv16(UDATA.ruleComment, c.comment);
  packExprs(w, c);
}

/** Appends the rules of packable services (in order) as one call: one logical item each. */
export function addPackedRules(tx: NftTransaction, services: readonly NftServiceChain[]): void {
  if (services.length) appendPackedRules(tx, services.length, (w) => {
    for (const c of services) packServiceRule(w, c);
  });
}

/** `add chain inet kernlb NAME` records (regular chains), as Transaction.addChain packs them. */
export function addPackedChains(tx: NftTransaction, names: readonly string[]): void {
  if (names.length) appendPackedRules(tx, names.length, (w) => {
    for (const name of names) {
      w.u8(PACKED_KIND.chain);
      w.u8(PACKED_OP.add);
      w.u8(FAMILIES.inet);
      w.str16(NFT_TABLE);
      w.str16(name);
      w.u16(0);
    }
  });
}
