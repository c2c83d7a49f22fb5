/** IP address parsing and canonical text for the load-balancer model (IPv4 dotted quad, IPv6 RFC 5952). */
import { isIPv6 } from 'node:net';
import { formatAddr } from '../address';

export type Family = 'ipv4' | 'ipv6';

export interface ParsedAddress {
  family: Family;
  /** 4 or 16 bytes, network order. */
  bytes: Buffer;
  /** Canonical text: dotted quad, or RFC 5952 (lower case, longest zero run compressed). */
  text: string;
}

function v6Bytes(text: string): Buffer {
  let s = text;
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const q = v4tail[1]!.split('.').map(Number);
    s = s.slice(0, -v4tail[1]!.length) + `${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Dotted quad without leading zeros; a hand-written parser because states hold 100k+ addresses. */
function parseV4(text: string): ParsedAddress | undefined {
  const bytes = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // a final '.' closes the last octet
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? { family: 'ipv4', bytes, text } : undefined;
}

/** Parses an address; undefined when it is not a valid IPv4 or IPv6 literal. */
export function parseAddress(text: unknown): ParsedAddress | undefined {
  if (typeof text !== 'string') return undefined;
  if (!text.includes(':')) return text.length <= 15 ? parseV4(text) : undefined;
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = v6Bytes(text.toLowerCase());
    return { family: 'ipv6', bytes, text: formatAddr(bytes) };
  }
  return undefined;
}

/** Why an address cannot be a VIP or an endpoint (not unicast), or undefined when it can. */
export function nonUnicastReason(a: ParsedAddress): string | undefined {
  if (a.bytes.every((x) => x === 0)) return 'is the unspecified address';
  if (a.family === 'ipv4') {
    if (a.bytes[0]! >= 224 && a.bytes[0]! <= 239) return 'is a multicast address';
    if (a.bytes.every((x) => x === 255)) return 'is the broadcast address';
    if (a.bytes[0]! >= 240) return 'is a reserved (class E) address';
  } else if (a.bytes[0] === 0xff) return 'is a multicast address';
  return undefined;
}

/** Orders addresses: IPv4 before IPv6, then by bytes. */
export function compareAddress(a: ParsedAddress, b: ParsedAddress): number {
  if (a.family !== b.family) return a.family === 'ipv4' ? -1 : 1;
  return Buffer.compare(a.bytes, b.bytes);
}
