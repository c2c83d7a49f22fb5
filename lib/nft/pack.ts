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

export class PackWriter {
  buf: Buffer;
  off = 0;
  count = 0;
  constructor(hint = 4096) {
    this.buf = Buffer.alloc(hint);
  }
  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.off++] = v; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.off); this.off += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v >>> 0, this.off); this.off += 4; }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.off); this.off += 4; }
  u64(v: number): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.off); this.off += 8; }
  bytes8(b: Buffer): void { this.u8(b.length); this.ensure(b.length); b.copy(this.buf, this.off); this.off += b.length; }
  str16(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u16(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.off);
    this.off += b.length;
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
