/**
 * splice.ts: a change of a few user chains spliced into the last committed blob must be byte for
 * byte the blob a whole-table encode gives, and carry the same counters as carryMap.
 */
import { describe, expect, it } from 'vitest';
import { encodeTable, orderChains } from '../../lib/iptables/blob';
import { carryMap, recordEntries } from '../../lib/iptables/carry';
import { layoutOfBlob, spliceChains, type BlobLayout } from '../../lib/iptables/splice';
import type { IptChain, IptFamily, IptRule, IptTable } from '../../lib/iptables/types';
import type { EntryRecord } from '../../lib/iptables/carry';
import { ValidationError } from '../../lib/errors';

const NAT_HOOKS = 0b11011;

/** A deterministic generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const comment = (c: string) => ({ type: 'comment' as const, comment: c });
const jump = (chain: string, c = chain): IptRule => ({ matches: [comment(c)], target: { type: 'jump', chain } });

/** kube-proxy-like chains: a service chain (a header without target, then jumps), its endpoint chains. */
function service(i: number, eps: number, family: IptFamily, tag = ''): IptChain[] {
  const svc: IptChain = { name: `KERNLB-SVC-${String(i).padStart(4, '0')}`, rules: [{ matches: [comment(`service s${i}${tag}`)] }] };
  const seps: IptChain[] = [];
  for (let j = 0; j < eps; j++) {
    const sep = `KERNLB-SEP-${String(i).padStart(4, '0')}-${j}`;
    svc.rules.push({ matches: [comment(`ep ${j}`), ...(j < eps - 1 ? [{ type: 'statistic' as const, mode: 'random' as const, probability: 1 / (eps - j) }] : [])], target: j === 1 ? { type: 'goto', chain: sep } : { type: 'jump', chain: sep } });
    const addr = family === 'ipv4' ? `10.1.${i & 255}.${j + 1}` : `fd00::${i.toString(16)}:${j + 1}`;
    seps.push({
      name: sep,
      rules: [
        { source: family === 'ipv4' ? `${addr}/32` : `${addr}/128`, matches: [comment(`s${i}`)], target: { type: 'jump', chain: 'KERNLB-MARK-MASQ' } },
        { protocol: 'tcp', matches: [comment(`s${i}${tag}`), { type: 'tcp' }], target: { type: 'DNAT', address: addr, port: 8000 + j } },
      ],
    });
  }
  return [svc, ...seps];
}

function table(family: IptFamily, services: Map<number, IptChain[]>): IptTable {
  const svcs: IptChain = { name: 'KERNLB-SERVICES', rules: [...services.keys()].sort((a, b) => a - b).map((i) => jump(services.get(i)![0]!.name, `s${i}`)) };
  return {
    name: 'nat', family,
    chains: [
      { name: 'PREROUTING', policy: 'ACCEPT', rules: [jump('KERNLB-SERVICES')] },
      { name: 'INPUT', policy: 'ACCEPT', rules: [] },
      { name: 'OUTPUT', policy: 'ACCEPT', rules: [jump('KERNLB-SERVICES'), { matches: [comment('count only')] }] },
      { name: 'POSTROUTING', policy: 'ACCEPT', rules: [{ matches: [], target: { type: 'MASQUERADE' } }] },
      svcs,
      { name: 'KERNLB-MARK-MASQ', rules: [{ matches: [], target: { type: 'MARK', op: 'or', value: 0x10000 } }] },
      { name: 'A-FIRST', rules: [{ matches: [comment('before every kernlb chain')] }] },
      ...[...services.values()].flat(),
    ],
  };
}

/** What a commit of `t` leaves: its blob, the record of its entries and the blob's layout. */
function committed(t: IptTable): { rec: EntryRecord; lay: BlobLayout; blob: Buffer } {
  const enc = encodeTable(t, NAT_HOOKS);
  const rec = recordEntries(orderChains(t.chains), enc.numEntries, '');
  return { rec, lay: layoutOfBlob(enc.blob, t.family, rec), blob: enc.blob };
}

describe.each(['ipv4', 'ipv6'] as const)('spliceChains (%s)', (family) => {
  // headroom: what each new buffer has beyond the table (64 bytes: shrinks move within the kept
  // blob, growths go to a new buffer; 1 MiB: every size-changing change moves within it)
  it.each([64, 1 << 20])('chained random changes (replace, grow, shrink, add, remove, the services chain) are byte-identical to a full encode and carry as carryMap (headroom %i)', (headroom) => {
    const next = rng(family === 'ipv4' ? 7 : 11);
    let within = 0, copied = 0;
    const services = new Map<number, IptChain[]>();
    for (let i = 0; i < 40; i++) services.set(i * 3, service(i * 3, 1 + (i % 4), family));
    let t = table(family, services);
    let { rec, lay } = committed(t);
    let id = 1000, inPlace = 0;
    for (let round = 0; round < 60; round++) {
      const put: IptChain[] = [], remove: string[] = [];
      const keys = [...services.keys()];
      const k = keys[Math.floor(next() * keys.length)]!;
      const kind = round % 6;
      const before = services.get(k)!;
      if (kind === 0 || kind === 1 || kind === 5) {
        // endpoints changed: grow, shrink or relabelled (same sizes: written in place)
        const eps = kind === 0 ? 1 + Math.floor(next() * 5) : kind === 1 ? Math.max(1, before.length - 2) : before.length - 1;
        const after = service(k, eps, family, `#${round}`);
        services.set(k, after);
        put.push(...after);
        for (const c of before) if (!after.some((a) => a.name === c.name)) remove.push(c.name);
      } else if (kind === 2 || kind === 3) {
        // a service added (at the front, the back or between others), with the services chain
        const i = kind === 2 ? id++ : Math.floor(next() * 200) * 3 + 1;
        if (services.has(i)) continue;
        const chains = service(i, 1 + Math.floor(next() * 3), family);
        services.set(i, chains);
        put.push(...chains);
      } else {
        // a service removed, with the services chain
        if (services.size < 3) continue;
        services.delete(k);
        remove.push(...before.map((c) => c.name));
      }
      const nt = table(family, services);
      // (unchanged chains are the same objects from one table to the next, as the load balancer's)
      const byName = new Map(t.chains.map((c) => [c.name, c]));
      nt.chains = nt.chains.map((c) => (put.includes(c) || c.name === 'KERNLB-SERVICES' ? c : byName.get(c.name) ?? c));
      const svcChanged = kind === 2 || kind === 3 || kind === 4;
      if (svcChanged) put.push(nt.chains.find((c) => c.name === 'KERNLB-SERVICES')!);
      else nt.chains = nt.chains.map((c) => (c.name === 'KERNLB-SERVICES' ? byName.get(c.name)! : c));
      // (an in-place splice updates rec itself: carryMap's answer is taken from a copy)
      const was: EntryRecord = { ...rec, chains: rec.chains.slice(), rules: rec.rules.slice() };
      // (a buffer of garbage: every byte of the result must be written)
      const s = spliceChains(rec, lay, family, put, remove, (n) => Buffer.alloc(n + headroom, 0xa5));
      if (s.inPlace) inPlace++;
      else if (s.within) within++;
      else copied++;
      if (s.within) expect(s.blob.buffer).toBe(lay.blob.buffer);
      const full = encodeTable(nt, NAT_HOOKS);
      expect(s.numEntries).toBe(full.numEntries);
      expect(s.blob.equals(full.blob)).toBe(true);
      const ordered = orderChains(nt.chains);
      expect([...s.carry]).toEqual([...carryMap(was, ordered, full.numEntries)]);
      expect(s.record.names).toEqual(ordered.map((c) => c.name));
      expect(s.record.rules).toEqual(recordEntries(ordered, full.numEntries, '').rules);
      // the layout handed on is the new blob's own
      const again = layoutOfBlob(s.blob, family, s.record);
      expect([...s.layout.at]).toEqual([...again.at]);
      expect([...s.layout.relocs]).toEqual([...again.relocs]);
      t = nt;
      ({ rec, lay } = { rec: s.record, lay: s.layout });
    }
    expect(inPlace).toBeGreaterThan(3);
    expect(within).toBeGreaterThan(3);
    if (headroom === 64) expect(copied).toBeGreaterThan(3);
    else expect(copied).toBeLessThanOrEqual(1); // (the first growth: the committed blob has no headroom)
  });

  it('refuses, before anything is written, a removed chain still jumped to, a jump to no chain and a bad chain name', () => {
    const services = new Map([[1, service(1, 2, family)], [2, service(2, 2, family)]]);
    const { rec, lay, blob } = committed(table(family, services));
    const copy = Buffer.from(blob);
    const sep = services.get(1)![1]!.name;
    expect(() => spliceChains(rec, lay, family, [], [sep], Buffer.alloc)).toThrow(/chain KERNLB-SEP-0001-0 is still jumped to/);
    expect(() => spliceChains(rec, lay, family, [{ name: 'X', rules: [jump('NOPE')] }], [], Buffer.alloc)).toThrow(ValidationError);
    expect(() => spliceChains(rec, lay, family, [{ name: 'PREROUTING', rules: [] }], [], Buffer.alloc)).toThrow(/put\[0\]\.name/);
    expect(() => spliceChains(rec, lay, family, [], ['NOT-THERE'], Buffer.alloc)).toThrow(/remove\[0\]/);
    expect(blob.equals(copy)).toBe(true);
  });
});
