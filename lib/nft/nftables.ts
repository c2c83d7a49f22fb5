/** The nftables handle: one NETLINK_NETFILTER socket in one namespace. */
import { ConflictError, ValidationError } from '../errors';
import { native, type NativeNftSetCounters } from '../native';
import { KernelHandle, NETLINK_NETFILTER, openNativeHandle, type OpenOptions } from '../netlink/handle';
import { FAMILIES, type Family } from './constants';
import { decodeListing } from './decode';
import type { Ruleset } from './model';
import { Transaction } from './transaction';

/** Kernel errno of a generation mismatch (NFNL_BATCH_GENID): ERESTART. */
export const ERESTART = 85;

export interface ListOptions {
  family?: Family;
  table?: string;
  /** Reads retried while the ruleset changes underneath (default 10). */
  maxAttempts?: number;
}

export interface RetryOptions {
  /** Attempts before the last ConflictError is thrown (default 5). */
  attempts?: number;
  list?: ListOptions;
}

export class Nftables extends KernelHandle {
  static async open(opts: OpenOptions = {}): Promise<Nftables> {
    return new Nftables(await openNativeHandle(NETLINK_NETFILTER, opts, 'open nftables'), opts.netns);
  }

  /** Starts a transaction; nothing reaches the kernel before its commit(). */
  transaction(): Transaction {
    return new Transaction((items, describe, opts) => {
      const o: { generation?: number; dryRun?: boolean } = {};
      if (opts.generation !== undefined) {
        if (!Number.isInteger(opts.generation) || opts.generation < 0 || opts.generation > 0xffffffff)
          return Promise.reject(new ValidationError('generation', 'must be an integer 0..4294967295', opts.generation));
        o.generation = opts.generation;
      }
      if (opts.dryRun) o.dryRun = true;
      return this.run(
        {
          op: opts.dryRun ? 'nftables commit (dry run)' : 'nftables commit',
          describeItem: describe,
          conflictErrno: [ERESTART],
          hint: 'CAP_NET_ADMIN in the namespace\'s user namespace is needed',
        },
        (h) => native().nft.commit(h, items, o),
      );
    });
  }

  /** The ruleset generation: it changes with every successful commit by anyone. */
  generation(): Promise<number> {
    return this.run({ op: 'nftables generation' }, (h) => native().nft.generation(h));
  }

  /**
   * The element counters of named sets of one table, as packed arrays (no object per element): for
   * status reads at scale. `same` is false when the ruleset changed during the read.
   */
  setCounters(family: Family, table: string, sets: string[]): Promise<NativeNftSetCounters> {
    return this.run({ op: 'nftables set counters', object: table }, (h) => native().nft.setCounters(h, FAMILIES[family], table, sets));
  }

  /** Reads the ruleset (optionally one family / table) as one consistent generation. */
  async list(opts: ListOptions = {}): Promise<Ruleset> {
    if (opts.family !== undefined && !(opts.family in FAMILIES))
      throw new ValidationError('family', `must be one of ${Object.keys(FAMILIES).join(', ')}`, opts.family);
    if (opts.table !== undefined && (typeof opts.table !== 'string' || !opts.table))
      throw new ValidationError('table', 'must be a table name', opts.table);
    const fam = opts.family ? FAMILIES[opts.family] : 0;
    const raw = await this.run({ op: 'nftables list', ...(opts.table ? { object: opts.table } : {}) }, (h) =>
      native().nft.list(h, fam, opts.table ?? null, opts.maxAttempts ?? 10),
    );
    return decodeListing(raw);
  }

  /**
   * Optimistic concurrency: reads the ruleset, lets `build` fill a transaction from it, commits at
   * that generation, and starts over (bounded) when someone else committed in between.
   */
  async retry<T>(build: (tx: Transaction, current: Ruleset) => T | Promise<T>, opts: RetryOptions = {}): Promise<T> {
    const attempts = opts.attempts ?? 5;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      const current = await this.list(opts.list);
      const tx = this.transaction();
      const result = await build(tx, current);
      try {
        await tx.commit({ generation: current.generation });
        return result;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        last = e;
      }
    }
    throw last;
  }
}
