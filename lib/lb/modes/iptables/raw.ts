/**
 * The nat table as the kernel holds it, without decoding it: entry count, digest (what
 * Iptables.commit(expectUnchanged) compares) and the counters. At 10k services the table has
 * ~500k entries; decoding them into the model is what dominated a small apply, while reading the
 * bytes and digesting them in C is cheap. Used only to prove that the table is still the one
 * kernlb committed last (then that model is reused) where no commit proves it (a diff, an apply
 * with nothing to change), and to refresh its counters for the libiptc engine, whose commits cannot
 * carry them over at the replace.
 */
import { releaseBlob, takeArena } from '../../../iptables/arena';
import { orderChains } from '../../../iptables/blob';
import { layoutOf } from '../../../iptables/layout';
import type { IptTable } from '../../../iptables';
import { native } from '../../../native';
import { KernelHandle, NO_SOCKET, openNativeHandle } from '../../../netlink/handle';
import type { NetnsSpec } from '../../../netns';

export interface RawNat {
  numEntries: number;
  digest: string;
}

export class RawNatReader extends KernelHandle {
  static async open(netns: NetnsSpec | undefined): Promise<RawNatReader> {
    return new RawNatReader(await openNativeHandle(NO_SOCKET, netns !== undefined ? { netns } : {}, 'open iptables handle'), netns);
  }

  /**
   * Entry count and digest of the nat table; `use` sees the entries (valid only during the call:
   * they are read into the iptables layer's reusable blob arena, like Iptables.read does).
   */
  async read(family: 'ipv4' | 'ipv6', use?: (entries: Buffer, info: RawNat) => void): Promise<RawNat> {
    const scratch = takeArena();
    let block: Buffer | null = scratch;
    try {
      const r = await this.run({ op: 'read iptables', object: `table nat (${family})` }, (h) => native().iptables.getTable(h, family === 'ipv6', 'nat', scratch));
      if (r.block) block = r.block;
      const info = { numEntries: r.numEntries, digest: r.digest };
      if (use) use((r.block ?? scratch!).subarray(r.entriesOffset, r.entriesOffset + r.size), info);
      return info;
    } finally {
      if (block) releaseBlob(block);
    }
  }
}

function counters(b: Buffer, off: number): { packets: number; bytes: number } | undefined {
  const packets = b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 0x100000000;
  const bytes = b.readUInt32LE(off + 8) + b.readUInt32LE(off + 12) * 0x100000000;
  return packets || bytes ? { packets, bytes } : undefined;
}

/**
 * Copies the kernel's counters into `t`, whose entries the kernel holds exactly (same digest), so
 * that a commit built from `t` restores them (unchanged services keep their counts). `ordered`:
 * its chains in the kernel's order (orderChains sorts ~100k chains at 10k services: pass it once).
 */
export function refreshCounters(t: IptTable, entries: Buffer, ordered: IptTable['chains'] = orderChains(t.chains)): void {
  const L = layoutOf(t.family);
  let off = 0;
  const skip = () => {
    off += entries.readUInt16LE(off + L.nextOffset);
  };
  for (const c of ordered) {
    const builtin = c.policy !== undefined;
    if (!builtin) skip(); // ERROR head
    for (const r of c.rules) {
      const k = counters(entries, off + L.counters);
      if (Object.isFrozen(r)) {
        // kernlb's own (frozen) rules carry a counters object of their own: updated in place, so
        // the rule stays the same object and its commit a copy.
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
      const k = counters(entries, off + L.counters);
      if (k) c.counters = k;
      else delete c.counters;
    }
    skip(); // policy / RETURN tail
  }
}
