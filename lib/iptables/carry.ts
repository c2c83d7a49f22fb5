/**
 * Counters carried over at the swap. IPT_SO_SET_REPLACE hands back the old table's counters as
 * they were at the moment of the replace; a rule that is in the old table and in the new one keeps
 * counting from there, so nothing counted between a read and the commit is lost. That is what
 * libiptc's counter map does for the rules an `iptables -A` leaves alone.
 *
 * Which old entry a new rule was is known by identity: the handle remembers, for the table it last
 * read or committed, the rule object at each entry index. The map is only valid for that very
 * table, so a carry goes with expectUnchanged, whose check proves the kernel still holds it.
 */
import { compareChainNames, HOOKS } from './layout';
import type { IptChain, IptRule } from './types';
import type { BlobLayout } from './splice';

/** A chain's place among the built-ins (its hook's index), or -1 for a user chain. */
const hookOf = (c: IptChain) => (c.policy !== undefined ? HOOKS.indexOf(c.name as never) : -1);

/**
 * Whether a chain (`hook`, `name`) comes before another (`nextHook`, `next`) in the kernel's order:
 * built-ins by hook, then user chains by name.
 */
function sortsBefore(hook: number, name: string, nextHook: number, next: string): boolean {
  if (hook >= 0) return nextHook < 0 || hook < nextHook;
  return nextHook < 0 && compareChainNames(name, next) < 0;
}

/** What a handle knows of a table the kernel holds: the model objects at its entry indices. */
export interface EntryRecord {
  numEntries: number;
  digest: string;
  /** The chains in the kernel's order (a copy: the caller's array may change), and their names then. */
  chains: IptChain[];
  names: string[];
  hooks: Int8Array;
  /** Per chain (same order), the entry index of its first rule, and how many rules it had. */
  first: Int32Array;
  count: Int32Array;
  /** Per entry index, the rule there; null for a user chain's head and tail and for policies. */
  rules: Array<IptRule | null>;
  /** Built-in chain name -> the index of its policy entry (whose counters are the chain's). */
  policies: Map<string, number>;
  /** A commit's with CommitOptions.keepLayout: its blob and where things are in it (splice.ts). */
  layout?: BlobLayout;
}

/** The record of a table whose entries are `chains` in the kernel's order (numEntries of them). */
export function recordEntries(chains: readonly IptChain[], numEntries: number, digest: string): EntryRecord {
  const rules = new Array<IptRule | null>(numEntries).fill(null);
  const n = chains.length;
  const copy = new Array<IptChain>(n), names = new Array<string>(n);
  const hooks = new Int8Array(n), first = new Int32Array(n), count = new Int32Array(n);
  const policies = new Map<string, number>();
  let idx = 0;
  for (let ci = 0; ci < n; ci++) {
    const c = chains[ci]!;
    copy[ci] = c;
    names[ci] = c.name;
    const builtin = c.policy !== undefined;
    hooks[ci] = hookOf(c);
    if (!builtin) idx++; // head
    first[ci] = idx;
    const rs = c.rules;
    count[ci] = rs.length;
    for (let i = 0; i < rs.length; i++) rules[idx++] = rs[i]!;
    if (builtin) policies.set(c.name, idx);
    idx++; // policy or tail
  }
  return { numEntries, digest, chains: copy, names, hooks, first, count, rules, policies };
}

/**
 * Per entry of the new table (`chains` in the kernel's order, numEntries entries), the old entry
 * whose counters it carries on, or -1. Built-in chains carry their policy counters by name.
 *
 * A chain object found in the old table with the very same rules carries them all at once: a
 * controller's unchanged chains are the same objects, and looking them up costs far less than
 * 10^6 rule lookups. Both tables are in the kernel's order, so the old chain is found by walking
 * the old list alongside (no hashing of 10^5 objects: a Map of them cost ~100 ms a commit). Only
 * the rules of old chains not carried so are looked up one by one.
 */
export function carryMap(rec: EntryRecord, chains: readonly IptChain[], numEntries: number): Int32Array {
  const oldChains = rec.chains, names = rec.names, hooks = rec.hooks, oldN = oldChains.length;
  const map = new Int32Array(numEntries).fill(-1);
  const used = new Uint8Array(rec.chains.length); // old chains carried whole
  const firstAt = new Int32Array(chains.length); // new chains: entry index of the first rule, -1 once carried whole
  const old = rec.rules;
  let partly = false;
  let idx = 0, j = 0;
  for (let ci = 0; ci < chains.length; ci++) {
    const c = chains[ci]!;
    const builtin = c.policy !== undefined;
    if (!builtin) idx++;
    const rs = c.rules;
    const n = rs.length;
    // The old chain at the walk's position, once those that sort before this one are passed.
    let oc = -1;
    if (j < oldN && oldChains[j] !== c) {
      const hook = hookOf(c);
      while (j < oldN && sortsBefore(hooks[j]!, names[j]!, hook, c.name)) j++;
    }
    if (j < oldN && oldChains[j] === c) oc = j++;
    let whole = false;
    if (oc >= 0 && used[oc] === 0 && rec.count[oc] === n) {
      const f = rec.first[oc]!;
      whole = true;
      for (let i = 0; whole && i < n; i++) whole = old[f + i] === rs[i];
      if (whole) {
        used[oc] = 1;
        for (let i = 0; i < n; i++) map[idx + i] = f + i;
      }
    }
    firstAt[ci] = whole ? -1 : idx;
    if (!whole && n > 0) partly = true;
    idx += n;
    if (builtin) map[idx] = rec.policies.get(c.name) ?? -1;
    idx++;
  }
  if (!partly) return map;
  // The rules of old chains not carried whole, by identity (-1: at two places, so neither carries).
  const rest = new Map<IptRule, number>();
  for (let ci = 0; ci < rec.chains.length; ci++) {
    if (used[ci] !== 0) continue;
    const f = rec.first[ci]!;
    for (let i = f; i < f + rec.count[ci]!; i++) {
      const r = old[i];
      if (r) rest.set(r, rest.has(r) ? -1 : i);
    }
  }
  if (rest.size === 0) return map;
  const taken = new Uint8Array(rec.numEntries); // old entries already carried
  for (let ci = 0; ci < chains.length; ci++) {
    const at = firstAt[ci]!;
    if (at < 0) continue;
    const rs = chains[ci]!.rules;
    for (let i = 0; i < rs.length; i++) {
      const from = rest.get(rs[i]!);
      // (The same old rule used twice in the new table: only its first use counts on.)
      if (from === undefined || from < 0 || taken[from] !== 0) continue;
      taken[from] = 1;
      map[at + i] = from;
    }
  }
  return map;
}
