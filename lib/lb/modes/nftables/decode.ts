/** Reads `table inet kernlb` (as Nftables.list() returns it) back into the desired-state model. */
import { parseAddress } from '../../address';
import type { NftExpr, NftRuleset } from '../../../nft';
import type { Endpoint, Protocol, Service, State } from '../../state';
import type { BackendRead, EndpointCounters, ServiceStatus } from '../../types';
import { NFT_FAMILY, NFT_TABLE } from './compile';

const PROTO_BY_NUM: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function protocolOf(v: unknown): Protocol | undefined {
  if (v === 'tcp' || v === 'udp' || v === 'sctp') return v;
  return typeof v === 'number' ? PROTO_BY_NUM[v] : undefined;
}

/** "ep 10.1.0.1:8080 w3" / "ep [fd00::1]:8080 w3" */
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

function counterOf(exprs: (NftExpr | NftExpr[])[]): { packets: number; bytes: number } {
  const c = (exprs.flat() as NftExpr[]).find((e) => e.type === 'counter');
  return { packets: Number(c?.packets ?? 0), bytes: Number(c?.bytes ?? 0) };
}

export interface NftCurrent extends BackendRead {
  /** Chains of the table (names) and whether the fixed objects exist. */
  chains: Set<string>;
  hasTable: boolean;
  hasBase: boolean;
  generation: number;
}

export function decodeNft(rs: NftRuleset): NftCurrent {
  const mine = (x: { family: string; table: string }) => x.family === NFT_FAMILY && x.table === NFT_TABLE;
  const hasTable = rs.tables.some((t) => t.family === NFT_FAMILY && t.name === NFT_TABLE);
  const chains = new Set(rs.chains.filter(mine).map((c) => c.name));
  const sets = rs.sets.filter(mine);
  const hasBase = ['prerouting', 'output'].every((c) => chains.has(c)) && ['svc4', 'svc6'].every((n) => sets.some((s) => s.name === n));
  const rulesByChain = new Map<string, typeof rs.rules>();
  for (const r of rs.rules.filter(mine)) {
    const list = rulesByChain.get(r.chain) ?? [];
    list.push(r);
    rulesByChain.set(r.chain, list);
  }
  const services: ServiceStatus[] = [];
  for (const set of sets.filter((s) => s.name === 'svc4' || s.name === 'svc6')) {
    for (const el of set.elements ?? []) {
      const key = Array.isArray(el.key) ? el.key : [];
      const chain = el.verdict?.chain;
      const vip = parseAddress(key[0]);
      const protocol = protocolOf(key[1]);
      const port = Number(key[2]);
      if (!chain || !vip || !protocol) continue;
      const rules = rulesByChain.get(chain) ?? [];
      const header = parseHeaderComment(rules[0]?.comment);
      if (!header) continue; // not a kernlb service chain: left alone
      const endpoints = rules.slice(1).flatMap((r) => {
        const ep = parseEndpointComment(r.comment);
        if (!ep) return [];
        const c = counterOf(r.exprs);
        const counters: EndpointCounters = { connections: c.packets, packets: c.packets, bytes: c.bytes };
        return [{ ...ep, counters }];
      });
      services.push({ name: header.name, protocol, family: vip.family, vip: vip.text, port, scheduler: header.scheduler, endpoints });
    }
  }
  services.sort((a, b) => (a.name < b.name ? -1 : 1));
  const state: State = {
    services: services.map((s) => ({ ...s, endpoints: s.endpoints.map(({ address, port, weight }) => ({ address, port, weight })) })) as Service[],
  };
  return { state, services, draining: [], chains, hasTable, hasBase, generation: rs.generation };
}
