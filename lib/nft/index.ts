/**
 * nftables: typed rule sets over libnftnl, one atomic transaction per commit, exact read-back.
 *
 *   await using nft = await Nftables.open({ netns: 'lb' });
 *   const tx = nft.transaction();
 *   tx.addTable({ family: 'ip', name: 'lb' });
 *   tx.addChain({ family: 'ip', table: 'lb', name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100 } });
 *   tx.addSet({ family: 'ip', table: 'lb', name: 'backends',
 *               key: ['ipv4_addr', 'inet_service', 'integer'], data: ['ipv4_addr', 'inet_service'],
 *               elements: [{ key: ['10.96.0.1', 80, 0], data: ['10.0.0.1', 8080] }] });
 *   tx.addRule({ family: 'ip', table: 'lb', chain: 'pre',
 *                exprs: [nftStatements.dnatMap(['ip daddr', 'th dport', { numgen: { mod: 2 } }], 'backends', { port: true })] });
 *   await tx.commit();                         // one batch: all or nothing
 *   // element-level update, O(change):
 *   await nft.transaction().addElements({ family: 'ip', table: 'lb', set: 'backends',
 *     key: ['ipv4_addr', 'inet_service', 'integer'], data: ['ipv4_addr', 'inet_service'] },
 *     [{ key: ['10.96.0.1', 80, 1], data: ['10.0.0.2', 8080] }]).commit();
 *
 * For load balancers: concatenated-key maps with verdict data (`vmap`) or address/port data
 * (`dnatMap`), `numgen`/`jhash` key sources, named counters (`counterRef`, `addObject`) and element
 * updates are the supported building blocks. A map keyed by `... . numgen` uses the datatype
 * 'integer' (host-endian 32 bit) for the numgen field; nft prints such a map with `type`, or with
 * `typeof` when the set's userdata carries nft's typeof description (kept verbatim by list()).
 */
// Everything is exported under nft-specific names so that `export *` from lib/index.ts never clashes
// with the other subsystems.
export * as nftConstants from './constants';
export type { Family as NftFamily, ChainType as NftChainType, VerdictName as NftVerdictName } from './constants';
export type { Datatype as NftDatatype, ScalarValue as NftScalarValue } from './datatypes';
export { DATATYPES as NFT_DATATYPES } from './datatypes';
export type {
  BaseChainSpec as NftBaseChain, Chain as NftChain, Element as NftElement, Expr as NftExpr, NamedObject as NftObject,
  NftSet, Rule as NftRule, Ruleset as NftRuleset, Table as NftTable, TypeSpec as NftTypeSpec, Verdict as NftVerdict,
} from './model';
export { Nftables, ERESTART, type ListOptions as NftListOptions, type RetryOptions as NftRetryOptions } from './nftables';
export { Transaction as NftTransaction, type CommitOptions as NftCommitOptions, type SetRef as NftSetRef } from './transaction';
/** The statement builder (see statements.ts): nftStatements.match('ip daddr', '10.0.0.1'), .vmap(...), .dnatMap(...) */
export * as nftStatements from './statements';
export * as nftUserdata from './udata';
