/** Addresses and masks as x_tables stores them (network byte order) and as iptables-save prints them. */
import { isIPv4, isIPv6 } from 'node:net';
import { formatAddr } from '../address';
import type { IptFamily } from './types';

export { formatAddr };

export function addrLen(family: IptFamily): number {
  return family === 'ipv4' ? 4 : 16;
}

/** Parses an address of the family into bytes; undefined when it is not one. */
export function parseAddr(s: string, family: IptFamily): Buffer | undefined {
  if (typeof s !== 'string') return undefined; // (a model value: isIPv4 would throw on a Symbol)
  if (family === 'ipv4') {
    if (!isIPv4(s)) return undefined;
    return Buffer.from(s.split('.').map(Number));
  }
  if (!isIPv6(s)) return undefined;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    const hex = `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
    text = text.slice(0, -v4[1]!.length) + hex;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const r = rest ? rest.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const words = 8;
  const mid = rest !== undefined ? new Array(words - h.length - r.length).fill(0) : [];
  const all = [...h, ...mid, ...r];
  if (all.length !== 8) return undefined;
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

export function prefixMask(bits: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const n = Math.max(0, Math.min(8, bits - i * 8));
    b[i] = n === 0 ? 0 : (0xff << (8 - n)) & 0xff;
  }
  return b;
}

/** Prefix length of a contiguous mask, or -1. */
export function maskPrefix(m: Buffer): number {
  let bits = 0, i = 0;
  for (; i < m.length && m[i] === 0xff; i++) bits += 8;
  if (i < m.length) {
    const v = m[i]!;
    let n = 0;
    while (n < 8 && v & (0x80 >> n)) n++;
    if (((0xff << (8 - n)) & 0xff) !== v) return -1;
    bits += n;
    for (i++; i < m.length; i++) if (m[i] !== 0) return -1;
  }
  return bits;
}

export interface AddrMask {
  addr: Buffer;
  mask: Buffer;
}

/** What parseCidr4Into found (module state: no array per call, this runs twice per rule on commit). */
export const cidr4 = { addr: 0, mask: 0 };

/**
 * IPv4 "a.b.c.d[/len]" (decimal octets without leading zeros, len 0-32) into `cidr4`, the address
 * masked; false when the text is not of that form (parseCidr then decides). A character loop, not a
 * regular expression: it runs for every address of a 10^5-rule table.
 */
export function parseCidr4Into(s: string): boolean {
  const n = s.length;
  let i = 0, addr = 0;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= n || s.charCodeAt(i) !== 46) return false;
      i++;
    }
    const start = i;
    let v = 0;
    while (i < n && i - start < 4) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(start) === 48)) return false;
    addr = addr * 256 + v;
  }
  let bits = 32;
  if (i < n) {
    if (s.charCodeAt(i) !== 47) return false;
    i++;
    const start = i;
    bits = 0;
    while (i < n) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9 || i - start >= 2) return false;
      bits = bits * 10 + c;
      i++;
    }
    if (i === start || bits > 32) return false;
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  cidr4.addr = (addr & mask) >>> 0;
  cidr4.mask = mask;
  return true;
}

/** IPv4 "a.b.c.d[/len]" as two numbers (address already masked), undefined when not that form. */
export function parseCidr4Fast(s: string): [number, number] | undefined {
  return parseCidr4Into(s) ? [cidr4.addr, cidr4.mask] : undefined;
}

/** "a", "a/len", "a/mask"; undefined when invalid. The address is masked, as iptables does. */
export function parseCidr(s: string, family: IptFamily): AddrMask | undefined {
  if (typeof s !== 'string') return undefined;
  const len = addrLen(family);
  const slash = s.indexOf('/');
  const a = parseAddr(slash < 0 ? s : s.slice(0, slash), family);
  if (!a) return undefined;
  let mask: Buffer;
  if (slash < 0) mask = prefixMask(len * 8, len);
  else {
    const m = s.slice(slash + 1);
    if (/^\d{1,3}$/.test(m)) {
      const bits = Number(m);
      if (bits > len * 8) return undefined;
      mask = prefixMask(bits, len);
    } else {
      const mb = parseAddr(m, family);
      if (!mb) return undefined;
      mask = mb;
    }
  }
  const addr = Buffer.alloc(len);
  for (let i = 0; i < len; i++) addr[i] = a[i]! & mask[i]!;
  return { addr, mask };
}

// formatQuad's scratch: the digits are written as bytes and become one string in one step. A
// template literal builds "a.b.c.d/len" from eight partial strings (~1 us each, and garbage that a
// 10^5-rule decode pays for in scavenges); this is ~4x cheaper.
const quadScratch = Buffer.alloc(24);
function putOctet(o: number, n: number): number {
  const b = quadScratch;
  if (n >= 100) {
    b[o++] = 48 + ((n / 100) | 0);
    n %= 100;
    b[o++] = 48 + ((n / 10) | 0);
  } else if (n >= 10) b[o++] = 48 + ((n / 10) | 0);
  b[o++] = 48 + (n % 10);
  return o;
}

/** An IPv4 address (a number) as "a.b.c.d", or "a.b.c.d/prefix" when prefix >= 0. */
export function formatQuad(a: number, prefix = -1): string {
  let o = putOctet(0, a >>> 24);
  quadScratch[o++] = 46;
  o = putOctet(o, (a >>> 16) & 255);
  quadScratch[o++] = 46;
  o = putOctet(o, (a >>> 8) & 255);
  quadScratch[o++] = 46;
  o = putOctet(o, a & 255);
  if (prefix >= 0) {
    quadScratch[o++] = 47;
    o = putOctet(o, prefix);
  }
  return quadScratch.toString('latin1', 0, o);
}

/** "addr/len" as iptables-save prints an address with its mask (a non-contiguous mask in full). */
export function formatCidr(addr: Buffer, mask: Buffer): string {
  const p = maskPrefix(mask);
  return `${formatAddr(addr)}/${p >= 0 ? p : formatAddr(mask)}`;
}

/** The model's spelling of an address read from the kernel: "a/len" always. */
export function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}
