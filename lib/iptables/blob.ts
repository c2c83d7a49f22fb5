/**
 * The table blob: the kernel's ipt_entry/ip6t_entry array with user chains framed by ERROR entries
 * and RETURN tails, built-in chains ending in their policy, jumps as byte offsets, and a final ERROR
 * entry (the layout libiptc builds in iptc_commit and parses in iptc_init).
 */
import { formatCidr, formatQuad, isZero } from './addr';
import { decodeIface, getU16LE, getU32BE, getU32LE, putU16LE, putU32LE, readCString, xtAlign } from './extensions/codec';
import { matchByName, targetByName, type AnyCodec } from './extensions';
import {
  ERROR_TARGET_SIZE, EXT_HEADER, HOOKS, INV, layoutOf, REPLACE_HEADER, STANDARD_TARGET_SIZE, VERDICT,
  VERDICT_NAME, type EntryLayout,
} from './layout';
import { knownProtoName } from './proto';
import type { IptChain, IptFamily, IptMatch, IptRule, IptTable, IptTarget } from './types';
import { chainOrder, orderedChains, orderStamp, pinOrder } from './chain-order';
import { ChainIndex, validateChains, validateRule, validateTable, type Add } from './validate';
import { encodeOnePass, FROZEN } from './one-pass';
import {
  addCounters, infoOf, INV_KEYS, JumpIndex, matchInfo, targetInfo, writeError, writeRaw, writeRuleHead, writeStandard, writeTyped,
} from './write';
import {
  cachedChain, cachedEntry, closeSlab, isDeepFrozen, newChainScratch, openSlab, sameRules, setCachedChain, setCachedEntry, slabBuf,
  type CachedChain, type CachedEntry, type ChainCache, type RuleCache, type Slab,
} from './rule-cache';

export interface EncodedTable {
  /** ipt_replace: header (num_counters and counters pointer left for native) + entries. */
  blob: Buffer;
  numEntries: number;
  validHooks: number;
  /** xt_counters per entry when any counter in the model is non-zero, else null. */
  counters: Buffer | null;
  /** With a rule cache: the blob's slab number, when cached entries now live in it (see rule-cache.ts), else 0. */
  slab: Slab;
  /** Written over the home it was given (encodeValidTable's `home`): that blob's memory is now this blob. */
  inPlace: boolean;
  /** Entries copied (or, in place, left) from the rule and chain caches. */
  reused: number;
}

/**
 * The blob a table's last commit left its cached entries in (rule-cache.ts), offered to the next
 * commit of that table: when every cached rule and chain would land exactly where it already is,
 * the commit writes only what changed, over it, instead of copying everything into a new blob.
 */
export interface HomeBlob {
  slab: Slab;
  blob: Buffer;
}

/** The order chains take in the kernel: built-ins by hook, then user chains sorted like libiptc. */
export function orderChains(chains: IptChain[]): IptChain[] {
  chainOrder(chains);
  return orderedChains(chains).slice(); // (the shared array is chain-order.ts's own)
}

function isStandardTarget(type: string): boolean {
  return type === 'ACCEPT' || type === 'DROP' || type === 'RETURN' || type === 'QUEUE' || type === 'jump' || type === 'goto';
}

export function ruleSize(r: IptRule, L: EntryLayout, family: IptFamily): number {
  let n = L.size;
  const ms = r.matches;
  if (ms) {
    const cache = matchInfo[family];
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      n += m.type === 'raw' ? EXT_HEADER + xtAlign(m.data.length) : infoOf(cache, 'm', m.type, family).size;
    }
  }
  const t = r.target;
  if (!t || isStandardTarget(t.type)) return n + STANDARD_TARGET_SIZE;
  return n + (t.type === 'raw' ? EXT_HEADER + xtAlign(t.data.length) : infoOf(targetInfo[family], 't', t.type, family).size);
}

/** Builds the ipt_replace for a validated table; `alloc` gives the zero-filled buffer (default Buffer.alloc). */
export function encodeTable(table: IptTable, validHooks: number, alloc: (size: number) => Buffer = Buffer.alloc): EncodedTable {
  return encodeCore(table, validHooks, alloc, new ChainIndex(table.chains), null, null, null, null)!;
}

/**
 * validateTable and encodeTable in one walk of the model (what commit runs): throws exactly what
 * validateTable throws, and encodes only a valid table. A problem found on the way hands over to
 * validateTable itself, so that errors (and their order) are always its own. A table is written in
 * one pass (one-pass.ts) into `room` (a buffer of at least an estimated size, zeroed as it goes),
 * its frozen rules recorded in the caches, unless the caches hold bytes of its frozen rules: then
 * the two-pass encoder (encodeCore, below) copies those, into `alloc` (zero-filled).
 */
export function encodeValidTable(
  table: IptTable, validHooks: number, alloc: (size: number) => Buffer = Buffer.alloc, cache: RuleCache | null = null,
  chainCache: ChainCache | null = null, home: HomeBlob | null = null, room: (size: number) => Buffer = alloc,
): EncodedTable {
  let bad = false;
  const add: Add = () => {
    bad = true;
  };
  const index = validateChains(table, add);
  let enc: EncodedTable | null = null;
  if (index && !bad) {
    pinOrder(table.chains); // (validateChains has just computed or confirmed it)
    try {
      const one = encodeOnePass(table, validHooks, room, index, cache, chainCache);
      enc = one !== FROZEN ? one : encodeCore(table, validHooks, alloc, index, add, cache, chainCache, home);
    } finally {
      pinOrder(null);
    }
  }
  if (enc) return enc;
  validateTable(table); // throws: something above was invalid
  return encodeTable(table, validHooks, alloc); // (not reached while both agree)
}

/**
 * The encoder. `index`: chain name -> its index in table.chains. With `check`, every rule is
 * validated (validateRule) just before it is measured, jumps are checked here (one lookup gives
 * both the answer and the target), and null is returned at the first problem, before any buffer.
 * With `cache`, a deep-frozen rule encoded before (same family) is copied from where its entry
 * was last written, its jump checked and patched: it was validated when it was first encoded, and
 * nothing in it can have changed since. With `home` (a cache's blob this commit may write over),
 * see HomeBlob.
 */
function encodeCore(
  table: IptTable, validHooks: number, alloc: (size: number) => Buffer, index: ChainIndex, check: Add | null,
  cache: RuleCache | null, chainCache: ChainCache | null, home: HomeBlob | null,
): EncodedTable | null {
  const family = table.family;
  const v6 = family === 'ipv6';
  const L = layoutOf(family);
  const order = chainOrder(table.chains);
  const stamp = orderStamp(table.chains);
  const chains = orderedChains(table.chains);
  const jumps = new JumpIndex(table.chains, index);
  const headSize = L.size + ERROR_TARGET_SIZE;
  const tailSize = L.size + STANDARD_TARGET_SIZE;
  let ruleCount = index.ruleCount;
  if (ruleCount < 0) {
    ruleCount = 0;
    for (let c = 0; c < chains.length; c++) ruleCount += chains[c]!.rules.length;
  }

  // Pass 1: offsets of every chain's first rule (jump targets, by the chain's index) and the total
  // size; per rule its size and, for a jump, the index of its chain. Typed arrays: nothing for the
  // garbage collector, and no Map lookup by name in pass 2.
  const startOf = new Uint32Array(table.chains.length);
  const sizes = new Uint32Array(ruleCount);
  const jumpTo = new Int32Array(ruleCount);
  // With a cache: per rule its cached entry (a hit), or 1 for a frozen rule to cache once written;
  // made at the first frozen rule (a model of plain objects has none, and no cache work at all).
  let hits: Array<CachedEntry | 0 | 1> | null = null;
  // With a chain cache: per chain (kernel order) its cached copy, when it is unchanged (made at the first).
  const chainsOn = chainCache !== null && cache !== null;
  let chainHits: Array<CachedChain | undefined> | null = null;
  let off = 0, numEntries = 0, si = 0, bad = false;
  // In place (HomeBlob): possible while every hit is in the home's slab at its new offset; worth it
  // when hits are most of the table (each entry written over old bytes is zeroed first, one call).
  const homeSlab = home !== null && cache !== null && slabBuf(home.slab) !== undefined ? home.slab : 0;
  let same = homeSlab !== 0, hitBytes = 0, reused = 0;
  const flag: Add = () => {
    bad = true;
  };
  for (let ci = 0; ci < chains.length; ci++) {
    const c = chains[ci]!;
    const builtin = c.policy !== undefined;
    const rules = c.rules;
    // (A cached chain holds the same, frozen, rule objects: a chain whose first rule is not frozen
    // needs no lookup. The same for a rule: cached ones are frozen. Plain models skip both.)
    if (chainsOn && rules.length !== 0 && Object.isFrozen(rules[0])) {
      const cc = cachedChain(chainCache!, v6, c);
      if (
        cc !== undefined && slabBuf(cc.slab) !== undefined && cc.name === c.name && cc.policy === c.policy && sameRules(cc, rules) &&
        (cc.stamp === stamp || jumpsStill(cc, table.chains, jumps))
      ) {
        cc.stamp = stamp;
        (chainHits ??= new Array<CachedChain | undefined>(chains.length))[ci] = cc;
        if (cc.slab !== homeSlab || cc.off !== off) same = false;
        hitBytes += cc.size;
        reused += rules.length + (builtin ? 1 : 2);
        startOf[order[ci]!] = builtin ? off : off + headSize;
        off += cc.size;
        numEntries += rules.length + (builtin ? 1 : 2);
        si += rules.length;
        continue;
      }
    }
    if (!builtin) {
      off += headSize;
      numEntries++;
    }
    startOf[order[ci]!] = off;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (cache !== null && r !== null && typeof r === 'object' && Object.isFrozen(r)) {
        hits ??= new Array<CachedEntry | 0 | 1>(ruleCount).fill(0);
        const ce = cachedEntry(cache, v6, r);
        if (ce !== undefined && slabBuf(ce.slab) !== undefined) {
          const t = r.target;
          if (t && (t.type === 'jump' || t.type === 'goto')) {
            // Where the jump went last time, if that chain is still there (no lookup by name).
            let to = ce.jumpTo;
            const at = table.chains[to];
            if (at === undefined || at.name !== t.chain) {
              const found = jumps.get(t.chain);
              if (found === undefined) return null; // (only the checking encoder has a cache)
              ce.jumpTo = to = found;
            }
            jumpTo[si] = to;
          }
          hits[si] = ce;
          if (ce.slab !== homeSlab || ce.off !== off) same = false;
          hitBytes += ce.size;
          reused++;
          sizes[si++] = ce.size;
          off += ce.size;
          continue;
        }
        // (Frozen is for good: a rule cached before whose slab was given back needs no new look.)
        if (ce !== undefined || isDeepFrozen(r)) hits[si] = 1;
      }
      if (check) {
        validateRule(r, c.name, i + 1, family, index, flag, true);
        if (bad) return null;
        const t = r.target;
        if (t && (t.type === 'jump' || t.type === 'goto')) {
          const to = typeof t.chain === 'string' ? jumps.get(t.chain) : undefined;
          if (to === undefined) bad = true;
          else jumpTo[si] = to;
        }
        if (bad) return null;
      } else {
        const t = r.target;
        if (t && (t.type === 'jump' || t.type === 'goto')) jumpTo[si] = jumps.get(t.chain)!;
      }
      const s = ruleSize(r, L, family);
      sizes[si++] = s;
      off += s;
    }
    off += tailSize;
    numEntries += rules.length + 1;
  }
  const total = off + headSize;
  numEntries++;

  const inPlace = same && hitBytes * 2 >= total && home!.blob.byteOffset + REPLACE_HEADER + total <= home!.blob.buffer.byteLength;
  const blob = inPlace ? Buffer.from(home!.blob.buffer, home!.blob.byteOffset, REPLACE_HEADER + total) : alloc(REPLACE_HEADER + total);
  if (inPlace) blob.fill(0, 0, REPLACE_HEADER);
  let counters: Buffer | null = null;
  blob.write(table.name, 0, Math.min(table.name.length, 31), 'latin1');
  blob.writeUInt32LE(validHooks, 32);
  blob.writeUInt32LE(numEntries, 36);
  blob.writeUInt32LE(total, 40);
  for (let h = 0; h < 5; h++) {
    blob.writeUInt32LE(0xffffffff, 44 + h * 4);
    blob.writeUInt32LE(0xffffffff, 64 + h * 4);
  }

  const b = blob.subarray(REPLACE_HEADER);
  const mcache = matchInfo[family], tcache = targetInfo[family];
  off = 0;
  let idx = 0;
  si = 0;
  // (Closed again below when nothing was cached in it, or when a throw leaves the blob to the collector.)
  const slab: Slab = hits !== null || chainHits !== null ? openSlab(b) : 0;
  let slabUsed = false, written = false;
  const runs = chainHits !== null ? new ChainRuns(b, startOf, inPlace) : null;

  try {
    for (let ci = 0; ci < chains.length; ci++) {
      const c = chains[ci]!;
      const builtin = c.policy !== undefined;
      const start = off;
      const rules = c.rules;
      if (chainHits !== null) {
        const cc = chainHits[ci];
        if (cc !== undefined) {
          // An unchanged chain: one copy, head to tail.
          const n = rules.length;
          if (builtin) {
            blob.writeUInt32LE(start, 44 + HOOKS.indexOf(c.name as never) * 4);
            blob.writeUInt32LE(start + cc.size - tailSize, 64 + HOOKS.indexOf(c.name as never) * 4);
          }
          runs!.add(cc, start);
          counters = chainCounters(cc, counters, numEntries, builtin ? idx : idx + 1, rules);
          if (builtin) counters = addCounters(counters, numEntries, idx + n, c.counters);
          cc.slab = slab;
          cc.off = start;
          slabUsed = true;
          idx += n + (builtin ? 1 : 2);
          si += n;
          off += cc.size;
          continue;
        }
      }
      // (Copies still pending are made before anything else is written or copied.)
      runs?.flush();
      // A chain written here is cached whole (chain cache) when every rule in it is deep-frozen.
      // (Not an empty chain: writing its head and tail costs less than keeping a blob for them.)
      let whole = chainsOn && hits !== null && rules.length > 0 && Object.isFrozen(rules[0]);
      const rec = whole ? newChainScratch() : null;
      if (builtin) blob.writeUInt32LE(off, 44 + HOOKS.indexOf(c.name as never) * 4);
      else {
        if (inPlace) b.fill(0, off, off + headSize);
        off += writeError(b, off, L, c.name);
        idx++;
      }
      for (let ri = 0; ri < rules.length; ri++) {
        const r = rules[ri]!;
        const e = off;
        if (hits !== null) {
          const h = hits[si]!;
          if (h !== 0 && h !== 1) {
            // A cached entry: copied (from this very blob when the rule came up earlier in this table),
            // or already there (in place).
            const next = e + h.size;
            if (!inPlace) b.set(slabBuf(h.slab)!.subarray(h.off, h.off + h.size), e);
            if (h.verdictAt >= 0) putU32LE(b, e + h.verdictAt, r.target ? startOf[jumpTo[si]!]! : next);
            h.slab = slab;
            h.off = e;
            slabUsed = true;
            if (rec !== null) rec.rule(r, ri, h.verdictAt >= 0 ? e + h.verdictAt : -1, jumpTo[si]!, next, start);
            if (r.counters) counters = addCounters(counters, numEntries, idx, r.counters);
            off = next;
            idx++;
            si++;
            continue;
          }
        }
        if (inPlace) b.fill(0, e, e + sizes[si]!);
        writeRuleHead(b, e, r, L, family);
        let p = e + L.size;
        const ms = r.matches;
        if (ms) {
          for (let i = 0; i < ms.length; i++) {
            const m = ms[i]!;
            p += m.type === 'raw' ? writeRaw(b, p, m) : writeTyped(b, p, infoOf(mcache, 'm', m.type, family), m, family);
          }
        }
        const t = r.target;
        const next = e + sizes[si]!;
        const targetAt = p;
        if (!t) writeStandard(b, p, next);
        else if (t.type === 'jump' || t.type === 'goto') {
          writeStandard(b, p, startOf[jumpTo[si]!]!);
          if (t.type === 'goto') b[e + L.flags] |= L.fGoto;
        } else if (t.type in VERDICT) writeStandard(b, p, VERDICT[t.type as keyof typeof VERDICT]);
        else if (t.type === 'raw') writeRaw(b, p, t);
        else writeTyped(b, p, infoOf(tcache, 't', t.type, family), t, family);
        putU16LE(b, e + L.targetOffset, targetAt - e);
        putU16LE(b, e + L.nextOffset, next - e);
        if (hits !== null && hits[si] === 1) {
          const patch = !t || t.type === 'jump' || t.type === 'goto';
          setCachedEntry(cache!, v6, r, slab, e, next - e, patch ? targetAt - e + EXT_HEADER : -1, t && patch ? jumpTo[si]! : -1);
          slabUsed = true;
          if (rec !== null) rec.rule(r, ri, patch ? targetAt + EXT_HEADER : -1, jumpTo[si]!, next, start);
        } else whole = false;
        if (r.counters) counters = addCounters(counters, numEntries, idx, r.counters);
        off = next;
        idx++;
        si++;
      }
      // Chain end: the policy for a built-in chain, RETURN for a user chain.
      if (builtin) {
        blob.writeUInt32LE(off, 64 + HOOKS.indexOf(c.name as never) * 4);
        counters = addCounters(counters, numEntries, idx, c.counters);
      }
      if (inPlace) b.fill(0, off, off + tailSize);
      writeStandard(b, off + L.size, builtin ? VERDICT[c.policy!] : VERDICT.RETURN);
      putU16LE(b, off + L.targetOffset, L.size);
      putU16LE(b, off + L.nextOffset, tailSize);
      off += tailSize;
      idx++;
      if (whole) {
        setCachedChain(chainCache!, v6, c, rec!.done(slab, start, off - start, c, rules, stamp));
        slabUsed = true;
      }
    }
    runs?.flush();
    if (inPlace) b.fill(0, off, off + headSize);
    writeError(b, off, L, 'ERROR');
    written = true;
  } finally {
    if (slab !== 0 && !(written && slabUsed)) closeSlab(slab);
    // (The home's bytes are this blob's now: what was cached there and is not in this table is stale.)
    if (inPlace) closeSlab(homeSlab);
  }
  return { blob, numEntries, validHooks, counters, slab: slabUsed ? slab : 0, inPlace, reused };
}

/** Pass 1's check of an unchanged chain's jumps: each still names a chain, whose index is refreshed. */
function jumpsStill(cc: CachedChain, chains: IptChain[], jumps: JumpIndex): boolean {
  const to = cc.patchTo, names = cc.patchName;
  for (let k = 0; k < to.length; k++) {
    const j = to[k]!;
    if (j < 0) continue;
    const at = chains[j];
    if (at !== undefined && at.name === names[k]) continue;
    const found = jumps.get(names[k]!);
    if (found === undefined) return false; // (the rule path then finds the bad jump)
    to[k] = found;
  }
  return true;
}

/**
 * Pass 2's copies of unchanged chains, merged while they follow each other in both blobs: one copy
 * of ~100 KB instead of ~50 copies of ~2 KB (a copy of a view costs ~0.3-0.5 us whatever its size,
 * 10^5 times a commit). Each chain's verdicts are patched once its run is copied.
 */
class ChainRuns {
  private src: Buffer | null = null;
  private from = 0;
  private to = 0;
  private dst = 0;
  private readonly chains: CachedChain[] = [];
  private readonly starts: number[] = [];

  /** inPlace: every chain is already where it goes (HomeBlob); only its verdicts are patched. */
  constructor(private readonly b: Buffer, private readonly startOf: Uint32Array, private readonly inPlace: boolean) {}

  /** Copies `cc` (from where it is now) to `start`, now or with the rest of its run. */
  add(cc: CachedChain, start: number): void {
    const src = slabBuf(cc.slab)!;
    if (src !== this.src || cc.off !== this.to || start !== this.dst + (this.to - this.from)) {
      this.flush();
      this.src = src;
      this.from = this.to = cc.off;
      this.dst = start;
    }
    this.to += cc.size;
    this.chains.push(cc);
    this.starts.push(start);
  }

  flush(): void {
    const src = this.src;
    if (src === null) return;
    const b = this.b, startOf = this.startOf, chains = this.chains, starts = this.starts;
    if (!this.inPlace) b.set(src.subarray(this.from, this.to), this.dst);
    for (let i = 0; i < chains.length; i++) {
      const cc = chains[i]!, start = starts[i]!;
      const at = cc.patchAt, to = cc.patchTo;
      for (let k = 0; k < at.length; k++) {
        const j = to[k]!;
        putU32LE(b, start + at[k]!, j >= 0 ? startOf[j]! : start - 1 - j);
      }
    }
    chains.length = starts.length = 0;
    this.src = null;
  }
}

/** The counters of an unchanged chain's rules (read from the rules at every commit). */
function chainCounters(cc: CachedChain, counters: Buffer | null, numEntries: number, first: number, rules: IptRule[]): Buffer | null {
  const counted = cc.counted;
  for (let k = 0; k < counted.length; k++) counters = addCounters(counters, numEntries, first + counted[k]!, rules[counted[k]!]!.counters);
  return counters;
}


// ---------------------------------------------------------------------------------------------
// decoding

// Little-endian reads as plain byte loads (getU16LE & co.): Buffer's readUInt16LE/readInt32LE
// (argument checks, a call each) did not always inline here and were ~8% of a decode. Pass 1
// checks that every entry lies within the blob, so these reads stay inside it.
function i32(b: Buffer, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

export interface TableHeader {
  validHooks: number;
  hookEntry: number[];
  underflow: number[];
  entries: Buffer;
}

/** An entry's xt_counters at `co`, or undefined when both are zero. */
export function countersAt(b: Buffer, co: number): { packets: number; bytes: number } | undefined {
  return b[co] || b[co + 1] || b[co + 2] || b[co + 3] || b[co + 4] || b[co + 5] || b[co + 6] || b[co + 7] || i32(b, co + 8) || i32(b, co + 12)
    ? readCounters(b, co) : undefined;
}

function readCounters(b: Buffer, off: number): { packets: number; bytes: number } {
  return {
    packets: b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 0x100000000,
    bytes: b.readUInt32LE(off + 8) + b.readUInt32LE(off + 12) * 0x100000000,
  };
}

function latin1Name(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('latin1', off, end);
}

/** An extension name met in a blob, with the codecs that may own it. */
interface NameEntry {
  name: string;
  matches: AnyCodec[];
  targets: AnyCodec[];
}
// Names by their first four bytes: an extension's name is matched in place, byte by byte, instead
// of becoming a new string (and a Map lookup by string) once per extension of the table.
const names = new Map<number, NameEntry[]>();
let namesCached = 0;
function sameName(b: Buffer, off: number, name: string): boolean {
  const n = name.length;
  for (let i = 0; i < n; i++) if (b[off + i] !== name.charCodeAt(i)) return false;
  return n === 29 || b[off + n] === 0;
}
function nameEntry(b: Buffer, off: number): NameEntry {
  const key = getU32LE(b, off);
  let list = names.get(key);
  if (list) for (let i = 0; i < list.length; i++) if (sameName(b, off, list[i]!.name)) return list[i]!;
  const name = latin1Name(b, off, 29);
  const e: NameEntry = { name, matches: matchByName.get(name) ?? [], targets: targetByName.get(name) ?? [] };
  // Bounded: a table full of distinct unknown names must not grow this without end.
  if (namesCached < 4096) {
    if (!list) names.set(key, (list = []));
    list.push(e);
    namesCached++;
  }
  return e;
}

function decodeExt(b: Buffer, off: number, size: number, family: IptFamily, kind: 'match' | 'target'): IptMatch | IptTarget {
  const entry = nameEntry(b, off + 2);
  const revision = b[off + 31]!;
  const data = off + EXT_HEADER, len = size - EXT_HEADER;
  const list = kind === 'match' ? entry.matches : entry.targets;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c.families && !c.families.includes(family)) continue;
    if (xtAlign(c.size(family, revision)) !== len) continue;
    const v = c.decodeAt ? c.decodeAt(b, data, len, family, revision) : c.decode(b.subarray(data, off + size), family, revision);
    if (v) return v as IptMatch;
  }
  return { type: 'raw', name: entry.name, revision, data: Buffer.from(b.subarray(data, off + size)) };
}

/**
 * Chain starts by offset, ascending (pass 1 meets them in order), with their names. A jump finds
 * its chain by a binary search that first tries where the last one ended (a service chain jumps
 * to its endpoint chains in order; endpoint chains all jump to the same chain): 10^5 chains made a
 * Map the largest single cost of a decode after the objects themselves.
 */
class ChainStarts {
  private readonly offs: number[] = [];
  private readonly names: string[] = [];
  private hint = 0;

  add(off: number, name: string): void {
    const n = this.offs.length;
    if (n && this.offs[n - 1]! >= off) {
      // Not ascending (only in a malformed blob): keep the lookup exact, if slower.
      const i = this.find(off);
      if (i >= 0) this.names[i] = name;
      else this.insert(off, name);
      return;
    }
    this.offs.push(off);
    this.names.push(name);
  }

  get(off: number): string | undefined {
    const i = this.find(off);
    return i >= 0 ? this.names[i] : undefined;
  }

  private find(off: number): number {
    const o = this.offs, h = this.hint;
    if (o[h] === off) return h;
    if (o[h + 1] === off) return (this.hint = h + 1);
    let lo = 0, hi = o.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1, v = o[mid]!;
      if (v === off) return (this.hint = mid);
      if (v < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private insert(off: number, name: string): void {
    let i = this.offs.length;
    while (i > 0 && this.offs[i - 1]! > off) i--;
    this.offs.splice(i, 0, off);
    this.names.splice(i, 0, name);
  }
}

/**
 * Jumps met before the chain they go to (a built-in chain jumps forward to user chains): their
 * targets are filled in once every chain start is known.
 */
class ForwardJumps {
  readonly targets: Array<{ type: string; chain: string }> = [];
  readonly offsets: number[] = [];
  readonly at: number[] = [];

  resolve(chainAt: ChainStarts): void {
    for (let i = 0; i < this.targets.length; i++) {
      const chain = chainAt.get(this.offsets[i]!);
      if (chain === undefined) throw new Error(`jump to offset ${this.offsets[i]} at offset ${this.at[i]} is not a chain start`);
      this.targets[i]!.chain = chain;
    }
  }
}

/**
 * Decodes a table read from the kernel. Throws on a blob libiptc would also reject.
 *
 * One pass over the entries: at 10^5 chains the blob is ~190 MB, and every pass over it costs a
 * cache miss per entry (an earlier decode made three). A chain's rules are gathered in one array
 * and copied at its end into an array of exactly their number; jumps to chains not met yet are
 * completed after the pass.
 */
export function decodeTable(h: TableHeader, family: IptFamily, name: string): IptTable {
  const L = layoutOf(family);
  const b = h.entries;
  const end = b.length;
  // Hook entries and policies (at most five each), compared in place: this runs per entry.
  const hookOff = [-1, -1, -1, -1, -1], underflowOff = [-1, -1, -1, -1, -1];
  for (let i = 0; i < 5; i++) {
    if (!(h.validHooks & (1 << i))) continue;
    hookOff[i] = h.hookEntry[i]!;
    underflowOff[i] = h.underflow[i]!;
  }
  const chainAt = new ChainStarts();
  const forward = new ForwardJumps();
  const chains: IptChain[] = [];
  const gathered: IptRule[] = [];
  let cur: IptChain | undefined;
  let off = 0;
  while (off < end) {
    const next = getU16LE(b, off + L.nextOffset);
    if (next < L.size || off + next > end) throw new Error(`table ${name}: malformed entry at offset ${off}`);
    const to = getU16LE(b, off + L.targetOffset);
    if (isErrorEntry(b, off, L)) {
      const cname = readCString(b, off + to + EXT_HEADER, 30);
      if (cname === 'ERROR' && off + next >= end) break; // the table's final entry
      if (cur) finishChain(cur, gathered);
      if (cname !== 'ERROR') chainAt.add(off + L.size + ERROR_TARGET_SIZE, cname);
      chains.push((cur = { name: cname, rules: gathered })); // (its own array at finishChain)
      off += next;
      continue;
    }
    const hook = hookIndex(hookOff, off);
    if (hook >= 0) {
      if (cur) finishChain(cur, gathered);
      chainAt.add(off, HOOKS[hook]!);
      chains.push((cur = { name: HOOKS[hook]!, policy: 'ACCEPT', rules: gathered }));
    }
    if (!cur) throw new Error(`table ${name}: entry at offset ${off} belongs to no chain`);
    if (cur.policy !== undefined && underflowOff.includes(off)) {
      const v = i32(b, off + to + EXT_HEADER);
      cur.policy = v === VERDICT.DROP ? 'DROP' : 'ACCEPT';
      cur.counters = readCounters(b, off + L.counters);
      finishChain(cur, gathered);
      cur = undefined;
    } else if (cur.policy === undefined && off + next < end && isErrorEntry(b, off + next, L)) {
      finishChain(cur, gathered); // a user chain's RETURN tail
      cur = undefined;
    } else gathered.push(decodeRule(b, off, to, off + next, L, family, chainAt, forward));
    off += next;
  }
  if (cur) finishChain(cur, gathered);
  forward.resolve(chainAt);
  return { family, name, chains };
}

/** Whether the entry at `off` has the ERROR target (a user chain's head, or the table's end). */
function isErrorEntry(b: Buffer, off: number, L: EntryLayout): boolean {
  // The target name at +2 of the target header is "ERROR\0" (compared as bytes: this runs per entry).
  const t = off + getU16LE(b, off + L.targetOffset) + 2;
  return b[t] === 0x45 && b[t + 1] === 0x52 && b[t + 2] === 0x52 && b[t + 3] === 0x4f && b[t + 4] === 0x52 && b[t + 5] === 0;
}

function hookIndex(hookOff: number[], off: number): number {
  for (let k = 0; k < 5; k++) if (hookOff[k] === off) return k;
  return -1;
}

/** A chain's gathered rules, as an array of exactly their number (a push onto [] reserves 17 slots; most kube-proxy chains hold 2). */
function finishChain(c: IptChain, gathered: IptRule[]): void {
  c.rules = gathered.slice();
  gathered.length = 0;
}

const NO_INVERT: Readonly<NonNullable<IptRule['invert']>> = Object.freeze({});

function decodeAddr(
  b: Buffer, e: number, a: number, m: number, len: number, k: 'source' | 'destination', invert: NonNullable<IptRule['invert']>, r: IptRule,
): void {
  if (len === 4) {
    const av = getU32BE(b, e + a), mv = getU32BE(b, e + m);
    if (!av && !mv && !invert[k]) return;
    // A contiguous mask has all ones below its lowest set bit: mask | (mask - 1) is all ones.
    const prefix = mv === 0xffffffff ? 32 : mv === 0 ? 0 : ((mv | (mv - 1)) >>> 0) === 0xffffffff ? Math.clz32(~mv >>> 0) : -1;
    if (prefix >= 0) {
      r[k] = formatQuad(av, prefix);
      return;
    }
  }
  const ab = b.subarray(e + a, e + a + len), mb = b.subarray(e + m, e + m + len);
  if (!isZero(ab) || !isZero(mb) || invert[k]) r[k] = formatCidr(ab, mb);
}

function decodeRule(b: Buffer, e: number, to: number, nextOff: number, L: EntryLayout, family: IptFamily, chainAt: ChainStarts, forward: ForwardJumps): IptRule {
  const r: IptRule = {};
  const inv = b[e + L.invflags]!;
  const flags = b[e + L.flags]!;
  const invert: NonNullable<IptRule['invert']> = inv ? {} : NO_INVERT;
  if (inv) for (const k of INV_KEYS) if (inv & INV[k]) invert[k] = true;
  decodeAddr(b, e, L.src, L.smsk, L.addrLen, 'source', invert, r);
  decodeAddr(b, e, L.dst, L.dmsk, L.addrLen, 'destination', invert, r);
  const ii = decodeIface(b, e + L.iniface, e + L.inifaceMask), oi = decodeIface(b, e + L.outiface, e + L.outifaceMask);
  if (ii !== undefined) r.inInterface = ii;
  if (oi !== undefined) r.outInterface = oi;
  const p = getU16LE(b, e + L.proto);
  // (ip6tables flags any "-p", "-p all" too: protocol 0 with the flag is kept, to be written back so.)
  if (p !== 0 || invert.protocol || flags & L.fProto) r.protocol = knownProtoName(p) ?? p;
  if (L.fFrag && flags & L.fFrag) r.fragment = true;
  if (inv && Object.keys(invert).length) r.invert = invert;
  if (to > L.size) {
    // Counted first so the array is allocated at its size (a push onto [] reserves 17 slots).
    let n = 0;
    for (let m = e + L.size; m < e + to; n++) {
      const size = getU16LE(b, m);
      if (size < EXT_HEADER) throw new Error(`malformed match at offset ${m}`);
      m += size;
    }
    const matches: IptMatch[] = new Array<IptMatch>(n);
    for (let m = e + L.size, i = 0; i < n; i++) {
      const size = getU16LE(b, m);
      matches[i] = decodeExt(b, m, size, family, 'match') as IptMatch;
      m += size;
    }
    r.matches = matches;
  }
  const t = e + to;
  if (b[t + 2] === 0) {
    const v = i32(b, t + EXT_HEADER);
    if (v < 0) {
      const verdict = VERDICT_NAME.get(v);
      if (!verdict) throw new Error(`unknown verdict ${v} at offset ${e}`);
      r.target = { type: verdict };
    } else if (v !== nextOff || flags & L.fGoto) {
      const chain = chainAt.get(v);
      const target = { type: flags & L.fGoto ? ('goto' as const) : ('jump' as const), chain: chain ?? '' };
      if (chain === undefined) {
        // A chain further on (or none: resolve() says so once all are known).
        forward.targets.push(target);
        forward.offsets.push(v);
        forward.at.push(e);
      }
      r.target = target;
    }
  } else {
    r.target = decodeExt(b, t, getU16LE(b, t), family, 'target') as IptTarget;
  }
  // Zero counters are left out (most rules of a fresh table): one object fewer per rule.
  const c = countersAt(b, e + L.counters);
  if (c) r.counters = c;
  return r;
}
