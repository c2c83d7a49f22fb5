/**
 * The table blob: the kernel's ipt_entry/ip6t_entry array with user chains framed by ERROR entries
 * and RETURN tails, built-in chains ending in their policy, jumps as byte offsets, and a final ERROR
 * entry (the layout libiptc builds in iptc_commit and parses in iptc_init).
 */
import { formatCidr, isZero, parseCidr, parseCidr4Fast } from './addr';
import { decodeIface, encodeIface, readCString, xtAlign } from './extensions/codec';
import { matchByName, matchByType, targetByName, targetByType, type AnyCodec } from './extensions';
import {
  compareChainNames, ERROR_TARGET_SIZE, EXT_HEADER, HOOKS, INV, isHook, layoutOf, REPLACE_HEADER, STANDARD_TARGET_SIZE, VERDICT,
  VERDICT_NAME, type EntryLayout,
} from './layout';
import { protoName, protoNumber } from './proto';
import type { IptChain, IptFamily, IptMatch, IptRule, IptTable, IptTarget, RawExtension } from './types';

const INV_KEYS = Object.keys(INV) as Array<keyof typeof INV>;

export interface EncodedTable {
  /** ipt_replace: header (num_counters and counters pointer left for native) + entries. */
  blob: Buffer;
  numEntries: number;
  validHooks: number;
  /** xt_counters per entry when any counter in the model is non-zero, else null. */
  counters: Buffer | null;
}

/** The order chains take in the kernel: built-ins by hook, then user chains sorted like libiptc. */
export function orderChains(chains: IptChain[]): IptChain[] {
  const builtin = chains.filter((c) => isHook(c.name) && c.policy !== undefined).sort((a, b) => HOOKS.indexOf(a.name as never) - HOOKS.indexOf(b.name as never));
  const user = chains.filter((c) => !builtin.includes(c)).sort((a, b) => compareChainNames(a.name, b.name));
  return [...builtin, ...user];
}

function extSize(codec: AnyCodec | undefined, ext: { type: string } | RawExtension, family: IptFamily): number {
  if (ext.type === 'raw') return EXT_HEADER + xtAlign((ext as RawExtension).data.length);
  return EXT_HEADER + xtAlign(codec!.size(family, codec!.revision(family)));
}

function targetSize(t: IptTarget | undefined, family: IptFamily): number {
  if (!t || t.type === 'ACCEPT' || t.type === 'DROP' || t.type === 'RETURN' || t.type === 'QUEUE' || t.type === 'jump' || t.type === 'goto')
    return STANDARD_TARGET_SIZE;
  return extSize(targetByType.get(t.type), t, family);
}

function ruleSize(r: IptRule, L: EntryLayout, family: IptFamily): number {
  let n = L.size;
  for (const m of r.matches ?? []) n += extSize(matchByType.get(m.type), m, family);
  return n + targetSize(r.target, family);
}

function writeExtHeader(b: Buffer, off: number, size: number, name: string, revision: number): void {
  b.writeUInt16LE(size, off);
  b.write(name, off + 2, Math.min(name.length, 28), 'latin1');
  b[off + 31] = revision;
}

// Codecs encode into a zeroed scratch view of the data's size (one view per size, reused), which is
// then copied into the blob: no Buffer object per extension, which at 10^6 extensions is GC time.
const scratch = Buffer.alloc(65536);
const views = new Map<number, Buffer>();
const headers = new Map<string, Buffer>();
function view(size: number): Buffer {
  let v = views.get(size);
  if (!v) views.set(size, (v = scratch.subarray(0, size)));
  return v;
}
function header(size: number, name: string, revision: number): Buffer {
  const key = `${name}/${revision}/${size}`;
  let h = headers.get(key);
  if (!h) {
    h = Buffer.alloc(EXT_HEADER);
    writeExtHeader(h, 0, size, name, revision);
    headers.set(key, h);
  }
  return h;
}

function writeExt(b: Buffer, off: number, codec: AnyCodec | undefined, ext: { type: string } | RawExtension, family: IptFamily): number {
  if (ext.type === 'raw') {
    const raw = ext as RawExtension;
    const size = EXT_HEADER + xtAlign(raw.data.length);
    writeExtHeader(b, off, size, raw.name, raw.revision);
    raw.data.copy(b, off + EXT_HEADER);
    return size;
  }
  const c = codec!;
  const rev = c.revision(family);
  const data = xtAlign(c.size(family, rev));
  const size = EXT_HEADER + data;
  header(size, c.name, rev).copy(b, off);
  const v = view(data);
  try {
    c.encode(ext, v, family);
    v.copy(b, off + EXT_HEADER);
  } finally {
    v.fill(0);
  }
  return size;
}

function writeStandard(b: Buffer, off: number, verdict: number): number {
  b.writeUInt16LE(STANDARD_TARGET_SIZE, off);
  b.writeInt32LE(verdict, off + EXT_HEADER);
  return STANDARD_TARGET_SIZE;
}

function writeCounters(b: Buffer, off: number, c: { packets: number; bytes: number } | undefined): boolean {
  if (!c || (!c.packets && !c.bytes)) return false;
  b.writeBigUInt64LE(BigInt(c.packets), off);
  b.writeBigUInt64LE(BigInt(c.bytes), off + 8);
  return true;
}

/** Builds the ipt_replace for a validated table. */
export function encodeTable(table: IptTable, validHooks: number): EncodedTable {
  const family = table.family;
  const L = layoutOf(family);
  const chains = orderChains(table.chains);
  const headSize = L.size + ERROR_TARGET_SIZE;
  const tailSize = L.size + STANDARD_TARGET_SIZE;

  // Pass 1: offsets of every chain's first rule (jump targets) and the total size.
  const start = new Map<string, number>();
  let off = 0, numEntries = 0;
  const sizes: number[][] = [];
  for (const c of chains) {
    const builtin = c.policy !== undefined;
    if (!builtin) {
      off += headSize;
      numEntries++;
    }
    start.set(c.name, off);
    const rs = c.rules.map((r) => ruleSize(r, L, family));
    sizes.push(rs);
    for (const s of rs) off += s;
    off += tailSize;
    numEntries += c.rules.length + 1;
  }
  const total = off + headSize;
  numEntries++;

  const blob = Buffer.alloc(REPLACE_HEADER + total);
  const counters = Buffer.alloc(numEntries * 16);
  let anyCounter = false;
  blob.write(table.name, 0, Math.min(table.name.length, 31), 'latin1');
  blob.writeUInt32LE(validHooks, 32);
  blob.writeUInt32LE(numEntries, 36);
  blob.writeUInt32LE(total, 40);
  for (let h = 0; h < 5; h++) {
    blob.writeUInt32LE(0xffffffff, 44 + h * 4);
    blob.writeUInt32LE(0xffffffff, 64 + h * 4);
  }

  const b = blob.subarray(REPLACE_HEADER);
  off = 0;
  let idx = 0;
  const entryEnd = (e: number, targetAt: number, next: number) => {
    b.writeUInt16LE(targetAt - e, e + L.targetOffset);
    b.writeUInt16LE(next - e, e + L.nextOffset);
  };
  const writeError = (name: string) => {
    const t = off + L.size;
    b.writeUInt16LE(ERROR_TARGET_SIZE, t);
    b.write('ERROR', t + 2, 'latin1');
    b.write(name, t + EXT_HEADER, Math.min(name.length, 29), 'latin1');
    entryEnd(off, t, off + headSize);
    off += headSize;
    idx++;
  };

  chains.forEach((c, ci) => {
    const builtin = c.policy !== undefined;
    if (builtin) {
      const h = HOOKS.indexOf(c.name as never);
      blob.writeUInt32LE(off, 44 + h * 4);
    } else writeError(c.name);
    c.rules.forEach((r, ri) => {
      const e = off;
      writeRuleHead(b, e, r, L, family);
      let p = e + L.size;
      for (const m of r.matches ?? []) p += writeExt(b, p, matchByType.get(m.type), m, family);
      const t = r.target;
      const next = e + sizes[ci]![ri]!;
      const targetAt = p;
      if (!t) writeStandard(b, p, next);
      else if (t.type === 'jump' || t.type === 'goto') {
        writeStandard(b, p, start.get(t.chain)!);
        if (t.type === 'goto') b[e + L.flags] |= L.fGoto;
      } else if (t.type in VERDICT) writeStandard(b, p, VERDICT[t.type as keyof typeof VERDICT]);
      else writeExt(b, p, targetByType.get(t.type), t, family);
      entryEnd(e, targetAt, next);
      if (writeCounters(counters, idx * 16, r.counters)) anyCounter = true;
      off = next;
      idx++;
    });
    // Chain end: the policy for a built-in chain, RETURN for a user chain.
    if (builtin) {
      const h = HOOKS.indexOf(c.name as never);
      blob.writeUInt32LE(off, 64 + h * 4);
      if (writeCounters(counters, idx * 16, c.counters)) anyCounter = true;
    }
    writeStandard(b, off + L.size, builtin ? VERDICT[c.policy!] : VERDICT.RETURN);
    entryEnd(off, off + L.size, off + tailSize);
    off += tailSize;
    idx++;
  });
  writeError('ERROR');
  return { blob, numEntries, validHooks, counters: anyCounter ? counters : null };
}

function writeRuleHead(b: Buffer, e: number, r: IptRule, L: EntryLayout, family: IptFamily): void {
  let inv = 0, flags = 0;
  const iv = r.invert ?? {};
  const addr = (s: string, a: number, m: number) => {
    const fast = family === 'ipv4' ? parseCidr4Fast(s) : undefined;
    if (fast) {
      b.writeUInt32BE(fast[0], e + a);
      b.writeUInt32BE(fast[1], e + m);
      return;
    }
    const am = parseCidr(s, family)!;
    am.addr.copy(b, e + a);
    am.mask.copy(b, e + m);
  };
  if (r.source !== undefined) addr(r.source, L.src, L.smsk);
  if (r.destination !== undefined) addr(r.destination, L.dst, L.dmsk);
  if (r.inInterface) encodeIface(b, e + L.iniface, e + L.inifaceMask, r.inInterface);
  if (r.outInterface) encodeIface(b, e + L.outiface, e + L.outifaceMask, r.outInterface);
  if (r.protocol !== undefined) {
    const p = protoNumber(r.protocol)!;
    b.writeUInt16LE(p, e + L.proto);
    if (p !== 0) flags |= L.fProto;
  }
  if (r.fragment) flags |= L.fFrag;
  if (r.invert) for (const k of INV_KEYS) if (iv[k]) inv |= INV[k];
  b[e + L.flags] = flags;
  b[e + L.invflags] = inv;
}

// ---------------------------------------------------------------------------------------------
// decoding

export interface TableHeader {
  validHooks: number;
  hookEntry: number[];
  underflow: number[];
  entries: Buffer;
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

function decodeExt(b: Buffer, off: number, size: number, family: IptFamily, kind: 'match' | 'target'): IptMatch | IptTarget {
  const name = latin1Name(b, off + 2, 29);
  const revision = b[off + 31]!;
  const data = b.subarray(off + EXT_HEADER, off + size);
  for (const c of (kind === 'match' ? matchByName : targetByName).get(name) ?? []) {
    if (c.families && !c.families.includes(family)) continue;
    if (xtAlign(c.size(family, revision)) !== data.length) continue;
    const v = c.decode(data, family, revision);
    if (v) return v as IptMatch;
  }
  return { type: 'raw', name, revision, data: Buffer.from(data) };
}

/** Decodes a table read from the kernel. Throws on a blob libiptc would also reject. */
export function decodeTable(h: TableHeader, family: IptFamily, name: string): IptTable {
  const L = layoutOf(family);
  const b = h.entries;
  // Entry offsets first: jumps are offsets, and chain starts are known only once heads are found.
  const offsets: number[] = [];
  for (let off = 0; off < b.length; ) {
    offsets.push(off);
    const next = b.readUInt16LE(off + L.nextOffset);
    if (next < L.size) throw new Error(`table ${name}: malformed entry at offset ${off}`);
    off += next;
  }
  // The target name at +2 of the target header is "ERROR\0" (compared as bytes: this runs per entry).
  const isError = (off: number) => {
    const t = off + b.readUInt16LE(off + L.targetOffset) + 2;
    return b[t] === 0x45 && b[t + 1] === 0x52 && b[t + 2] === 0x52 && b[t + 3] === 0x4f && b[t + 4] === 0x52 && b[t + 5] === 0;
  };
  const hookAt = new Map<number, number>();
  const underflowAt = new Set<number>();
  for (let i = 0; i < 5; i++) {
    if (!(h.validHooks & (1 << i))) continue;
    hookAt.set(h.hookEntry[i]!, i);
    underflowAt.add(h.underflow[i]!);
  }
  const chainAt = new Map<number, string>();
  for (const off of offsets) {
    if (hookAt.has(off)) chainAt.set(off, HOOKS[hookAt.get(off)!]!);
    if (isError(off)) {
      const cname = readCString(b, off + b.readUInt16LE(off + L.targetOffset) + EXT_HEADER, 30);
      if (cname !== 'ERROR') chainAt.set(off + L.size + ERROR_TARGET_SIZE, cname);
    }
  }

  const chains: IptChain[] = [];
  let cur: IptChain | undefined;
  for (let i = 0; i < offsets.length; i++) {
    const off = offsets[i]!;
    const next = offsets[i + 1];
    const to = b.readUInt16LE(off + L.targetOffset);
    if (isError(off)) {
      const cname = readCString(b, off + to + EXT_HEADER, 30);
      if (cname === 'ERROR' && next === undefined) break;
      cur = { name: cname, rules: [] };
      chains.push(cur);
      continue;
    }
    if (hookAt.has(off)) {
      cur = { name: HOOKS[hookAt.get(off)!]!, policy: 'ACCEPT', rules: [] };
      chains.push(cur);
    }
    if (!cur) throw new Error(`table ${name}: entry at offset ${off} belongs to no chain`);
    if (underflowAt.has(off) && cur.policy !== undefined) {
      const v = b.readInt32LE(off + to + EXT_HEADER);
      cur.policy = v === VERDICT.DROP ? 'DROP' : 'ACCEPT';
      cur.counters = readCounters(b, off + L.counters);
      cur = undefined;
      continue;
    }
    if (cur.policy === undefined && next !== undefined && isError(next)) {
      cur = undefined; // a user chain's RETURN tail
      continue;
    }
    cur.rules.push(decodeRule(b, off, to, off + b.readUInt16LE(off + L.nextOffset), L, family, chainAt));
  }
  return { family, name, chains };
}

const NO_INVERT: Readonly<NonNullable<IptRule['invert']>> = Object.freeze({});

function decodeAddr(
  b: Buffer, e: number, a: number, m: number, len: number, k: 'source' | 'destination', invert: NonNullable<IptRule['invert']>, r: IptRule,
): void {
  if (len === 4) {
    const av = b.readUInt32BE(e + a), mv = b.readUInt32BE(e + m);
    if (!av && !mv && !invert[k]) return;
    // A contiguous mask has all ones below its lowest set bit: mask | (mask - 1) is all ones.
    const prefix = mv === 0xffffffff ? 32 : mv === 0 ? 0 : ((mv | (mv - 1)) >>> 0) === 0xffffffff ? Math.clz32(~mv >>> 0) : -1;
    if (prefix >= 0) {
      r[k] = `${av >>> 24}.${(av >>> 16) & 255}.${(av >>> 8) & 255}.${av & 255}/${prefix}`;
      return;
    }
  }
  const ab = b.subarray(e + a, e + a + len), mb = b.subarray(e + m, e + m + len);
  if (!isZero(ab) || !isZero(mb) || invert[k]) r[k] = formatCidr(ab, mb);
}

function decodeRule(b: Buffer, e: number, to: number, nextOff: number, L: EntryLayout, family: IptFamily, chainAt: Map<number, string>): IptRule {
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
  const p = b.readUInt16LE(e + L.proto);
  if (p !== 0 || invert.protocol) {
    const n = protoName(p);
    r.protocol = n === String(p) ? p : n;
  }
  if (L.fFrag && flags & L.fFrag) r.fragment = true;
  if (inv && Object.keys(invert).length) r.invert = invert;
  const matches: IptMatch[] = [];
  for (let m = e + L.size; m < e + to; ) {
    const size = b.readUInt16LE(m);
    if (size < EXT_HEADER) throw new Error(`malformed match at offset ${m}`);
    matches.push(decodeExt(b, m, size, family, 'match') as IptMatch);
    m += size;
  }
  if (matches.length) r.matches = matches;
  const t = e + to;
  const tname = b[t + 2] === 0 ? '' : latin1Name(b, t + 2, 29);
  if (tname === '') {
    const v = b.readInt32LE(t + EXT_HEADER);
    if (v < 0) {
      const verdict = VERDICT_NAME.get(v);
      if (!verdict) throw new Error(`unknown verdict ${v} at offset ${e}`);
      r.target = { type: verdict };
    } else if (v !== nextOff || flags & L.fGoto) {
      const chain = chainAt.get(v);
      if (chain === undefined) throw new Error(`jump to offset ${v} at offset ${e} is not a chain start`);
      r.target = { type: flags & L.fGoto ? 'goto' : 'jump', chain };
    }
  } else {
    r.target = decodeExt(b, t, b.readUInt16LE(t), family, 'target') as IptTarget;
  }
  // Zero counters are left out (most rules of a fresh table): one object fewer per rule.
  const co = e + L.counters;
  if (b.readUInt32LE(co) || b.readUInt32LE(co + 4) || b.readUInt32LE(co + 8) || b.readUInt32LE(co + 12)) r.counters = readCounters(b, co);
  return r;
}
