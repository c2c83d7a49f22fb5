/**
 * Writing one table entry into a blob: the rule's ipt_entry/ip6t_entry head, its matches and target
 * (typed ones through their codec, raw ones byte for byte), a standard verdict, a chain head's
 * ERROR entry, and the counters array beside the blob. Shared by both encoders (blob.ts, one-pass.ts).
 */
import { cidr4, parseCidr, parseCidr4Into } from './addr';
import { encodeIface, putU16LE, putU32BE, putU32LE, xtAlign } from './extensions/codec';
import { matchByType, targetByType, type AnyCodec } from './extensions';
import { ERROR_TARGET_SIZE, EXT_HEADER, INV, STANDARD_TARGET_SIZE, type EntryLayout } from './layout';
import { protoNumber } from './proto';
import type { IptChain, IptFamily, IptRule, RawExtension } from './types';
import type { ChainIndex } from './validate';

export const INV_KEYS = Object.keys(INV) as Array<keyof typeof INV>;

/**
 * Finds jump targets by name. A Map lookup among 10^5 chain names costs ~0.3 us (cache misses);
 * most jumps go where the previous one went (every endpoint chain jumps to the same mark chain) or
 * to the chain listed right after it (a service chain jumps to its endpoint chains in turn): both
 * are tried first, with a string comparison.
 */
export class JumpIndex {
  private last = -1;
  constructor(private readonly chains: IptChain[], private readonly index: ChainIndex) {}

  get(name: string): number | undefined {
    const l = this.last;
    if (l >= 0) {
      if (this.chains[l]!.name === name) return l;
      const n = this.chains[l + 1];
      if (n !== undefined && n.name === name) return (this.last = l + 1);
    }
    const i = this.index.get(name);
    if (i !== undefined) this.last = i;
    return i;
  }
}

/** A typed extension's fixed facts for one family: aligned data size and its 32-byte header's bytes. */
export interface ExtInfo {
  codec: AnyCodec;
  /** Header + aligned data. */
  size: number;
  data: number;
  /** The header's non-zero bytes (size, name, revision) as (offset, value) pairs: written byte by byte. */
  headerBytes: Uint8Array;
}

// Per family and kind, by model type: computed once, so the per-rule work is one Map lookup.
const extInfos = new Map<string, ExtInfo>();
export function extInfo(kind: 'm' | 't', type: string, family: IptFamily): ExtInfo {
  const key = `${kind}${family}${type}`;
  let info = extInfos.get(key);
  if (!info) {
    const codec = (kind === 'm' ? matchByType : targetByType).get(type)!;
    const rev = codec.revision(family);
    const data = xtAlign(codec.size(family, rev));
    const header = Buffer.alloc(EXT_HEADER);
    writeExtHeader(header, 0, EXT_HEADER + data, codec.name, rev);
    const nz: number[] = [];
    for (let i = 0; i < EXT_HEADER; i++) if (header[i] !== 0) nz.push(i, header[i]!);
    info = { codec, size: EXT_HEADER + data, data, headerBytes: Uint8Array.from(nz) };
    extInfos.set(key, info);
  }
  return info;
}
export const matchInfo = { ipv4: new Map<string, ExtInfo>(), ipv6: new Map<string, ExtInfo>() };
export const targetInfo = { ipv4: new Map<string, ExtInfo>(), ipv6: new Map<string, ExtInfo>() };
export function infoOf(cache: Map<string, ExtInfo>, kind: 'm' | 't', type: string, family: IptFamily): ExtInfo {
  let i = cache.get(type);
  if (!i) cache.set(type, (i = extInfo(kind, type, family)));
  return i;
}

export function writeExtHeader(b: Buffer, off: number, size: number, name: string, revision: number): void {
  putU16LE(b, off, size);
  b.write(name, off + 2, Math.min(name.length, 28), 'latin1');
  b[off + 31] = revision;
}

export function writeRaw(b: Buffer, off: number, raw: RawExtension): number {
  const size = EXT_HEADER + xtAlign(raw.data.length);
  writeExtHeader(b, off, size, raw.name, raw.revision);
  b.set(raw.data, off + EXT_HEADER);
  return size;
}

// The blob is zero-filled, so a codec writes its data straight into it: through encodeAt when it
// has one (no object at all), else through a view of exactly the data's size.
export function writeTyped(b: Buffer, off: number, info: ExtInfo, ext: { type: string }, family: IptFamily): number {
  // (Byte stores of the ~10 non-zero header bytes into the zero-filled blob: a b.set of the 32-byte
  // header was the encoder's costliest line, once per extension.)
  const hb = info.headerBytes;
  for (let i = 0; i < hb.length; i += 2) b[off + hb[i]!] = hb[i + 1]!;
  const c = info.codec;
  if (c.encodeAt) c.encodeAt(ext, b, off + EXT_HEADER, family);
  else c.encode(ext, b.subarray(off + EXT_HEADER, off + info.size), family);
  return info.size;
}

export function writeStandard(b: Buffer, off: number, verdict: number): number {
  putU16LE(b, off, STANDARD_TARGET_SIZE);
  putU32LE(b, off + EXT_HEADER, verdict);
  return STANDARD_TARGET_SIZE;
}

export function writeCounters(b: Buffer, off: number, c: { packets: number; bytes: number } | undefined): boolean {
  if (!c || (!c.packets && !c.bytes)) return false;
  b.writeBigUInt64LE(BigInt(c.packets), off);
  b.writeBigUInt64LE(BigInt(c.bytes), off + 8);
  return true;
}

// Top-level (not closures over the encoder's locals): a closure that assigns `off` would make it a
// context variable, read from memory at every use in the encoder's loops.

/** An ERROR entry (a user chain's head, or the table's end) at `off`; its size. */
export function writeError(b: Buffer, off: number, L: EntryLayout, name: string): number {
  const t = off + L.size;
  putU16LE(b, t, ERROR_TARGET_SIZE);
  // "ERROR" and the chain name byte by byte (a Buffer.write is a native call: 10^5 chains).
  b[t + 2] = 0x45;
  b[t + 3] = 0x52;
  b[t + 4] = 0x52;
  b[t + 5] = 0x4f;
  b[t + 6] = 0x52;
  const n = Math.min(name.length, 29);
  for (let i = 0; i < n; i++) b[t + EXT_HEADER + i] = name.charCodeAt(i); // Latin-1, as b.write(name, 'latin1')
  putU16LE(b, off + L.targetOffset, L.size);
  putU16LE(b, off + L.nextOffset, L.size + ERROR_TARGET_SIZE);
  return L.size + ERROR_TARGET_SIZE;
}

/** Entry `i`'s counters into the xt_counters array (made on the first non-zero one). */
export function addCounters(counters: Buffer | null, numEntries: number, i: number, c: { packets: number; bytes: number } | undefined): Buffer | null {
  if (!c || (!c.packets && !c.bytes)) return counters;
  const out = counters ?? Buffer.alloc(numEntries * 16);
  writeCounters(out, i * 16, c);
  return out;
}

export function writeRuleHead(b: Buffer, e: number, r: IptRule, L: EntryLayout, family: IptFamily): void {
  let flags = 0;
  if (r.source !== undefined) writeAddr(b, e, r.source, L.src, L.smsk, family);
  if (r.destination !== undefined) writeAddr(b, e, r.destination, L.dst, L.dmsk, family);
  if (r.inInterface) encodeIface(b, e + L.iniface, e + L.inifaceMask, r.inInterface);
  if (r.outInterface) encodeIface(b, e + L.outiface, e + L.outifaceMask, r.outInterface);
  if (r.protocol !== undefined) {
    const p = protoNumber(r.protocol)!;
    putU16LE(b, e + L.proto, p);
    // ip6tables sets IP6T_F_PROTO for every -p, '-p all' included (IPv4 has no such flag: fProto 0).
    flags |= L.fProto;
  }
  if (r.fragment) flags |= L.fFrag;
  b[e + L.flags] = flags;
  const iv = r.invert;
  if (iv) {
    let inv = 0;
    for (const k of INV_KEYS) if (iv[k]) inv |= INV[k];
    b[e + L.invflags] = inv;
  }
}

export function writeAddr(b: Buffer, e: number, s: string, a: number, m: number, family: IptFamily): void {
  if (family === 'ipv4' && parseCidr4Into(s)) {
    putU32BE(b, e + a, cidr4.addr);
    putU32BE(b, e + m, cidr4.mask);
    return;
  }
  const am = parseCidr(s, family)!;
  b.set(am.addr, e + a);
  b.set(am.mask, e + m);
}
