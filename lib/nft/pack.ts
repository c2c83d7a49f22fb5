/**
 * Packed element lists: the bulk path from TypeScript to native/nft (elem_packed.cc). Big maps are
 * written straight into one Buffer instead of one JS object and hex string per element, so the
 * per-element cost across the boundary is a few bytes copied. Layout per element (little endian):
 *   u16 mask, then the present fields in bit order:
 *   0 key: u8 len + bytes       1 keyEnd: u8 len + bytes   2 data: u8 len + bytes
 *   3 verdict: i32              4 chain: u16 len + utf8    5 objref: u16 len + utf8
 *   6 timeout: u64 (ms)         7 expiration: u64 (ms)     8 flags: u32
 *   9 userdata: u8 len + bytes  10 counter: u64 packets + u64 bytes
 */
export const PACK = {
  key: 1 << 0, keyEnd: 1 << 1, data: 1 << 2, verdict: 1 << 3, chain: 1 << 4, objref: 1 << 5,
  timeout: 1 << 6, expiration: 1 << 7, flags: 1 << 8, userdata: 1 << 9, counter: 1 << 10,
} as const;

/**
 * Packed rules and chains (native/nft/items_packed.cc): a run of transaction items in one Buffer, so
 * a bulk ruleset crosses to native as a few Buffers instead of one JS object per item and
 * expression (reading JS properties from C++ was most of the commit's user time). Per record:
 *   u8 kind (PACKED_KIND), u8 op (PACKED_OP), u8 family, str16 table, str16 chain (rule) / name (chain),
 *   u16 mask, then the present fields in bit order:
 *   rule:  0 handle: f64   1 position: f64   2 id: u32   3 positionId: u32   4 userdata: u16 len + bytes
 *          5 exprs: u16 count + expressions
 *   chain: 0 handle: f64   1 id: u32   2 hook: u32 hook + i32 priority + str16 type   3 policy: u32
 *          4 device: str16   5 devices: u16 count + str16 each   6 flags: u32   7 userdata: u16 len + bytes
 * An expression is str8 type, u8 attribute count, then per attribute str8 name, u8 tag and value:
 *   tag 0 number: f64   1 string: str16   2 data: u8 len + bytes   3 nested expressions: u16 count + ...
 *       4 number: u32   5 number: i32 (the compact forms of integers, which most attributes are)
 * Native applies attributes in its own table order, exactly as for an object expression.
 */
export const PACKED_KIND = { rule: 1, chain: 2 } as const;
export const PACKED_OP = { add: 0, create: 1, insert: 2, replace: 3, delete: 4, destroy: 5 } as const;
export const PACKED_RULE = { handle: 1 << 0, position: 1 << 1, id: 1 << 2, positionId: 1 << 3, userdata: 1 << 4, exprs: 1 << 5 } as const;
export const PACKED_CHAIN = {
  handle: 1 << 0, id: 1 << 1, hook: 1 << 2, policy: 1 << 3, device: 1 << 4, devices: 1 << 5, flags: 1 << 6, userdata: 1 << 7,
} as const;
export const PACKED_TAG = { number: 0, string: 1, data: 2, exprs: 3, u32: 4, i32: 5 } as const;

/** Lowercase hex digits' values by character code (0-127); 16 for every other character. */
const NIBBLE = Uint8Array.from({ length: 128 }, (_, c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : 16));

export class PackWriter {
  buf: Buffer;
  off = 0;
  count = 0;
  constructor(hint = 4096) {
    this.buf = Buffer.alloc(hint);
  }
  /**
   * Room for `n` more bytes in one allocation, now. For a caller that knows roughly how much it will
   * write: growth by doubling copies, and the transaction's views keep every outgrown buffer alive
   * until the commit (24 MB of buffers for 9 MB of records at 10k services). Room never written is
   * address space only (a large Buffer is its own mapping: pages count once written).
   */
  reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(this.off + n);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    // (not zero-filled: every byte up to off is written, and reserve8 clears what it hands out)
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  // byte stores by hand: Buffer's write*LE methods check their arguments on every call
  u8(v: number): void { this.ensure(1); this.buf[this.off++] = v; }
  u16(v: number): void {
    this.ensure(2);
    const b = this.buf, o = this.off;
    b[o] = v;
    b[o + 1] = v >>> 8;
    this.off = o + 2;
  }
  u32(v: number): void {
    this.ensure(4);
    const b = this.buf, o = this.off;
    b[o] = v;
    b[o + 1] = v >>> 8;
    b[o + 2] = v >>> 16;
    b[o + 3] = v >>> 24;
    this.off = o + 4;
  }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.off); this.off += 4; }
  /** v a safe non-negative integer (callers validate): two 32-bit halves, no BigInt per value. */
  u64(v: number): void {
    this.ensure(8);
    const b = this.buf, o = this.off;
    const lo = v % 0x100000000, hi = (v - lo) / 0x100000000;
    b[o] = lo;
    b[o + 1] = lo >>> 8;
    b[o + 2] = lo >>> 16;
    b[o + 3] = lo >>> 24;
    b[o + 4] = hi;
    b[o + 5] = hi >>> 8;
    b[o + 6] = hi >>> 16;
    b[o + 7] = hi >>> 24;
    this.off = o + 8;
  }
  bytes8(b: Buffer): void { this.u8(b.length); this.ensure(b.length); b.copy(this.buf, this.off); this.off += b.length; }
  /** A tagged number attribute (PACKED_TAG u32 / i32 / number). */
  tagNum(v: number): void {
    this.ensure(9);
    const b = this.buf;
    let o = this.off;
    if (v >>> 0 === v) {
      b[o] = 4;
      b[o + 1] = v;
      b[o + 2] = v >>> 8;
      b[o + 3] = v >>> 16;
      b[o + 4] = v >>> 24;
      o += 5;
    } else if ((v | 0) === v) {
      b[o] = 5;
      b.writeInt32LE(v, o + 1);
      o += 5;
    } else {
      b[o] = 0;
      b.writeDoubleLE(v, o + 1);
      o += 9;
    }
    this.off = o;
  }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.off); this.off += 8; }
  /** A string with a u16 byte length (names are at most 255 characters, so 765 bytes). */
  str16(s: string): void {
    if (typeof s !== 'string') s = ''; // only after a validation problem: the record is dropped
    const n = s.length;
    this.ensure(2 + n * 3);
    const b = this.buf;
    let o = this.off + 2;
    let i = 0;
    // ASCII (every name in practice) is copied by hand: Buffer.write costs more for short strings
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[o++] = c;
    }
    if (i < n) o += b.write(s.slice(i), o, 'utf8');
    const n8 = o - this.off - 2;
    b[this.off] = n8;
    b[this.off + 1] = n8 >>> 8;
    this.off = o;
  }
  /** An ASCII identifier (expression and attribute names) with a u8 length. */
  ascii8(s: string): void {
    const n = s.length;
    this.ensure(1 + n);
    const b = this.buf;
    let o = this.off;
    b[o++] = n;
    for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i) & 0x7f;
    this.off = o;
  }
  /**
   * Lowercase hex of 1..maxBytes bytes as u8 length + bytes, checked as it is written (one pass, no
   * regular expression or native call: a bulk rule set has ~4 data attributes a rule). False, with
   * nothing kept, when `h` is anything else.
   */
  hex8Checked(h: unknown, maxBytes: number): boolean {
    if (typeof h !== 'string') return false;
    const n = h.length >> 1;
    if (n === 0 || (h.length & 1) !== 0 || n > maxBytes) return false;
    this.ensure(1 + n);
    const b = this.buf, o = this.off + 1;
    for (let i = 0; i < n; i++) {
      const c1 = h.charCodeAt(2 * i), c2 = h.charCodeAt(2 * i + 1);
      const hi = c1 < 128 ? NIBBLE[c1]! : 16, lo = c2 < 128 ? NIBBLE[c2]! : 16;
      if ((hi | lo) > 15) return false;
      b[o + i] = (hi << 4) | lo;
    }
    b[this.off] = n;
    this.off = o + n;
    return true;
  }
  /**
   * A comment as nftnl_udata_put_strz stores it (TLV type, length, the bytes and a NUL) with a u16
   * length: userdata written straight from the string, without a Buffer or hex text in between.
   * ASCII only, at most 252 bytes; false, with nothing kept, for anything else (the caller takes
   * the general path).
   */
  commentTlv16(type: number, s: string): boolean {
    const n = s.length;
    if (n > 252) return false;
    this.ensure(4 + n + 1);
    const b = this.buf, o = this.off + 4;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      b[o + i] = c;
    }
    b[o + n] = 0;
    const tlv = 2 + n + 1;
    b[this.off] = tlv;
    b[this.off + 1] = tlv >>> 8;
    b[this.off + 2] = type;
    b[this.off + 3] = n + 1;
    this.off = o + n + 1;
    return true;
  }
  /**
   * A packed expression's head: its type and how many attributes follow (written with attrNum /
   * attrData, in the order packExpr writes an object's keys: the object's own order).
   */
  exprHead(type: string, attrs: number): void {
    this.ascii8(type);
    this.u8(attrs);
  }
  /** A number attribute, tagged as packExpr tags it. */
  attrNum(name: string, v: number): void {
    this.ascii8(name);
    this.tagNum(v);
  }
  /** A data attribute of 1..64 bytes from `bytes` (as packExpr writes a hex string of them). */
  attrData(name: string, bytes: ArrayLike<number>): void {
    this.ascii8(name);
    const n = bytes.length;
    this.ensure(2 + n);
    const b = this.buf;
    let o = this.off;
    b[o++] = PACKED_TAG.data;
    b[o++] = n;
    for (let i = 0; i < n; i++) b[o++] = bytes[i]!;
    this.off = o;
  }
  /** A string attribute (a set's or chain's name), tagged as packExpr tags it. */
  attrStr(name: string, v: string): void {
    this.ascii8(name);
    this.u8(PACKED_TAG.string);
    this.str16(v);
  }
  /** Lowercase hex (already validated) as u16 length + bytes. */
  hex16(h: string): void {
    const n = h.length >> 1;
    this.ensure(2 + n);
    this.buf.writeUInt16LE(n, this.off);
    this.off += 2 + this.buf.write(h, this.off + 2, n, 'hex');
  }
  /** Reserves len zeroed bytes after a u8 length; returns their offset. */
  reserve8(len: number): number {
    this.u8(len);
    this.ensure(len);
    const at = this.off;
    this.buf.fill(0, at, at + len);
    this.off += len;
    return at;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

/** The identifying fields of a packed record (what error messages describe). */
export interface PackedHeader {
  kind: number;
  op: number;
  table: string;
  name: string;
  handle?: number;
}

/** Reads the headers of a run of packed records, skipping their other fields (errors only: not hot). */
export function readPackedHeaders(b: Buffer): PackedHeader[] {
  let o = 0;
  const u16 = () => { const v = b.readUInt16LE(o); o += 2; return v; };
  const str16 = () => { const n = u16(); o += n; return b.toString('utf8', o - n, o); };
  const skipExprs = (): void => {
    for (let n = u16(); n > 0; n--) {
      o += 1 + b[o]!;
      for (let a = b[o++]!; a > 0; a--) {
        o += 1 + b[o]!;
        const tag = b[o++]!;
        if (tag === PACKED_TAG.number) o += 8;
        else if (tag === PACKED_TAG.string) o += 2 + b.readUInt16LE(o);
        else if (tag === PACKED_TAG.data) o += 1 + b[o]!;
        else if (tag === PACKED_TAG.exprs) skipExprs();
        else o += 4;
      }
    }
  };
  const out: PackedHeader[] = [];
  while (o < b.length) {
    const h: PackedHeader = { kind: b[o]!, op: b[o + 1]!, table: '', name: '' };
    o += 3;
    h.table = str16();
    h.name = str16();
    const mask = u16();
    if (h.kind === PACKED_KIND.rule) {
      if (mask & PACKED_RULE.handle) { h.handle = b.readDoubleLE(o); o += 8; }
      if (mask & PACKED_RULE.position) o += 8;
      if (mask & PACKED_RULE.id) o += 4;
      if (mask & PACKED_RULE.positionId) o += 4;
      if (mask & PACKED_RULE.userdata) o += 2 + b.readUInt16LE(o);
      if (mask & PACKED_RULE.exprs) skipExprs();
    } else {
      if (mask & PACKED_CHAIN.handle) { h.handle = b.readDoubleLE(o); o += 8; }
      if (mask & PACKED_CHAIN.id) o += 4;
      if (mask & PACKED_CHAIN.hook) { o += 8; str16(); }
      if (mask & PACKED_CHAIN.policy) o += 4;
      if (mask & PACKED_CHAIN.device) str16();
      if (mask & PACKED_CHAIN.devices) for (let n = u16(); n > 0; n--) str16();
      if (mask & PACKED_CHAIN.flags) o += 4;
      if (mask & PACKED_CHAIN.userdata) o += 2 + b.readUInt16LE(o);
    }
    out.push(h);
  }
  return out;
}
