/** nftables mode over the Nftables handle: one transaction per apply, built from the diff. */
import { isNotFound } from '../../../errors';
import { nftStatements as st, type Nftables, type NftRule, type NftSetRef, type NftTransaction } from '../../../nft';
import { changedService, diffStates, isEmptyDiff } from '../../diff';
import { serviceKey, type Service, type State } from '../../state';
import type { BackendApplyResult, ModeBackend, ServiceChange } from '../../types';
import { compileNft, compileService, nftChainName, NFT_FAMILY, NFT_TABLE, type NftServiceChain } from './compile';
import { decodeNft, type NftCurrent } from './decode';
import { writeServiceRules } from './packed-rules';
import { appendPackedRules } from '../../../nft/transaction';

const T = { family: NFT_FAMILY, table: NFT_TABLE } as const;
/** `meta nfproto ipv4|ipv6` (the dependency nft adds before ip/ip6 payloads in an inet table), then the dispatch map. */
function dispatchRule(chain: string, f: 'ipv4' | 'ipv6'): NftRule {
  const key = f === 'ipv4' ? 'ip daddr' : 'ip6 daddr';
  return { ...T, chain, exprs: [...st.match('meta nfproto', f), ...st.vmap([key, 'meta l4proto', 'th dport'], f === 'ipv4' ? 'svc4' : 'svc6')] };
}

const SETS = {
  ipv4: { name: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'] },
  ipv6: { name: 'svc6', key: ['ipv6_addr', 'inet_proto', 'inet_service'] },
} as const;

function setRef(f: 'ipv4' | 'ipv6'): NftSetRef {
  return { ...T, set: SETS[f].name, key: [...SETS[f].key], data: 'verdict' };
}

function element(c: NftServiceChain) {
  return { key: [c.dispatch.vip, c.dispatch.protocol, c.dispatch.port], verdict: { verdict: 'goto' as const, chain: c.chain } };
}

/** A service chain's rules, packed straight from the compiled chain (packed-rules.ts). */
function addRules(tx: NftTransaction, c: NftServiceChain): void {
  appendPackedRules(tx, c.rules.length, (w) => writeServiceRules(w, c));
}

/** Adds the whole table: first apply, or repair when kernlb's fixed objects are missing. */
function buildAll(tx: NftTransaction, cur: NftCurrent, desired: State): void {
  if (cur.hasTable) tx.deleteTable({ family: NFT_FAMILY, name: NFT_TABLE });
  tx.addTable({ family: NFT_FAMILY, name: NFT_TABLE });
  const chains = compileNft(desired).services;
  // Order as `nft -f` of renderNft() creates them (so both list identically): base chains, service
  // chains (before the dispatch maps' goto elements name them), maps with elements, rules.
  const base = ['prerouting', 'output'] as const;
  for (const chain of base) tx.addChain({ ...T, name: chain, base: { type: 'nat', hook: chain, priority: -100, policy: 'accept' } });
  for (const c of chains) tx.addChain({ ...T, name: c.chain });
  for (const f of ['ipv4', 'ipv6'] as const) {
    const els = chains.filter((c) => c.dispatch.family === f).map(element);
    tx.addSet({ ...T, name: SETS[f].name, key: [...SETS[f].key], data: 'verdict', ...(els.length ? { elements: els } : {}) });
  }
  for (const chain of base) {
    tx.addRule(dispatchRule(chain, 'ipv4'));
    tx.addRule(dispatchRule(chain, 'ipv6'));
  }
  for (const c of chains) addRules(tx, c);
}

/** The chains a batch leaves: a set, or an overlay on the cached one (applyChanges: no O(N) copy). */
interface ChainSet {
  has(name: string): boolean;
  add(name: string): void;
  delete(name: string): void;
}

function sameIdentity(a: Service, b: Service): boolean {
  return a.name === b.name && serviceKey(a) === serviceKey(b);
}

/** The removal half of one service's change: its dispatch element, and its chain unless the name stays. */
function removeHalf(tx: NftTransaction, before: Service, after: Service | undefined, chains: ChainSet): void {
  if (after && sameIdentity(before, after)) return;
  const c = compileService(before);
  tx.deleteElements(setRef(before.family), [element(c)]);
  if (after?.name === before.name) return; // the chain stays (refilled below)
  tx.flushChain({ ...T, name: c.chain });
  tx.deleteChain({ ...T, name: c.chain });
  chains.delete(c.chain);
}

/** The adding half: the chain (re)filled, and a dispatch element when the identity is new. */
function addHalf(tx: NftTransaction, before: Service | undefined, after: Service, chains: ChainSet): void {
  const c = compileService(after);
  if (chains.has(c.chain)) tx.flushChain({ ...T, name: c.chain });
  else tx.addChain({ ...T, name: c.chain });
  chains.add(c.chain);
  addRules(tx, c);
  if (!before || !sameIdentity(before, after)) tx.addElements(setRef(after.family), [element(c)]);
}

/** One transaction for a list of service changes (removals first: a chain name may come back). */
function buildChanges(tx: NftTransaction, changes: readonly ServiceChange[], chains: ChainSet): void {
  for (const ch of changes) if (ch.before) removeHalf(tx, ch.before, ch.after, chains);
  for (const ch of changes) if (ch.after) addHalf(tx, ch.before, ch.after, chains);
}

/**
 * Builds the one transaction that takes `cur` to `desired`, touching only changed services (a
 * changed service = its chain flushed and refilled, plus its dispatch element when it is new).
 * Returns the chains the table has once it is committed, or null when nothing changes.
 */
export function buildNftTransaction(tx: NftTransaction, cur: NftCurrent, desired: State): Set<string> | null {
  if (!cur.hasBase) {
    buildAll(tx, cur, desired);
    return new Set(['prerouting', 'output', ...desired.services.map(nftChainName)]);
  }
  const d = diffStates(cur.state, desired);
  if (isEmptyDiff(d)) return null;
  const chains = new Set(cur.chains);
  const changes: ServiceChange[] = [
    ...d.removed.map((before) => ({ name: before.name, before })),
    ...d.updated.map((u) => ({ name: u.name, before: cur.state.services.find((s) => serviceKey(s) === u.key)!, after: changedService(u)! })),
    ...d.added.map((after) => ({ name: after.name, after })),
  ];
  buildChanges(tx, changes, chains);
  return chains;
}

/** What the table holds after a successful commit of `desired` (enough for the next diff). */
function committedView(desired: State, chains: Set<string>, generation: number): NftCurrent {
  return { state: desired, services: [], draining: [], chains, hasTable: true, hasBase: true, generation };
}

export class NftBackend implements ModeBackend<NftCurrent> {
  readonly mode = 'nftables' as const;
  constructor(private readonly nft: Nftables) {}

  async #list(): Promise<NftCurrent> {
    try {
      return decodeNft(await this.nft.list({ family: NFT_FAMILY, table: NFT_TABLE }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return decodeNft({ generation: await this.nft.generation(), tables: [], chains: [], objects: [], sets: [], rules: [] });
    }
  }

  /**
   * For apply, the table as kernlb committed it last, while the ruleset generation proves that
   * nobody committed since: a one-service change at 10k services then costs one GETGEN and a small
   * batch instead of listing 100k rules. Anyone else's commit (to any table) drops the cache.
   */
  #cache: NftCurrent | undefined;

  invalidate(): void {
    this.#cache = undefined;
  }

  async read(opts: { forApply?: boolean } = {}): Promise<NftCurrent> {
    if (opts.forApply && this.#cache && (await this.nft.generation()) === this.#cache.generation) return this.#cache;
    this.#cache = undefined;
    return this.#list();
  }

  async apply(desired: State, cur: NftCurrent, opts: { dryRun: boolean }) {
    const tx = this.nft.transaction();
    const chains = buildNftTransaction(tx, cur, desired);
    if (!chains) {
      if (!opts.dryRun) this.#cache = cur;
      return { operations: 0, draining: [], changed: false };
    }
    // One batch, only if nobody committed since we read (else ConflictError: re-read and retry).
    this.#cache = undefined;
    await tx.commit({ generation: cur.generation, dryRun: opts.dryRun });
    if (!opts.dryRun) {
      const gen = await this.nft.generation();
      // Our commit moved the generation by exactly one: nobody else wrote in between.
      if (gen === ((cur.generation + 1) >>> 0)) this.#cache = committedView(desired, chains, gen);
    }
    return { operations: tx.size, draining: [], changed: true };
  }

  /**
   * update(): when the generation proves the table is as kernlb committed it last, one batch with
   * only the changed services (a GETGEN and the batch; nothing proportional to the other services).
   * Otherwise a full read and apply of `desired`.
   */
  async applyChanges(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    const cache = this.#cache;
    if (!cache || (await this.nft.generation()) !== cache.generation) return this.apply(desired, await this.read({ forApply: true }), opts);
    const added = new Set<string>(), deleted = new Set<string>();
    const chains: ChainSet = {
      has: (n) => added.has(n) || (!deleted.has(n) && cache.chains.has(n)),
      add: (n) => void (deleted.delete(n), added.add(n)),
      delete: (n) => void (added.delete(n), deleted.add(n)),
    };
    const tx = this.nft.transaction();
    buildChanges(tx, changes, chains);
    if (!tx.size) return { operations: 0, draining: [], changed: false };
    this.#cache = undefined;
    await tx.commit({ generation: cache.generation, dryRun: opts.dryRun });
    if (!opts.dryRun) {
      const gen = await this.nft.generation();
      if (gen === ((cache.generation + 1) >>> 0)) {
        for (const n of deleted) cache.chains.delete(n);
        for (const n of added) cache.chains.add(n);
        this.#cache = { ...cache, state: desired, generation: gen };
      }
    } else this.#cache = cache;
    return { operations: tx.size, draining: [], changed: true };
  }

  async present(): Promise<boolean> {
    return (await this.#list()).hasTable;
  }

  async clear(): Promise<void> {
    const cur = await this.#list();
    if (!cur.hasTable) return;
    await this.nft.transaction().deleteTable({ family: NFT_FAMILY, name: NFT_TABLE }).commit();
  }

  close(): Promise<void> {
    return this.nft.close();
  }
}
