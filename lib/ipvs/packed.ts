/**
 * A packed listing (native/ipvs/packed.h) into the public model: each service, destination and stats
 * object is built once, from a literal of fixed shape, straight from the records' words. This is the
 * only decoder of services and destinations (listServices and getService both read through it).
 */
import { formatAddr } from '../address';
import type { NativeIpvsListing } from '../native';
import { AF_INET6, SvcFlag } from './constants';
import type { AddressFamily, Destination, Protocol, SchedulerFlag, Service, Stats, Tunnel } from './types';

/** Word offsets of a service record (native/ipvs/packed.h svcw). */
export const SvcWord = {
  af: 0, protocol: 1, port: 2, fwmark: 3, flags: 4, timeout: 5, netmask: 6, sched: 7, pe: 8, firstDest: 9, destCount: 10,
  addr: 12, stats: 16, size: 36,
} as const;
/** Word offsets of a destination record (native/ipvs/packed.h dstw). */
export const DestWord = {
  af: 0, port: 1, fwd: 2, weight: 3, uthresh: 4, lthresh: 5, active: 6, inact: 7, persist: 8, tunType: 9, tunPort: 10,
  tunFlags: 11, addr: 12, stats: 16, size: 36,
} as const;
/** tunType of a destination the kernel sent no tunnel type for. */
const NO_TUNNEL = 0xffffffff;

const protoNames: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const fwdNames = ['masq', 'local', 'tunnel', 'route'] as const;
const tunTypes = ['ipip', 'gue', 'gre'] as const;
const tunChecksums = ['none', 'csum', 'remcsum'] as const;

export function familyName(af: number): AddressFamily {
  return af === AF_INET6 ? 'inet6' : 'inet';
}

/** IPv4 netmask number (host order) to dotted text. */
export function maskText(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function schedulerFlagsFrom(scheduler: string, flags: number): SchedulerFlag[] {
  const out: SchedulerFlag[] = [];
  const prefix = scheduler === 'sh' || scheduler === 'mh' ? scheduler : undefined;
  if (flags & SvcFlag.SCHED1) out.push(prefix ? (`${prefix}-fallback` as SchedulerFlag) : 'flag-1');
  if (flags & SvcFlag.SCHED2) out.push(prefix ? (`${prefix}-port` as SchedulerFlag) : 'flag-2');
  if (flags & SvcFlag.SCHED3) out.push('flag-3');
  return out;
}

/** Reads one listing; the views are made once and every record is decoded from them. */
export class PackedReader {
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;

  constructor(
    readonly buffer: ArrayBuffer,
    /** IPv4 text by the address word: destinations repeat across services (and, given one, across reads): their text is made once. */
    readonly v4 = new Map<number, string>(),
  ) {
    this.u32 = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    this.u8 = new Uint8Array(buffer);
  }

  /** Text of the 16 address bytes at word w, as inet_ntop prints them. */
  address(af: number, w: number): string {
    if (af === AF_INET6) return formatAddr(Buffer.from(this.buffer, w * 4, 16));
    const key = this.u32[w]!;
    let s = this.v4.get(key);
    if (s === undefined) {
      const b = this.u8, o = w * 4;
      s = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
      this.v4.set(key, s);
    }
    return s;
  }

  /** A counter: two words, low then high (exact up to 2^53, far beyond any real counter). */
  counter(w: number): number {
    const hi = this.u32[w + 1]!;
    return hi === 0 ? this.u32[w]! : hi * 4294967296 + this.u32[w]!;
  }

  /** Ten counters at word w: totals, then the kernel's rate estimates. */
  stats(w: number): Stats {
    const u = this.u32;
    // Usually no counter reaches 2^32: one element read each. Written out because a fresh process
    // runs this in the interpreter for its first thousands of records, where calls are what cost.
    if ((u[w + 1]! | u[w + 3]! | u[w + 5]! | u[w + 7]! | u[w + 9]! | u[w + 11]! | u[w + 13]! | u[w + 15]! | u[w + 17]! | u[w + 19]!) === 0) {
      return {
        connections: u[w]!,
        packetsIn: u[w + 2]!,
        packetsOut: u[w + 4]!,
        bytesIn: u[w + 6]!,
        bytesOut: u[w + 8]!,
        rates: { connections: u[w + 10]!, packetsIn: u[w + 12]!, packetsOut: u[w + 14]!, bytesIn: u[w + 16]!, bytesOut: u[w + 18]! },
      };
    }
    return {
      connections: this.counter(w),
      packetsIn: this.counter(w + 2),
      packetsOut: this.counter(w + 4),
      bytesIn: this.counter(w + 6),
      bytesOut: this.counter(w + 8),
      rates: {
        connections: this.counter(w + 10),
        packetsIn: this.counter(w + 12),
        packetsOut: this.counter(w + 14),
        bytesIn: this.counter(w + 16),
        bytesOut: this.counter(w + 18),
      },
    };
  }

  destination(w: number): Destination {
    const u = this.u32;
    const af = u[w + DestWord.af]!;
    const forwarding = fwdNames[u[w + DestWord.fwd]!] ?? 'masq';
    const address = af === AF_INET6 ? this.address(af, w + DestWord.addr) : (this.v4.get(u[w + DestWord.addr]!) ?? this.address(af, w + DestWord.addr));
    const d: Destination = {
      address,
      port: u[w + DestWord.port]!,
      family: familyName(af),
      weight: this.i32[w + DestWord.weight]!,
      forwarding,
      upperThreshold: u[w + DestWord.uthresh]!,
      lowerThreshold: u[w + DestWord.lthresh]!,
      activeConnections: u[w + DestWord.active]!,
      inactiveConnections: u[w + DestWord.inact]!,
      persistentConnections: u[w + DestWord.persist]!,
      stats: this.stats(w + DestWord.stats),
    };
    // The kernel reports tunnel fields for every destination; they mean something for tunnels only.
    const tunType = u[w + DestWord.tunType]!;
    if (forwarding === 'tunnel' && tunType !== NO_TUNNEL) {
      const t: Tunnel = { type: tunTypes[tunType] ?? 'ipip' };
      if (t.type === 'gue') t.port = u[w + DestWord.tunPort]!;
      t.checksum = tunChecksums[u[w + DestWord.tunFlags]!] ?? 'none';
      d.tunnel = t;
    }
    return d;
  }

  service(w: number, destBase: number, strings: string[]): Service {
    const u = this.u32;
    const af = u[w + SvcWord.af]!;
    const flags = u[w + SvcWord.flags]!;
    const scheduler = strings[u[w + SvcWord.sched]!]!;
    const n = u[w + SvcWord.destCount]!;
    const destinations: Destination[] = new Array<Destination>(n);
    for (let j = 0, dw = destBase + u[w + SvcWord.firstDest]! * DestWord.size; j < n; j++, dw += DestWord.size)
      destinations[j] = this.destination(dw);
    const family = familyName(af);
    const schedulerFlags = schedulerFlagsFrom(scheduler, flags);
    const onePacket = (flags & SvcFlag.ONEPACKET) !== 0;
    const stats = this.stats(w + SvcWord.stats);
    const fwmark = u[w + SvcWord.fwmark]!;
    // One literal per kind (no spread of a temporary): the same keys, in the same order, as always.
    const s: Service = fwmark
      ? { fwmark, family, scheduler, schedulerFlags, onePacket, stats, destinations }
      : {
          protocol: protoNames[u[w + SvcWord.protocol]!] ?? 'tcp',
          address: this.address(af, w + SvcWord.addr),
          port: u[w + SvcWord.port]!,
          family, scheduler, schedulerFlags, onePacket, stats, destinations,
        };
    if (flags & SvcFlag.PERSISTENT) {
      const mask = u[w + SvcWord.netmask]!;
      s.persistence = { timeout: u[w + SvcWord.timeout]!, netmask: af === AF_INET6 ? mask : maskText(mask) };
    }
    const pe = strings[u[w + SvcWord.pe]!];
    if (pe) s.persistenceEngine = pe;
    if (flags >>> 16) s.tag = flags >>> 16;
    return s;
  }
}

/** Every service of a packed listing, in the kernel's order, each with its destinations. */
export function servicesFromListing(l: NativeIpvsListing): Service[] {
  const r = new PackedReader(l.buffer);
  const out: Service[] = new Array<Service>(l.services);
  const destBase = l.services * SvcWord.size;
  for (let i = 0; i < l.services; i++) out[i] = r.service(i * SvcWord.size, destBase, l.strings);
  return out;
}
