/** nftables mode over the Nftables handle: one transaction per apply, built from the diff (layout: compile.ts). */
import { ConflictError, isNotFound } from '../../../errors';
import { nftStatements as st, type Nftables, type NftRule, type NftSetRef, type NftTransaction } from '../../../nft';
import { reservePacked } from '../../../nft/transaction';
import { changedService, diffStates, isEmptyDiff, previousService } from '../../diff';
import type { State } from '../../state';
import type { BackendApplyResult, ModeBackend, PackedStatus, ServiceChange } from '../../types';
import { compileNft, compileService, nftChainName, persistenceConflict, shardMaps, NFT_FAMILY, NFT_TABLE, type NftServiceChain, type NftSlotElement } from './compile';
import { decodeNft, type NftCurrent } from './decode';
import { NftStatusReader } from './status';
import { affinityMap, keepElements, keepMapRef, keepRule, KEEP_SETS, persistDispatchRule, serviceRules } from './rules';
import { addShardMap, dispatchElements, shardElements, slotOp } from './pack-elements';
import { addPackedChains, addPackedRules, packable } from './pack-rules';

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

/**
 * Adds the whole table: first apply, or repair of anything changed behind kernlb's back. Order as
 * `nft -f` of renderNft() creates it (so both list identically, and measured fastest for the
 * kernel: bench/lb-nft-layouts.mjs): chains, maps (dispatch maps with their goto elements, then the
 * shard maps with every service's slots), rules. Returns the services per shard map.
 */
function buildAll(tx: NftTransaction, cur: NftCurrent, desired: State): Map<string, number> {
  if (cur.hasTable) tx.deleteTable({ family: NFT_FAMILY, name: NFT_TABLE });
  tx.addTable({ family: NFT_FAMILY, name: NFT_TABLE });
  const plan = compileNft(desired).services;
  // (the packed writers sized once, generously: an IPv4 slot packs to ~45 bytes, a chain and its rule
  // to ~220; room never written costs no memory, a growth copies and keeps the old buffer to commit)
  let slots = 0;
  for (const c of plan) slots += c.elements.length + 1;
  reservePacked(tx, slots * 96, plan.length * 2 * 384);
  const base = ['prerouting', 'output'] as const;
  for (const chain of base) tx.addChain({ ...T, name: chain, base: { type: 'nat', hook: chain, priority: -100, policy: 'accept' } });
  for (const [chain, hook] of PERSIST) tx.addChain({ ...T, name: chain, base: { type: 'filter', hook, priority: -99, policy: 'accept' } });
  for (const c of plan) if (c.persistence) tx.addChain({ ...T, name: c.persistence.chain });
  addPackedChains(tx, plan.map((c) => c.chain));
  for (const f of ['ipv4', 'ipv6'] as const) {
    tx.addSet({ ...T, name: SETS[f].name, key: [...SETS[f].key], data: 'verdict' });
    dispatchElements(tx, SETS[f].name, SETS[f].key, plan.filter((c) => c.dispatch.family === f));
  }
  const shards = new Map<string, number>();
  for (const [name, group] of shardMaps(plan)) {
    // (the declaration, then every service's slots packed straight from the plan: pack-elements.ts)
    addShardMap(tx, name, group[0]!);
    shardElements(tx, name, group);
    shards.set(name, group.length);
  }
  for (const c of plan) if (c.persistence) tx.addSet(affinityMap(c));
  for (const f of ['ipv4', 'ipv6'] as const) {
    const els = plan.filter((c) => c.dispatch.family === f).flatMap(keepElements);
    tx.addSet({ ...T, name: KEEP_SETS[f].name, key: [...KEEP_SETS[f].key], data: 'verdict', ...(els.length ? { elements: els } : {}) });
  }
  for (const chain of base) {
    tx.addRule(dispatchRule(chain, 'ipv4'));
    tx.addRule(dispatchRule(chain, 'ipv6'));
  }
  for (const [chain] of PERSIST) {
    tx.addRule(persistDispatchRule(chain, 'ipv4'));
    tx.addRule(persistDispatchRule(chain, 'ipv6'));
  }
  for (const c of plan) if (c.persistence) tx.addRule(keepRule(c));
  // (the packable ones in runs, in plan order: pack-rules.ts)
  let run: NftServiceChain[] = [];
  for (const c of plan) {
    if (packable(c)) run.push(c);
    else {
      addPackedRules(tx, run);
      run = [];
      addRules(tx, c);
    }
  }
  addPackedRules(tx, run);
  return shards;
}

/** The filter chains that record a persistent service's clients after their DNAT (rules.ts). */
const PERSIST = [
  ['persist-pre', 'prerouting'],
  ['persist-out', 'output'],
] as const;

function addRules(tx: NftTransaction, c: NftServiceChain): void {
  if (packable(c)) addPackedRules(tx, [c]);
  else for (const r of serviceRules(c)) tx.addRule(r);
}

/** A persistent service's affinity map, recording chain and keep4/keep6 elements (after its service chain's rules). */
function addPersistence(tx: NftTransaction, c: NftServiceChain): void {
  if (!c.persistence) return;
  tx.addSet(affinityMap(c));
  tx.addChain({ ...T, name: c.persistence.chain });
  tx.addRule(keepRule(c));
  const els = keepElements(c);
  if (els.length) tx.addElements(keepMapRef(c.dispatch.family), els);
}

/** Undoes addPersistence (the service chain must be flushed first: its hit rule binds the map). */
function removePersistence(tx: NftTransaction, c: NftServiceChain): void {
  if (!c.persistence) return;
  const els = keepElements(c);
  if (els.length) tx.deleteElements(keepMapRef(c.dispatch.family), els.map((e) => ({ key: e.key })));
  tx.flushChain({ ...T, name: c.persistence.chain });
  tx.deleteChain({ ...T, name: c.persistence.chain });
  tx.deleteSet({ ...T, name: c.persistence.map });
}

/** The chains a batch leaves: a set, or an overlay on the cached one (applyChanges: no O(N) copy). */
interface ChainSet {
  has(name: string): boolean;
  add(name: string): void;
  delete(name: string): void;
}

/**
 * The services per shard map over one batch, on top of what the table held before it: a service
 * joining an absent map creates it, and a map left empty is deleted at the end of the batch (after
 * every rule that used it is gone, and only if no later change in the batch joined it again).
 */
class ShardBatch {
  readonly after = new Map<string, number>();
  readonly #created = new Set<string>();
  constructor(private readonly before: ReadonlyMap<string, number>) {}

  count(map: string): number {
    return this.after.get(map) ?? this.before.get(map) ?? 0;
  }

  /** Adds the service's slots to its shard map, creating the map (with them) when absent. */
  join(tx: NftTransaction, c: NftServiceChain): void {
    const n = this.count(c.map);
    if (!this.#exists(c.map)) {
      addShardMap(tx, c.map, c);
      shardElements(tx, c.map, [c]);
      this.#created.add(c.map);
    } else slotOp(tx, 'add', c, c.elements);
    this.after.set(c.map, n + 1);
  }

  /** Takes the service's slots out of its shard map. */
  leave(tx: NftTransaction, c: NftServiceChain): void {
    slotOp(tx, 'delete', c, c.elements);
    this.after.set(c.map, this.count(c.map) - 1);
  }

  #exists(map: string): boolean {
    return (this.before.get(map) ?? 0) > 0 || this.#created.has(map);
  }

  /** Deletes the maps the batch emptied. */
  finish(tx: NftTransaction): void {
    for (const [map, n] of this.after) if (n === 0 && this.#exists(map)) tx.deleteSet({ ...T, name: map });
  }

  /** Writes the batch's counts into `into` (the cached table's, once committed). */
  applyTo(into: Map<string, number>): void {
    for (const [map, n] of this.after) {
      if (n > 0) into.set(map, n);
      else into.delete(map);
    }
  }
}

function removeService(tx: NftTransaction, c: NftServiceChain, chains: ChainSet, shards: ShardBatch): void {
  tx.deleteElements(setRef(c.dispatch.family), [element(c)]);
  tx.flushChain({ ...T, name: c.chain });
  tx.deleteChain({ ...T, name: c.chain });
  shards.leave(tx, c);
  removePersistence(tx, c);
  chains.delete(c.chain);
}

function addService(tx: NftTransaction, c: NftServiceChain, chains: ChainSet, shards: ShardBatch): void {
  if (chains.has(c.chain)) tx.flushChain({ ...T, name: c.chain });
  else tx.addChain({ ...T, name: c.chain });
  chains.add(c.chain);
  shards.join(tx, c);
  addPersistence(tx, c);
  addRules(tx, c);
  tx.addElements(setRef(c.dispatch.family), [element(c)]);
}

const sameElement = (a: NftSlotElement, b: NftSlotElement) => a.address === b.address && a.port === b.port && a.comment === b.comment;

/** Whether the service's rule and its map's declaration stay: then a change is element operations only. */
function sameRule(a: NftServiceChain, b: NftServiceChain): boolean {
  // (the map's name holds the family and protocol: the rule's l4proto match and key fields follow them)
  return a.slots === b.slots && a.comment === b.comment && a.map === b.map && a.pick.kind === b.pick.kind && (a.pick.kind === 'jhash' || (b.pick.kind === 'numgen' && a.pick.mode === b.pick.mode));
}

/**
 * One service changed in place (same name): its slots diffed by key in its shard map (vanished keys
 * deleted, changed ones replaced, new ones added) whatever changed; its rule replaced only when R,
 * the pick or the comment changes (the map stays: other services' slots live in it).
 */
function updateService(tx: NftTransaction, b: NftServiceChain, a: NftServiceChain, shards: ShardBatch): void {
  if (b.key !== a.key) tx.deleteElements(setRef(b.dispatch.family), [element(b)]);
  const rule = sameRule(b, a);
  if (!rule) {
    // (the rule goes first: flushing the chain also unbinds the persistence maps rebuilt below)
    tx.flushChain({ ...T, name: a.chain });
    removePersistence(tx, b);
  }
  if (b.map !== a.map || b.key !== a.key) {
    // another shard map (protocol or family changed) or other keys (VIP or port changed): out of one, into the other
    shards.leave(tx, b);
    shards.join(tx, a);
  } else {
    const old = new Map(b.elements.map((e) => [e.key, e]));
    const added: NftSlotElement[] = [], replaced: NftSlotElement[] = [];
    for (const e of a.elements) {
      const o = old.get(e.key);
      if (!o) added.push(e);
      else {
        old.delete(e.key);
        if (!sameElement(o, e)) replaced.push(e);
      }
    }
    if (old.size) slotOp(tx, 'delete', a, [...old.values()]);
    // (replaceElements: the kernel refuses new data for an existing key, so the keys go, then the elements)
    if (replaced.length) {
      slotOp(tx, 'destroy', a, replaced);
      slotOp(tx, 'add', a, replaced);
    }
    if (added.length) slotOp(tx, 'add', a, added);
  }
  if (!rule) {
    addPersistence(tx, a);
    addRules(tx, a);
  } else if (a.persistence) {
    // (the same comment: the same persistence) endpoints in and out of keep4/keep6; clients of a removed endpoint pick anew
    const want = new Set(keepElements(a).map((e) => JSON.stringify(e.key)));
    const had = new Set(keepElements(b).map((e) => JSON.stringify(e.key)));
    const gone = keepElements(b).filter((e) => !want.has(JSON.stringify(e.key)));
    const fresh = keepElements(a).filter((e) => !had.has(JSON.stringify(e.key)));
    const kref = keepMapRef(a.dispatch.family);
    if (gone.length) {
      tx.deleteElements(kref, gone.map((e) => ({ key: e.key })));
      tx.flushSet({ ...T, name: a.persistence.map });
    }
    if (fresh.length) tx.addElements(kref, fresh);
  }
  if (b.key !== a.key) tx.addElements(setRef(a.dispatch.family), [element(a)]);
}

/** One transaction for a list of service changes: removals first (a name may come back), then adds and updates. */
function buildChanges(tx: NftTransaction, changes: readonly ServiceChange[], chains: ChainSet, shards: ShardBatch): void {
  const compiled = changes.map((ch) => ({ b: ch.before && compileService(ch.before), a: ch.after && compileService(ch.after) }));
  for (const { b, a } of compiled) if (b && (!a || a.name !== b.name)) removeService(tx, b, chains, shards);
  for (const { b, a } of compiled) {
    if (!a) continue;
    if (b && b.name === a.name) updateService(tx, b, a, shards);
    else addService(tx, a, chains, shards);
  }
  shards.finish(tx);
}

/**
 * Builds the one transaction that takes `cur` to `desired`, touching only changed services.
 * Returns the chains and shard maps the table has once it is committed, or null when nothing changes.
 */
export function buildNftTransaction(tx: NftTransaction, cur: NftCurrent, desired: State): { chains: Set<string>; shards: Map<string, number> } | null {
  const conflict = persistenceConflict(desired.services);
  if (conflict) throw conflict;
  if (!cur.hasBase || cur.drift.length) {
    const shards = buildAll(tx, cur, desired);
    return { chains: new Set(['prerouting', 'output', 'persist-pre', 'persist-out', ...desired.services.map(nftChainName)]), shards };
  }
  const d = diffStates(cur.state, desired);
  if (isEmptyDiff(d)) return null;
  const chains = new Set(cur.chains);
  const changes: ServiceChange[] = [
    ...d.removed.map((before) => ({ name: before.name, before })),
    ...d.updated.map((u) => ({ name: u.name, before: previousService(u)!, after: changedService(u)! })),
    ...d.added.map((after) => ({ name: after.name, after })),
  ];
  const batch = new ShardBatch(cur.shards);
  buildChanges(tx, changes, chains, batch);
  const shards = new Map(cur.shards);
  batch.applyTo(shards);
  return { chains, shards };
}

/** The ruleset generation a commit at `g` leaves (the kernel counts up and skips 0). */
export const nextGeneration = (g: number): number => ((g + 1) >>> 0) || 1;

/** What the table holds after a successful commit of `desired` (enough for the next diff). */
function committedView(desired: State, built: { chains: Set<string>; shards: Map<string, number> }, generation: number): NftCurrent {
  return { state: desired, services: [], draining: [], drift: [], ...built, hasTable: true, hasBase: true, generation };
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
   * batch instead of listing the table. Anyone else's commit (to any table) drops the cache.
   */
  #cache: NftCurrent | undefined;

  invalidate(): void {
    this.#cache = undefined;
  }

  async read(opts: { forApply?: boolean } = {}): Promise<NftCurrent> {
    if (opts.forApply && this.#cache && (await this.nft.generation()) === this.#cache.generation) return this.#cache;
    // status(): the record plus the slot maps' counters while the generation proves it (status.ts)
    if (!opts.forApply && this.#cache) {
      const fast = await this.#status.read(this.nft, this.#cache);
      if (fast) return fast;
    }
    this.#cache = undefined;
    const cur = await this.#list();
    // (a clean table just read is as good a record as one just committed: update() builds on it)
    // (without its statuses: a scraper's process keeps no 10^5 endpoint objects between reads)
    if (cur.hasBase && !cur.drift.length) this.#cache = { ...cur, services: [] };
    return cur;
  }

  #status = new NftStatusReader();

  /** The counters alone, packed, while the generation proves the cached table (status.ts); else undefined. */
  async readCounters(): Promise<PackedStatus | undefined> {
    return this.#cache && this.#status.readPacked(this.nft, this.#cache);
  }

  async apply(desired: State, cur: NftCurrent, opts: { dryRun: boolean }) {
    const tx = this.nft.transaction();
    const built = buildNftTransaction(tx, cur, desired);
    if (!built) {
      if (!opts.dryRun) this.#cache = cur;
      return { operations: 0, draining: [], changed: false };
    }
    // One batch, only if nobody committed since we read (else ConflictError: re-read and retry).
    this.#cache = undefined;
    await tx.commit({ generation: cur.generation, dryRun: opts.dryRun });
    // (no GETGEN after it: the batch committed at cur.generation, so it made the next one; if anyone
    // commits after us, the next batch sent at it is refused with ERESTART and the table is read)
    if (!opts.dryRun) this.#cache = committedView(desired, built, nextGeneration(cur.generation));
    return { operations: tx.size, draining: [], changed: true };
  }

  /**
   * update(): one batch with only the changed services, sent at the generation kernlb's last commit
   * made: the kernel refuses it whole (ERESTART) when anyone committed since, and then the table is
   * read and `desired` applied in full. So the cached table is trusted exactly while the generation
   * proves it, at the cost of the batch alone (no GETGEN round trips; nothing proportional to the
   * other services).
   */
  async applyChanges(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    const conflict = persistenceConflict(desired.services);
    if (conflict) throw conflict;
    const cache = this.#cache;
    const full = async () => this.apply(desired, await this.read({ forApply: true }), opts);
    if (!cache) return full();
    const added = new Set<string>(), deleted = new Set<string>();
    const chains: ChainSet = {
      has: (n) => added.has(n) || (!deleted.has(n) && cache.chains.has(n)),
      add: (n) => void (deleted.delete(n), added.add(n)),
      delete: (n) => void (added.delete(n), deleted.add(n)),
    };
    const tx = this.nft.transaction();
    const shards = new ShardBatch(cache.shards);
    buildChanges(tx, changes, chains, shards);
    if (!tx.size) return { operations: 0, draining: [], changed: false };
    this.#cache = undefined;
    try {
      await tx.commit({ generation: cache.generation, dryRun: opts.dryRun });
    } catch (e) {
      if (e instanceof ConflictError) return full();
      throw e;
    }
    if (!opts.dryRun) {
      for (const n of deleted) cache.chains.delete(n);
      for (const n of added) cache.chains.add(n);
      shards.applyTo(cache.shards);
      this.#cache = { ...cache, state: desired, generation: nextGeneration(cache.generation) };
    } else this.#cache = cache;
    return { operations: tx.size, draining: [], changed: true };
  }

  async present(): Promise<boolean> {
    return (await this.#list()).hasTable;
  }

  async clear(): Promise<void> {
    this.#cache = undefined;
    const cur = await this.#list();
    if (!cur.hasTable) return;
    await this.nft.transaction().deleteTable({ family: NFT_FAMILY, name: NFT_TABLE }).commit();
  }

  close(): Promise<void> {
    return this.nft.close();
  }
}

