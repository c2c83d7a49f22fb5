/**
 * A service chain's rules written straight into a transaction's packed run (appendPackedRules in
 * nft/transaction.ts): the bytes addRule packs for the expressions below, without making them.
 * At 10k services an apply writes 110k rules; as objects that was ~10^6 expressions, each walked by
 * the generic validation and packing, and ~70% of the apply's JavaScript time. The input was
 * validated with the state (addresses, ports, weights), and test/unit/lb-nft-packed.test.ts checks
 * every rule shape against addRule's bytes for the same expressions.
 *
 * What a rule is, as nft 1.0.6 encodes the statements (compile.ts gives the layout):
 *   pick:    numgen inc|random mod M < W      numgen, byteorder, cmp lt
 *            jhash ip saddr mod M seed S < W   meta nfproto, cmp, payload, hash, byteorder, cmp lt
 *   target:  meta l4proto P counter dnat to A:P   meta, cmp, counter, immediate, immediate, nat
 *   else:    counter
 * each with its comment.
 */
import { FAMILIES, CMP_OP, HASH_TYPE, META_KEY, NAT_FLAG, NAT_TYPE, NUMGEN_TYPE } from '../../../nft/constants';
import { PACKED_KIND, PACKED_OP, PACKED_RULE, type PackWriter } from '../../../nft/pack';
import { commentUdata, UDATA } from '../../../nft/udata';
import { parseAddress } from '../../address';
import { NFT_FAMILY, NFT_TABLE, type NftServiceChain, type NftServiceRule } from './compile';

const L4 = { tcp: [6], udp: [17], sctp: [132] } as const;
const NFPROTO = { ipv4: [2], ipv6: [10] } as const;
/** Scratch for the data attributes (written out at once, before the next use). */
const be32 = new Uint8Array(4), port16 = new Uint8Array(2), addr4 = new Uint8Array(4);

/** Every rule of `c`, in order, as addRule({ family, table, chain, exprs, comment }) packs it. */
export function writeServiceRules(w: PackWriter, c: NftServiceChain): void {
  const rules = c.rules, family = c.dispatch.family;
  for (let i = 0; i < rules.length; i++) writeRule(w, c.chain, rules[i]!, family);
}

function writeRule(w: PackWriter, chain: string, r: NftServiceRule, family: 'ipv4' | 'ipv6'): void {
  w.u8(PACKED_KIND.rule);
  w.u8(PACKED_OP.add);
  w.u8(FAMILIES[NFT_FAMILY]);
  w.str16(NFT_TABLE);
  w.str16(chain);
  w.u16(PACKED_RULE.exprs | PACKED_RULE.userdata);
  if (!w.commentTlv16(UDATA.ruleComment, r.comment)) w.hex16(commentUdata(r.comment, UDATA.ruleComment)!);
  const countAt = w.off;
  w.u16(0);
  let n = 0;
  const p = r.pick;
  if (p) {
    if (p.kind === 'numgen') {
      w.exprHead('numgen', 4);
      w.attrNum('dreg', 1);
      w.attrNum('modulus', p.modulus);
      w.attrNum('ngType', NUMGEN_TYPE[p.mode]);
      w.attrNum('offset', 0);
      n += 1;
    } else {
      nfproto(w, family);
      const v4 = family === 'ipv4';
      w.exprHead('payload', 4);
      w.attrNum('dreg', 2);
      w.attrNum('base', 1);
      w.attrNum('offset', v4 ? 12 : 8);
      w.attrNum('len', v4 ? 4 : 16);
      w.exprHead('hash', 6);
      w.attrNum('sreg', 2);
      w.attrNum('dreg', 1);
      w.attrNum('len', v4 ? 4 : 16);
      w.attrNum('modulus', p.modulus);
      w.attrNum('seed', p.seed);
      w.attrNum('hashType', HASH_TYPE.jenkins);
      n += 4;
    }
    // The register is host-endian: nft converts it before an ordered comparison.
    w.exprHead('byteorder', 5);
    w.attrNum('sreg', 1);
    w.attrNum('dreg', 1);
    w.attrNum('op', 1);
    w.attrNum('len', 4);
    w.attrNum('size', 4);
    w.exprHead('cmp', 3);
    w.attrNum('sreg', 1);
    w.attrNum('op', CMP_OP.lt);
    const lt = p.lessThan;
    be32[0] = lt >>> 24;
    be32[1] = lt >>> 16;
    be32[2] = lt >>> 8;
    be32[3] = lt;
    w.attrData('data', be32);
    n += 2;
  }
  const t = r.target;
  if (t) {
    metaIs(w, META_KEY.l4proto, L4[t.protocol]);
    counter(w);
    w.exprHead('immediate', 2);
    w.attrNum('dreg', 1);
    w.attrData('data', (t.family === 'ipv4' && quad(t.address)) || parseAddress(t.address)!.bytes);
    w.exprHead('immediate', 2);
    w.attrNum('dreg', 2);
    port16[0] = t.port >>> 8;
    port16[1] = t.port;
    w.attrData('data', port16);
    w.exprHead('nat', 5);
    w.attrNum('natType', NAT_TYPE.dnat);
    w.attrNum('family', FAMILIES[t.family === 'ipv4' ? 'ip' : 'ip6']);
    w.attrNum('regAddrMin', 1);
    w.attrNum('regProtoMin', 2);
    w.attrNum('flags', NAT_FLAG.protoSpecified);
    n += 6;
  } else {
    counter(w);
    n += 1;
  }
  w.buf[countAt] = n;
  w.buf[countAt + 1] = n >>> 8;
}

/** `meta nfproto ipv4|ipv6`: the dependency nft adds before ip/ip6 payloads in an inet table. */
function nfproto(w: PackWriter, family: 'ipv4' | 'ipv6'): void {
  metaIs(w, META_KEY.nfproto, NFPROTO[family]);
}

/** `meta KEY VALUE` (a one-byte value): meta load into register 1, cmp eq. */
function metaIs(w: PackWriter, key: number, value: readonly number[]): void {
  w.exprHead('meta', 2);
  w.attrNum('key', key);
  w.attrNum('dreg', 1);
  w.exprHead('cmp', 3);
  w.attrNum('sreg', 1);
  w.attrNum('op', CMP_OP.eq);
  w.attrData('data', value);
}

function counter(w: PackWriter): void {
  w.exprHead('counter', 2);
  w.attrNum('packets', 0);
  w.attrNum('bytes', 0);
}

/** A validated dotted quad's bytes (in the scratch array), without a Buffer or an object; null when not one. */
function quad(s: string): Uint8Array | null {
  let part = 0, v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (part === 3) return null;
      addr4[part++] = v;
      v = 0;
    } else if (c >= 48 && c <= 57) v = v * 10 + (c - 48);
    else return null;
  }
  if (part !== 3) return null;
  addr4[3] = v;
  return addr4;
}
