/**
 * One codec per typed extension: the kernel struct (name, revision, size) and its encoding, the
 * decoding back into the model, validation, and the iptables-save text in and out.
 */
import type { IptFamily, IptRule } from '../types';

// Stores for the encoders' hot paths: plain byte stores. Buffer's writeUInt16LE & co. check their
// arguments on every call (10^6 calls per big table); here the values were validated and the blob
// was sized from the same layout before anything is written.
export function putU16LE(b: Buffer, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}
export function putU16BE(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
export function putU32LE(b: Buffer, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
export function putU32BE(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

// And the decoders' loads (the entries are the kernel's, each checked to lie within the blob).
export function getU16LE(b: Buffer, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
export function getU16BE(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function getU32LE(b: Buffer, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
export function getU32BE(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** XT_ALIGN: extension data is padded to 8 bytes. */
export function xtAlign(n: number): number {
  return (n + 7) & ~7;
}

/** One "--option value" of a match or target as parse() read it; `invert` when "!" preceded it. */
export interface ParsedOption {
  name: string;
  args: string[];
  invert: boolean;
}

export interface Codec<T extends { type: string }> {
  kind: 'match' | 'target';
  /** Model discriminant. */
  type: T['type'];
  /** Kernel extension name. */
  name: string;
  /** Name iptables-save prints after -m / -j when it differs (state, NOTRACK). */
  saveName?: string;
  /** Families the extension exists in (default both). */
  families?: IptFamily[];
  /** Revision encoded for a family (the one iptables 1.8.9 uses, so iptables-save prints it). */
  revision(family: IptFamily): number;
  /** Unaligned kernel struct size for a family and revision. */
  size(family: IptFamily, revision: number): number;
  encode(v: T, b: Buffer, family: IptFamily): void;
  /**
   * Optional fast path of encode: writes the same bytes straight into a zero-filled table blob at
   * `off` (where the data starts), without a view object per extension.
   */
  encodeAt?(v: T, b: Buffer, off: number, family: IptFamily): void;
  /** undefined: this codec does not own these bytes (another alias does, or a revision not typed). */
  decode(b: Buffer, family: IptFamily, revision: number): T | undefined;
  /** Optional fast path of decode: the same answer from `len` data bytes at `off` of a table blob. */
  decodeAt?(b: Buffer, off: number, len: number, family: IptFamily, revision: number): T | undefined;
  /**
   * The rule protocols the kernel requires for this match (its xt_match.proto: the kernel refuses
   * the whole table with EINVAL otherwise, or when the protocol is inverted), by number.
   */
  protocols?: readonly number[];
  /** Problems with v, as [field suffix, problem]; empty (VALID, shared) when valid. */
  validate(v: T, family: IptFamily, rule: IptRule): Problems;
  /** Text printed after "-m name" / "-j NAME", each option starting with a space. */
  save(v: T, family: IptFamily, rule: IptRule): string;
  /** Options and how many arguments each takes, for parse() (-1: one optional argument). */
  options: Record<string, number>;
  parse(opts: ParsedOption[], family: IptFamily): T;
}

export type Problems = ReadonlyArray<readonly [string, string]>;
/**
 * The answer for a valid value: one frozen empty array, not a new one per call (validation runs for
 * every match of every rule on commit; 10^5-10^6 short-lived arrays meant scavenges, which also copy
 * whatever young model the caller just built).
 */
export const VALID: Problems = Object.freeze([]);

export class ParseProblem extends Error {}

/** An array of strings (validators loop over these, and a string or an object is not one). */
export function isStringList(v: unknown): v is string[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

/** A model value in a problem message: any value, never a throw (a template literal throws on a Symbol or a null-prototype object). */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v);
  if (typeof v === 'symbol' || typeof v === 'bigint' || typeof v === 'function') return typeof v;
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

export function u32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
export function port(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
}

/** A port or [low, high] with low <= high. */
export type PortRange = number | [number, number];

export function portRange(p: PortRange): [number, number] {
  return typeof p === 'number' ? [p, p] : p;
}
export function validPortRange(p: unknown): boolean {
  if (port(p)) return true;
  return Array.isArray(p) && p.length === 2 && port(p[0]) && port(p[1]) && p[0] <= p[1];
}
export function parsePortRange(s: string, sep = ':'): PortRange {
  const parts = s.split(sep);
  const nums = parts.map((x) => (x === '' ? NaN : Number(x)));
  if (parts.length === 1 && port(nums[0])) return nums[0]!;
  if (parts.length === 2) {
    const lo = parts[0] === '' ? 0 : nums[0]!;
    const hi = parts[1] === '' ? 65535 : nums[1]!;
    if (port(lo) && port(hi)) return lo === hi ? lo : [lo, hi];
  }
  throw new ParseProblem(`bad port or range "${s}"`);
}
export function parseNumber(s: string | undefined, what: string): number {
  const n = s !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(s) ? Number(s) : NaN;
  if (!u32(n)) throw new ParseProblem(`bad ${what} "${s}"`);
  return n;
}
/** "value[/mask]" with hex or decimal numbers (mark, connmark). */
export function parseValueMask(s: string, what: string): { value: number; mask?: number } {
  const [v, m] = s.split('/');
  return m === undefined ? { value: parseNumber(v, what) } : { value: parseNumber(v, what), mask: parseNumber(m, what) };
}
export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
export function opt(opts: ParsedOption[], name: string): ParsedOption | undefined {
  return opts.find((o) => o.name === name);
}
export function arg(o: ParsedOption): string {
  const a = o.args[0];
  if (a === undefined) throw new ParseProblem(`--${o.name} needs a value`);
  return a;
}
/** NUL-terminated string in a fixed field. */
export function readCString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}
export function writeCString(b: Buffer, off: number, len: number, s: string): void {
  b.write(s, off, Math.min(Buffer.byteLength(s), len - 1), 'utf8');
}

/**
 * readCString for a field at an offset of a big buffer (no view object): ASCII, the common case, is
 * decoded as Latin-1 (same characters, cheaper than the UTF-8 decoder); anything else as UTF-8.
 */
export function readCStringAt(b: Buffer, off: number, len: number): string {
  let end = off, ascii = true;
  const max = off + len;
  for (; end < max; end++) {
    const c = b[end]!;
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
  }
  return b.toString(ascii ? 'latin1' : 'utf8', off, end);
}
/** writeCString at an offset of a zero-filled buffer (ASCII written here, else the UTF-8 encoder). */
export function writeCStringAt(b: Buffer, off: number, len: number, s: string): void {
  const n = s.length;
  if (n < len) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[off + i] = c;
    }
    if (i === n) return;
  }
  b.write(s, off, Math.min(Buffer.byteLength(s), len - 1), 'utf8');
}

/** xtables_save_string: bare when only [A-Za-z0-9_-], else double-quoted with " \ ' escaped. */
export function saveString(s: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(s)) return ` ${s}`;
  return ` "${s.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

/** Interface name and mask as xtables_parse_interface writes them ("eth+" = prefix match). */
export function encodeIface(b: Buffer, nameOff: number, maskOff: number, name: string): void {
  if (!name) return;
  b.write(name, nameOff, Math.min(name.length, 15), 'latin1');
  const n = name.endsWith('+') ? name.length - 1 : name.length + 1;
  b.fill(0xff, maskOff, maskOff + Math.min(n, 16));
}
/** Reads back what save_iface prints: the name, with "+" when the mask ends before the name's NUL. */
export function decodeIface(b: Buffer, nameOff: number, maskOff: number): string | undefined {
  // An empty mask with a name is iptables' "-i +" (any interface; "! -i +": none): the name is kept
  // so the entry is written back with the same bytes (iptables-save prints neither form).
  if (b[maskOff] === 0) return b[nameOff] === 0 ? undefined : readCString(b, nameOff, 16);
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (b[maskOff + i] !== 0) {
      if (b[nameOff + i] !== 0) out += String.fromCharCode(b[nameOff + i]!);
    } else {
      if (b[nameOff + i - 1] !== 0) out += '+';
      break;
    }
  }
  return out;
}
/** Whether iptables-save prints an interface: not when its mask is empty ("+", which matches any name). */
export function ifacePrinted(s: string): boolean {
  return s !== '+';
}
export function validIface(s: unknown): boolean {
  return typeof s === 'string' && s.length > 0 && s.length <= 15 && !/[\s/]/.test(s);
}

/** Flag names in bit order, joined with "," (addrtype types, conntrack states...). */
export function bitNames(mask: number, names: Array<[string, number]>): string[] {
  const out: string[] = [];
  for (const [n, bit] of names) if (mask & bit) out.push(n);
  return out;
}
export function namesToBits(list: string[], names: Array<[string, number]>, what: string): number {
  let m = 0;
  for (const s of list) {
    const e = names.find(([n]) => n === s.toUpperCase());
    if (!e) throw new ParseProblem(`unknown ${what} "${s}"`);
    m |= e[1];
  }
  return m;
}
