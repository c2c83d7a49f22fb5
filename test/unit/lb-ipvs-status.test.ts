/**
 * ipvs mode's status reader (lib/lb/modes/ipvs/status.ts) against the full read (IpvsBackend.read():
 * Ipvs' Service objects converted) on the same packed listings, as native ipvs.pack() makes them from
 * kernel-shaped replies: random services (IPv4 and IPv6, tagged or not, fwmark, persistence, draining
 * destinations, counters set in the records), replies cut short, and a destination before any service.
 * And the packed read of a scrape (readCounters) against status() on the same listings, rendered.
 */
import { describe, expect, it } from 'vitest';
import type { Ipvs } from '../../lib/ipvs';
import { DestWord, servicesFromListing } from '../../lib/ipvs/packed';
import { IpvsBackend } from '../../lib/lb/modes/ipvs/backend';
import { OWNER_TAG } from '../../lib/lb/modes/ipvs/compile';
import type { Service } from '../../lib/lb/state';
import { native, type NativeIpvsDestDesc, type NativeIpvsListing, type NativeIpvsServiceDesc } from '../../lib/native';
import { renderStatusMetrics } from '../../lib/daemon/endpoint-metrics';

/** A small deterministic PRNG (mulberry32): the same cases on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Case = [NativeIpvsServiceDesc, NativeIpvsDestDesc[]][];

function randomCase(r: () => number): Case {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const n = Math.floor(r() * 6);
  const out: Case = [];
  const keys = new Set<string>();
  for (let i = 0; i < n; i++) {
    const v6 = r() < 0.3;
    const tagged = r() < 0.8;
    const persistent = r() < 0.3;
    const svc: NativeIpvsServiceDesc = r() < 0.1
      ? { family: 2, fwmark: 1 + i, scheduler: 'rr', flags: ((OWNER_TAG << 16) | 2) >>> 0, timeout: 0, netmask: 0xffffffff }
      : {
          family: v6 ? 10 : 2, protocol: pick([6, 17, 132]), address: v6 ? `fd00::${pick([1, 2])}` : `10.96.${pick([0, 1])}.${pick([1, 200])}`, port: pick([53, 80]),
          scheduler: pick(['rr', 'wrr', 'sh']), flags: ((tagged ? OWNER_TAG << 16 : 0) | 2 | (persistent ? 1 : 0)) >>> 0,
          timeout: persistent ? 60 : 0, netmask: v6 ? 128 : 0xffffffff,
        };
    const dests: NativeIpvsDestDesc[] = [];
    const seen = new Set<string>();
    const m = Math.floor(r() * 7);
    for (let j = 0; j < m; j++) {
      const d6 = v6 && r() < 0.9;
      const drain = r() < 0.2 ? 1_700_000_000 + j : 0;
      // (a small pool: the same address with other ports, addresses differing in any byte)
      const address = d6 ? `fd00::1:${pick(['1', '2', 'a0'])}` : `${pick([10, 192])}.${pick([0, 200])}.${pick([1, 3])}.${pick([1, 2, 250])}`;
      const port = pick([8080, 80, 9000]);
      if (seen.has(`${address} ${port}`)) continue;
      seen.add(`${address} ${port}`);
      dests.push({ family: d6 ? 10 : 2, address, port, fwd: 0, weight: drain ? 0 : Math.floor(r() * 4), upperThreshold: drain || pick([0, 0, 5]), lowerThreshold: drain });
    }
    // (the kernel holds one service per identity)
    const key = JSON.stringify([svc.family, svc.protocol, svc.address, svc.port, svc.fwmark]);
    if (keys.has(key)) continue;
    keys.add(key);
    out.push([svc, dests]);
  }
  return out;
}

/** The replies of a case as the kernel dumps them (NEW_SERVICE then its NEW_DESTs), as one buffer. */
function replies(c: Case): Buffer {
  const parts: Buffer[] = [];
  for (const [svc, dests] of c) {
    parts.push(native().ipvs.encode({ cmd: 1, service: svc }, 0x20, 0));
    const key = svc.fwmark ? { family: svc.family, fwmark: svc.fwmark } : { family: svc.family, protocol: svc.protocol!, address: svc.address!, port: svc.port! };
    for (const d of dests) parts.push(native().ipvs.encode({ cmd: 5, service: key, dest: d }, 0x20, 0));
  }
  return Buffer.concat(parts);
}

/** Counters (and connection counts) written into every destination record, some above 2^32. */
function withCounters(l: NativeIpvsListing, r: () => number): NativeIpvsListing {
  const u = new Uint32Array(l.buffer, 0, l.buffer.byteLength >>> 2);
  const from = l.services * 36;
  for (let w = from; w + DestWord.size <= u.length; w += DestWord.size) {
    u[w + DestWord.active] = Math.floor(r() * 100);
    u[w + DestWord.inact] = Math.floor(r() * 100);
    for (let k = 0; k < 10; k++) {
      u[w + DestWord.stats + 2 * k] = Math.floor(r() * 2 ** 32);
      u[w + DestWord.stats + 2 * k + 1] = r() < 0.2 ? Math.floor(r() * 1000) : 0;
    }
  }
  return l;
}

/** Both reads of one listing through IpvsBackend (a handle that only hands out that listing). */
async function bothReads(l: NativeIpvsListing, named: Service[] = []) {
  const fake = { listServices: async () => servicesFromListing(l), decodeListing: async <T>(f: (x: NativeIpvsListing) => T) => f(l) } as unknown as Ipvs;
  const b = new IpvsBackend(fake);
  // (a dry-run apply is how the backend learns the state's names; it sends nothing)
  if (named.length) await b.apply({ services: named }, { state: { services: [] }, services: [], draining: [], current: [] }, { dryRun: true });
  const full = await b.read();
  const fast = await b.status();
  return { full, fast, again: await b.status() };
}

describe('ipvs status reader', () => {
  it('equals the full read on 300 random listings (families, tags, fwmark, persistence, drains, 64-bit counters), read one after the other', async () => {
    const r = rng(21);
    let endpoints = 0, draining = 0, reused = 0;
    // One reader for all the listings (its state services are kept from one read to the next); the
    // full read by a fresh backend each time.
    const held = { l: undefined as NativeIpvsListing | undefined };
    const reader = new IpvsBackend({ decodeListing: async <T>(f: (x: NativeIpvsListing) => T) => f(held.l!) } as unknown as Ipvs);
    let before: Service[] = [];
    let c: Case = [];
    for (let i = 0; i < 300; i++) {
      // Every other listing is the last one again, or with one destination less, or one destination's
      // weight, port or address (in its last bytes) changed.
      const change = (d: NativeIpvsDestDesc): NativeIpvsDestDesc => {
        const x = r();
        if (x < 0.3) return { ...d, weight: d.weight + 1 };
        if (x < 0.6) return { ...d, port: d.port > 1000 ? 1 : 60000 }; // (an order among one address' ports changes)
        return { ...d, address: d.family === 10 ? `${d.address}f` : d.address.replace(/\d+$/, (o) => String((Number(o) + 1) % 256)) };
      };
      if (i % 2 === 0) c = randomCase(r);
      else if (r() < 0.8) c = c.map(([svc, dests], k) => [svc, k === 0 && r() < 0.3 ? dests.slice(0, -1) : dests.map((d, j) => (j === 0 ? change(d) : d))]);
      held.l = withCounters(native().ipvs.pack(replies(c)), r);
      const { full } = await bothReads(held.l);
      const fast = await reader.status();
      expect(fast.services).toStrictEqual(full.services);
      expect(fast.state).toStrictEqual(full.state);
      expect(fast.draining).toStrictEqual(full.draining);
      reused += fast.state.services.filter((s) => before.includes(s)).length;
      before = fast.state.services;
      endpoints += fast.services.reduce((n, s) => n + s.endpoints.length, 0);
      draining += fast.draining.length;
    }
    // (the cases cover what they claim)
    expect(endpoints).toBeGreaterThan(1000);
    expect(draining).toBeGreaterThan(50);
    expect(reused).toBeGreaterThan(5);
  });

  it('names services as the applied state did, else after their identity', async () => {
    const c: Case = [[{ family: 2, protocol: 6, address: '10.96.0.10', port: 80, scheduler: 'rr', flags: ((OWNER_TAG << 16) | 2) >>> 0, timeout: 0, netmask: 0xffffffff }, []], [{ family: 10, protocol: 17, address: 'fd00::10', port: 53, scheduler: 'rr', flags: ((OWNER_TAG << 16) | 2) >>> 0, timeout: 0, netmask: 128 }, []]];
    const web: Service = { name: 'web', protocol: 'tcp', family: 'ipv4', vip: '10.96.0.10', port: 80, scheduler: 'rr', endpoints: [] };
    const { full, fast } = await bothReads(native().ipvs.pack(replies(c)), [web]);
    expect(fast.services.map((s) => s.name)).toEqual(['web', 'udp-fd00__10-53']);
    expect(fast.services).toStrictEqual(full.services);
  });

  it('a state service changed between reads is rebuilt, an unchanged one is the same object', async () => {
    const svc = (w: number): Case => [[{ family: 2, protocol: 6, address: '10.96.0.10', port: 80, scheduler: 'rr', flags: ((OWNER_TAG << 16) | 2) >>> 0, timeout: 0, netmask: 0xffffffff },
      [{ family: 2, address: '10.1.0.2', port: 80, fwd: 0, weight: w, upperThreshold: 0, lowerThreshold: 0 }, { family: 2, address: '10.1.0.1', port: 80, fwd: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0 }]]];
    const fake = { current: native().ipvs.pack(replies(svc(1))) };
    const b = new IpvsBackend({ decodeListing: async <T>(f: (x: NativeIpvsListing) => T) => f(fake.current) } as unknown as Ipvs);
    const a = await b.status();
    const a2 = await b.status();
    expect(a2.state.services[0]).toBe(a.state.services[0]);
    fake.current = native().ipvs.pack(replies(svc(3)));
    const c = await b.status();
    expect(c.state.services[0]).not.toBe(a.state.services[0]);
    expect(c.state.services[0]!.endpoints).toEqual([{ address: '10.1.0.1', port: 80, weight: 1 }, { address: '10.1.0.2', port: 80, weight: 3 }]);
    expect(a.state.services[0]!.endpoints[1]!.weight).toBe(1); // (the earlier result is left as it was)
  });

  it('replies cut anywhere, or a destination before any service, read the same both ways and never throw', async () => {
    const r = rng(7);
    for (let i = 0; i < 100; i++) {
      const buf = replies(randomCase(r));
      const cut = buf.subarray(0, Math.floor(r() * buf.length));
      const stray = Buffer.concat([native().ipvs.encode({ cmd: 5, service: { family: 2, protocol: 6, address: '10.0.0.1', port: 80 }, dest: { family: 2, address: '10.1.0.1', port: 1, fwd: 0, weight: 1, upperThreshold: 0, lowerThreshold: 0 } }, 0x20, 0), cut]);
      for (const b of [cut, stray]) {
        const { full, fast } = await bothReads(withCounters(native().ipvs.pack(b), r));
        expect(fast.services).toStrictEqual(full.services);
        expect(fast.state).toStrictEqual(full.state);
      }
    }
  });

  it('counters() renders what status() renders on 300 random listings, with and without an apply record (its Services given only where the kernel lists exactly them)', async () => {
    const r = rng(42);
    const held = { l: undefined as NativeIpvsListing | undefined };
    const fake = {
      listServices: async () => servicesFromListing(held.l!),
      decodeListing: async <T>(f: (x: NativeIpvsListing) => T) => f(held.l!),
      batch: async (ops: unknown[]) => ({ applied: ops.length, failures: [] }),
    };
    const b = new IpvsBackend(fake as unknown as Ipvs);
    let recorded: Service[] = [];
    let fromRecord = 0, endpoints = 0, changedOnes = 0;
    let c: Case = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) c = randomCase(r);
      else if (r() < 0.7) {
        // one destination's weight or port changed, or one gone: the record no longer lists it
        c = c.map(([svc, dests], k) => [svc, k !== 0 || !dests.length ? dests : r() < 0.3 ? dests.slice(1) : [{ ...dests[0]!, ...(r() < 0.5 ? { weight: dests[0]!.weight + 1 } : { port: 7 }) }, ...dests.slice(1)]]);
        changedOnes++;
      }
      held.l = withCounters(native().ipvs.pack(replies(c)), r);
      // now and then the listing's own state is applied (a full read, then an apply the fake handle takes): the record
      if (r() < 0.4) {
        const cur = await b.read();
        await b.apply(cur.state, cur, { dryRun: false });
        recorded = cur.state.services;
      }
      const packed = await b.readCounters();
      const status = await b.status();
      expect(renderStatusMetrics(packed)).toBe(renderStatusMetrics({ mode: 'ipvs', ...status }));
      const head = (s: Service) => [s.name, s.protocol, s.family, s.vip, s.port, s.scheduler, s.persistence?.timeout];
      expect(packed.services.map(head)).toEqual(status.services.map(head));
      expect(packed.services.map((s) => s.endpoints)).toEqual(status.services.map((s) => s.endpoints.map(({ address, port, weight }) => ({ address, port, weight }))));
      fromRecord += packed.services.filter((s) => recorded.includes(s)).length;
      endpoints += packed.connections.length;
    }
    // (the cases cover what they claim: services given as the record's, and changed listings)
    expect(fromRecord).toBeGreaterThan(30);
    expect(changedOnes).toBeGreaterThan(50);
    expect(endpoints).toBeGreaterThan(1000);
  });
});
