/**
 * iptables mode over the Iptables handle (legacy x_tables, nat table, IPv4 and IPv6). Each apply is
 * one read-modify-write of the nat table per family that changed, committed with expectUnchanged
 * (ConflictError when someone else wrote in between; LoadBalancer re-reads and retries). Unchanged
 * services keep their chains as read, counters included; rules that are not kernlb's are kept as is.
 */
import { constants } from 'node:os';
import { ConflictError } from '../../../errors';
import type { IptChain as KChain, IptMatch as KMatch, IptRule as KRule, IptTarget as KTarget, IptReadState, IptTable, Iptables } from '../../../iptables';
import { compareAddress, parseAddress } from '../../address';
import { changedService, diffStates, isEmptyDiff } from '../../diff';
import { serviceKey, type Protocol, type Service, type State } from '../../state';
import type { BackendRead, EndpointStatus, ModeBackend, PackedStatus, ServiceChange, ServiceStatus } from '../../types';
import { freezeRule } from '../../../iptables/rule-cache';
import { endpointComment } from '../nftables/compile';
import { parseEndpointComment, parseHeaderComment } from '../nftables/decode';
import {
  CHAIN_SERVICES, compileIptables, forgetServiceChains, JUMP_COMMENT_POSTROUTING, portalRule, serviceChainName, serviceChains, JUMP_COMMENT_SERVICES, OWN_CHAIN_PREFIX,
  type IptChain, type IptFamilyPlan, type IptMatch, type IptRule, type IptTarget,
} from './compile';
import { serviceChainCounters, type ChainCounters } from './status';

type Fam = 'ipv4' | 'ipv6';

/**
 * Both families' services sorted by name; an array already so (one family's, as committed) is
 * handed back as it is: sorting 10^4 names is most of a no-op's own CPU (~3-5 ms).
 */
function byName<T extends { name: string }>(a: T[], b: T[]): T[] {
  const one = !b.length ? a : !a.length ? b : undefined;
  if (one) {
    let sorted = true;
    for (let i = 1; sorted && i < one.length; i++) sorted = one[i - 1]!.name <= one[i]!.name;
    if (sorted) return one;
  }
  return [...a, ...b].sort((x, y) => (x.name < y.name ? -1 : 1));
}

/**
 * Per Service object, per rule of its KERNLB-SVC- chain, the endpoint (index in s.endpoints) whose
 * counters it carries, or -1 (the header, a persistence check): status() then adds counters by
 * index, without making each endpoint's comment and a map of them per call (~0.1 s at 10k x 10).
 * (wrr: one rule per slot of the cycle, several for one endpoint: their counters add up.)
 */
const endpointsOfRules = new WeakMap<Service, Int32Array>();
function ruleEndpoints(s: Service): Int32Array {
  let m = endpointsOfRules.get(s);
  if (m) return m;
  const rules = ownChainsOf(s)[0]!.rules;
  const byComment = new Map(s.endpoints.map((e, j) => [endpointComment(e), j]));
  m = new Int32Array(rules.length).fill(-1);
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!, first = r.matches?.[0];
    if (r.target && first?.type === 'comment') m[i] = byComment.get(first.comment) ?? -1;
  }
  endpointsOfRules.set(s, m);
  return m;
}

/**
 * Per Service object, its own chains in the kernel's model (by whether their rules carry counters
 * objects), the very objects committed: the next commit copies their bytes and carries their
 * counters by identity (lib/iptables rule-cache.ts, carry.ts). Made from the compiled chains, whose
 * objects are then let go (compile.ts forgetServiceChains): at 10k x 10 keeping both was ~90 MB.
 */
const kServiceChains = [new WeakMap<Service, KChain[]>(), new WeakMap<Service, KChain[]>()] as const;

function kChainsOf(s: Service, counted: boolean): KChain[] {
  const m = kServiceChains[counted ? 1 : 0];
  let k = m.get(s);
  if (!k) {
    m.set(s, (k = serviceChains(s).map((c) => ({ name: c.name, rules: c.rules.map((r) => toKRule(r, counted)) }))));
    forgetServiceChains(s);
  }
  return k;
}

/** A service's own chains as kernlb writes them: the committed ones when held, else compiled for this look only (not kept). */
function ownChainsOf(s: Service): readonly KChain[] {
  const k = kServiceChains[0].get(s) ?? kServiceChains[1].get(s);
  if (k) return k;
  const c = serviceChains(s).map((x) => ({ name: x.name, rules: x.rules.map((r) => toKRule(r, false)) }));
  forgetServiceChains(s);
  return c;
}

/**
 * Each counted rule of the services' chains (`svcs` of one family, read as `counts`): service j,
 * endpoint e (index in its endpoints), the rule's packets and bytes. A service whose chain is not in
 * the read adds nothing (status() then shows zeros, as a full read does not list it).
 */
function addServiceCounters(svcs: readonly Service[], counts: ChainCounters, add: (j: number, e: number, packets: number, bytes: number) => void): void {
  const c = counts.counters;
  for (let j = 0; j < svcs.length; j++) {
    const s = svcs[j]!;
    const at = counts.at(serviceChainName(s));
    if (at === undefined) continue;
    const of = ruleEndpoints(s);
    for (let i = 0; i < of.length; i++) {
      const e = of[i]!;
      if (e >= 0) add(j, e, c[2 * (at + i)]!, c[2 * (at + i) + 1]!);
    }
  }
}

/** Where each family's services' endpoints go in readCounters' arrays: status()'s order (byName of both families). */
interface PackPlan {
  s4: readonly Service[];
  s6: readonly Service[];
  services: readonly Service[];
  /** Endpoint offset of each merged service, and the total last. */
  first: Int32Array;
  /** Per service of a family (its index there), its endpoints' offset in the arrays. */
  at4: Int32Array;
  at6: Int32Array;
}

/** The plan for these two services arrays (the one before when they are the same arrays: a scrape between applies makes none). */
function packPlan(before: PackPlan | undefined, s4: readonly Service[], s6: readonly Service[]): PackPlan {
  if (before && before.s4 === s4 && before.s6 === s6) return before;
  const services = byName(s4 as Service[], s6 as Service[]);
  const first = new Int32Array(services.length + 1);
  for (let i = 0; i < services.length; i++) first[i + 1] = first[i]! + services[i]!.endpoints.length;
  const index = services === s4 || services === s6 ? undefined : new Map(services.map((s, i) => [s, i]));
  const offsets = (of: readonly Service[]) => Int32Array.from(of, (s, j) => first[index ? index.get(s)! : j]!);
  return { s4, s6, services, first, at4: offsets(s4), at6: offsets(s6) };
}

function toKMatch(m: IptMatch): KMatch {
  switch (m.kind) {
    case 'comment':
      return { type: 'comment', comment: m.comment };
    case 'port':
      // sctp is refused by validation in this mode
      return m.protocol === 'udp' ? { type: 'udp', ...(m.dport !== undefined ? { dport: m.dport } : {}) } : { type: 'tcp', ...(m.dport !== undefined ? { dport: m.dport } : {}) };
    case 'statistic-random':
      return { type: 'statistic', mode: 'random', probability: m.probability };
    case 'statistic-nth':
      return { type: 'statistic', mode: 'nth', every: m.every, packet: m.packet };
    case 'mark':
      return { type: 'mark', mark: m.mark, mask: m.mask, ...(m.invert ? { invert: true } : {}) };
    case 'recent':
      return {
        type: 'recent',
        command: m.command,
        name: m.name,
        ...(m.command === 'rcheck' ? { seconds: m.seconds!, reap: true } : {}),
        mask: m.family === 'ipv4' ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        side: 'source',
      };
  }
}

function toKTarget(t: IptTarget): KTarget {
  switch (t.kind) {
    case 'jump':
      return { type: 'jump', chain: t.chain };
    case 'return':
      return { type: 'RETURN' };
    case 'dnat':
      return { type: 'DNAT', address: t.address, port: t.port };
    case 'mark':
      return { type: 'MARK', op: t.op, value: t.value };
    case 'masquerade':
      return { type: 'MASQUERADE' };
  }
}

/**
 * Frozen (iptFreezeRule): while a service is unchanged its rules stay the same objects from apply to
 * apply, so a commit copies their chains from the last one (lib/iptables/rule-cache.ts). `counted`
 * (an engine that cannot carry counters over at the replace): with a counters object of its own,
 * which refreshCounters updates in place.
 */
export function toKRule(r: IptRule, counted = true): KRule {
  const k: KRule = { matches: r.matches.map(toKMatch) };
  if (r.source) k.source = r.source;
  if (r.destination) k.destination = r.destination;
  if (r.protocol) k.protocol = r.protocol;
  if (r.target) k.target = toKTarget(r.target);
  if (counted) k.counters = { packets: 0, bytes: 0 };
  return freezeRule(k);
}

/**
 * Kernel rules and chains per compiled one (compile.ts hands back the same objects for a service
 * that did not change), by whether they carry counters objects: the same objects from apply to apply.
 */
const kRules = [new WeakMap<IptRule, KRule>(), new WeakMap<IptRule, KRule>()] as const;
const kChains = [new WeakMap<IptChain, KChain>(), new WeakMap<IptChain, KChain>()] as const;

function kRuleOf(r: IptRule, counted: boolean): KRule {
  const m = kRules[counted ? 1 : 0];
  let k = m.get(r);
  if (!k) m.set(r, (k = toKRule(r, counted)));
  return k;
}

function toKChain(c: IptChain, counted: boolean): KChain {
  const m = kChains[counted ? 1 : 0];
  let k = m.get(c);
  if (!k) m.set(c, (k = { name: c.name, rules: c.rules.map((r) => kRuleOf(r, counted)) }));
  return k;
}

const commentOf = (r: KRule) => r.matches?.find((m): m is Extract<KMatch, { type: 'comment' }> => m.type === 'comment')?.comment;
const isOwnJump = (r: KRule) =>
  r.target?.type === 'jump' && r.target.chain.startsWith(OWN_CHAIN_PREFIX) && [JUMP_COMMENT_SERVICES, JUMP_COMMENT_POSTROUTING].includes(commentOf(r) ?? '');

/** kernlb's services in one family's nat table, read back into the model with counters. */
export function decodeIptables(t: IptTable): { state: State; services: ServiceStatus[]; chains: Map<string, KChain>; hooked: boolean } {
  const chains = new Map(t.chains.filter((c) => c.name.startsWith(OWN_CHAIN_PREFIX)).map((c) => [c.name, c]));
  const hooked = ['PREROUTING', 'OUTPUT', 'POSTROUTING'].every((n) => t.chains.find((c) => c.name === n)?.rules.some(isOwnJump));
  const services: ServiceStatus[] = [];
  for (const r of chains.get(CHAIN_SERVICES)?.rules ?? []) {
    if (r.target?.type !== 'jump' || !r.destination) continue;
    const svcChain = chains.get(r.target.chain);
    const header = parseHeaderComment(svcChain?.rules[0] ? commentOf(svcChain.rules[0]) : undefined);
    const vip = parseAddress(r.destination.replace(/\/\d+$/, ''));
    const pm = r.matches?.find((m) => m.type === 'tcp' || m.type === 'udp');
    const dport = pm && (pm.type === 'tcp' || pm.type === 'udp') ? pm.dport : undefined;
    if (!svcChain || !header || !vip || typeof dport !== 'number') continue;
    const endpoints: EndpointStatus[] = [];
    // (wrr: one rule per slot of the cycle, each naming its endpoint: their counters add up.)
    const seen = new Map<string, EndpointStatus>();
    for (const er of svcChain.rules.slice(1)) {
      const ep = parseEndpointComment(commentOf(er));
      if (!ep) continue;
      const c = er.counters ?? { packets: 0, bytes: 0 };
      const packets = er.target ? c.packets : 0, bytes = er.target ? c.bytes : 0;
      const key = `${ep.address}|${ep.port}`;
      const had = seen.get(key);
      if (had) {
        had.counters.connections += packets;
        had.counters.packets += packets;
        had.counters.bytes += bytes;
        continue;
      }
      const st: EndpointStatus = { ...ep, counters: { connections: packets, packets, bytes } };
      seen.set(key, st);
      endpoints.push(st);
    }
    // (wrr's slots are interleaved: the endpoints in the model's order, by address and port)
    if (header.scheduler === 'wrr') endpoints.sort((a, b) => compareAddress(parseAddress(a.address)!, parseAddress(b.address)!) || a.port - b.port);
    services.push({
      name: header.name,
      protocol: String(r.protocol) as Protocol,
      family: vip.family,
      vip: vip.text,
      port: dport,
      scheduler: header.scheduler,
      ...(header.persistence ? { persistence: header.persistence } : {}),
      endpoints,
    });
  }
  const state: State = { services: services.map((s) => ({ ...s, endpoints: s.endpoints.map(({ address, port, weight }) => ({ address, port, weight })) })) as Service[] };
  return { state, services, chains, hooked };
}

/**
 * The new nat table: everything not kernlb's as read; kernlb's chains rebuilt from the plan, reusing
 * the read chains (with their counters) of services that did not change. `committed`: the table is
 * the one kernlb committed last, whose other chains (hook jumps included) are reused as they are, and
 * whose own chains are the plan's (toKChain hands back the objects committed for unchanged services).
 */
export function mergeTable(
  t: IptTable, plan: IptFamilyPlan, unchanged: Set<string>, current: Map<string, KChain>, counted: boolean, committed?: KChain[],
): { table: IptTable; others: KChain[] } {
  // (the plan's first three chains are the fixed ones; every service's own come from kChainsOf)
  const fixed = plan.chains.slice(0, 3).map((c) => toKChain(c, counted));
  if (committed) return { table: { ...t, chains: [...committed, ...fixed, ...plan.services.flatMap((s) => kChainsOf(s, counted))] }, others: committed };
  const others = t.chains.filter((c) => !c.name.startsWith(OWN_CHAIN_PREFIX)).map((c) => ({ ...c, rules: c.rules.filter((r) => !isOwnJump(r)) }));
  for (const h of plan.hooks) {
    const c = others.find((x) => x.name === h.chain);
    if (!c) continue;
    const old = t.chains.find((x) => x.name === h.chain)!.rules.find((r) => isOwnJump(r) && r.target?.type === 'jump' && h.rule.target?.kind === 'jump' && r.target.chain === h.rule.target.chain);
    c.rules.unshift(old ?? toKRule(h.rule, counted)); // first, like kube-proxy's -I jumps
  }
  // (an unchanged service keeps its chains as read, counters included)
  const own = plan.services.flatMap((s) => {
    const key = serviceKey(s);
    if (!unchanged.has(key)) return kChainsOf(s, counted);
    return plan.serviceChains.get(key)!.map((n, i) => current.get(n) ?? kChainsOf(s, counted)[i]!);
  });
  return { table: { ...t, chains: [...others, ...fixed, ...own] }, others };
}

export interface IptRead extends BackendRead {
  tables: Record<Fam, IptTable>;
  decoded: Record<Fam, ReturnType<typeof decodeIptables>>;
  /** Per family, Known.committed. */
  committed: Record<Fam, KChain[] | undefined>;
  /** Per family, Known.layout. */
  layout: Record<Fam, { numEntries: number; size: number } | undefined>;
}

type Decoded = ReturnType<typeof decodeIptables>;

/** A service before and after a change (undefined: added, or removed). */
type Pair = [Service | undefined, Service | undefined];

/**
 * KERNLB-SERVICES after a change of these services: the committed chain's portal rules with those of
 * the services that went taken out and those of the services that came put in at their place (the
 * rules are sorted by the name of the chain they jump to, as compileIptables sorts them): a copy of
 * its 10^4 rules instead of a compile of every service.
 */
function servicesChainAfter(before: KChain, pairs: Pair[]): KChain {
  const jumpOf = (r: KRule) => (r.target?.type === 'jump' ? r.target.chain : '');
  const gone = new Set(pairs.flatMap(([b]) => (b ? [serviceChainName(b)] : [])));
  const rules = gone.size ? before.rules.filter((r) => !gone.has(jumpOf(r))) : before.rules.slice();
  for (const [, a] of pairs) {
    if (!a) continue;
    const k = kRuleOf(portalRule(a), false);
    const name = jumpOf(k);
    let lo = 0, hi = rules.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (jumpOf(rules[mid]!) < name) lo = mid + 1;
      else hi = mid;
    }
    rules.splice(lo, 0, k);
  }
  return { name: CHAIN_SERVICES, rules };
}

/** The pairs of a diff of the table's state to the wanted one (the old services by key only when some changed). */
function pairsOf(d: ReturnType<typeof diffStates>, from: State): Pair[] {
  const pairs: Pair[] = [...d.added.map((s): Pair => [undefined, s]), ...d.removed.map((s): Pair => [s, undefined])];
  if (d.updated.length) {
    const old = new Map(from.services.map((s) => [serviceKey(s), s]));
    for (const u of d.updated) pairs.push([old.get(u.key), changedService(u)]);
  }
  return pairs;
}

/** One family's nat table as kernlb last saw or committed it, with what the next apply needs. */
interface Known {
  table: IptTable;
  decoded: Decoded;
  /** Taken on trust for an apply whose commit proves it (see #family); not yet compared with the kernel. */
  unproven?: boolean;
  /**
   * When kernlb committed the table itself: its chains that are not kernlb's, as committed (with the
   * hook jumps). decoded.chains then holds only the fixed chains (what apply's checks look at), not
   * every service's: mergeTable takes those from the plan.
   */
  committed?: KChain[];
  /** A table read for an apply: its chains that are not what kernlb writes for the state they hold (see driftOf). */
  drift?: string[];
  /** When kernlb committed the table itself: the entry count and size the kernel reports for it (Iptables.info). */
  layout?: { numEntries: number; size: number };
}

const EAGAIN = constants.errno.EAGAIN;

/** A rule as far as kernlb's chains are checked after a read: its comment and where it sends the packet. */
function readSig(r: KRule): string {
  const t = r.target;
  const to = t?.type === 'jump' ? t.chain : t?.type === 'DNAT' ? `${(t as { address?: string }).address}:${(t as { port?: number }).port}` : '';
  return `${commentOf(r) ?? ''}|${t?.type ?? ''}|${to}|${r.matches?.length ?? 0}`;
}
function planSig(r: IptRule): string {
  const t = r.target;
  const type = !t ? '' : t.kind === 'jump' ? 'jump' : t.kind === 'dnat' ? 'DNAT' : t.kind === 'return' ? 'RETURN' : t.kind === 'mark' ? 'MARK' : 'MASQUERADE';
  const to = t?.kind === 'jump' ? t.chain : t?.kind === 'dnat' ? `${t.address}:${t.port}` : '';
  const comment = r.matches.find((m): m is Extract<IptMatch, { kind: 'comment' }> => m.kind === 'comment')?.comment;
  return `${comment ?? ''}|${type}|${to}|${r.matches.length}`;
}
/**
 * kernlb's chains of a table read back that are not what kernlb writes for the state they hold (a
 * rule added, duplicated or deleted behind its back, a stray or missing chain, a missing hook
 * jump), one line each: diff() lists them and apply() rebuilds them. Computed for an apply's full
 * read only (a compile of every service: status() leaves it out to stay cheap).
 */
function driftOf(d: Decoded, f: Fam): string[] {
  if (!d.chains.size) return [];
  const plan = compileIptables(d.state)[f];
  // (the read's services are kept with the record: their compiled chains are not)
  for (const s of plan.services) forgetServiceChains(s);
  const planned = new Map(plan.chains.map((c) => [c.name, c]));
  const out: string[] = [];
  for (const [name, k] of d.chains) {
    const c = planned.get(name);
    if (!c) out.push(`! chain ${name} (${f}): not one kernlb writes for the services it holds`);
    else if (!sameChain(k, c)) out.push(`! chain ${name} (${f}): its ${k.rules.length} rules differ from the ${c.rules.length} kernlb writes`);
  }
  for (const name of planned.keys()) if (!d.chains.has(name)) out.push(`! chain ${name} (${f}): missing`);
  if (!d.hooked) out.push(`! nat ${f}: a jump to kernlb's chains is missing from PREROUTING, OUTPUT or POSTROUTING`);
  return out;
}

/** Whether a chain read from the kernel has the compiled chain's rules (comment, target, match count each). */
function sameChain(k: KChain, c: IptChain): boolean {
  return k.rules.length === c.rules.length && k.rules.every((r, i) => readSig(r) === planSig(c.rules[i]!));
}

export class IptablesBackend implements ModeBackend<IptRead> {
  readonly mode = 'iptables' as const;
  /**
   * Per family, the table kernlb read or committed last. Trusted for apply only while the kernel's
   * nat table has the same entry count and digest. With the direct engine an apply does not read
   * first: its commit's expectUnchanged check is the proof, and the counters of what it keeps are
   * carried over by the kernel at the replace (counters 'carry'). Otherwise (and for a diff) the
   * table is read without decoding (Iptables.readState / refreshCounters). Anything else (someone
   * else's commit, a conflict, an error) drops it and the table is read and decoded again.
   */
  #known: Partial<Record<Fam, Known>> = {};

  constructor(private readonly handles: Record<Fam, Iptables>) {}

  /** Whether this family's commits carry counters over at the replace (the direct engine). */
  #carries(f: Fam): boolean {
    return this.handles[f].engine === 'direct';
  }

  async #family(f: Fam, forApply: boolean, lazy: boolean): Promise<Known> {
    const k = this.#known[f];
    if (forApply && k && lazy && this.#carries(f)) {
      k.unproven = true;
      return k;
    }
    if (forApply && k && (await this.#proven(f, k))) return k;
    if (forApply) delete this.#known[f];
    // The entry count and size around the read (IPT_SO_GET_INFO, microseconds): when both agree
    // with the read, they are the read table's, and the cheap check can use them (#sameLayout).
    const before = forApply ? await this.handles[f].info('nat') : undefined;
    const table = await this.handles[f].read('nat');
    const known: Known = { table, decoded: decodeIptables(table) };
    if (forApply) known.drift = driftOf(known.decoded, f);
    if (before) {
      const after = await this.handles[f].info('nat');
      if (after.numEntries === before.numEntries && after.size === before.size && after.numEntries === table.readState!.numEntries)
        known.layout = { numEntries: after.numEntries, size: after.size };
      this.#known[f] = known;
    }
    return known;
  }

  /**
   * Whether the kernel's nat table is still `k`'s (entry count and digest, read without decoding).
   * For the libiptc engine, whose commits cannot carry counters over, the counters come along.
   */
  async #proven(f: Fam, k: Known): Promise<boolean> {
    const h = this.handles[f];
    let same: boolean;
    if (this.#carries(f)) {
      const now = await h.readState('nat');
      same = now.numEntries === k.table.readState!.numEntries && now.digest === k.table.readState!.digest;
    } else same = await h.refreshCounters(k.table);
    if (same) k.unproven = false;
    return same;
  }

  /**
   * status() of a family whose table kernlb committed and the kernel still holds (same entry count
   * and digest): the counters of its service chains' endpoint rules, read raw and matched to the
   * record's rules by position, with no decode of the other ~50 entries a service (10^5 rule
   * objects at 10k services). undefined when the record is not the kernel's table.
   */
  async #statusFromRecord(f: Fam): Promise<Known | undefined> {
    const k = this.#known[f];
    if (!k?.committed || !k.table.readState) return undefined;
    // (the service chains' counters only, the table walked natively and not kept: status.ts)
    const pending = serviceChainCounters(this.handles[f], k.table, true);
    // The result's objects are made while the kernel copies the table (another core's work).
    const svcs = k.decoded.state.services;
    const services: ServiceStatus[] = new Array(svcs.length);
    for (let j = 0; j < svcs.length; j++) {
      const s = svcs[j]!;
      const endpoints: EndpointStatus[] = s.endpoints.map((e) => ({ address: e.address, port: e.port, weight: e.weight, counters: { connections: 0, packets: 0, bytes: 0 } }));
      services[j] = { name: s.name, protocol: s.protocol, family: s.family, vip: s.vip, port: s.port, scheduler: s.scheduler, ...(s.persistence ? { persistence: s.persistence } : {}), endpoints };
    }
    const counts = await pending;
    if (!counts) return undefined;
    k.unproven = false;
    addServiceCounters(svcs, counts, (j, e, packets, bytes) => {
      const st = services[j]!.endpoints[e]!.counters;
      st.connections += packets;
      st.packets += packets;
      st.bytes += bytes;
    });
    return { ...k, decoded: { ...k.decoded, services } };
  }

  /**
   * One family's services and their service chains' counters, while the kernel provably holds the
   * table kernlb committed, or the one it read for an apply and found as it writes it (no drift):
   * entry count and digest of the read are the record's. undefined otherwise (then status() reads).
   */
  async #familyCounters(f: Fam): Promise<{ services: readonly Service[]; counts: ChainCounters } | undefined> {
    const k = this.#known[f];
    if (!k?.table.readState || !this.#carries(f)) return undefined;
    // (a table read, not committed: its chains are kernlb's compile of its services only when the
    // apply's read found no drift; a status() read computes none, and a same-size edit since then
    // changes the digest)
    if (!k.committed && !(k.layout && k.drift?.length === 0)) return undefined;
    const counts = await serviceChainCounters(this.handles[f], k.table, !!k.committed);
    if (!counts) return undefined;
    k.unproven = false;
    return { services: k.decoded.state.services, counts };
  }

  #packPlan: PackPlan | undefined;

  /**
   * LoadBalancer.counters(): status()'s counters packed (the same services in the same order, each
   * endpoint's counters at its place), read like status() reads them over a committed table, with no
   * object per endpoint or service; undefined when a family's table is not provably the record
   * (then the caller calls status(), which reads it whole).
   */
  async readCounters(): Promise<PackedStatus | undefined> {
    const [p4, p6] = await Promise.all([this.#familyCounters('ipv4'), this.#familyCounters('ipv6')]);
    if (!p4 || !p6) return undefined;
    const plan = (this.#packPlan = packPlan(this.#packPlan, p4.services, p6.services));
    const total = plan.first[plan.services.length]!;
    const packets = new Float64Array(total);
    const bytes = new Float64Array(total);
    for (const [p, at] of [[p4, plan.at4], [p6, plan.at6]] as const) {
      addServiceCounters(p.services, p.counts, (j, e, n, b) => {
        const x = at[j]! + e;
        packets[x] += n;
        bytes[x] += b;
      });
    }
    // (a DNAT rule sees the first packet of each connection only: connections = packets)
    return { mode: 'iptables', services: plan.services, connections: packets, packets, bytes };
  }

  async read(opts: { forApply?: boolean; lazy?: boolean } = {}): Promise<IptRead> {
    const forApply = !!opts.forApply, lazy = !!opts.lazy;
    const fam = async (f: Fam) => (!forApply && this.#carries(f) ? await this.#statusFromRecord(f) : undefined) ?? this.#family(f, forApply, lazy);
    const [k4, k6] = await Promise.all([fam('ipv4'), fam('ipv6')]);
    const d4 = k4.decoded;
    const d6 = k6.decoded;
    const services = byName(d4.services, d6.services);
    const state: State = { services: byName(d4.state.services, d6.state.services) };
    const drift = [...(k4.drift ?? []), ...(k6.drift ?? [])];
    return { state, services, draining: [], ...(drift.length ? { drift } : {}), tables: { ipv4: k4.table, ipv6: k6.table }, decoded: { ipv4: d4, ipv6: d6 }, committed: { ipv4: k4.committed, ipv6: k6.committed }, layout: { ipv4: k4.layout, ipv6: k6.layout } };
  }

  /**
   * LoadBalancer.update: only the families the changes touch are committed, and a table kernlb
   * committed itself is not compared service by service (its chains come from the plan, which is
   * cached per Service object). The commit is still the whole table: x_tables has no smaller
   * operation, so its cost is the kernel's replace of that table.
   */
  async applyChanges(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }) {
    const cur = await this.read({ forApply: true, lazy: !opts.dryRun });
    const touched = new Set<Fam>();
    for (const c of changes) for (const s of [c.before, c.after]) if (s) touched.add(s.family);
    return this.apply(desired, cur, opts, touched, changes);
  }

  /** `only`: the families an update touched (the others are left alone, unproven or not). */
  async apply(desired: State, cur: IptRead, opts: { dryRun: boolean }, only?: Set<Fam>, changes?: ServiceChange[]) {
    let plan: ReturnType<typeof compileIptables> | undefined; // (only when a family commits: hashing 10k chain names is ~10 ms)
    // A table kernlb committed takes its services' chains from kChainsOf: a plan without them.
    let lite: ReturnType<typeof compileIptables> | undefined;
    const planFor = (f: Fam) => (cur.committed[f] ? (lite ??= plan ?? compileIptables(desired, { own: false })) : (plan ??= compileIptables(desired)))[f];
    let operations = 0;
    const commits: [Fam, IptTable, State, KChain[]][] = [];
    const splices: [Fam, Pair[], State][] = [];
    // (Both families' cheap checks at once: one IPT_SO_GET_INFO each, in parallel on the thread pool.)
    const proofs: Promise<void>[] = [];
    for (const f of ['ipv4', 'ipv6'] as const) {
      if (only && !only.has(f)) continue;
      const want: State = { services: desired.services.filter((s) => s.family === f) };
      // A change of a table this LoadBalancer committed: only the changed services' chains are
      // written, spliced into the last blob (Iptables.commitChains), when the handle kept it.
      const spliceable = !opts.dryRun && !!cur.committed[f] && this.#carries(f) && !!cur.layout[f];
      if (only && changes && spliceable) {
        splices.push([f, changes.filter((c) => (c.before ?? c.after)!.family === f || c.after?.family === f).map((c) => [c.before?.family === f ? c.before : undefined, c.after?.family === f ? c.after : undefined]), want]);
        continue;
      }
      // An update of a table kernlb committed needs no diff: mergeTable takes its chains from the
      // plan (cached per Service object), so the untouched services cost no comparison.
      let unchanged = new Set<string>();
      if (!(only && cur.committed[f])) {
        const d = diffStates(cur.decoded[f].state, want);
        // Nothing of kernlb's in an unused family: leave that table alone.
        if (isEmptyDiff(d) && !want.services.length && !cur.decoded[f].chains.size) {
          // No commit will prove a table taken on trust: compare it with the kernel now.
          proofs.push(this.#prove(f));
          continue;
        }
        // (Which services are unchanged matters only for a table as read: mergeTable takes a
        // committed table's chains from the plan. 10^4 keys made into a set cost a no-op ~2 ms.)
        if (!cur.committed[f]) {
          const changed = new Set([...d.added, ...d.removed].map(serviceKey).concat(d.updated.map((u) => u.key)));
          unchanged = new Set(want.services.map(serviceKey).filter((k) => !changed.has(k)));
        }
        // A table as read (a new handle, a resync, a conflict): the model's view can be equal while
        // kernlb's chains are not what it compiles (a rule added, duplicated or deleted behind its
        // back, a stray chain): such services are rebuilt, and a stray chain makes the commit too.
        // (A table kernlb committed is the plan itself: decoded.chains holds only its fixed chains.)
        let same = isEmptyDiff(d) && cur.decoded[f].hooked;
        if (!cur.committed[f]) {
          const p = (plan ??= compileIptables(desired))[f];
          const planned = new Map(p.chains.map((c) => [c.name, c]));
          for (const [key, names] of p.serviceChains) {
            if (!unchanged.has(key)) continue;
            if (!names.every((n) => cur.decoded[f].chains.has(n) && sameChain(cur.decoded[f].chains.get(n)!, planned.get(n)!))) unchanged.delete(key);
          }
          same &&= unchanged.size === want.services.length && [...cur.decoded[f].chains.keys()].every((n) => planned.has(n)) &&
            [CHAIN_SERVICES, 'KERNLB-POSTROUTING', 'KERNLB-MARK-MASQ'].every((n) => cur.decoded[f].chains.has(n) && sameChain(cur.decoded[f].chains.get(n)!, planned.get(n)!));
        } else same &&= [CHAIN_SERVICES, 'KERNLB-POSTROUTING', 'KERNLB-MARK-MASQ'].every((n) => cur.decoded[f].chains.has(n));
        if (same) {
          proofs.push(this.#prove(f));
          continue;
        }
        if (spliceable) {
          splices.push([f, pairsOf(d, cur.decoded[f].state), want]);
          continue;
        }
      }
      const { table: next, others } = mergeTable(cur.tables[f], planFor(f), unchanged, cur.decoded[f].chains, !this.#carries(f), cur.committed[f]);
      operations += next.chains.reduce((n, c) => n + c.rules.length, 0);
      commits.push([f, next, want, others]);
    }
    await Promise.all(proofs);
    for (const [f, pairs, want] of splices) {
      const done = await this.#splice(f, pairs, want, cur);
      if (done === null) {
        // (No layout kept: the whole table, as before.)
        const { table: next, others } = mergeTable(cur.tables[f], planFor(f), new Set(), cur.decoded[f].chains, false, cur.committed[f]);
        operations += next.chains.reduce((n, c) => n + c.rules.length, 0);
        commits.push([f, next, want, others]);
      } else operations += done;
    }
    // (the plan's compiled chains are in kChainsOf's kernel chains now, or not needed: not kept)
    if (plan) for (const s of [...plan.ipv4.services, ...plan.ipv6.services]) forgetServiceChains(s);
    if (!commits.length) return { operations, draining: [], changed: splices.length > 0 };
    if (!opts.dryRun) {
      for (const [f, t, want, others] of commits) {
        delete this.#known[f];
        // A table kernlb committed itself is checked by its entry count and size only (no read of
        // 10^5 entries: see #sameLayout for what that misses); anything else by its digest.
        const layout = cur.layout[f];
        const check = layout && cur.committed[f] && this.#carries(f) ? { check: 'info' as const, layout } : {};
        const done = await this.handles[f].commit(t, { expectUnchanged: true, ...check, ...(this.#carries(f) ? { counters: 'carry' as const, keepLayout: true } : {}) });
        this.#remember(f, t, want, done, others);
      }
    }
    return { operations, draining: [], changed: true };
  }

  /**
   * One family's change as a splice of the services' chains into the last committed blob: the
   * chains of each changed service as compiled now (put) and those it no longer has (removed), and
   * KERNLB-SERVICES only when a service comes, goes or is renamed (its portal rule). The rules
   * written, or null when the handle kept no layout (nothing sent).
   */
  async #splice(f: Fam, pairs: Pair[], want: State, cur: IptRead): Promise<number | null> {
    const put: KChain[] = [];
    const names = new Set<string>();
    const gone = new Set<string>();
    let portals = false;
    for (const [before, after] of pairs) {
      const a = after ? kChainsOf(after, false) : [];
      const b = before ? ownChainsOf(before) : [];
      if (!before || !after || before.name !== after.name || a[0]!.name !== b[0]!.name) portals = true;
      for (const c of a) {
        if (names.has(c.name)) continue;
        names.add(c.name);
        put.push(c);
      }
      for (const c of b) gone.add(c.name);
    }
    const fixed = new Map(cur.decoded[f].chains);
    if (portals) {
      const services = servicesChainAfter(fixed.get(CHAIN_SERVICES)!, pairs);
      put.push(services);
      fixed.set(CHAIN_SERVICES, services);
    }
    const remove = [...gone].filter((n) => !names.has(n));
    delete this.#known[f];
    const readState = cur.tables[f].readState!;
    const done = await this.handles[f].commitChains('nat', { put, remove }, { expect: readState, layout: cur.layout[f]! });
    if (!done) return null;
    const table: IptTable = { ...cur.tables[f], chains: done.chains, readState: { numEntries: done.numEntries, digest: done.digest } };
    this.#known[f] = { table, decoded: { state: want, services: [], chains: fixed, hooked: true }, committed: cur.committed[f], layout: { numEntries: done.numEntries, size: done.size } };
    return put.reduce((n, c) => n + c.rules.length, 0);
  }

  /**
   * A family's table taken on trust (and not committed) must still be the kernel's: when it is not,
   * the apply fails with a conflict, and LoadBalancer reads again and retries.
   */
  async #prove(f: Fam): Promise<void> {
    const k = this.#known[f];
    if (!k?.unproven) return;
    if (await this.#sameLayout(f, k)) return;
    delete this.#known[f];
    throw new ConflictError({ errno: EAGAIN, op: 'apply iptables', object: `table nat (${f})`, extack: 'the table changed since kernlb last committed it' });
  }

  /**
   * The cheap check of a table kernlb committed: the kernel's entry count and size (IPT_SO_GET_INFO,
   * no entries read: microseconds at 10k services, where reading the table for its digest takes
   * 0.3-2 s). Any rule or chain added or deleted behind kernlb's back changes one of them; a rule
   * replaced by one of the same size (another DNAT port, probability or address) does not: that
   * takes a full read (resync). Without a layout (a table kernlb read), the digest decides.
   */
  async #sameLayout(f: Fam, k: Known): Promise<boolean> {
    if (!k.layout) return this.#proven(f, k);
    const now = await this.handles[f].info('nat');
    const same = now.numEntries === k.layout.numEntries && now.size === k.layout.size;
    if (same) k.unproven = false;
    return same;
  }

  /** After a commit: the kernel holds `t`, with the entry count and digest the commit reported. */
  #remember(f: Fam, t: IptTable, want: State, done: IptReadState & { size: number }, others: KChain[]): void {
    const table: IptTable = { ...t, readState: { numEntries: done.numEntries, digest: done.digest } };
    // (The fixed chains follow the other chains: the plan lists them first.)
    const fixed = t.chains.slice(others.length, others.length + 3);
    const chains = new Map(fixed.filter((c) => c.name.startsWith(OWN_CHAIN_PREFIX)).map((c) => [c.name, c]));
    // The state is the desired services themselves: the next diff skips them by identity.
    this.#known[f] = { table, decoded: { state: want, services: [], chains, hooked: true }, committed: others, layout: { numEntries: done.numEntries, size: done.size } };
  }

  async present(): Promise<boolean> {
    const r = await this.read();
    return r.decoded.ipv4.chains.size > 0 || r.decoded.ipv6.chains.size > 0 || r.decoded.ipv4.hooked || r.decoded.ipv6.hooked;
  }

  async clear(): Promise<void> {
    const r = await this.read();
    for (const f of ['ipv4', 'ipv6'] as const) {
      const t = r.tables[f];
      if (!r.decoded[f].chains.size && !t.chains.some((c) => c.rules.some(isOwnJump))) continue;
      const chains = t.chains.filter((c) => !c.name.startsWith(OWN_CHAIN_PREFIX)).map((c) => ({ ...c, rules: c.rules.filter((x) => !isOwnJump(x)) }));
      await this.handles[f].commit({ ...t, chains }, { expectUnchanged: true });
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.handles.ipv4.close(), this.handles.ipv6.close()]);
  }
}
