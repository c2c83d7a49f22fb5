/**
 * iptables mode: kube-proxy's layout in kernlb's own chains of the nat table, so other rules in the
 * table are never touched (one jump rule per hook is all kernlb adds to the built-in chains):
 *
 *   -A PREROUTING  -m comment --comment "kernlb service portals" -j KERNLB-SERVICES
 *   -A OUTPUT      -m comment --comment "kernlb service portals" -j KERNLB-SERVICES
 *   -A POSTROUTING -m comment --comment "kernlb postrouting rules" -j KERNLB-POSTROUTING
 *   KERNLB-SERVICES:    -d VIP/32 -p tcp -m comment --comment NAME -m tcp --dport P -j KERNLB-SVC-<hash>
 *   KERNLB-SVC-<hash>:  comment-only header ("service NAME SCHED"), then per endpoint
 *                       -m statistic --mode random --probability w_i/R_i (or --mode nth --every R_i --packet 0
 *                       for rr: exact round robin) -j KERNLB-SEP-<hash>; the last endpoint takes the rest;
 *                       wrr: the rr cascade over the cycle's slots (one rule per unit of gcd-reduced
 *                       weight, all naming their endpoint in the same comment), so exact per cycle;
 *                       weight-0 endpoints stay as comment-only rules (so status() reads them back).
 *   KERNLB-SEP-<hash>:  -s EP/32 -j KERNLB-MARK-MASQ (hairpin), -p tcp -j DNAT --to-destination EP:PORT
 *                       (no comment: kube-proxy's service-name comment here is 288 bytes an entry)
 *   KERNLB-MARK-MASQ:   -j MARK --or-mark 0x10000;  KERNLB-POSTROUTING masquerades marked packets once.
 *   persistence { timeout } (kube-proxy's ClientIP affinity): the service chain first sends a client
 *   seen in the last T seconds back to its endpoint (`-m recent --rcheck --seconds T --reap --name
 *   KERNLB-SEP-<hash> --rsource`), and each endpoint chain records the client (`-m recent --set`).
 *
 * Chain names hash the service (and endpoint) identity like kube-proxy does (sha256, base32, 16
 * characters) because x_tables chain names are limited to 28 characters.
 */
import * as crypto from 'node:crypto';
import { activeEndpoints, endpointKey, serviceKey, type Protocol, type Service, type State } from '../../state';
import { endpointComment, headerComment } from '../nftables/compile';

export const IPT_TABLE = 'nat';
export const CHAIN_SERVICES = 'KERNLB-SERVICES';
export const CHAIN_POSTROUTING = 'KERNLB-POSTROUTING';
export const CHAIN_MARK_MASQ = 'KERNLB-MARK-MASQ';
export const MASQ_MARK = 0x10000;
export const OWN_CHAIN_PREFIX = 'KERNLB-';
export const JUMP_COMMENT_SERVICES = 'kernlb service portals';
export const JUMP_COMMENT_POSTROUTING = 'kernlb postrouting rules';

export type IptMatch =
  | { kind: 'comment'; comment: string }
  | { kind: 'port'; protocol: Protocol; dport?: number }
  | { kind: 'statistic-random'; probability: number }
  | { kind: 'statistic-nth'; every: number; packet: number }
  | { kind: 'mark'; mark: number; mask: number; invert: boolean }
  /** kube-proxy's session affinity: `--rcheck --seconds T --reap` in the service chain, `--set` before the DNAT. */
  | { kind: 'recent'; command: 'set' | 'rcheck'; name: string; seconds?: number; family: 'ipv4' | 'ipv6' };

export type IptTarget =
  | { kind: 'jump'; chain: string }
  | { kind: 'return' }
  | { kind: 'dnat'; address: string; port: number }
  | { kind: 'mark'; op: 'or' | 'xor'; value: number }
  | { kind: 'masquerade' };

export interface IptRule {
  source?: string;
  destination?: string;
  protocol?: Protocol;
  matches: IptMatch[];
  /** Absent = a counting/comment-only rule (falls through). */
  target?: IptTarget;
}

export interface IptChain {
  name: string;
  rules: IptRule[];
}

/** One family's nat-table content owned by kernlb, plus the jumps from the built-in chains. */
export interface IptFamilyPlan {
  family: 'ipv4' | 'ipv6';
  /** Jump rules kernlb owns in built-in chains (PREROUTING, OUTPUT, POSTROUTING). */
  hooks: { chain: 'PREROUTING' | 'OUTPUT' | 'POSTROUTING'; rule: IptRule }[];
  /** All KERNLB-* chains in a stable order: fixed chains first, then per-service ones. */
  chains: IptChain[];
  /** Per service key: the names of the chains that service owns (SVC + SEPs), for minimal diffs. */
  serviceChains: Map<string, string[]>;
  /** The family's services in the order of their chains (by their KERNLB-SVC- chain's name). */
  services: Service[];
}

export interface IptPlan {
  ipv4: IptFamilyPlan;
  ipv6: IptFamilyPlan;
}

/**
 * SHA-256 of a string, in hex: the one-shot crypto.hash where Node has it (20.12+). Hex, because a
 * Buffer per digest costs more than the hash itself (10^5 chain names an apply).
 */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

const BASE32 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 'latin1');
const nameBytes = Buffer.alloc(64);

/** The value of hex digits [from, from + 10) of `hex` (40 bits: exact in a double). */
function hex40(hex: string, from: number): number {
  let v = 0;
  for (let i = from; i < from + 10; i++) {
    const c = hex.charCodeAt(i);
    v = v * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57); // (lower-case hex)
  }
  return v;
}

/**
 * `prefix` and the first 16 characters of the RFC 4648 base32 of the text's SHA-256 (what kube-proxy
 * does for its chain names: x_tables allows 28 characters), made from bytes as one flat string
 * (concatenations would leave a chain of strings for the plan to keep alive).
 */
function hashedName(prefix: string, text: string): string {
  const hex = sha256Hex(text);
  const b = nameBytes;
  let n = b.write(prefix, 0, 'latin1');
  // 16 characters x 5 bits = the digest's first 80 bits, taken 40 bits (8 characters) at a time.
  for (let from = 0; from < 20; from += 10) {
    const v = hex40(hex, from);
    for (let k = 7; k >= 0; k--) b[n++] = BASE32[Math.floor(v / 2 ** (5 * k)) % 32]!;
  }
  return b.toString('latin1', 0, n);
}

export function svcChainName(s: Pick<Service, 'protocol' | 'vip' | 'port'>): string {
  return hashedName('KERNLB-SVC-', serviceKey(s));
}

export function sepChainName(s: Pick<Service, 'protocol' | 'vip' | 'port'>, e: { address: string; port: number }): string {
  return hashedName('KERNLB-SEP-', `${serviceKey(s)}>${endpointKey(e)}`);
}

function hostPrefix(address: string): string {
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

/** What x_tables stores for a probability (xt_statistic_info: lround(p * 2^31)). */
export function storedProbability(p: number): number {
  return Math.round(p * 0x80000000);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The endpoint index of each slot of one wrr cycle, interleaved as IPVS's wrr orders them (slots
 * for the current weight threshold from the largest weight down: 1:2:3 -> c b c a b c), so that a
 * short burst is spread too. Zero weights get no slot.
 */
export function wrrSlots(weights: number[]): number[] {
  const g = weights.reduce((a, w) => (w > 0 ? gcd(a, w) : a), 0);
  if (!g) return [];
  const w = weights.map((x) => x / g);
  const out: number[] = [];
  for (let cw = Math.max(...w); cw >= 1; cw--) w.forEach((x, i) => x >= cw && out.push(i));
  return out;
}

/**
 * Per Service object (normalised services are immutable, and the validation cache hands back the
 * same object for an unchanged service): an apply recompiles only what changed. The backend takes
 * an entry out once it holds the service's chains in the kernel's model (forgetServiceChains): at
 * 10k x 10 these objects were ~90 MB of heap kept for nothing.
 */
const compiled = new WeakMap<Service, IptChain[]>();
/** Per Service object, its rule in KERNLB-SERVICES (the same object while the service is). */
const portals = new WeakMap<Service, IptRule>();
/** Per Service object, its KERNLB-SVC- chain's name (one string a service, kept: the order and the status read need it). */
const svcNames = new WeakMap<Service, string>();

/** A service's own chains (its KERNLB-SVC- chain first, then its KERNLB-SEP- chains), cached per Service object. */
export function serviceChains(s: Service): IptChain[] {
  let c = compiled.get(s);
  if (!c) compiled.set(s, (c = compileServiceChains(s)));
  return c;
}

/** Drops a service's cached chains (the next serviceChains compiles them again). */
export function forgetServiceChains(s: Service): void {
  compiled.delete(s);
}

/** A service's KERNLB-SVC- chain name, cached per Service object (no compile of its chains). */
export function serviceChainName(s: Service): string {
  let n = svcNames.get(s);
  if (n === undefined) svcNames.set(s, (n = compiled.get(s)?.[0]!.name ?? svcChainName(s)));
  return n;
}

function compileServiceChains(s: Service): IptChain[] {
  const svc: IptChain = { name: svcChainName(s), rules: [{ matches: [{ kind: 'comment', comment: headerComment(s) }] }] };
  const seps: IptChain[] = [];
  const active = activeEndpoints(s);
  if (s.persistence) {
    for (const e of active)
      svc.rules.push({
        matches: [
          { kind: 'comment', comment: `affinity ${endpointKey(e)}` },
          { kind: 'recent', command: 'rcheck', name: sepChainName(s, e), seconds: s.persistence.timeout, family: s.family },
        ],
        target: { kind: 'jump', chain: sepChainName(s, e) },
      });
  }
  if (s.scheduler === 'wrr') {
    // One rule per slot of the cycle, an rr cascade over the slots: exact per cycle of W connections.
    const order = wrrSlots(active.map((e) => e.weight));
    order.forEach((i, k) => {
      const e = active[i]!;
      const matches: IptMatch[] = [{ kind: 'comment', comment: endpointComment(e) }];
      if (k < order.length - 1) matches.push({ kind: 'statistic-nth', every: order.length - k, packet: 0 });
      svc.rules.push({ matches, target: { kind: 'jump', chain: sepChainName(s, e) } });
    });
  }
  const weights = active.map((e) => (s.scheduler === 'rr' ? 1 : e.weight));
  let rest = weights.reduce((a, b) => a + b, 0);
  active.forEach((e, i) => {
    const w = weights[i]!;
    const sep = sepChainName(s, e);
    if (s.scheduler !== 'wrr') {
      const matches: IptMatch[] = [{ kind: 'comment', comment: endpointComment(e) }];
      if (i < active.length - 1) {
        matches.push(
          s.scheduler === 'rr' ? { kind: 'statistic-nth', every: rest, packet: 0 } : { kind: 'statistic-random', probability: w / rest },
        );
      }
      rest -= w;
      svc.rules.push({ matches, target: { kind: 'jump', chain: sep } });
    }
    // No comment and no bare `-m tcp` in the endpoint chain: the chain is reached from the rule
    // that names its endpoint, and `-p tcp` is all DNAT's port needs. A comment is a 288-byte match
    // and the bare port match 48 bytes: 62 MB of a 10k x 10 table (191 -> 129 MB), which every
    // replace and every counters read copies whole.
    seps.push({
      name: sep,
      rules: [
        { source: hostPrefix(e.address), matches: [], target: { kind: 'jump', chain: CHAIN_MARK_MASQ } },
        {
          protocol: s.protocol,
          matches: s.persistence ? [{ kind: 'recent', command: 'set', name: sep, family: s.family }] : [],
          target: { kind: 'dnat', address: e.address, port: e.port },
        },
      ],
    });
  });
  for (const e of s.endpoints) if (e.weight === 0) svc.rules.push({ matches: [{ kind: 'comment', comment: endpointComment(e) }] });
  return [svc, ...seps];
}

/** A service's rule in KERNLB-SERVICES (its chain's name sorts it there), the same object while the Service is. */
export function portalRule(s: Service): IptRule {
  let portal = portals.get(s);
  if (!portal) {
    portals.set(s, (portal = {
      destination: hostPrefix(s.vip),
      protocol: s.protocol,
      matches: [
        { kind: 'comment', comment: `${s.name} ${serviceKey(s)}` },
        { kind: 'port', protocol: s.protocol, dport: s.port },
      ],
      target: { kind: 'jump', chain: serviceChainName(s) },
    }));
  }
  return portal;
}

/**
 * `own` false: the plan without the services' own chains (chains holds the three fixed ones,
 * serviceChains is empty): what a commit of a table kernlb committed needs when the backend holds
 * every service's chains already.
 */
function compileFamily(services: Service[], family: 'ipv4' | 'ipv6', own = true): IptFamilyPlan {
  const mine = services.filter((s) => s.family === family);
  const jump = (chain: string, comment: string): IptRule => ({ matches: [{ kind: 'comment', comment }], target: { kind: 'jump', chain } });
  const servicesChain: IptChain = { name: CHAIN_SERVICES, rules: [] };
  const chains: IptChain[] = [
    servicesChain,
    {
      name: CHAIN_POSTROUTING,
      rules: [
        { matches: [{ kind: 'mark', mark: MASQ_MARK, mask: MASQ_MARK, invert: true }], target: { kind: 'return' } },
        { matches: [], target: { kind: 'mark', op: 'xor', value: MASQ_MARK } }, // clear the bit again
        { matches: [{ kind: 'comment', comment: 'kernlb hairpin traffic requiring SNAT' }], target: { kind: 'masquerade' } },
      ],
    },
    { name: CHAIN_MARK_MASQ, rules: [{ matches: [], target: { kind: 'mark', op: 'or', value: MASQ_MARK } }] },
  ];
  const serviceChainsMap = new Map<string, string[]>();
  // (the cached chain name: hashing 10k names an apply costs ~50-100 ms)
  const named = mine.map((s) => ({ s, chain: serviceChainName(s) })).sort((a, b) => (a.chain < b.chain ? -1 : 1));
  for (const { s } of named) {
    servicesChain.rules.push(portalRule(s));
    if (!own) continue;
    const mineChains = serviceChains(s);
    chains.push(...mineChains);
    serviceChainsMap.set(serviceKey(s), mineChains.map((c) => c.name));
  }
  return {
    family,
    hooks: [
      { chain: 'PREROUTING', rule: jump(CHAIN_SERVICES, JUMP_COMMENT_SERVICES) },
      { chain: 'OUTPUT', rule: jump(CHAIN_SERVICES, JUMP_COMMENT_SERVICES) },
      { chain: 'POSTROUTING', rule: jump(CHAIN_POSTROUTING, JUMP_COMMENT_POSTROUTING) },
    ],
    chains,
    serviceChains: serviceChainsMap,
    services: named.map((x) => x.s),
  };
}

/** `opts.own` false: without the services' own chains (see compileFamily). */
export function compileIptables(state: State, opts: { own?: boolean } = {}): IptPlan {
  const own = opts.own ?? true;
  return { ipv4: compileFamily(state.services, 'ipv4', own), ipv6: compileFamily(state.services, 'ipv6', own) };
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** One rule in iptables-save syntax, as `iptables-legacy-save` prints it. */
export function renderIptRule(chain: string, r: IptRule): string {
  const p: string[] = [`-A ${chain}`];
  if (r.source) p.push(`-s ${r.source}`);
  if (r.destination) p.push(`-d ${r.destination}`);
  if (r.protocol) p.push(`-p ${r.protocol}`);
  for (const m of r.matches) {
    switch (m.kind) {
      case 'comment':
        p.push(`-m comment --comment ${/^[A-Za-z0-9_./:-]+$/.test(m.comment) ? m.comment : `"${m.comment}"`}`);
        break;
      case 'port':
        p.push(`-m ${m.protocol}${m.dport !== undefined ? ` --dport ${m.dport}` : ''}`);
        break;
      case 'statistic-random':
        p.push(`-m statistic --mode random --probability ${(storedProbability(m.probability) / 0x80000000).toFixed(11)}`);
        break;
      case 'statistic-nth':
        p.push(`-m statistic --mode nth --every ${m.every} --packet ${m.packet}`);
        break;
      case 'mark':
        p.push(`-m mark ${m.invert ? '! ' : ''}--mark ${hex(m.mark)}/${hex(m.mask)}`);
        break;
      case 'recent': {
        const mask = m.family === 'ipv4' ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
        p.push(m.command === 'set' ? `-m recent --set --name ${m.name} --mask ${mask} --rsource` : `-m recent --rcheck --seconds ${m.seconds} --reap --name ${m.name} --mask ${mask} --rsource`);
        break;
      }
    }
  }
  const t = r.target;
  if (t?.kind === 'jump') p.push(`-j ${t.chain}`);
  if (t?.kind === 'return') p.push('-j RETURN');
  if (t?.kind === 'masquerade') p.push('-j MASQUERADE');
  if (t?.kind === 'mark') p.push(`-j MARK --set-xmark ${hex(t.value)}/${hex(t.op === 'or' ? t.value : 0)}`);
  if (t?.kind === 'dnat') p.push(`-j DNAT --to-destination ${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`);
  return p.join(' ');
}

/** kernlb's part of the nat table in iptables-save syntax (hook jumps, chain declarations, rules). */
export function renderIptables(plan: IptFamilyPlan): string {
  const out: string[] = ['*nat'];
  for (const c of plan.chains) out.push(`:${c.name} - [0:0]`);
  for (const h of plan.hooks) out.push(renderIptRule(h.chain, h.rule));
  for (const c of plan.chains) for (const r of c.rules) out.push(renderIptRule(c.name, r));
  out.push('COMMIT');
  return out.join('\n') + '\n';
}
