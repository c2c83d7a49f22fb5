/**
 * nftables mode: compiles the desired state into one table, `table inet kernlb`, owned by kernlb.
 *
 * Layout ("sharded slot maps"; measurements in ./README.md and bench/lb-nft-layouts.mjs):
 *
 *   table inet kernlb {
 *     map svc4 { type ipv4_addr . inet_proto . inet_service : verdict }   # VIP . proto . port -> goto svc-NAME
 *     map svc6 { type ipv6_addr . inet_proto . inet_service : verdict }
 *     map ep-tcp4-K { typeof numgen inc mod 1024 . ip daddr . tcp dport : ip daddr . tcp dport; counter;
 *                     elements = { 0 . VIP . PORT comment "w2" : EP0 . P0, 1 . VIP . PORT : EP0 . P0,
 *                                  2 . VIP . PORT comment "w1" : EP1 . P1,
 *                                  3 . VIP . PORT comment "w0" : EP2 . P2, ...other services of shard K } }
 *     chain prerouting { type nat hook prerouting priority dstnat; ip daddr . meta l4proto . th dport vmap @svc4; (ip6 ...) }
 *     chain output     { type nat hook output priority -100;       (same two dispatch rules) }
 *     chain svc-NAME { meta l4proto tcp dnat ip to numgen inc mod R . ip daddr . tcp dport map @ep-tcp4-K comment "service NAME wrr" }
 *   }
 *
 * - Shards: a service's slots live in map ep-<proto><4|6>-<K>, K = FNV-1a(name) % 1024 (fixed: a
 *   service never moves), keyed by slot . VIP . port; slots >= R hold weight-0 endpoints, never
 *   picked. A map exists while a service of its shard does. Why not one map per service: 10k named
 *   sets cost the kernel a walk of the table's set list per set added and per rule's lookup (4.7 s
 *   of kernel time for 10k x 10, against 1.1 s with 1000 shards: README); why not one map for all:
 *   binding a map to a rule walks its elements, so N rules on one 100k-element map is quadratic.
 * - Per packet: one hash lookup for the service (dispatch map), one for the endpoint (slot map),
 *   whatever the number of services or endpoints. Only a connection's first packet traverses nat.
 * - Weights are slot counts: endpoint i holds w_i / gcd(w) slots of the R (interleaved by smooth
 *   weighted round robin, so consecutive connections spread). rr gives each active endpoint one slot.
 *   Above MAX_SLOTS slots the weights are scaled to MAX_SLOTS (largest remainder, at least one slot
 *   each): shares then deviate from the weights by less than 1/MAX_SLOTS of the traffic.
 * - Scheduler guarantees: rr and wrr (`numgen inc`) are exact per cycle of R connections, per service
 *   (the counter belongs to that service's rule); random (`numgen random`) picks slot s with
 *   probability 1/R; sh (`jhash ip saddr mod R`, fixed seed) maps a client to the same slot while R
 *   and the slot order are unchanged.
 * - Every endpoint change is element operations on the service's slots in its shard map (the
 *   kernel does not validate the table for them); a change of R or of the pick (an endpoint added
 *   or removed, a weight changed) also replaces the service's one rule, and a rule with `dnat`
 *   makes the kernel validate the table at commit.
 * - Persistence (client affinity): a hit rule `dnat to ip saddr map @aff-NAME` before the pick, the
 *   dynamic map filled after the DNAT by filter chains persist-pre/persist-out through keep4/keep6
 *   and chain keep-NAME (rules.ts, README.md).
 * - Per-endpoint counters: every slot element has a counter (`counter` on the map); an endpoint's
 *   connections are the sum over its slots. Element comments `wN` hold the weights (the first slot
 *   of each endpoint), so status() reads weights back exactly.
 * - Measured: README.md (candidate layouts, full apply, single changes).
 */
import { ValidationError } from '../../../errors';
import { activeEndpoints, endpointKey, type Protocol, type Service, type State } from '../../state';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'kernlb';
/** Fixed seed so a re-apply keeps the same source-hash mapping (nft picks a random one otherwise). */
export const JHASH_SEED = 0x6b6c6221;
/** The most slots one service's map gets (weights are scaled down beyond it). */
export const MAX_SLOTS = 1024;

export type NftPick = { kind: 'numgen'; mode: 'inc' | 'random' } | { kind: 'jhash'; seed: number };

export interface NftSlotElement {
  /** Slot number (the map's key); >= slots for weight-0 endpoints. */
  key: number;
  address: string;
  port: number;
  /** `w<weight>` on an endpoint's first element. */
  comment?: string;
}

export interface NftServiceChain {
  /** Service key (protocol/vip:port): the diff identity. */
  key: string;
  name: string;
  chain: string;
  map: string;
  /** Element of svc4/svc6: vip . proto . port -> goto chain. */
  dispatch: { family: 'ipv4' | 'ipv6'; vip: string; protocol: Protocol; port: number };
  pick: NftPick;
  /** R: the modulus; 0 when no endpoint is active (the rule then only counts). */
  slots: number;
  elements: NftSlotElement[];
  /** The rule's comment: "service NAME SCHED[ persistent T]". */
  comment: string;
  /** Client affinity (rules.ts): seconds, the dynamic map `aff-NAME` and the chain `keep-NAME` that fills it. */
  persistence?: { timeout: number; map: string; chain: string };
}

export interface NftPlan {
  family: typeof NFT_FAMILY;
  table: typeof NFT_TABLE;
  services: NftServiceChain[];
}

export function nftChainName(s: Pick<Service, 'name'>): string {
  return `svc-${s.name}`;
}

/** The number of slot-map shards per family and protocol: a service's endpoints live in shard fnv1a(name) % NFT_SHARDS. */
export const NFT_SHARDS = 1024;
/** The `numgen ... mod` nft prints in a shard map's typeof (the kernel ignores it; any R up to MAX_SLOTS fits). */
export const SHARD_TYPEOF_MOD = MAX_SLOTS;

/** FNV-1a, 32 bits, over the name's UTF-16 code units: fixed, so a service's shard never moves. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** `ep-<proto><4|6>-<k>`: the shard map holding the service's slots (one map type per family x protocol). */
export function nftMapName(s: Pick<Service, 'name' | 'protocol' | 'family'>): string {
  return `ep-${s.protocol}${s.family === 'ipv4' ? 4 : 6}-${nameHash(s.name) % NFT_SHARDS}`;
}

/** "ep 10.1.0.1:8080 w3" (the iptables mode's endpoint comments use it too). */
export function endpointComment(e: { address: string; port: number; weight: number }): string {
  return `ep ${endpointKey(e)} w${e.weight}`;
}

export function headerComment(s: Pick<Service, 'name' | 'scheduler' | 'persistence'>): string {
  return `service ${s.name} ${s.scheduler}${s.persistence ? ` persistent ${s.persistence.timeout}` : ''}`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Slot counts per active endpoint: reduced weights, scaled to MAX_SLOTS when they add up to more. */
export function slotCounts(weights: readonly number[]): number[] {
  if (!weights.length) return [];
  const g = weights.reduce(gcd);
  const reduced = weights.map((w) => w / g);
  const total = reduced.reduce((a, b) => a + b, 0);
  if (total <= MAX_SLOTS) return reduced;
  const cap = Math.max(MAX_SLOTS, weights.length);
  // at least one slot each, the rest by largest remainder
  const spare = cap - weights.length;
  const exact = reduced.map((w) => (w * spare) / total);
  const out = exact.map((x) => 1 + Math.floor(x));
  let left = cap - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k++, left--) out[order[k % order.length]![1]]!++;
  return out;
}

/** Slot -> endpoint index, interleaved by smooth weighted round robin (deterministic). */
function slotOrder(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (counts.every((c) => c === 1)) return counts.map((_, i) => i);
  const current = counts.map(() => 0);
  const out: number[] = [];
  for (let s = 0; s < total; s++) {
    let best = 0;
    for (let i = 0; i < counts.length; i++) {
      current[i]! += counts[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    out.push(best);
  }
  return out;
}

// (one object per pick for every service: compiled plans only read them)
const PICKS = {
  sh: Object.freeze({ kind: 'jhash', seed: JHASH_SEED }),
  random: Object.freeze({ kind: 'numgen', mode: 'random' }),
  inc: Object.freeze({ kind: 'numgen', mode: 'inc' }),
} as const satisfies Record<string, NftPick>;

function pickOf(s: Service): NftPick {
  return s.scheduler === 'sh' ? PICKS.sh : s.scheduler === 'random' ? PICKS.random : PICKS.inc;
}

/** `w<weight>` for the usual weights, made once (a full apply writes one per endpoint). */
const WEIGHT_COMMENTS = Array.from({ length: 257 }, (_, w) => `w${w}`);
const weightComment = (w: number) => WEIGHT_COMMENTS[w] ?? `w${w}`;

export function compileService(s: Service): NftServiceChain {
  // (no copy when every endpoint is active: the usual case)
  const active = s.endpoints.every((e) => e.weight > 0) ? s.endpoints : activeEndpoints(s);
  const rr = s.scheduler === 'rr';
  // (equal weights, rr among them, are one slot each in endpoint order: no slot plan to compute)
  let equal = true;
  for (let i = 1; equal && i < active.length; i++) equal = active[i]!.weight === active[0]!.weight;
  const order = rr || equal ? null : slotOrder(slotCounts(active.map((e) => e.weight)));
  const elements: NftSlotElement[] = [];
  if (!order) {
    for (let i = 0; i < active.length; i++) {
      const e = active[i]!;
      elements.push({ key: i, address: e.address, port: e.port, comment: weightComment(e.weight) });
    }
  } else {
    // an endpoint's first slot carries its weight
    const seen = new Uint8Array(active.length);
    for (let slot = 0; slot < order.length; slot++) {
      const i = order[slot]!;
      const e = active[i]!;
      const el: NftSlotElement = { key: slot, address: e.address, port: e.port };
      if (!seen[i]) {
        seen[i] = 1;
        el.comment = weightComment(e.weight);
      }
      elements.push(el);
    }
  }
  let k = order ? order.length : active.length;
  for (const e of s.endpoints) if (e.weight === 0) elements.push({ key: k++, address: e.address, port: e.port, comment: 'w0' });
  const c: NftServiceChain = {
    key: `${s.protocol}/${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}`,
    name: s.name,
    chain: nftChainName(s),
    map: nftMapName(s),
    dispatch: { family: s.family, vip: s.vip, protocol: s.protocol, port: s.port },
    pick: pickOf(s),
    slots: order ? order.length : active.length,
    elements,
    comment: headerComment(s),
  };
  if (s.persistence) c.persistence = { timeout: s.persistence.timeout, map: `aff-${s.name}`, chain: `keep-${s.name}` };
  return c;
}

/**
 * nftables mode records a persistent service's clients by VIP . protocol . endpoint address . port
 * (the VIP's port cannot be in that key: rules.ts), so a persistent service may not share an endpoint
 * with another service of the same VIP and protocol. A ValidationError naming both, else undefined.
 */
export function persistenceConflict(services: readonly Service[]): ValidationError | undefined {
  // (update() runs this on the whole state: without a persistent service it is one pass, no allocation)
  if (!services.some((s) => s.persistence)) return undefined;
  const groups = new Map<string, Service[]>();
  for (const s of services) {
    const k = `${s.vip} ${s.protocol}`;
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  for (const g of groups.values()) {
    if (g.length < 2 || !g.some((s) => s.persistence)) continue;
    const owner = new Map<string, Service>();
    for (const s of g) {
      for (const e of s.endpoints) {
        const k = endpointKey(e);
        const o = owner.get(k);
        if (o && o !== s && (o.persistence || s.persistence)) {
          const p = o.persistence ? o : s;
          return new ValidationError(
            'services',
            `services "${o.name}" and "${s.name}" share VIP ${s.vip} (${s.protocol}) and endpoint ${k}, and "${p.name}" is persistent: nftables mode tells their clients apart by endpoint (use another endpoint port, or ipvs mode)`,
            k,
          );
        }
        owner.set(k, s);
      }
    }
  }
  return undefined;
}

export function compileNft(state: State): NftPlan {
  const services = state.services.map(compileService).sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return { family: NFT_FAMILY, table: NFT_TABLE, services };
}

/**
 * The port half of a slot key and of the map's data as nft names it: `tcp dport` / `udp dport` (nft
 * 1.0.6 refuses a later rule `meta l4proto tcp dnat ... map @m` when m's data says `th dport`:
 * "conflicting protocols specified: tcp vs. th"); kernlb has no typed sctp field, so sctp keeps `th dport`.
 */
export function portField(c: Pick<NftServiceChain, 'dispatch'>): 'tcp dport' | 'udp dport' | 'th dport' {
  const p = c.dispatch.protocol;
  return p === 'tcp' ? 'tcp dport' : p === 'udp' ? 'udp dport' : 'th dport';
}

/** The shard maps of a plan in the order buildAll creates them (first use in chain order), with their services. */
export function shardMaps(plan: readonly NftServiceChain[]): Map<string, NftServiceChain[]> {
  const out = new Map<string, NftServiceChain[]>();
  for (const c of plan) {
    const g = out.get(c.map);
    if (g) g.push(c);
    else out.set(c.map, [c]);
  }
  return out;
}

/** The service rule in nft syntax (as `nft list ruleset` prints it, minus counter values). */
export function renderServiceRule(c: NftServiceChain): string {
  if (!c.slots) return `counter comment "${c.comment}"`;
  const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
  const key = c.pick.kind === 'jhash' ? `jhash ${ip} saddr mod ${c.slots} seed 0x${c.pick.seed.toString(16)}` : `numgen ${c.pick.mode} mod ${c.slots}`;
  const pick = `meta l4proto ${c.dispatch.protocol} dnat ${ip} to ${key} . ${ip} daddr . ${portField(c)} map @${c.map}`;
  if (!c.persistence) return `${pick} comment "${c.comment}"`;
  return `meta l4proto ${c.dispatch.protocol} dnat ${ip} to ${ip} saddr map @${c.persistence.map} comment "${c.comment}"\n\t\t${pick}`;
}

function persistPort(c: NftServiceChain): string {
  return c.dispatch.protocol === 'sctp' ? 'th' : c.dispatch.protocol;
}

/** nft's way of printing a timeout: 5m, 1h30m, 2s ... */
export function nftDuration(seconds: number): string {
  const parts: string[] = [];
  let left = seconds;
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (left >= n) {
      parts.push(`${Math.floor(left / n)}${unit}`);
      left %= n;
    }
  }
  return parts.join('') || '0s';
}

function renderElement(c: NftServiceChain, e: NftSlotElement): string {
  return `${e.key} . ${c.dispatch.vip} . ${c.dispatch.port}${e.comment ? ` comment "${e.comment}"` : ''} : ${e.address} . ${e.port}`;
}

function dispatchElement(c: NftServiceChain): string {
  return `${c.dispatch.vip} . ${c.dispatch.protocol} . ${c.dispatch.port} : goto ${c.chain}`;
}

/**
 * The whole table as an `nft -f` script. Used by the golden tests, the oracle tests (load this with
 * nft, compare `nft list ruleset` with what kernlb committed) and the benchmark's reference run.
 */
export function renderNft(plan: NftPlan): string {
  const out: string[] = [`table ${plan.family} ${plan.table} {`];
  for (const [fam, map, type] of [
    ['ipv4', 'svc4', 'ipv4_addr'],
    ['ipv6', 'svc6', 'ipv6_addr'],
  ] as const) {
    out.push(`\tmap ${map} {`, `\t\ttype ${type} . inet_proto . inet_service : verdict`);
    const els = plan.services.filter((c) => c.dispatch.family === fam).map(dispatchElement);
    if (els.length) out.push(`\t\telements = { ${els.join(',\n\t\t\t     ')} }`);
    out.push('\t}', '');
  }
  for (const [map, group] of shardMaps(plan.services)) {
    const c = group[0]!;
    const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
    const port = portField(c);
    out.push(`\tmap ${map} {`, `\t\ttypeof numgen inc mod ${SHARD_TYPEOF_MOD} . ${ip} daddr . ${port} : ${ip} daddr . ${port}`, '\t\tcounter');
    const els = group.flatMap((g) => g.elements.map((e) => renderElement(g, e)));
    if (els.length) out.push(`\t\telements = { ${els.join(',\n\t\t\t     ')} }`);
    out.push('\t}', '');
  }
  for (const c of plan.services) {
    if (!c.persistence) continue;
    const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
    out.push(`\tmap ${c.persistence.map} {`, `\t\ttypeof ${ip} saddr : ${ip} daddr . ${persistPort(c)} dport`, '\t\tsize 65535', '\t\tflags dynamic,timeout', `\t\ttimeout ${nftDuration(c.persistence.timeout)}`, '\t}', '');
  }
  for (const [fam, map, type] of [
    ['ipv4', 'keep4', 'ipv4_addr'],
    ['ipv6', 'keep6', 'ipv6_addr'],
  ] as const) {
    out.push(`\tmap ${map} {`, `\t\ttype ${type} . inet_proto . ${type} . inet_service : verdict`);
    const els: string[] = [];
    for (const c of plan.services) {
      if (!c.persistence || c.dispatch.family !== fam) continue;
      const seen = new Set<string>();
      for (const e of c.elements) {
        const k = `${e.address} . ${e.port}`;
        if (seen.has(k)) continue;
        seen.add(k);
        els.push(`${c.dispatch.vip} . ${c.dispatch.protocol} . ${k} : goto ${c.persistence.chain}`);
      }
    }
    if (els.length) out.push(`\t\telements = { ${els.join(',\n\t\t\t     ')} }`);
    out.push('\t}', '');
  }
  for (const [chain, hook, prio] of [
    ['prerouting', 'prerouting', 'dstnat'],
    ['output', 'output', '-100'],
  ] as const) {
    out.push(`\tchain ${chain} {`, `\t\ttype nat hook ${hook} priority ${prio}; policy accept;`);
    out.push('\t\tip daddr . meta l4proto . th dport vmap @svc4', '\t\tip6 daddr . meta l4proto . th dport vmap @svc6', '\t}', '');
  }
  // (-99: just after the nat chains' DNAT; nft names it after dstnat only in prerouting)
  for (const [chain, hook, prio] of [
    ['persist-pre', 'prerouting', 'dstnat + 1'],
    ['persist-out', 'output', '-99'],
  ] as const) {
    out.push(`\tchain ${chain} {`, `\t\ttype filter hook ${hook} priority ${prio}; policy accept;`);
    out.push(
      '\t\tct state new ct status dnat ct original ip daddr . meta l4proto . ip daddr . th dport vmap @keep4',
      '\t\tct state new ct status dnat ct original ip6 daddr . meta l4proto . ip6 daddr . th dport vmap @keep6',
      '\t}',
      '',
    );
  }
  for (const c of plan.services) {
    if (!c.persistence) continue;
    const ip = c.dispatch.family === 'ipv4' ? 'ip' : 'ip6';
    out.push(`\tchain ${c.persistence.chain} {`, `\t\tupdate @${c.persistence.map} { ${ip} saddr : ${ip} daddr . ${persistPort(c)} dport }`, '\t}', '');
  }
  for (const c of plan.services) out.push(`\tchain ${c.chain} {`, `\t\t${renderServiceRule(c)}`, '\t}', '');
  if (out[out.length - 1] === '') out.pop();
  out.push('}');
  return out.join('\n') + '\n';
}
