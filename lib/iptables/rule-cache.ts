/**
 * Encoded bytes of deep-frozen rules, reused by the next commit. A controller's sync loop commits
 * nearly the same table again and again; a rule object that cannot change (Object.freeze, all the
 * way down) encodes to the same entry every time, so its entry is copied from the blob last
 * committed instead of being validated and encoded again. Only the standard verdict of a jump
 * (and of a rule without a target, which continues at the next entry) depends on where things
 * land, and it is patched in after the copy.
 *
 * The bytes live in the blob they were written to (a Slab), not in a copy: the commit keeps its
 * blob as the handle's "home" for that table until the next commit of the table has copied what it
 * needs, then gives it back to the arena. An entry whose slab was given back is stale (slabBuf()
 * is undefined) and the rule is simply encoded again. Counters are never cached: they are read from the
 * rule at every commit (its `counters` object may change, the entry bytes carry none).
 */
import { ValidationError } from '../errors';
import type { IptChain, IptRule } from './types';

/**
 * A blob as a home for cached entries, by number. Entries and chain records hold the number, not an
 * object: each commit re-points 10^5 long-lived records at its blob, and a small integer is nothing
 * the garbage collector has to trace from them.
 */
export type Slab = number;
const slabBufs = new Map<Slab, Buffer>();
let slabCount = 0;

/** A blob's slab number, while it holds cached entries. */
export function openSlab(buf: Buffer): Slab {
  const id = reserveSlab();
  slabBufs.set(id, buf);
  return id;
}

/**
 * A slab number for a blob not final yet (the one-pass encoder may move to a bigger one): entries
 * recorded with it are stale until settleSlab names the blob, and stay so if it never does.
 */
export function reserveSlab(): Slab {
  return ++slabCount;
}

/** The blob of a reserved slab, once written. */
export function settleSlab(s: Slab, buf: Buffer): void {
  slabBufs.set(s, buf);
}

/** The blob of a slab, or undefined once it was given back (its entries are stale). */
export function slabBuf(s: Slab): Buffer | undefined {
  return slabBufs.get(s);
}

/** Makes every entry in a slab stale (before its blob is given back). */
export function closeSlab(s: Slab): void {
  slabBufs.delete(s);
}

export interface CachedEntry {
  slab: Slab;
  /** Entry offset in the slab's blob, and its size. */
  off: number;
  size: number;
  /** Offset in the entry of a standard target's verdict that must be patched (jump, goto, no target), else -1. */
  verdictAt: number;
  /** A jump's or goto's chain: its index in the table's chains when last encoded (checked by name before use). */
  jumpTo: number;
}

export type RuleCache = WeakMap<IptRule, CachedEntry>;

/** One cache per family (the same rule encodes differently in ip6t_entry). */
export const ruleCaches = { ipv4: new WeakMap<IptRule, CachedEntry>(), ipv6: new WeakMap<IptRule, CachedEntry>() };

/**
 * freezeRule gives the rule its cache entry, blank, before freezing it: finding it is then a
 * property load instead of a WeakMap lookup (which was the largest cost of a commit of cached rules),
 * and no entry object is made later (10^5 more objects slowed the first commit's garbage collection
 * more than anything else). The first family that encodes the rule takes that entry; another family,
 * and rules frozen some other way, use the WeakMap. The symbol-keyed property is not enumerable:
 * spreads, JSON and equality checks do not see it. A rule with one is deep-frozen (freezeRule gives
 * it only then), so it needs no isDeepFrozen walk either.
 */
const SLOT = Symbol('kernlb.iptables.encoded');
type Slotted = IptRule & { [SLOT]?: CachedEntry & { family: 0 | 4 | 6 } };

/** The slab of a blank entry: none (to the encoder, a stale entry). */
const NO_SLAB: Slab = 0;

export function cachedEntry(cache: RuleCache, v6: boolean, r: IptRule): CachedEntry | undefined {
  const e = (r as Slotted)[SLOT];
  if (e === undefined) return cache.get(r);
  return e.family === 0 || e.family === (v6 ? 6 : 4) ? e : cache.get(r) ?? NO_ENTRY;
}

/** What cachedEntry gives for a deep-frozen rule with no entry of this family: no bytes, but no need to check it either. */
const NO_ENTRY: CachedEntry = Object.freeze({ slab: NO_SLAB, off: 0, size: 0, verdictAt: -1, jumpTo: -1 });

export function setCachedEntry(cache: RuleCache, v6: boolean, r: IptRule, slab: Slab, off: number, size: number, verdictAt: number, jumpTo: number): void {
  const e = (r as Slotted)[SLOT];
  if (e !== undefined && (e.family === 0 || e.family === (v6 ? 6 : 4))) {
    e.family = v6 ? 6 : 4;
    e.slab = slab;
    e.off = off;
    e.size = size;
    e.verdictAt = verdictAt;
    e.jumpTo = jumpTo;
  } else cache.set(r, { slab, off, size, verdictAt, jumpTo });
}

/**
 * Whether `r` and everything reachable from it, counters aside, is frozen. Buffers (raw extensions)
 * cannot be frozen, so a rule with one is never cached. Run once per rule that is not cached yet.
 */
export function isDeepFrozen(r: IptRule): boolean {
  if (!Object.isFrozen(r)) return false;
  if ((r as Slotted)[SLOT] !== undefined) return true;
  for (const k in r) if (k !== 'counters' && !frozenValue((r as Record<string, unknown>)[k], 0)) return false;
  return true;
}

function frozenValue(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth > 8 || ArrayBuffer.isView(v) || !Object.isFrozen(v)) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!frozenValue(v[i], depth + 1)) return false;
  } else for (const k in v) if (!frozenValue((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/** Freezes a rule and everything in it (counters aside, which stay writable), so commits can reuse its encoding. */
export function freezeRule<R extends IptRule>(r: R): Readonly<R> {
  if (Object.isFrozen(r)) return r;
  let all = true;
  for (const k in r) if (k !== 'counters' && !freezeValue((r as Record<string, unknown>)[k])) all = false;
  // (A Buffer inside, a raw extension's data, cannot be frozen: such a rule is never cached.)
  if (all && Object.isExtensible(r)) {
    const blank = { slab: NO_SLAB, off: 0, size: 0, verdictAt: -1, jumpTo: -1, family: 0 as 0 | 4 | 6 };
    Object.defineProperty(r, SLOT, { value: blank });
  }
  return Object.freeze(r);
}

/** Freezes `v` all the way down; false when something in it cannot be frozen (a Buffer). */
function freezeValue(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (ArrayBuffer.isView(v)) return false;
  if (Object.isFrozen(v)) return frozenValue(v, 0);
  let all = true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!freezeValue(v[i])) all = false;
  } else for (const k in v) if (!freezeValue((v as Record<string, unknown>)[k])) all = false;
  Object.freeze(v);
  return all;
}

/** freezeRule on every rule of a table, in place (chains and their rule arrays stay editable); returns the table. */
export function freezeRules<T extends { chains: Array<{ rules: IptRule[] }> }>(t: T): T {
  if (!t || !Array.isArray(t.chains)) throw new ValidationError('table', 'must be a table with a chains array', t);
  for (const c of t.chains) if (c && Array.isArray(c.rules)) for (const r of c.rules) freezeRule(r); // (commit names any other problem)
  return t;
}

/**
 * A chain whose rules were all deep-frozen, as last written: while it keeps its name, policy and
 * rule objects (compared by identity: no rule is even looked at), the whole chain, head to tail,
 * is one copy, with its verdicts patched. Most chains of a controller's table are unchanged from
 * one commit to the next; this turns their cost from per rule into per chain.
 */
export interface CachedChain {
  slab: Slab;
  /** Where the chain starts in the slab's blob (a user chain's ERROR head, a built-in's first rule), and its size through its tail. */
  off: number;
  size: number;
  name: string;
  policy: string | undefined;
  /** The rule objects, in order, when it was written. */
  rules: IptRule[];
  /**
   * Verdicts to patch: offset from the chain start, and the index in the table's chains of the
   * chain jumped to (checked by name, `patchName`, before use), or for a rule without a target
   * -1 - (its next entry's offset from the chain start).
   */
  patchAt: number[];
  patchTo: number[];
  patchName: Array<string | undefined>;
  /** Indices of rules with counters (read at every commit). */
  counted: number[];
  /** The chains array's orderStamp when patchTo was last checked: the same stamp needs no new check. */
  stamp: number;
}

export type ChainCache = WeakMap<IptChain, CachedChain>;

export const chainCaches = { ipv4: new WeakMap<IptChain, CachedChain>(), ipv6: new WeakMap<IptChain, CachedChain>() };

/**
 * Like a frozen rule's, a chain's cached copy is kept on the chain itself once it has one (a
 * property load instead of a WeakMap lookup, 10^5 times a commit): a symbol-keyed property that is
 * not enumerable, so spreads, JSON, the CLI and equality checks do not see it. Chains that cannot
 * take a property (frozen, sealed) use the WeakMap.
 */
const CHAIN_SLOT = Symbol('kernlb.iptables.encodedChain');
interface ChainSlot {
  v4: CachedChain | undefined;
  v6: CachedChain | undefined;
}
type SlottedChain = IptChain & { [CHAIN_SLOT]?: ChainSlot };

export function cachedChain(cache: ChainCache, v6: boolean, c: IptChain): CachedChain | undefined {
  const slot = (c as SlottedChain)[CHAIN_SLOT];
  if (slot === undefined) return cache.get(c);
  return v6 ? slot.v6 : slot.v4;
}

export function setCachedChain(cache: ChainCache, v6: boolean, c: IptChain, cc: CachedChain): void {
  let slot = (c as SlottedChain)[CHAIN_SLOT];
  if (slot === undefined) {
    if (!Object.isExtensible(c)) return void cache.set(c, cc);
    slot = { v4: undefined, v6: undefined };
    Object.defineProperty(c, CHAIN_SLOT, { value: slot });
  }
  if (v6) slot.v6 = cc;
  else slot.v4 = cc;
}

/** Whether a chain still holds exactly the rule objects `cc` was written from. */
export function sameRules(cc: CachedChain, rules: readonly IptRule[]): boolean {
  const a = cc.rules;
  if (a.length !== rules.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== rules[i]) return false;
  return true;
}

/** What an encoder gathers while it writes a chain that may be cached whole (one reused scratch). */
export class ChainScratch {
  readonly at: number[] = [];
  readonly to: number[] = [];
  readonly names: Array<string | undefined> = [];
  readonly counted: number[] = [];

  /**
   * Rule `ri` of the chain starting at `start`: its verdict at `verdictPos` (-1: none to patch)
   * goes to chain `jumpTo` or, without a target, to `next`; and whether it has counters.
   */
  rule(r: IptRule, ri: number, verdictPos: number, jumpTo: number, next: number, start: number): void {
    if (verdictPos >= 0) {
      const t = r.target as { chain: string } | undefined;
      this.at.push(verdictPos - start);
      this.to.push(t ? jumpTo : -1 - (next - start));
      this.names.push(t?.chain);
    }
    if (r.counters) this.counted.push(ri);
  }

  done(slab: Slab, off: number, size: number, c: IptChain, rules: IptRule[], stamp: number): CachedChain {
    return {
      slab, off, size, name: c.name, policy: c.policy, rules: rules.slice(),
      // (Shared empty arrays where there is nothing: 10^5 chain records are live objects for the collector.)
      patchAt: this.at.length ? this.at.slice() : NONE, patchTo: this.to.length ? this.to.slice() : NONE,
      patchName: this.names.length ? this.names.slice() : NO_NAMES, counted: this.counted.length ? this.counted.slice() : NONE, stamp,
    };
  }
}
const chainScratch = new ChainScratch();
const NONE: number[] = [];
const NO_NAMES: Array<string | undefined> = [];
export function newChainScratch(): ChainScratch {
  const s = chainScratch;
  s.at.length = s.to.length = s.names.length = s.counted.length = 0;
  return s;
}
