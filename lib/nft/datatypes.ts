/**
 * nft datatypes kernlb encodes natively: their nft id (NFTA_SET_KEY_TYPE), size, byteorder, and the
 * codec between a JS value and the kernel's bytes. Concatenations pad every field to 4 bytes.
 */
import { isIPv6 } from 'node:net';
import { BYTEORDER, DATA_VERDICT, TYPE_BITS } from './constants';
import { isOwnKey } from '../own-key';

export type ScalarValue = string | number;

export interface Datatype {
  name: string;
  id: number;
  /** Bytes in the kernel (before concatenation padding). */
  len: number;
  byteorder: number;
  /** Returns a problem description, or undefined when the value is fine. */
  check(v: unknown): string | undefined;
  encode(v: ScalarValue): Buffer;
  /** Writes the `len` bytes of v at b[off] (bulk element encoding: no allocation per value). */
  write(v: ScalarValue, b: Buffer, off: number): void;
  decode(b: Buffer): ScalarValue;
}

const SCRATCH = Buffer.alloc(64);
/**
 * The value's bytes as lowercase hex, through one scratch buffer: statement builders call this per
 * rule, and a Buffer per value (an ArrayBuffer each) was a large share of a bulk build's time and GC.
 */
export function encodeHex(d: Datatype, v: ScalarValue): string {
  SCRATCH.fill(0, 0, d.len);
  d.write(v, SCRATCH, 0);
  return SCRATCH.toString('hex', 0, d.len);
}
/** A 32-bit host-endian (little endian) number as hex, e.g. a mark. */
export function le32Hex(n: number): string {
  SCRATCH.writeUInt32LE(n >>> 0, 0);
  return SCRATCH.toString('hex', 0, 4);
}

/** Fills in encode() from write(). */
function dt(d: Omit<Datatype, 'encode'>): Datatype {
  return { ...d, encode: (v) => { const b = Buffer.alloc(d.len); d.write(v, b, 0); return b; } };
}

const PROTOS: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132, udplite: 136 };
const PROTO_NAMES = new Map(Object.entries(PROTOS).map(([k, v]) => [v, k]));

const isUint = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

export function ipv6Bytes(s: string): Buffer {
  let [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const expand = (parts: string[]) => parts.flatMap((p) => (p.includes('.') ? v4Words(p) : [parseInt(p, 16)]));
  const hw = expand(h), tw = expand(t);
  const words = tail === undefined ? hw : [...hw, ...Array(8 - hw.length - tw.length).fill(0), ...tw];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}
function v4Words(s: string): number[] {
  const b = Buffer.from(s.split('.').map(Number));
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}
export function ipv6String(b: Buffer): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(i));
  // longest run of zeros (length >= 2) becomes "::", as inet_ntop does
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function u32Host(len: number, name: string, id: number): Datatype {
  return dt({
    name, id, len, byteorder: BYTEORDER.host,
    check: (v) => (isUint(v, 0xffffffff) ? undefined : 'expected an integer 0..4294967295'),
    write: (v, b, off) => void b.writeUInt32LE(Number(v), off),
    decode: (b) => b.readUInt32LE(0),
  });
}
/**
 * Dotted-quad IPv4 exactly as node:net's isIPv4 accepts it (four decimal octets 0..255, no leading
 * zeros), without its regular expression: a bulk ruleset checks one or two addresses per rule.
 */
export function isIpv4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0, i = 0;
  while (i < n) {
    const start = i;
    let v = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + c - 48;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(start) === 48)) return false;
    parts++;
    if (i === n) break;
    if (s.charCodeAt(i) !== 46 || parts === 4) return false;
    i++;
    if (i === n) return false;
  }
  return parts === 4;
}

function writeIpv4(v: ScalarValue, b: Buffer, off: number): void {
  const s = String(v);
  let n = 0, i = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 46) { b[off + i++] = n; n = 0; } else n = n * 10 + c - 48;
  }
  b[off + i] = n;
}

export const DATATYPES: Record<string, Datatype> = {
  ipv4_addr: dt({
    name: 'ipv4_addr', id: 7, len: 4, byteorder: BYTEORDER.big,
    check: (v) => (typeof v === 'string' && isIpv4(v) ? undefined : 'expected an IPv4 address'),
    write: writeIpv4,
    decode: (b) => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`,
  }),
  ipv6_addr: dt({
    name: 'ipv6_addr', id: 8, len: 16, byteorder: BYTEORDER.big,
    check: (v) => (typeof v === 'string' && isIPv6(v) ? undefined : 'expected an IPv6 address'),
    write: (v, b, off) => void ipv6Bytes(String(v)).copy(b, off),
    decode: (b) => ipv6String(b.subarray(0, 16)),
  }),
  ether_addr: dt({
    name: 'ether_addr', id: 9, len: 6, byteorder: BYTEORDER.big,
    check: (v) => (typeof v === 'string' && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v) ? undefined : 'expected a MAC address'),
    write: (v, b, off) => String(v).split(':').forEach((x, i) => (b[off + i] = parseInt(x, 16))),
    decode: (b) => [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
  }),
  inet_proto: dt({
    name: 'inet_proto', id: 12, len: 1, byteorder: BYTEORDER.big,
    // own names only: 'constructor' in PROTOS is true, and would be written as protocol 0
    check: (v) => (isUint(v, 255) || isOwnKey(PROTOS, v) ? undefined : 'expected a protocol name (tcp, udp, ...) or number'),
    write: (v, b, off) => void (b[off] = typeof v === 'string' ? PROTOS[v]! : v),
    decode: (b) => PROTO_NAMES.get(b[0]!) ?? b[0]!,
  }),
  inet_service: dt({
    name: 'inet_service', id: 13, len: 2, byteorder: BYTEORDER.big,
    check: (v) => (isUint(v, 65535) ? undefined : 'expected a port 0..65535'),
    write: (v, b, off) => void b.writeUInt16BE(Number(v), off),
    decode: (b) => b.readUInt16BE(0),
  }),
  mark: u32Host(4, 'mark', 19),
  /** 32-bit host-endian integer: what numgen and jhash produce. */
  integer: u32Host(4, 'integer', 4),
  ct_state: u32Host(4, 'ct_state', 26),
  ifname: dt({
    name: 'ifname', id: 41, len: 16, byteorder: BYTEORDER.host,
    // 15 bytes at most (the kernel's IFNAMSIZ with its NUL); a NUL inside would name another interface
    check: (v) => (typeof v === 'string' && v.length > 0 && v.length < 16 && !v.includes('\0') && Buffer.byteLength(v) < 16 ? undefined : 'expected an interface name (1..15 bytes)'),
    write: (v, b, off) => void b.write(String(v), off, 16),
    decode: (b) => { const e = b.indexOf(0); return b.subarray(0, e < 0 ? 16 : e).toString(); },
  }),
};
const BY_ID = new Map(Object.values(DATATYPES).map((d) => [d.id, d]));

export const datatypeById = (id: number): Datatype | undefined => BY_ID.get(id);
export const align4 = (n: number) => (n + 3) & ~3;

/** NFTA_SET_KEY_TYPE / KEY_LEN of a (possibly concatenated) key. */
export function keyTypeOf(fields: Datatype[]): { type: number; len: number; concat?: number[] } {
  if (fields.length === 1) return { type: fields[0]!.id, len: fields[0]!.len };
  let type = 0;
  for (const f of fields) type = (type << TYPE_BITS) | f.id;
  return { type: type >>> 0, len: fields.reduce((n, f) => n + align4(f.len), 0), concat: fields.map((f) => f.len) };
}

/** Splits a concatenated type id back into its datatypes; undefined when one is unknown to kernlb. */
export function fieldsOfType(type: number, len: number): Datatype[] | undefined {
  if (type === DATA_VERDICT) return undefined;
  const single = datatypeById(type);
  if (single) return single.len === len ? [single] : undefined;
  const ids: number[] = [];
  for (let t = type; t; t = Math.floor(t / (1 << TYPE_BITS))) ids.unshift(t & ((1 << TYPE_BITS) - 1));
  const fields = ids.map(datatypeById);
  if (fields.some((f) => !f)) return undefined;
  const total = (fields as Datatype[]).reduce((n, f) => n + align4(f.len), 0);
  return total === len ? (fields as Datatype[]) : undefined;
}

/** Bytes of a key with these fields: padded to 4 per field for a concatenation. */
export const keyBytes = (fields: Datatype[]) => (fields.length === 1 ? fields[0]!.len : fields.reduce((n, f) => n + align4(f.len), 0));

/** Writes a (concatenated) key at b[off] (b must be zeroed there: padding is not written). */
export function writeKey(fields: Datatype[], vals: ScalarValue[], b: Buffer, off: number): void {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    f.write(vals[i]!, b, off);
    off += fields.length === 1 ? f.len : align4(f.len);
  }
}

export function encodeKey(fields: Datatype[], value: ScalarValue | ScalarValue[]): Buffer {
  const vals = Array.isArray(value) ? value : [value];
  if (fields.length === 1) return fields[0]!.encode(vals[0]!);
  return Buffer.concat(fields.map((f, i) => {
    const b = Buffer.alloc(align4(f.len));
    f.encode(vals[i]!).copy(b);
    return b;
  }));
}

export function decodeKey(fields: Datatype[], b: Buffer): ScalarValue | ScalarValue[] {
  if (fields.length === 1) return fields[0]!.decode(b);
  const out: ScalarValue[] = [];
  let off = 0;
  for (const f of fields) {
    out.push(f.decode(b.subarray(off, off + f.len)));
    off += align4(f.len);
  }
  return out;
}
