/**
 * Where the kernel lets an extension be: some targets belong to one table (xt_target.table), and
 * some targets and matches only to packets of certain hooks (xt_target.hooks, xt_match.hooks, or
 * their checkentry's own test). A rule in a user chain is reached from every hook whose built-in
 * chain jumps or goes to it, directly or through other user chains (the kernel's
 * mark_source_chains), and every one of those hooks must be allowed. x_tables refuses the whole
 * table with a bare EINVAL otherwise; this names the rule. (Measured with iptables-legacy on kernel
 * 6.x: each typed extension in each table's each built-in chain.)
 */
import { HOOKS, type HookName } from './layout';
import type { IptChain, IptMatch, IptRule, IptTable } from './types';
import { isOwnKey } from '../own-key';

interface Place {
  table?: string;
  hooks?: readonly HookName[];
}

const TARGETS: Record<string, Place> = {
  DNAT: { table: 'nat', hooks: ['PREROUTING', 'OUTPUT'] },
  REDIRECT: { table: 'nat', hooks: ['PREROUTING', 'OUTPUT'] },
  SNAT: { table: 'nat', hooks: ['INPUT', 'POSTROUTING'] },
  MASQUERADE: { table: 'nat', hooks: ['POSTROUTING'] },
  REJECT: { table: 'filter', hooks: ['INPUT', 'FORWARD', 'OUTPUT'] },
  CT: { table: 'raw' },
  NOTRACK: { table: 'raw' },
};

function matchPlace(m: IptMatch): Place | undefined {
  switch (m.type) {
    case 'owner':
      return { hooks: ['OUTPUT', 'POSTROUTING'] };
    case 'mac':
      return { hooks: ['PREROUTING', 'INPUT', 'FORWARD'] };
    case 'addrtype':
      if (m.limitIfaceIn) return { hooks: ['PREROUTING', 'INPUT', 'FORWARD'] };
      if (m.limitIfaceOut) return { hooks: ['FORWARD', 'OUTPUT', 'POSTROUTING'] };
      return undefined;
    default:
      return undefined;
  }
}

const bit = (h: HookName) => 1 << HOOKS.indexOf(h);
const names = (mask: number) => HOOKS.filter((h) => mask & bit(h)).join(', ');

/** Chain name -> the hooks (a bit per HOOKS entry) that reach it. */
export function reachingHooks(chains: readonly IptChain[]): Map<string, number> {
  const byName = new Map(chains.map((c) => [c.name, c]));
  const reach = new Map<string, number>();
  const todo: IptChain[] = [];
  for (const c of chains) {
    const i = HOOKS.indexOf(c.name as HookName);
    if (i < 0 || c.policy === undefined) continue;
    reach.set(c.name, 1 << i);
    todo.push(c);
  }
  while (todo.length) {
    const c = todo.pop()!;
    const mask = reach.get(c.name)!;
    for (const r of c.rules) {
      const t = r.target;
      if (!t || (t.type !== 'jump' && t.type !== 'goto')) continue;
      const to = byName.get(t.chain);
      const had = reach.get(t.chain) ?? 0;
      if (!to || (had | mask) === had) continue;
      reach.set(t.chain, had | mask);
      todo.push(to);
    }
  }
  return reach;
}

/** What is wrong with where `r` (in a chain reached from `reached`) stands, or undefined. */
export function misplaced(table: IptTable, r: IptRule, reached: number): string | undefined {
  const places: Array<[string, Place]> = [];
  const t = r.target;
  if (t && isOwnKey(TARGETS, t.type)) places.push([`target ${t.type}`, TARGETS[t.type]!]);
  for (const m of r.matches ?? []) {
    const p = matchPlace(m);
    if (p) places.push([`match ${m.type}`, p]);
  }
  for (const [what, p] of places) {
    if (p.table && p.table !== table.name) return `${what} belongs to table ${p.table}, not ${table.name}`;
    const allowed = p.hooks ? p.hooks.reduce((m, h) => m | bit(h), 0) : ~0;
    if (reached & ~allowed) return `${what} is only valid in chains reached from ${p.hooks!.join(', ')}; this chain is reached from ${names(reached)}`;
  }
  return undefined;
}
