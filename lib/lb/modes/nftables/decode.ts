/**
 * Reads `table inet kernlb` (as Nftables.list() returns it) back into the desired-state model, with
 * per-endpoint counters, and lists whatever in the table kernlb would not have written ("drift":
 * a foreign rule, element, chain or set, a slot map that does not match its service). Drift is
 * reported by diff() and repaired by apply() (compile.ts gives the layout).
 */
import { compareAddress, parseAddress } from '../../address';
import type { NftElement, NftExpr, NftRuleset } from '../../../nft';
import { endpointKey, type Endpoint, type Protocol, type Service, type State } from '../../state';
import type { BackendRead, ServiceStatus } from '../../types';
import { compileService, nftMapName, NFT_FAMILY, NFT_TABLE } from './compile';
import { keepElements } from './rules';

const PROTO_BY_NUM: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function protocolOf(v: unknown): Protocol | undefined {
  if (v === 'tcp' || v === 'udp' || v === 'sctp') return v;
  return typeof v === 'number' ? PROTO_BY_NUM[v] : undefined;
}

/** "ep 10.1.0.1:8080 w3" / "ep [fd00::1]:8080 w3" (endpointComment's format; the iptables mode reads it too) */
export function parseEndpointComment(c: string | undefined): Endpoint | undefined {
  const m = c ? /^ep (?:\[([0-9a-f:.]+)\]|([0-9.]+)):(\d+) w(\d+)$/.exec(c) : null;
  if (!m) return undefined;
  const a = parseAddress(m[1] ?? m[2]);
  return a ? { address: a.text, port: Number(m[3]), weight: Number(m[4]) } : undefined;
}

/** "service NAME SCHED" or "service NAME SCHED persistent T" */
export function parseHeaderComment(c: string | undefined): { name: string; scheduler: string; persistence?: { timeout: number } } | undefined {
  const m = c ? /^service (\S+) (\S+)(?: persistent (\d+))?$/.exec(c) : null;
  if (!m) return undefined;
  return { name: m[1]!, scheduler: m[2]!, ...(m[3] ? { persistence: { timeout: Number(m[3]) } } : {}) };
}

const BASE_CHAINS = ['prerouting', 'output', 'persist-pre', 'persist-out'] as const;
const BASE_SETS = ['svc4', 'svc6', 'keep4', 'keep6'] as const;
const SHARD_MAP = /^ep-(?:tcp|udp|sctp)[46]-\d+$/;

function keepKey(vip: unknown, protocol: string | undefined, address: unknown, port: unknown, chain: string | undefined): string {
  return `${parseAddress(vip)?.text} ${protocol} ${parseAddress(address)?.text} ${Number(port)} ${chain}`;
}

function keepElementKeys(c: ReturnType<typeof compileService>): string[] {
  return keepElements(c).map((e) => keepKey(e.key[0], String(e.key[1]), e.key[2], e.key[3], e.verdict.chain));
}

export interface NftCurrent extends BackendRead {
  /** Chains of the table (names) and whether the fixed objects exist. */
  chains: Set<string>;
  hasTable: boolean;
  hasBase: boolean;
  generation: number;
  /** Services per shard map (`ep-tcp4-K` ...): a map is created with its first service and deleted with its last. */
  shards: Map<string, number>;
  /** What kernlb would not have written (one line each); apply() rebuilds the table when any. */
  drift: string[];
}

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** The modulus and set of a service rule's pick and lookup (undefined parts when absent). */
function ruleShape(exprs: (NftExpr | NftExpr[])[]): { modulus?: number; set?: string; nat: boolean; n: number } {
  const flat = exprs.flat() as NftExpr[];
  const pick = flat.find((e) => e.type === 'numgen' || e.type === 'hash');
  const lookup = flat.find((e) => e.type === 'lookup');
  return {
    ...(pick ? { modulus: Number(pick.modulus) } : {}),
    ...(lookup ? { set: String(lookup.set) } : {}),
    nat: flat.some((e) => e.type === 'nat'),
    n: flat.length,
  };
}

interface Slot {
  key: number;
  address: string;
  port: number;
  comment?: string;
  packets: number;
  bytes: number;
}

/** A shard map's element: `slot . VIP . port : address . port`, with the VIP and port it belongs to. */
function slotOf(el: NftElement): (Slot & { vip: string; vport: number }) | undefined {
  const k = asArray(el.key);
  const key = Number(k[0]);
  const vip = parseAddress(k[1]);
  const vport = Number(k[2]);
  if (!vip || !Number.isInteger(vport)) return undefined;
  const data = asArray(el.data);
  const a = parseAddress(data[0]);
  const port = Number(data[1]);
  if (!Number.isInteger(key) || !a || !Number.isInteger(port)) return undefined;
  const s: Slot & { vip: string; vport: number } = { key, vip: vip.text, vport, address: a.text, port, packets: Number(el.counter?.packets ?? 0), bytes: Number(el.counter?.bytes ?? 0) };
  if (el.comment !== undefined) s.comment = el.comment;
  return s;
}

export function decodeNft(rs: NftRuleset): NftCurrent {
  const mine = (x: { family: string; table: string }) => x.family === NFT_FAMILY && x.table === NFT_TABLE;
  const hasTable = rs.tables.some((t) => t.family === NFT_FAMILY && t.name === NFT_TABLE);
  const chains = new Set<string>();
  for (const c of rs.chains) if (mine(c)) chains.add(c.name);
  const sets = new Map<string, (typeof rs.sets)[number]>();
  for (const s of rs.sets) if (mine(s)) sets.set(s.name, s);
  const hasBase = BASE_CHAINS.every((c) => chains.has(c)) && BASE_SETS.every((m) => sets.has(m));
  const rulesByChain = new Map<string, typeof rs.rules>();
  for (const r of rs.rules) {
    if (!mine(r)) continue;
    const list = rulesByChain.get(r.chain);
    if (list) list.push(r);
    else rulesByChain.set(r.chain, [r]);
  }
  const drift: string[] = [];
  const wantKeep = new Set<string>();
  const services: ServiceStatus[] = [];
  const state: Service[] = [];
  const usedChains = new Set<string>(BASE_CHAINS);
  const usedSets = new Set<string>(BASE_SETS);
  // Shard maps' slots grouped by map, VIP and port: each service takes its group; what is left over belongs to no service.
  const slotGroups = new Map<string, Slot[]>();
  for (const [name, set] of sets) {
    if (!SHARD_MAP.test(name)) continue;
    for (const el of set.elements ?? []) {
      const sl = slotOf(el);
      if (!sl) {
        drift.push(`~ ${name} element ${asArray(el.key).join(' . ')}: not a kernlb slot`);
        continue;
      }
      const g = `${name} ${sl.vip} ${sl.vport}`;
      const list = slotGroups.get(g);
      if (list) list.push(sl);
      else slotGroups.set(g, [sl]);
    }
  }
  const shards = new Map<string, number>();
  if (hasBase) {
    for (const chain of BASE_CHAINS) {
      const n = rulesByChain.get(chain)?.length ?? 0;
      if (n !== 2) drift.push(`~ chain ${chain}: ${n} rules (kernlb writes 2)`);
    }
  }
  for (const setName of ['svc4', 'svc6']) {
    const set = sets.get(setName);
    for (const el of set?.elements ?? []) {
      const key = asArray(el.key);
      const chain = el.verdict?.chain;
      const vip = parseAddress(key[0]);
      const protocol = protocolOf(key[1]);
      const port = Number(key[2]);
      const what = `${setName} element ${key.join(' . ')}`;
      if (!chain || !vip || !protocol || !Number.isInteger(port)) {
        drift.push(`~ ${what}: not a kernlb service`);
        continue;
      }
      const rules = rulesByChain.get(chain) ?? [];
      const header = parseHeaderComment(rules[0]?.comment);
      if (!header || chain !== `svc-${header.name}`) {
        drift.push(`~ ${what}: goes to ${chain}, not a kernlb service chain`);
        continue;
      }
      if (usedChains.has(chain)) {
        drift.push(`~ ${what}: goes to ${chain}, which another element already serves`);
        continue;
      }
      usedChains.add(chain);
      const mapName = nftMapName({ name: header.name, protocol, family: vip.family });
      const map = sets.get(mapName);
      if (map) usedSets.add(mapName);
      shards.set(mapName, (shards.get(mapName) ?? 0) + 1);
      // Endpoints in slot order, weights from the comments, counters summed over each one's slots.
      const byEp = new Map<string, ServiceStatus['endpoints'][number]>();
      const group = `${mapName} ${vip.text} ${port}`;
      const slots = slotGroups.get(group) ?? [];
      slotGroups.delete(group);
      slots.sort((a, b) => a.key - b.key);
      for (const s of slots) {
        const k = endpointKey(s);
        let ep = byEp.get(k);
        if (!ep) {
          ep = { address: s.address, port: s.port, weight: -1, counters: { connections: 0, packets: 0, bytes: 0 } };
          byEp.set(k, ep);
        }
        const w = s.comment ? /^w(\d+)$/.exec(s.comment) : null;
        if (w) ep.weight = Number(w[1]);
        ep.counters.connections += s.packets;
        ep.counters.packets += s.packets;
        ep.counters.bytes += s.bytes;
      }
      const endpoints = sortEndpoints([...byEp.values()].filter((e) => e.weight >= 0));
      const svc: ServiceStatus = { name: header.name, protocol, family: vip.family, vip: vip.text, port, scheduler: header.scheduler, endpoints };
      if (header.persistence) svc.persistence = header.persistence;
      services.push(svc);
      const model: Service = { name: svc.name, protocol, family: vip.family, vip: vip.text, port, scheduler: svc.scheduler, endpoints: endpoints.map(({ address, port: p, weight }) => ({ address, port: p, weight })) };
      if (header.persistence) model.persistence = header.persistence;
      state.push(model);
      // What kernlb would write for what it read: anything else is drift.
      const want = compileService(model);
      const nRules = want.persistence && want.slots ? 2 : 1;
      const shape = ruleShape(rules[nRules - 1]?.exprs ?? []);
      const problems: string[] = [];
      if (!map) problems.push(`map ${mapName} missing`);
      if (rules.length !== nRules) problems.push(`${rules.length} rules in ${chain} (kernlb writes ${nRules})`);
      if (want.persistence) {
        const p = want.persistence;
        for (const k of keepElementKeys(want)) wantKeep.add(k);
        const aff = sets.get(p.map);
        if (aff) usedSets.add(p.map);
        if (chains.has(p.chain)) usedChains.add(p.chain);
        if (!aff) problems.push(`map ${p.map} missing`);
        else if (aff.timeout !== p.timeout * 1000) problems.push(`map ${p.map} has timeout ${aff.timeout} ms, not ${p.timeout * 1000}`);
        const keep = rulesByChain.get(p.chain) ?? [];
        if (keep.length !== 1 || !keep[0]!.exprs.flat().some((e) => (e as NftExpr).type === 'dynset' && (e as NftExpr).set === p.map)) problems.push(`chain ${p.chain} differs`);
        if (want.slots) {
          const hit = ruleShape(rules[0]?.exprs ?? []);
          if (hit.set !== p.map || !hit.nat || hit.modulus !== undefined) problems.push(`affinity rule of ${chain} differs`);
        }
      }
      if (byEp.size !== endpoints.length) problems.push(`elements of ${mapName} kernlb did not write`);
      if (want.slots ? shape.modulus !== want.slots || shape.set !== mapName || !shape.nat : shape.n !== 1) problems.push(`rule of ${chain} differs`);
      if (map && !sameSlots(slots, want.elements)) problems.push(`slots of ${mapName} differ`);
      if (problems.length) drift.push(`~ service ${header.name}: ${problems.join('; ')}`);
    }
  }
  // keep4/keep6: exactly the elements of the persistent services read above
  for (const setName of ['keep4', 'keep6']) {
    for (const el of sets.get(setName)?.elements ?? []) {
      const k = asArray(el.key);
      const key = keepKey(k[0], protocolOf(k[1]), k[2], k[3], el.verdict?.chain);
      if (!wantKeep.delete(key)) drift.push(`~ ${setName} element ${k.join(' . ')}: not a kernlb endpoint of a persistent service`);
    }
  }
  for (const k of wantKeep) drift.push(`~ keep element ${k}: missing`);
  for (const [g, slots] of slotGroups) {
    const [map, vip, port] = g.split(' ');
    drift.push(`~ map ${map}: ${slots.length} slot(s) of ${vip} port ${port}, which no kernlb service has`);
  }
  for (const c of chains) if (!usedChains.has(c)) drift.push(`- chain ${c}: not kernlb's`);
  for (const s of sets.keys()) if (!usedSets.has(s)) drift.push(`- map ${s}: not kernlb's`);
  const order = services.map((s, i) => [s.name, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    state: { services: order.map(([, i]) => state[i]!) } as State,
    services: order.map(([, i]) => services[i]!),
    draining: [],
    drift: hasTable ? drift : [],
    chains,
    hasTable,
    hasBase,
    generation: rs.generation,
    shards,
  };
}

function sameSlots(have: readonly Slot[], want: readonly { key: number; address: string; port: number; comment?: string }[]): boolean {
  if (have.length !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    const h = have[i]!, w = want[i]!;
    if (h.key !== w.key || h.address !== w.address || h.port !== w.port || h.comment !== w.comment) return false;
  }
  return true;
}

/** The state model's endpoint order (validateState sorts by address, then port). */
export function sortEndpoints<E extends Endpoint>(eps: E[]): E[] {
  if (eps.length < 2) return eps;
  // (each address parsed once, not once per comparison)
  const parsed = new Map(eps.map((e) => [e, parseAddress(e.address)!]));
  return eps.sort((a, b) => compareAddress(parsed.get(a)!, parsed.get(b)!) || a.port - b.port);
}
