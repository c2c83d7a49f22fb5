/**
 * status() counters of a table kernlb committed (issue #21): the entry index of every rule of the
 * service chains (KERNLB-SVC-*) in the kernel's layout of that table, computed once per committed
 * table, and their counters read natively (Iptables.entryCounters: IPT_SO_GET_ENTRIES walked in C++,
 * the table not kept) while the kernel's entry count and digest are still the commit's.
 */
import type { IptChain, IptTable, Iptables } from '../../../iptables';
import { chainOrder, orderedChains, pinOrder } from '../../../iptables/chain-order';

const SERVICE_CHAIN = 'KERNLB-SVC-';

interface EntryPlan {
  /** Entry indices of the service chains' rules, ascending. */
  entries: Uint32Array;
  /** Per service chain, where its rules start in `entries`. */
  start: Map<string, number>;
}

const plans = new WeakMap<readonly IptChain[], EntryPlan>();

/**
 * The walk of lib/iptables/refresh.ts: user chains framed by an ERROR head and a RETURN tail,
 * built-in chains ending in their policy entry. `committed`: the chains array is the one the handle
 * committed, untouched, so its kernel order as computed then is trusted (no re-check of 10^5 names).
 */
function planOf(t: IptTable, committed: boolean): EntryPlan {
  let p = plans.get(t.chains);
  if (p) return p;
  if (committed) pinOrder(t.chains);
  let ordered: readonly IptChain[];
  try {
    chainOrder(t.chains);
    ordered = orderedChains(t.chains);
  } finally {
    if (committed) pinOrder(null);
  }
  const entries: number[] = [];
  const start = new Map<string, number>();
  let at = 0;
  for (const c of ordered) {
    const builtin = c.policy !== undefined;
    if (!builtin) at++; // ERROR head
    if (c.name.startsWith(SERVICE_CHAIN)) {
      start.set(c.name, entries.length);
      for (let i = 0; i < c.rules.length; i++) entries.push(at + i);
    }
    at += c.rules.length + 1; // the rules, then the policy / RETURN tail
  }
  p = { entries: Uint32Array.from(entries), start };
  plans.set(t.chains, p);
  return p;
}

/** The counters of a table's service chains: rule i of chain `name` at pairs at(name) + i. */
export interface ChainCounters {
  /** [packets, bytes] pairs. */
  counters: Float64Array;
  /** Where a service chain's first rule is in `counters` (pair index), or undefined. */
  at(name: string): number | undefined;
}

/**
 * Its service chains' counters while the kernel holds exactly `t`; undefined when it does not. The
 * first read of a table asks for every entry's counters, so that its plan (~0.1 s at 10k services:
 * the kernel order of 10^5 chains) is made while the kernel copies the table; later reads ask for
 * the planned entries only.
 */
export async function serviceChainCounters(h: Iptables, t: IptTable, committed: boolean): Promise<ChainCounters | undefined> {
  const known = plans.get(t.chains);
  if (known) {
    const c = await h.entryCounters(t, known.entries);
    return c && { counters: c, at: (name) => known.start.get(name) };
  }
  const n = t.readState?.numEntries ?? 0;
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const pending = h.entryCounters(t, all);
  const plan = planOf(t, committed);
  const c = await pending;
  return c && { counters: c, at: (name) => {
    const k = plan.start.get(name);
    return k === undefined ? undefined : plan.entries[k];
  } };
}
