/**
 * nftables: typed rule sets over libnftnl, one atomic transaction per commit, exact read-back.
 *
 *   await using nft = await Nftables.open({ netns: 'lb' });
 *   const tx = nft.transaction();              // buffers; validates every call at once
 *   tx.addTable({ family: 'ip', name: 'lb' });
 *   tx.addChain({ family: 'ip', table: 'lb', name: 'svc-web' });
 *   tx.addChain({ family: 'ip', table: 'lb', name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100 } });
 *   tx.addObject({ family: 'ip', table: 'lb', name: 'web-hits', type: 'counter' });
 *   // service dispatch: ip daddr . meta l4proto . th dport vmap @services
 *   tx.addSet({ family: 'ip', table: 'lb', name: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
 *               elements: [{ key: ['10.96.0.1', 'tcp', 80], verdict: { verdict: 'goto', chain: 'svc-web' } }] });
 *   // endpoint choice: dnat to ip daddr . th dport . numgen random mod 2 map @backends
 *   const backends = { family: 'ip', table: 'lb', set: 'backends',
 *     typeof: { key: ['ip daddr', 'th dport', { numgen: { mod: 2 } }], data: ['ip daddr', 'th dport'] } } as const;
 *   tx.addSet({ family: 'ip', table: 'lb', name: 'backends', typeof: backends.typeof,
 *               elements: [{ key: ['10.96.0.1', 80, 0], data: ['10.0.0.1', 8080] }, { key: ['10.96.0.1', 80, 1], data: ['10.0.0.2', 8080] }] });
 *   tx.addRule({ family: 'ip', table: 'lb', chain: 'pre', exprs: [nftStatements.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'services')] });
 *   tx.addRule({ family: 'ip', table: 'lb', chain: 'svc-web', exprs: [nftStatements.counterRef('web-hits'),
 *     nftStatements.match('meta l4proto', 'tcp'),
 *     nftStatements.dnatMap(['ip daddr', 'th dport', { numgen: { mod: 2 } }], 'backends', { port: true })] });
 *   await tx.commit();                         // ONE batch: all applied or none
 *   // element-level updates cost O(change): add / delete / replace (destroy + add in one batch)
 *   await nft.transaction().replaceElements(backends, [{ key: ['10.96.0.1', 80, 1], data: ['10.0.0.3', 8080] }]).commit();
 *
 * Building blocks for load balancers (all checked against nft 1.0.6's own bytecode and listing):
 * - maps with concatenated keys and verdict data (`vmap`) or address . port data (`dnatMap`);
 * - key sources: packet fields (FieldName), `{ numgen: { mod } }`, `{ jhash: { field, mod } }`;
 *   sets declared with `typeof` carry nft's userdata so `nft list ruleset` prints them (a numgen field
 *   has datatype 'integer', which nft can only print through typeof). Note: nft 1.0.6 itself crashes
 *   listing a named map `typeof jhash ...`; use numgen, or jhash with an anonymous map;
 * - anonymous constant maps (`tx.addAnonymousSet`, nft's inline `{ ... }`), named counters/quotas/limits
 *   (`addObject`, `counterRef`), session affinity (`updateSet` on a dynamic set with timeout);
 * - optimistic concurrency: `commit({ generation })` -> ConflictError; `nft.retry(build)`;
 *   `commit({ dryRun: true })` validates in the kernel and applies nothing;
 * - failures name the item: "rule 3 of chain lb/services", errno, extended-ack text;
 * - `list()` returns the same model (kernel-level exprs, raw userdata, and `statements` as nft prints
 *   them when recognised); `tx.addRuleset(list)` recreates it exactly in another namespace.
 *
 * Bulk speed: rules and chains cross to native as packed Buffers (pack.ts), element lists too, so a
 * commit's user time is small next to the kernel's. Order matters to the kernel itself: every rule
 * that binds an anonymous set walks the whole transaction so far (__nft_set_trans_bind), so a big
 * ruleset commits faster when each anonymous map and its rule come right after the chains they jump
 * to, before the bulk of the other rules (kube layout, 10k services: about 3x less kernel time;
 * bench/nft-ruleset.mjs --order early).
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
export { Nftables, ERESTART as NFT_ERESTART, type ListOptions as NftListOptions, type RetryOptions as NftRetryOptions } from './nftables';
export { Transaction as NftTransaction, type CommitOptions as NftCommitOptions, type SetRef as NftSetRef } from './transaction';
/** The statement builder (see statements.ts): nftStatements.match('ip daddr', '10.0.0.1'), .vmap(...), .dnatMap(...) */
export * as nftStatements from './statements';
export * as nftUserdata from './udata';
