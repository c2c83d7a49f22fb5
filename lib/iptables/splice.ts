/**
 * A change of a few user chains as a splice of the blob this handle committed last: the changed
 * chains are encoded alone and the bytes between them copied; every verdict that holds an entry
 * offset (a jump, or a rule without a target) is moved by the size the edits before it added or
 * removed, from a relocation list kept beside the blob. The result is byte for byte what encoding
 * the whole new table gives (test/unit/iptables-splice.test.ts), at the cost of a copy and the
 * relocation list instead of visiting 10^5-10^6 rule objects. The counter carry map and the entry
 * record (carry.ts) follow from the same walk: entries copied keep their old index.
 *
 * Only user chains are spliced: the built-in chains come first in the blob, so their hook entry
 * and underflow offsets never move.
 */
import { ValidationError, ValidationErrors } from '../errors';
import type { EntryRecord } from './carry';
import { ruleSize } from './blob';
import { compareChainNames, ERROR_TARGET_SIZE, EXT_HEADER, isHook, layoutOf, REPLACE_HEADER, STANDARD_TARGET_SIZE, VERDICT } from './layout';
import type { IptChain, IptFamily, IptRule } from './types';
import { chainNameOk, isVerdictName, validateRule, type Add } from './validate';
import { infoOf, matchInfo, targetInfo, writeError, writeRaw, writeRuleHead, writeStandard, writeTyped } from './write';
import { putU16LE } from './extensions/codec';

/** Where the record's chains are in the committed blob, and where its entry offsets are. */
export interface BlobLayout {
  /** The whole ipt_replace as committed (owned by the layout: nobody else writes it). */
  blob: Buffer;
  /** Per chain of the record (kernel order): the offset of its first entry (a user chain's ERROR head). */
  at: Int32Array;
  /** Offsets (from the first entry) of the standard verdicts that hold an entry offset, ascending. */
  relocs: Int32Array;
  /** The carry map of the table to itself (rules and policies to their own index, heads and tails -1), once asked for. */
  selfCarry?: Int32Array;
}

const isStandard = (b: Buffer, t: number) => b[t + 2] === 0 && b.readUInt16LE(t) === STANDARD_TARGET_SIZE;

/** The layout of `blob` (a whole ipt_replace whose entries `rec` records): one walk of its entries. */
export function layoutOfBlob(blob: Buffer, family: IptFamily, rec: EntryRecord): BlobLayout {
  const L = layoutOf(family);
  const b = blob.subarray(REPLACE_HEADER);
  const size = blob.readUInt32LE(40);
  const n = rec.chains.length;
  const at = new Int32Array(n);
  let relocs: Int32Array = new Int32Array(1024), nr = 0;
  let ci = 0, nextStart = n ? entryStart(rec, 0) : -1;
  for (let off = 0, idx = 0; off < size; idx++) {
    while (idx === nextStart) {
      at[ci++] = off;
      nextStart = ci < n ? entryStart(rec, ci) : -1;
    }
    const t = off + b.readUInt16LE(off + L.targetOffset);
    if (isStandard(b, t) && b.readInt32LE(t + EXT_HEADER) >= 0) {
      if (nr === relocs.length) relocs = grow(relocs);
      relocs[nr++] = t + EXT_HEADER;
    }
    const next = b.readUInt16LE(off + L.nextOffset);
    if (next === 0) throw new Error('iptables splice: an entry of size 0 in a committed blob');
    off += next;
  }
  return { blob, at, relocs: relocs.slice(0, nr) };
}

function grow(a: Int32Array): Int32Array {
  const g = new Int32Array(a.length * 2);
  g.set(a);
  return g;
}

/** The entry index of chain ci's first entry (a user chain's head). */
function entryStart(rec: EntryRecord, ci: number): number {
  return rec.first[ci]! - (rec.hooks[ci]! >= 0 ? 0 : 1);
}

/** Chain ci's entries: its rules and its tail, and a user chain's head. */
function entryCount(rec: EntryRecord, ci: number): number {
  return rec.count[ci]! + (rec.hooks[ci]! >= 0 ? 1 : 2);
}

export interface Spliced {
  blob: Buffer;
  numEntries: number;
  /** New entry index -> the old entry whose counters it carries on, or -1 (as carryMap). */
  carry: Int32Array;
  record: EntryRecord;
  layout: BlobLayout;
  /** Entries copied from the old blob (not encoded), or left where they were. */
  copied: number;
  /** Written over the old blob (every chain kept its size and rule count): `rec` and `lay` are the new table's now. */
  inPlace: boolean;
  /** Sizes changed, and the old blob's buffer had room: moved within it (the old blob is gone). */
  within: boolean;
}

interface Edit {
  name: string;
  /** The chain replaced or removed (index in the record), or -1 for a new chain. */
  ci: number;
  chain: IptChain | undefined;
  oldStart: number;
  oldEnd: number;
  /** Where its bytes go, and their size (0 for a removal). */
  newStart: number;
  size: number;
  /** Per rule of a put chain, its size. */
  sizes: Uint32Array | undefined;
}

/**
 * The table `rec`/`lay` describe with the user chains in `put` written (added, or replacing the
 * chain of that name) and those named in `remove` taken out. Throws a ValidationError (before
 * anything is sent) for a bad chain or rule, a jump to a chain that is not there, or a removed chain
 * that something still jumps to. `alloc`: a buffer of at least the size asked (its bytes need not be zero).
 */
export function spliceChains(
  rec: EntryRecord, lay: BlobLayout, family: IptFamily, put: readonly IptChain[], remove: readonly string[], alloc: (size: number) => Buffer,
): Spliced {
  const L = layoutOf(family);
  const headSize = L.size + ERROR_TARGET_SIZE;
  const tailSize = L.size + STANDARD_TARGET_SIZE;
  const old = lay.blob.subarray(REPLACE_HEADER);
  const oldSize = lay.blob.readUInt32LE(40);
  const names = rec.names, n = names.length;
  let nb = 0;
  while (nb < n && rec.hooks[nb]! >= 0) nb++;
  /** The first user chain whose name is not below `name`. */
  const lowerBound = (name: string): number => {
    let lo = nb, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareChainNames(names[mid]!, name) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const find = (name: string): number => {
    const k = lowerBound(name);
    return k < n && names[k] === name ? k : -1;
  };
  const endOf = (ci: number) => (ci + 1 < n ? lay.at[ci + 1]! : oldSize - headSize);

  const problems: ValidationError[] = [];
  const add: Add = (field, problem, value) => void problems.push(new ValidationError(field, problem, value));
  const edits: Edit[] = [];
  const byName = new Map<string, Edit>();
  const removed = new Set<string>();
  if (!Array.isArray(put)) throw new ValidationError('put', 'must be an array of chains', put);
  if (!Array.isArray(remove)) throw new ValidationError('remove', 'must be an array of chain names', remove);
  put.forEach((c, i) => {
    const name = c?.name;
    if (!c || typeof c !== 'object' || typeof name !== 'string' || !chainNameOk(name) || name === 'ERROR' || isHook(name) || isVerdictName(name) || name.charCodeAt(0) === 0x2d)
      return add(`put[${i}].name`, 'must be the name of a user chain (1-28 characters of one byte each, not a built-in or verdict name)', name);
    if (c.policy !== undefined) return add(`put[${i}].policy`, 'only built-in chains have a policy');
    if (!Array.isArray(c.rules)) return add(`put[${i}].rules`, 'must be an array');
    if (byName.has(name)) return add(`put[${i}].name`, 'duplicate chain name', name);
    const ci = find(name);
    const e: Edit = { name, ci, chain: c, oldStart: 0, oldEnd: 0, newStart: 0, size: 0, sizes: undefined };
    byName.set(name, e);
    edits.push(e);
  });
  remove.forEach((name, i) => {
    const ci = typeof name === 'string' ? find(name) : -1;
    if (ci < 0) return add(`remove[${i}]`, 'no such user chain in the table', name);
    if (byName.has(name)) return add(`remove[${i}]`, 'is also in put', name);
    removed.add(name);
    const e: Edit = { name, ci, chain: undefined, oldStart: 0, oldEnd: 0, newStart: 0, size: 0, sizes: undefined };
    byName.set(name, e);
    edits.push(e);
  });
  if (problems.length) throw problems.length === 1 ? problems[0]! : new ValidationErrors(problems);
  const has = { has: (name: string) => byName.get(name)?.chain !== undefined || (!removed.has(name) && (find(name) >= 0 || isBuiltinHere(rec, nb, name))) };
  for (const e of edits) {
    const c = e.chain;
    if (!c) continue;
    for (let i = 0; i < c.rules.length; i++) validateRule(c.rules[i]!, c.name, i + 1, family, has, add);
  }
  if (problems.length) throw problems.length === 1 ? problems[0]! : new ValidationErrors(problems);

  // In the kernel's order (user chains by name), each with the bytes it replaces.
  edits.sort((a, b) => compareChainNames(a.name, b.name));
  let delta = 0, entryDelta = 0;
  for (const e of edits) {
    if (e.ci >= 0) {
      e.oldStart = lay.at[e.ci]!;
      e.oldEnd = endOf(e.ci);
      entryDelta -= entryCount(rec, e.ci);
    } else {
      const k = lowerBound(e.name);
      e.oldStart = e.oldEnd = k < n ? lay.at[k]! : oldSize - headSize;
    }
    if (e.chain) {
      const rs = e.chain.rules;
      const sizes = (e.sizes = new Uint32Array(rs.length));
      let s = headSize + tailSize;
      for (let i = 0; i < rs.length; i++) s += sizes[i] = ruleSize(rs[i]!, L, family);
      e.size = s;
      entryDelta += rs.length + 2;
    }
    e.newStart = e.oldStart + delta;
    delta += e.size - (e.oldEnd - e.oldStart);
  }
  if (edits.every((e) => e.ci >= 0 && e.chain && e.size === e.oldEnd - e.oldStart && e.chain.rules.length === rec.count[e.ci]))
    return spliceInPlace(rec, lay, family, edits);
  // Ends ascending (edits are in blob order and do not overlap), for mapOff's search.
  const ends = Int32Array.from(edits, (e) => e.oldEnd);
  const shiftAfter = new Int32Array(edits.length);
  for (let k = 0, d = 0; k < edits.length; k++) shiftAfter[k] = d += edits[k]!.size - (edits[k]!.oldEnd - edits[k]!.oldStart);
  /** An old entry offset's place in the new blob; -1 inside a chain that is removed or replaced. */
  const mapOff = (v: number): number => {
    let lo = 0, hi = edits.length; // first edit whose end is above v
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    const e = edits[lo];
    if (e !== undefined && e.ci >= 0 && v >= e.oldStart) {
      // A jump into a replaced chain goes to its first rule, as it did; anything else there is gone.
      return e.chain && v === e.oldStart + headSize ? e.newStart + headSize : -1;
    }
    return v + (lo > 0 ? shiftAfter[lo - 1]! : 0);
  };

  const newSize = oldSize + delta;
  const numEntries = rec.numEntries + entryDelta;
  // Within the old blob's own buffer when it has room: the bytes between the edits are moved there
  // (no second table-sized buffer: its fresh pages, and the full garbage collection that V8 runs
  // when ~200 MB of new external memory appear, cost ~1 s of CPU on a 10k-service heap).
  const within = REPLACE_HEADER + newSize <= lay.blob.buffer.byteLength - lay.blob.byteOffset;
  if (within) {
    // (A ValidationError must leave the blob as it was: the jumps are checked before anything moves.)
    for (let k = 0, ri = 0; ri < lay.relocs.length; ri++) {
      const p = lay.relocs[ri]!;
      while (k < edits.length && edits[k]!.oldEnd <= p) k++;
      const e = edits[k];
      if (e !== undefined && e.ci >= 0 && p >= e.oldStart) continue; // (in a chain replaced or removed)
      const v = old.readInt32LE(p);
      if (mapOff(v) < 0) throw danglingJump(edits, v);
    }
    // (over both tables' extent: a view of the old table alone would cut moves past its end)
    moveBetween(Buffer.from(lay.blob.buffer, lay.blob.byteOffset + REPLACE_HEADER, Math.max(oldSize, newSize)), edits, shiftAfter, oldSize);
  }
  // (Every byte is copied or written below: the buffer need not be zeroed, only the parts written.)
  const out = within ? Buffer.from(lay.blob.buffer, lay.blob.byteOffset, REPLACE_HEADER + newSize) : alloc(REPLACE_HEADER + newSize).subarray(0, REPLACE_HEADER + newSize);
  if (!within) lay.blob.copy(out, 0, 0, 84); // name, valid_hooks, hook entries and underflows (which do not move)
  out.fill(0, 84, REPLACE_HEADER); // num_counters and the counters pointer: native's
  out.writeUInt32LE(numEntries, 36);
  out.writeUInt32LE(newSize, 40);
  const b = out.subarray(REPLACE_HEADER);
  const carry = new Int32Array(numEntries).fill(-1);
  const nChains = n + edits.reduce((a, e) => a + (e.ci < 0 ? 1 : 0) - (e.chain ? 0 : 1), 0);
  const record: EntryRecord = {
    numEntries, digest: '', chains: new Array<IptChain>(nChains), names: new Array<string>(nChains), hooks: new Int8Array(nChains),
    first: new Int32Array(nChains), count: new Int32Array(nChains), rules: new Array<IptRule | null>(numEntries).fill(null), policies: rec.policies,
  };
  const at = new Int32Array(nChains);
  let relocs: Int32Array = new Int32Array(lay.relocs.length + 64), nr = 0;
  let w = 0; // where the next chain goes in the new blob
  const oldRelocs = lay.relocs;
  let ri = 0; // next old reloc
  let ci = 0, nci = 0; // next old chain, next new chain
  let newIdx = 0, written = 0;

  /** Old chains ci..upTo-1 (whole, in order) copied to where they go now. */
  const copyChains = (upTo: number) => {
    if (ci >= upTo) return;
    const from = lay.at[ci]!, to = endOf(upTo - 1);
    const shift = w - from;
    if (!within) b.set(old.subarray(from, to), w);
    w += to - from;
    for (; ri < oldRelocs.length && oldRelocs[ri]! < to; ri++) {
      const p = oldRelocs[ri]!;
      if (p < from) continue;
      // (within: the bytes are already where they go)
      const v = within ? b.readInt32LE(p + shift) : old.readInt32LE(p);
      const nv = mapOff(v);
      if (nv < 0) throw danglingJump(edits, v);
      if (nv !== v) b.writeInt32LE(nv, p + shift);
      if (nr === relocs.length) relocs = grow(relocs);
      relocs[nr++] = p + shift;
    }
    for (; ci < upTo; ci++, nci++) {
      const builtin = rec.hooks[ci]! >= 0;
      const cnt = rec.count[ci]!;
      record.chains[nci] = rec.chains[ci]!;
      record.names[nci] = names[ci]!;
      record.hooks[nci] = rec.hooks[ci]!;
      record.count[nci] = cnt;
      at[nci] = lay.at[ci]! + shift;
      const f = builtin ? newIdx : newIdx + 1;
      record.first[nci] = f;
      const of = rec.first[ci]!;
      for (let i = 0; i < cnt; i++) {
        record.rules[f + i] = rec.rules[of + i]!;
        carry[f + i] = of + i;
      }
      if (builtin) carry[f + cnt] = of + cnt; // its policy
      newIdx += entryCount(rec, ci);
    }
  };

  // Rules of the chains replaced or removed, by identity, for the carry (as carryMap: -1 when twice).
  const rest = new Map<IptRule, number>();
  for (const e of edits) {
    if (e.ci < 0) continue;
    const f = rec.first[e.ci]!;
    for (let i = f; i < f + rec.count[e.ci]!; i++) {
      const r = rec.rules[i];
      if (r) rest.set(r, rest.has(r) ? -1 : i);
    }
  }
  const taken = new Set<number>();
  // Jump targets of the chains written here: the offset of the chain's first rule in the new blob.
  const targetOf = (name: string): number => {
    const e = byName.get(name);
    if (e?.chain) return e.newStart + headSize;
    const k = find(name);
    if (k >= 0) return mapOff(lay.at[k]!) + (rec.hooks[k]! >= 0 ? 0 : headSize);
    return -1; // (a built-in chain: validateRule refused the jump)
  };

  for (let k = 0; k < edits.length; k++) {
    const e = edits[k]!;
    copyChains(e.ci >= 0 ? e.ci : lowerBound(e.name));
    for (; ri < oldRelocs.length && oldRelocs[ri]! < e.oldEnd; ri++); // (the replaced chain's own)
    if (e.ci >= 0) ci = e.ci + 1;
    if (!e.chain) continue;
    // A chain written here: head, rules, tail, as the whole-table encoder writes them.
    const c = e.chain, rs = c.rules, sizes = e.sizes!;
    let off = e.newStart;
    if (off !== w) throw new Error('iptables splice: a chain lands where the sizes did not put it');
    w = off + e.size;
    b.fill(0, off, w);
    at[nci] = off;
    off += writeError(b, off, L, c.name);
    record.chains[nci] = c;
    record.names[nci] = c.name;
    record.hooks[nci] = -1;
    record.count[nci] = rs.length;
    const f = newIdx + 1;
    record.first[nci] = f;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!, next = off + sizes[i]!;
      const v = writeRule(b, off, next, r, L, family, targetOf);
      if (v >= 0) {
        if (nr === relocs.length) relocs = grow(relocs);
        relocs[nr++] = v;
      }
      record.rules[f + i] = r;
      const from = rest.get(r);
      if (from !== undefined && from >= 0 && !taken.has(from)) {
        taken.add(from);
        carry[f + i] = from;
      }
      off = next;
    }
    writeTail(b, off, L, tailSize);
    newIdx += rs.length + 2;
    written += rs.length + 2;
    nci++;
  }
  copyChains(n);
  // The final ERROR entry.
  if (!within) old.copy(b, newSize - headSize, oldSize - headSize, oldSize); // (within: moved with the last chains)
  record.policies = new Map(rec.policies); // (built-ins come first: their entries do not move)
  return { blob: out, numEntries, carry, record, layout: { blob: out, at, relocs: relocs.slice(0, nr) }, copied: numEntries - written - 1, inPlace: false, within };
}

/**
 * The old blob's bytes between the edits (sorted, disjoint), each run moved by the size the edits
 * before it added or removed (shiftAfter[k]: after edit k), within the same buffer. The runs keep
 * their order, so a run moving left never lands on a run still to move right: those moving left go
 * first, from the front, then those moving right, from the back. The edits' own bytes are written
 * afterwards by the caller.
 */
function moveBetween(b: Buffer, edits: readonly Edit[], shiftAfter: Int32Array, oldSize: number): void {
  const run = (k: number): [number, number, number] => [edits[k]!.oldEnd, k + 1 < edits.length ? edits[k + 1]!.oldStart : oldSize, shiftAfter[k]!];
  for (let k = 0; k < edits.length; k++) {
    const [from, to, d] = run(k);
    if (d < 0 && to > from) b.copyWithin(from + d, from, to);
  }
  for (let k = edits.length - 1; k >= 0; k--) {
    const [from, to, d] = run(k);
    if (d > 0 && to > from) b.copyWithin(from + d, from, to);
  }
}

function isBuiltinHere(rec: EntryRecord, nb: number, name: string): boolean {
  for (let k = 0; k < nb; k++) if (rec.names[k] === name) return true;
  return false;
}

/** The ValidationError for a jump, kept by the splice, into a chain it removes. */
function danglingJump(edits: Edit[], v: number): ValidationError {
  const name = edits.find((x) => x.ci >= 0 && v >= x.oldStart && v < x.oldEnd)?.name ?? '?';
  return new ValidationError('remove', `chain ${name} is still jumped to by a rule the change keeps`, name);
}

/**
 * The common change (a weight, a probability, an endpoint of the same size): every chain keeps its
 * size and rule count, so nothing moves. The chains are written over the old blob and the record
 * updated where they are; no copy, no relocation. The caller drops `rec` if the commit fails.
 */
function spliceInPlace(rec: EntryRecord, lay: BlobLayout, family: IptFamily, edits: Edit[]): Spliced {
  const L = layoutOf(family);
  const headSize = L.size + ERROR_TARGET_SIZE;
  const tailSize = L.size + STANDARD_TARGET_SIZE;
  const b = lay.blob.subarray(REPLACE_HEADER);
  const carry = (lay.selfCarry ??= selfCarry(rec)).slice();
  let relocs = lay.relocs;
  let written = 0;
  // (Carried by identity from the rules the chains replace, as carryMap: -1 when one is there twice.)
  const rest = new Map<IptRule, number>();
  for (const e of edits) {
    const f = rec.first[e.ci]!;
    for (let i = f; i < f + rec.count[e.ci]!; i++) {
      const r = rec.rules[i];
      if (r) rest.set(r, rest.has(r) ? -1 : i);
      carry[i] = -1;
    }
  }
  for (const e of edits) {
    const c = e.chain!, rs = c.rules, sizes = e.sizes!, ci = e.ci, f = rec.first[ci]!;
    b.fill(0, e.oldStart, e.oldEnd);
    const mine: number[] = [];
    let off = e.oldStart + writeError(b, e.oldStart, L, c.name);
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!, next = off + sizes[i]!;
      const v = writeRule(b, off, next, r, L, family, (name) => targetIn(rec, lay, name, headSize));
      if (v >= 0) mine.push(v);
      const from = rest.get(r);
      if (from !== undefined && from >= 0) {
        rest.set(r, -1);
        carry[f + i] = from;
      }
      rec.rules[f + i] = r;
      off = next;
    }
    writeTail(b, off, L, tailSize);
    rec.chains[ci] = c;
    written += rs.length + 2;
    // Its verdicts in the relocation list instead of the old chain's.
    const lo = lowerIndex(relocs, e.oldStart), hi = lowerIndex(relocs, e.oldEnd);
    if (hi - lo !== mine.length) {
      const next = new Int32Array(relocs.length - (hi - lo) + mine.length);
      next.set(relocs.subarray(0, lo));
      next.set(mine, lo);
      next.set(relocs.subarray(hi), lo + mine.length);
      relocs = next;
    } else relocs.set(mine, lo);
  }
  lay.relocs = relocs;
  rec.digest = '';
  return { blob: lay.blob, numEntries: rec.numEntries, carry, record: rec, layout: lay, copied: rec.numEntries - written - 1, inPlace: true, within: false };
}

/** The first index of `a` (ascending) whose value is not below v. */
function lowerIndex(a: Int32Array, v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where a jump to `name` goes in the table `rec`/`lay` describe (nothing moved). */
function targetIn(rec: EntryRecord, lay: BlobLayout, name: string, headSize: number): number {
  const names = rec.names;
  let lo = 0;
  while (lo < names.length && rec.hooks[lo]! >= 0) lo++;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareChainNames(names[mid]!, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return names[lo] === name ? lay.at[lo]! + headSize : -1;
}

/** The carry map of a table to itself. */
function selfCarry(rec: EntryRecord): Int32Array {
  const m = new Int32Array(rec.numEntries).fill(-1);
  for (let ci = 0; ci < rec.names.length; ci++) {
    const f = rec.first[ci]!, n = rec.count[ci]!;
    for (let i = f; i < f + n; i++) m[i] = i;
    if (rec.hooks[ci]! >= 0) m[f + n] = f + n;
  }
  return m;
}

/** A rule's entry at `e` (its next entry at `next`), as the whole-table encoder writes it; the offset of a verdict that holds an entry offset, or -1. */
function writeRule(b: Buffer, e: number, next: number, r: IptRule, L: ReturnType<typeof layoutOf>, family: IptFamily, target: (name: string) => number): number {
  writeRuleHead(b, e, r, L, family);
  let p = e + L.size;
  const ms = r.matches;
  if (ms) for (const m of ms) p += m.type === 'raw' ? writeRaw(b, p, m) : writeTyped(b, p, infoOf(matchInfo[family], 'm', m.type, family), m, family);
  const t = r.target;
  const targetAt = p;
  let reloc = -1;
  if (!t) {
    writeStandard(b, p, next);
    reloc = targetAt + EXT_HEADER;
  } else if (t.type === 'jump' || t.type === 'goto') {
    writeStandard(b, p, target(t.chain));
    if (t.type === 'goto') b[e + L.flags]! |= L.fGoto;
    reloc = targetAt + EXT_HEADER;
  } else if (t.type in VERDICT) writeStandard(b, p, VERDICT[t.type as keyof typeof VERDICT]);
  else if (t.type === 'raw') writeRaw(b, p, t);
  else writeTyped(b, p, infoOf(targetInfo[family], 't', t.type, family), t, family);
  putU16LE(b, e + L.targetOffset, targetAt - e);
  putU16LE(b, e + L.nextOffset, next - e);
  return reloc;
}

function writeTail(b: Buffer, off: number, L: ReturnType<typeof layoutOf>, tailSize: number): void {
  writeStandard(b, off + L.size, VERDICT.RETURN);
  putU16LE(b, off + L.targetOffset, L.size);
  putU16LE(b, off + L.nextOffset, tailSize);
}
