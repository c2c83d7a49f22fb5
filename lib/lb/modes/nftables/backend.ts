/** nftables mode over the Nftables handle: one transaction per apply, built from the diff. */
import { isNotFound } from '../../../errors';
import { nftStatements as st, type Nftables, type NftRule, type NftSetRef, type NftTransaction } from '../../../nft';
import { changedService, diffStates, isEmptyDiff } from '../../diff';
import { serviceKey, type Service, type State } from '../../state';
import type { ModeBackend } from '../../types';
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

function removeService(tx: NftTransaction, s: Service): void {
  const c = compileService(s);
  tx.deleteElements(setRef(s.family), [element(c)]);
  tx.flushChain({ ...T, name: c.chain });
  tx.deleteChain({ ...T, name: c.chain });
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
  // Chains that exist after the removals below (a removed service's chain name may come back).
  const chains = new Set(cur.chains);
  const remove = (s: Service) => {
    removeService(tx, s);
    chains.delete(compileService(s).chain);
  };
  for (const s of d.removed) remove(s);
  for (const u of d.updated) {
    const want = compileService(changedService(u)!);
    if (u.fields.includes('name')) {
      remove(cur.state.services.find((s) => serviceKey(s) === u.key)!);
      if (chains.has(want.chain)) tx.flushChain({ ...T, name: want.chain });
      else tx.addChain({ ...T, name: want.chain });
      chains.add(want.chain);
      addRules(tx, want);
      tx.addElements(setRef(want.dispatch.family), [element(want)]);
    } else {
      tx.flushChain({ ...T, name: want.chain });
      addRules(tx, want);
    }
  }
  for (const s of d.added) {
    const c = compileService(s);
    if (chains.has(c.chain)) tx.flushChain({ ...T, name: c.chain });
    else tx.addChain({ ...T, name: c.chain });
    chains.add(c.chain);
    addRules(tx, c);
    tx.addElements(setRef(s.family), [element(c)]);
  }
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
