/**
 * The encoder for a table without frozen rules, or whose frozen rules have no cached bytes yet: one
 * walk that validates and writes each rule while its objects are in the CPU's cache (see
 * encodeOnePass). blob.ts hands it every commit first.
 */
import { releaseBlob } from './arena';
import type { EncodedTable } from './blob';
import { orderedChains, chainOrder, orderStamp } from './chain-order';
import { putU16LE, putU32LE } from './extensions/codec';
import { matchByType, targetByType } from './extensions';
import { ERROR_TARGET_SIZE, EXT_HEADER, HOOKS, layoutOf, REPLACE_HEADER, STANDARD_TARGET_SIZE, VERDICT } from './layout';
import {
  cachedChain, cachedEntry, isDeepFrozen, newChainScratch, reserveSlab, setCachedChain, setCachedEntry, settleSlab, slabBuf,
  type ChainCache, type RuleCache,
} from './rule-cache';
import type { IptChain, IptTable } from './types';
import { validateRule, type Add, type ChainIndex } from './validate';
import { addCounters, infoOf, JumpIndex, matchInfo, targetInfo, writeError, writeRaw, writeRuleHead, writeStandard, writeTyped } from './write';

/** encodeOnePass's answer when it meets a frozen rule whose bytes are cached: the two-pass encoder takes over. */
export const FROZEN = 1;

/**
 * The encoder for a model without frozen rules (what a first commit, or any commit of plain
 * objects, hands over): one walk, each rule validated and written while its objects are in the CPU's
 * cache. The two-pass encoder visits every rule, match and target object twice (once to size and
 * check, once to write), and at 10^5-10^6 objects most of its time was those loads from memory.
 * Offsets are known as it goes; a jump to a chain still ahead is patched once that chain is placed,
 * and the buffer is a size estimate (grown by copying when the table is bigger). Null at the first
 * problem (as encodeCore).
 *
 * With caches (rule-cache.ts): when frozen rules or chains of the table still have cached bytes
 * (a sample says so), it returns FROZEN at the first frozen rule, before writing it, and the
 * two-pass encoder copies what it can. Otherwise (a controller's first commit, or the first after
 * its last blob was given back) there is nothing to copy: it writes everything and records where
 * each deep-frozen rule, and each chain of them, now lives, as the two-pass encoder would have.
 */
export function encodeOnePass(
  table: IptTable, validHooks: number, room: (size: number) => Buffer, index: ChainIndex, cache: RuleCache | null = null,
  chainCache: ChainCache | null = null,
): EncodedTable | null | typeof FROZEN {
  const family = table.family;
  const v6 = family === 'ipv6';
  const L = layoutOf(family);
  const order = chainOrder(table.chains);
  const chains = orderedChains(table.chains);
  const stopAtFrozen = cache !== null && someCached(chains, cache, chainCache, v6);
  // Recording: each deep-frozen rule's entry goes to the cache (slab reserved now, settled on the final buffer).
  const recording = cache !== null && !stopAtFrozen;
  const slab = recording ? reserveSlab() : 0;
  const stamp = recording ? orderStamp(table.chains) : 0;
  let recorded = false;
  const jumps = new JumpIndex(table.chains, index);
  const headSize = L.size + ERROR_TARGET_SIZE;
  const tailSize = L.size + STANDARD_TARGET_SIZE;
  const counting = index.ruleCount < 0;
  let ruleCount = counting ? 0 : index.ruleCount;
  let frames = 1; // (entries that are not rules: chain heads and tails, the final ERROR)
  let first: unknown;
  for (let c = 0; c < chains.length; c++) {
    const ch = chains[c]!;
    if (first === undefined && ch.rules.length !== 0) first = ch.rules[0];
    if (counting) ruleCount += ch.rules.length;
    frames += ch.policy !== undefined ? 1 : 2;
  }
  // (A model frozen from its first rule, as lb's, goes to the two-pass encoder before any buffer is taken.)
  if (stopAtFrozen && first !== null && typeof first === 'object' && Object.isFrozen(first)) return FROZEN;
  const numEntries = frames + ruleCount;
  // Where each chain's first rule is (by its index in table.chains), -1 until placed; and the
  // verdicts of jumps to chains not yet placed, as (verdict position, chain index) pairs.
  const startOf = new Int32Array(table.chains.length).fill(-1);
  let fix = new Int32Array(1024), nfix = 0;
  let blob = room(REPLACE_HEADER + frames * headSize + Math.ceil(ruleCount * bytesPerRule[family]) + SLACK);
  let b = blob.subarray(REPLACE_HEADER);
  // The buffer is zeroed in steps just ahead of the writing (the entries' unwritten bytes must be
  // zero), while those cache lines are about to be written anyway: `zeroed` is where that ends.
  let zeroed = Math.min(b.length, ZERO_STEP);
  blob.fill(0, 0, REPLACE_HEADER + zeroed);
  const end = headSize; // (room kept for the final ERROR entry)
  const mcache = matchInfo[family], tcache = targetInfo[family];
  let counters: Buffer | null = null;
  let off = 0, idx = 0, bad = false;
  const flag: Add = () => {
    bad = true;
  };
  const hookAt = [-1, -1, -1, -1, -1], tailAt = [-1, -1, -1, -1, -1];
  for (let ci = 0; ci < chains.length; ci++) {
    const c = chains[ci]!;
    const builtin = c.policy !== undefined;
    const rules = c.rules;
    const start = off;
    // A chain of deep-frozen rules is recorded whole too (not an empty one: as the two-pass encoder).
    let whole = recording && chainCache !== null && rules.length !== 0 && Object.isFrozen(rules[0]);
    const rec = whole ? newChainScratch() : null;
    if (off + headSize + tailSize + end > zeroed) {
      if (off + headSize + tailSize + end > b.length) {
        ({ blob, b } = grown(blob, room, REPLACE_HEADER + off, headSize + tailSize + end));
        zeroed = off;
      }
      zeroed = zeroAhead(b, zeroed, off + headSize + tailSize + end);
    }
    if (builtin) hookAt[HOOKS.indexOf(c.name as never)] = off;
    else {
      off += writeError(b, off, L, c.name);
      idx++;
    }
    startOf[order[ci]!] = off;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (stopAtFrozen && r !== null && typeof r === 'object' && Object.isFrozen(r)) {
        dropped(blob);
        return FROZEN;
      }
      validateRule(r, c.name, i + 1, family, index, flag, true);
      if (bad) return dropped(blob);
      let to = -1;
      const t = r.target;
      if (t && (t.type === 'jump' || t.type === 'goto')) {
        const j = typeof t.chain === 'string' ? jumps.get(t.chain) : undefined;
        if (j === undefined) return dropped(blob);
        to = j;
      }
      const ms = r.matches;
      const nm = ms ? ms.length : 0;
      // At most this many bytes: a raw extension's size is its data's, a typed one's at most the
      // biggest typed extension's (the objects are in the cache: validateRule has just read them).
      let most = L.size + (t && t.type === 'raw' ? EXT_HEADER + t.data.length + 8 : MAX_TYPED);
      for (let k = 0; k < nm; k++) {
        const m = ms![k]!;
        most += m.type === 'raw' ? EXT_HEADER + m.data.length + 8 : MAX_TYPED;
      }
      if (off + most + tailSize + end > zeroed) {
        if (off + most + tailSize + end > b.length) {
          ({ blob, b } = grown(blob, room, REPLACE_HEADER + off, most + tailSize + end));
          zeroed = off;
        }
        zeroed = zeroAhead(b, zeroed, off + most + tailSize + end);
      }
      const e = off;
      writeRuleHead(b, e, r, L, family);
      let p = e + L.size;
      for (let k = 0; k < nm; k++) {
        const m = ms![k]!;
        p += m.type === 'raw' ? writeRaw(b, p, m) : writeTyped(b, p, infoOf(mcache, 'm', m.type, family), m, family);
      }
      const targetAt = p;
      if (!t) p += writeStandard(b, p, p + STANDARD_TARGET_SIZE);
      else if (to >= 0) {
        const at = startOf[to]!;
        if (at < 0) {
          if (nfix === fix.length) {
            const f = new Int32Array(fix.length * 2);
            f.set(fix);
            fix = f;
          }
          fix[nfix++] = p + EXT_HEADER;
          fix[nfix++] = to;
        }
        p += writeStandard(b, p, at);
        if (t.type === 'goto') b[e + L.flags] |= L.fGoto;
      } else if (t.type in VERDICT) p += writeStandard(b, p, VERDICT[t.type as keyof typeof VERDICT]);
      else if (t.type === 'raw') p += writeRaw(b, p, t);
      else p += writeTyped(b, p, infoOf(tcache, 't', t.type, family), t, family);
      putU16LE(b, e + L.targetOffset, targetAt - e);
      putU16LE(b, e + L.nextOffset, p - e);
      if (recording && Object.isFrozen(r) && (cachedEntry(cache!, v6, r) !== undefined || isDeepFrozen(r))) {
        // Its verdict is patched on reuse when it depends on where things land (a jump, or no target).
        const patch = !t || to >= 0;
        setCachedEntry(cache!, v6, r, slab, e, p - e, patch ? targetAt - e + EXT_HEADER : -1, to);
        recorded = true;
        if (rec !== null) rec.rule(r, i, patch ? targetAt + EXT_HEADER : -1, to, p, start);
      } else whole = false;
      if (r.counters) counters = addCounters(counters, numEntries, idx, r.counters);
      off = p;
      idx++;
    }
    if (builtin) {
      tailAt[HOOKS.indexOf(c.name as never)] = off;
      counters = addCounters(counters, numEntries, idx, c.counters);
    }
    writeStandard(b, off + L.size, builtin ? VERDICT[c.policy!] : VERDICT.RETURN);
    putU16LE(b, off + L.targetOffset, L.size);
    putU16LE(b, off + L.nextOffset, tailSize);
    off += tailSize;
    idx++;
    if (whole) setCachedChain(chainCache!, v6, c, rec!.done(slab, start, off - start, c, rules, stamp));
  }
  writeError(b, off, L, 'ERROR');
  const total = off + headSize;
  for (let k = 0; k < nfix; k += 2) putU32LE(b, fix[k]!, startOf[fix[k + 1]!]!);

  if (ruleCount > 0) bytesPerRule[family] = Math.min(Math.max(((total - frames * headSize) / ruleCount) * 1.05 + 8, 128), 2048);
  blob = blob.subarray(0, REPLACE_HEADER + total);
  blob.write(table.name, 0, Math.min(table.name.length, 31), 'latin1');
  blob.writeUInt32LE(validHooks, 32);
  blob.writeUInt32LE(numEntries, 36);
  blob.writeUInt32LE(total, 40);
  for (let h = 0; h < 5; h++) {
    blob.writeUInt32LE(hookAt[h]! >= 0 ? hookAt[h]! : 0xffffffff, 44 + h * 4);
    blob.writeUInt32LE(tailAt[h]! >= 0 ? tailAt[h]! : 0xffffffff, 64 + h * 4);
  }
  if (recorded) settleSlab(slab, blob.subarray(REPLACE_HEADER));
  return { blob, numEntries, validHooks, counters, slab: recorded ? slab : 0, inPlace: false, reused: 0 };
}

/** How many chains, spread over the table, someCached looks at. */
const SAMPLES = 16;

/**
 * Whether the caches hold live bytes for the table: the first frozen rule (or its chain) of up to
 * SAMPLES chains spread over it. Either a controller's table is mostly cached (its steady state) or
 * not at all (its first commit, or the first after its blob was given back).
 */
function someCached(chains: readonly IptChain[], cache: RuleCache, chainCache: ChainCache | null, v6: boolean): boolean {
  const step = Math.max(1, Math.floor(chains.length / SAMPLES));
  for (let i = 0; i < chains.length; i += step) {
    const c = chains[i]!;
    const r = c.rules[0];
    if (r === null || typeof r !== 'object' || !Object.isFrozen(r)) continue;
    const cc = chainCache !== null ? cachedChain(chainCache, v6, c) : undefined;
    if (cc !== undefined && slabBuf(cc.slab) !== undefined) return true;
    const ce = cachedEntry(cache, v6, r);
    if (ce !== undefined && slabBuf(ce.slab) !== undefined) return true;
  }
  return false;
}

/**
 * The one-pass encoder's guess of a rule's size, per family (the last table's average, a little
 * over, within 128..2048 bytes): its buffer is allocated before the rules are seen. A guess too
 * small costs a copy; the bounds keep one odd table from misleading the next.
 */
const bytesPerRule = { ipv4: 512, ipv6: 560 };

/** The biggest typed match or target, header included, in either family (a bound for a rule's size). */
const MAX_TYPED = Math.max(
  ...(['ipv4', 'ipv6'] as const).flatMap((f) => [
    ...[...matchByType.keys()].map((type) => infoOf(matchInfo[f], 'm', type, f).size),
    ...[...targetByType.keys()].map((type) => infoOf(targetInfo[f], 't', type, f).size),
  ]),
);

/** Room beyond the estimate: a rule's size is only bounded before it is written (MAX_TYPED per typed extension). */
const SLACK = 16 * 1024;

/** How far ahead of the writing the one-pass encoder zeroes its buffer (within the CPU's L2 cache). */
const ZERO_STEP = 128 * 1024;

/** Zeroes `b` from `from` (where the zeroes end now) to `upTo` and a step more (within b); returns where they end then. */
function zeroAhead(b: Buffer, from: number, upTo: number): number {
  const to = Math.min(b.length, upTo + ZERO_STEP);
  b.fill(0, from, to);
  return to;
}

/** A bigger buffer for the one-pass encoder: `used` bytes copied, room for `need` more and for the rest (half as much again). */
function grown(blob: Buffer, room: (size: number) => Buffer, used: number, need: number): { blob: Buffer; b: Buffer } {
  let next = room(Math.max(blob.length * 2, used + need + (used >> 1)));
  if (next.length < used + need) {
    releaseBlob(next);
    next = Buffer.allocUnsafeSlow(Math.max(blob.length * 2, used + need + (used >> 1)));
  }
  next.set(blob.subarray(0, used));
  releaseBlob(blob);
  return { blob: next, b: next.subarray(REPLACE_HEADER) };
}

/** An abandoned buffer back to the arena. */
function dropped(blob: Buffer): null {
  releaseBlob(blob);
  return null;
}
