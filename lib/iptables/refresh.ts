/**
 * Copies the counters of a table the kernel holds into the model it was read or committed from,
 * without decoding it: the kernel's entries are exactly the model's (same entry count and digest),
 * so the model's chains in the kernel's order walk the entries one for one.
 */
import { countersAt } from './blob';
import { chainOrder, orderedChains } from './chain-order';
import { layoutOf } from './layout';
import type { IptTable } from './types';

/**
 * The kernel's counters (from `entries`, the table's entries as read) into `t`'s rules and built-in
 * chains. A frozen rule keeps its object: its counters object is updated in place when it has a
 * writable one (iptFreezeRule leaves it so), and left alone otherwise.
 */
export function refreshCounters(t: IptTable, entries: Buffer): void {
  const L = layoutOf(t.family);
  chainOrder(t.chains);
  const ordered = orderedChains(t.chains);
  let off = 0;
  const skip = () => {
    off += entries.readUInt16LE(off + L.nextOffset);
  };
  for (const c of ordered) {
    const builtin = c.policy !== undefined;
    if (!builtin) skip(); // ERROR head
    for (const r of c.rules) {
      const k = countersAt(entries, off + L.counters);
      if (Object.isFrozen(r)) {
        const rc = r.counters;
        if (rc && !Object.isFrozen(rc)) {
          rc.packets = k?.packets ?? 0;
          rc.bytes = k?.bytes ?? 0;
        }
      } else if (k) r.counters = k;
      else delete r.counters;
      skip();
    }
    if (builtin) {
      const k = countersAt(entries, off + L.counters);
      if (k) c.counters = k;
      else delete c.counters;
    }
    skip(); // policy / RETURN tail
  }
}

/**
 * The kernel's counters of `t`'s rules, chain by chain, handed to `visit` (chain, rule index,
 * packets, bytes) without touching the model: for a reader that wants a few chains' counts and no
 * copy of the rest. Same walk as refreshCounters (the kernel holds exactly `t`).
 */
export function visitCounters(t: IptTable, entries: Buffer, visit: (chain: string, rule: number, packets: number, bytes: number) => void): void {
  const L = layoutOf(t.family);
  chainOrder(t.chains);
  let off = 0;
  const skip = () => {
    off += entries.readUInt16LE(off + L.nextOffset);
  };
  for (const c of orderedChains(t.chains)) {
    const builtin = c.policy !== undefined;
    if (!builtin) skip(); // ERROR head
    for (let i = 0; i < c.rules.length; i++) {
      const k = countersAt(entries, off + L.counters);
      visit(c.name, i, k?.packets ?? 0, k?.bytes ?? 0);
      skip();
    }
    skip(); // policy / RETURN tail
  }
}
