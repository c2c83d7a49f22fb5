/** "address/prefix" text <-> bytes for the targets that take a network (NETMAP, SNPT/DNPT). */
import { formatAddr, maskPrefix, parseAddr, prefixMask } from '../addr';
import type { IptFamily } from '../types';
import { ParseProblem } from './codec';

export interface Net {
  addr: Buffer;
  bits: number;
}

/** "10.1.0.0/24" or "fd00::/64" (a bare address: the whole length); undefined when it is not one. */
export function parseNet(s: unknown, family: IptFamily): Net | undefined {
  if (typeof s !== 'string') return undefined;
  const [a, p, extra] = s.split('/');
  const max = family === 'ipv4' ? 32 : 128;
  const addr = parseAddr(a!, family);
  const bits = p === undefined ? max : /^\d+$/.test(p) ? Number(p) : NaN;
  if (!addr || extra !== undefined || !(bits >= 0 && bits <= max)) return undefined;
  return { addr, bits };
}
export function netText(n: Net): string {
  return `${formatAddr(n.addr)}/${n.bits}`;
}
/** The network's first and last address (the address's host bits cleared / set). */
export function netBounds(n: Net): [Buffer, Buffer] {
  const m = prefixMask(n.bits, n.addr.length);
  const lo = Buffer.alloc(n.addr.length), hi = Buffer.alloc(n.addr.length);
  for (let i = 0; i < m.length; i++) {
    lo[i] = n.addr[i]! & m[i]!;
    hi[i] = (n.addr[i]! | ~m[i]!) & 0xff;
  }
  return [lo, hi];
}
/** The network from its first and last address; undefined unless they span a prefix exactly. */
export function netOfBounds(lo: Buffer, hi: Buffer): Net | undefined {
  const m = Buffer.alloc(lo.length);
  for (let i = 0; i < lo.length; i++) m[i] = ~(lo[i]! ^ hi[i]!) & 0xff;
  const bits = maskPrefix(m);
  if (bits < 0) return undefined;
  const [first] = netBounds({ addr: lo, bits });
  return first.equals(lo) ? { addr: Buffer.from(lo), bits } : undefined;
}
export function parseNetOrThrow(s: string, family: IptFamily, what: string): Net {
  const n = parseNet(s, family);
  if (!n) throw new ParseProblem(`bad ${what} "${s}" (an ${family} address/prefix)`);
  return n;
}
