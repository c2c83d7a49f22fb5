/**
 * The order chains take in the kernel: built-ins by hook, then user chains sorted by name (as
 * libiptc sorts them). A controller commits the same chains array again and again, often not in
 * that order (kube-proxy declares each service chain before its endpoint chains): sorting 10^5
 * names costs ~40 ms a commit, so the last order of each array is kept and, when its length still
 * matches, only checked (one comparison per chain). The check is also what proves that the user
 * chains' names are all different.
 */
import { compareChainNames, HOOKS, isHook } from './layout';
import type { IptChain } from './types';

interface Order {
  order: number[];
  /** The chain objects in that order and their names then: while all are the same, so is the order. */
  objs: IptChain[];
  names: string[];
  builtin: Uint8Array;
  /** Changes whenever the array's index -> (chain, name) mapping may have (see orderStamp). */
  stamp: number;
}
const orders = new WeakMap<readonly IptChain[], Order>();
/** The last orders computed or confirmed, by number of chains (a few tables' worth). */
const bySize = new Map<number, number[]>();
let stamps = 0;

/**
 * A number that stays the same from one chainOrder() of `chains` to the next only while every
 * index of the array holds the same chain object with the same name (and kind): what the encoder
 * checked about a jump (index k is the chain named so) then still holds. Unique across arrays.
 * Call after chainOrder(chains).
 */
export function orderStamp(chains: readonly IptChain[]): number {
  return orders.get(chains)?.stamp ?? -1;
}

/** The chains in the kernel's order (shared: do not change it). Call right after chainOrder(chains). */
export function orderedChains(chains: readonly IptChain[]): readonly IptChain[] {
  const o = orders.get(chains);
  return o !== undefined && o.objs.length === chains.length ? o.objs : chainOrder(chains).map((i) => chains[i]!);
}

const isBuiltin = (c: IptChain) => c.policy !== undefined && isHook(c.name);
/** A chain the kernel order puts first (by hook): a hook name with a policy. */
export const isBuiltinChain = isBuiltin;

/**
 * The array whose order was computed or confirmed earlier in the same synchronous stretch of work
 * (a commit's validation then encoding, where no caller code runs in between): trusted as it is,
 * without the identity check (~18 ms at 10^5 chains, and a commit asked three times).
 */
let pinned: readonly IptChain[] | null = null;

/** Trusts chainOrder(chains) as last computed until pinOrder(null) (see `pinned`). */
export function pinOrder(chains: readonly IptChain[] | null): void {
  pinned = chains;
}

/** Indices into `chains` in the kernel's order. The array returned is shared: do not change it. */
export function chainOrder(chains: readonly IptChain[]): number[] {
  const last = orders.get(chains);
  if (chains === pinned && last !== undefined && last.objs.length === chains.length) return last.order;
  if (last !== undefined && last.order.length === chains.length && (unchanged(chains, last) || stillOrdered(chains, last.order))) {
    if (last.objs.length === 0) remember(chains, last);
    return last.order;
  }
  // A new array of a known length: a controller that rebuilds its chains array for every commit
  // (same chains, new array) usually lists them as last time, and that order is only checked.
  const seen = bySize.get(chains.length);
  const order = seen !== undefined && stillOrdered(chains, seen) ? seen : computeOrder(chains);
  bySize.set(order.length, order);
  if (bySize.size > 8) bySize.delete(bySize.keys().next().value!);
  const o: Order = { order, objs: [], names: [], builtin: new Uint8Array(order.length), stamp: 0 };
  remember(chains, o);
  orders.set(chains, o);
  return order;
}

/** The same chain objects at the same places, with the same names and kinds: identity checks only. */
function unchanged(chains: readonly IptChain[], o: Order): boolean {
  const order = o.order, objs = o.objs, names = o.names, builtin = o.builtin;
  if (objs.length !== order.length) return false;
  for (let k = 0; k < order.length; k++) {
    const c = chains[order[k]!];
    if (c !== objs[k] || c.name !== names[k] || (builtin[k] === 1) !== isBuiltin(c)) {
      objs.length = 0; // re-taken once the order is confirmed
      return false;
    }
  }
  return true;
}

function remember(chains: readonly IptChain[], o: Order): void {
  const order = o.order, n = order.length;
  const objs = new Array<IptChain>(n), names = new Array<string>(n), builtin = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const c = chains[order[k]!]!;
    objs[k] = c;
    names[k] = c.name;
    if (isBuiltin(c)) builtin[k] = 1;
  }
  o.objs = objs;
  o.names = names;
  o.builtin = builtin;
  o.stamp = ++stamps;
}

/** Whether `order` (a permutation of the indices) still lists built-ins by hook, then user chains strictly ascending. */
function stillOrdered(chains: readonly IptChain[], order: number[]): boolean {
  let k = 0, hook = -1;
  for (; k < order.length; k++) {
    const c = chains[order[k]!]!;
    if (!isBuiltin(c)) break;
    const h = HOOKS.indexOf(c.name as never);
    if (h <= hook) return false;
    hook = h;
  }
  let prev: string | undefined;
  for (; k < order.length; k++) {
    const c = chains[order[k]!]!;
    if (isBuiltin(c) || (prev !== undefined && !(compareChainNames(prev, c.name) < 0))) return false;
    prev = c.name;
  }
  return true;
}

function computeOrder(chains: readonly IptChain[]): number[] {
  const builtin: number[] = [], user: number[] = [];
  let sorted = true;
  for (let i = 0; i < chains.length; i++) {
    const c = chains[i]!;
    if (isBuiltin(c)) builtin.push(i);
    else {
      // A table read back or parsed from iptables-save is already in order: no sort then.
      if (sorted && user.length && compareChainNames(chains[user[user.length - 1]!]!.name, c.name) > 0) sorted = false;
      user.push(i);
    }
  }
  builtin.sort((a, b) => HOOKS.indexOf(chains[a]!.name as never) - HOOKS.indexOf(chains[b]!.name as never));
  if (!sorted) user.sort((a, b) => compareChainNames(chains[a]!.name, chains[b]!.name));
  return builtin.concat(user);
}

/**
 * Names that more than one user chain has, from the kernel's order (equal names are neighbours
 * there). For validation: call only when every chain is an object with a string name.
 */
export function duplicateUserNames(chains: readonly IptChain[]): Set<string> {
  const dups = new Set<string>();
  const order = chainOrder(chains);
  for (let k = 1; k < order.length; k++) {
    const a = chains[order[k - 1]!]!, b = chains[order[k]!]!;
    if (!isBuiltin(a) && !isBuiltin(b) && a.name === b.name) dups.add(a.name);
  }
  return dups;
}
