/**
 * The iptables handle: reads and replaces whole x_tables tables of one family in one namespace.
 * A commit is one IPT_SO_SET_REPLACE (atomic per table), made directly or through libiptc's
 * iptc_commit (engine.ts); `expectUnchanged` turns it into a compare-and-swap against what read() saw.
 */
import { constants } from 'node:os';
import { ConflictError, KernelError, ValidationError } from '../errors';
import { KernelHandle, NO_SOCKET, openNativeHandle, type OpenOptions } from '../netlink/handle';
import { native } from '../native';
import { releaseBlob, takeArena, takeBlob } from './arena';
import { decodeTable, encodeValidTable, orderChains, type EncodedTable } from './blob';
import { checkEngine, describeEntry, resolveXtablesLock, type IptEngine } from './engine';
import { matchByType, targetByType } from './extensions';
import { HOOKS, TABLE_HOOKS } from './layout';
import { chainCaches, closeSlab, ruleCaches, type Slab } from './rule-cache';
import type { CommitResult, IptFamily, IptTable } from './types';

export interface IptablesOpenOptions extends OpenOptions {
  /** Default ipv4. */
  family?: IptFamily;
  /**
   * How commit() replaces a table: 'direct' (default: one IPT_SO_SET_REPLACE of the blob kernlb
   * encodes) or 'libiptc' (the same rules through iptc_append_entry ... iptc_commit); and how read()
   * reads one: IPT_SO_GET_ENTRIES, or iptc_init and libiptc's chain/rule iterators. See
   * lib/iptables/README.md for what each costs.
   */
  engine?: IptEngine;
  /**
   * iptables' lock (flock on XTABLES_LOCKFILE or /run/xtables.lock), held around each commit's
   * check-then-replace (and the libiptc engine's read) and waited for at most timeoutMs: true
   * (default), false (none), or the path of the lock file to use instead.
   */
  xtablesLock?: boolean | string;
}

export interface CommitOptions {
  /** Fail with ConflictError, changing nothing, when the table changed since `table` was read. */
  expectUnchanged?: boolean;
  /** Restore the model's counters after the replace (default true; rules without counters start at 0). */
  counters?: boolean;
}

export interface UpdateOptions {
  /** Attempts before the ConflictError is passed on (default 5). */
  attempts?: number;
}

const ENOPROTOOPT = constants.errno.ENOPROTOOPT;

interface Home {
  slab: Slab;
  blob: Buffer;
}

/** Makes the cached entries in a home stale and gives its blob back to the arena. */
function retire(h: Home): void {
  closeSlab(h.slab);
  releaseBlob(h.blob);
}

/** The kernel has no x_tables for the family (module not loaded): say what to do. */
function explain<T>(family: IptFamily, p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    if (e instanceof KernelError && e.errno === ENOPROTOOPT) {
      const mod = family === 'ipv6' ? 'ip6_tables' : 'ip_tables';
      throw new KernelError({
        errno: e.errno, op: e.op, ...(e.object !== undefined ? { object: e.object } : {}),
        hint: `the kernel has no ${family} x_tables: load it with "modprobe ${mod}" (iptables-legacy does that itself)`,
      });
    }
    throw e;
  });
}

const ENOENT = constants.errno.ENOENT;
const EPROTOTYPE = constants.errno.EPROTOTYPE;

const TABLE_NAME = /^[a-z_0-9]{1,31}$/i;
const EAGAIN = constants.errno.EAGAIN;

export class Iptables extends KernelHandle {
  readonly family: IptFamily;
  readonly engine: IptEngine;
  readonly #lock: ReturnType<typeof resolveXtablesLock>;
  /** Per table, the last committed blob that holds cached entries of frozen rules (rule-cache.ts). */
  readonly #homes = new Map<string, Home>();

  private constructor(h: Awaited<ReturnType<typeof openNativeHandle>>, opts: IptablesOpenOptions, family: IptFamily, lock: ReturnType<typeof resolveXtablesLock>) {
    super(h, opts.netns);
    this.family = family;
    this.engine = checkEngine(opts.engine);
    this.#lock = lock;
  }

  static async open(opts: IptablesOpenOptions = {}): Promise<Iptables> {
    const family = opts.family ?? 'ipv4';
    if (family !== 'ipv4' && family !== 'ipv6') throw new ValidationError('family', 'must be "ipv4" or "ipv6"', family);
    checkEngine(opts.engine);
    const lock = resolveXtablesLock(opts.xtablesLock, opts.timeoutMs ?? 30000);
    return new Iptables(await openNativeHandle(NO_SOCKET, opts, 'open iptables handle'), opts, family, lock);
  }

  private get v6(): boolean {
    return this.family === 'ipv6';
  }

  private object(table: string): string {
    return `table ${table} (${this.family})`;
  }

  /** Tables that exist in the namespace, in the order iptables-save prints them. */
  tables(): Promise<string[]> {
    return explain(this.family, this.run({ op: 'list iptables tables' }, (h) => native().iptables.tableNames(h, this.v6)));
  }

  /** Reads a table (default filter) with counters; the result carries what commit(expectUnchanged) compares. */
  async read(table = 'filter'): Promise<IptTable> {
    if (!TABLE_NAME.test(table)) throw new ValidationError('table', 'must be a table name like "filter" or "nat"', table);
    // The read goes into the blob arena when it is free (no fresh pages for the kernel to fault in),
    // and the block goes back to it once decoded: decoding copies everything it keeps.
    // libiptc reads into its own memory: its engine's read returns a new block.
    const viaLibiptc = this.engine === 'libiptc';
    const scratch = viaLibiptc ? null : takeArena();
    let block: Buffer | null = scratch;
    try {
      const raw = await explain(this.family, this.run({ op: 'read iptables', object: this.object(table) }, (h) =>
        viaLibiptc ? native().iptables.readLibiptc(h, this.v6, table, this.#lock) : native().iptables.getTable(h, this.v6, table, scratch)));
      if (raw.block) block = raw.block;
      const entries = (raw.block ?? scratch!).subarray(raw.entriesOffset, raw.entriesOffset + raw.size);
      const t = decodeTable({ validHooks: raw.validHooks, hookEntry: raw.hookEntry, underflow: raw.underflow, entries }, this.family, table);
      t.readState = { numEntries: raw.numEntries, digest: raw.digest };
      return t;
    } finally {
      if (block) releaseBlob(block);
    }
  }

  /**
   * Replaces the whole table atomically: one IPT_SO_SET_REPLACE made directly (engine 'direct') or by
   * iptc_commit after the rules went through iptc_append_entry (engine 'libiptc'), with iptables'
   * xtables lock held around the check-then-replace unless the handle opted out. Resolves to the new
   * table's readState (assign it to `table.readState` to commit the same model again with
   * expectUnchanged) and the kernel's time.
   */
  async commit(table: IptTable, opts: CommitOptions = {}): Promise<CommitResult> {
    // Validated and encoded in one walk (it throws what validateTable throws); valid_hooks is patched
    // in below once known. (A throw before the replace leaves the blob to the garbage collector.)
    const enc = encodeValidTable(table, 0, takeBlob, ruleCaches[this.family], chainCaches[this.family]);
    if (table.family !== this.family) throw new ValidationError('family', `this handle is ${this.family}; the table is ${table.family}`, table.family);
    if (opts.expectUnchanged && !table.readState) throw new ValidationError('readState', 'expectUnchanged needs a table returned by read()');
    let hooks = TABLE_HOOKS[table.name]?.reduce((m, h) => m | (1 << HOOKS.indexOf(h)), 0);
    if (hooks === undefined) {
      const info = await this.run({ op: 'read iptables info', object: this.object(table.name) }, (h) => native().iptables.getInfo(h, this.v6, table.name));
      hooks = info.validHooks;
    }
    enc.blob.writeUInt32LE(hooks, 32);
    const expect = opts.expectUnchanged ? table.readState! : null;
    const counters = opts.counters === false ? null : enc.counters;
    const replace = this.engine === 'libiptc' ? native().iptables.commitLibiptc : native().iptables.replaceTable;
    return this.diagnose(table, explain(this.family, this.run(
      {
        op: 'commit iptables', object: this.object(table.name),
        conflictErrno: opts.expectUnchanged ? [EAGAIN] : [], describeItem: (i) => describeEntry(table, i),
        hint: 'CAP_NET_ADMIN in the namespace\'s user namespace is needed',
      },
      (h) => replace(h, this.v6, table.name, enc.blob, expect, counters, this.#lock),
    ).finally(() => this.#settled(table.name, enc))));
  }

  /**
   * A commit's blob once the kernel is done with it: back to the arena, or, when cached entries of
   * frozen rules now live in it, kept as this table's home until the next commit of the table has
   * copied them (rule-cache.ts); the home it replaces is given back then.
   */
  #settled(name: string, enc: EncodedTable): void {
    if (!enc.slab) return releaseBlob(enc.blob);
    const old = this.#homes.get(name);
    this.#homes.set(name, { slab: enc.slab, blob: enc.blob });
    if (old) retire(old);
  }

  override async close(): Promise<void> {
    await super.close();
    for (const h of this.#homes.values()) retire(h);
    this.#homes.clear();
  }

  /**
   * x_tables refuses a whole table with ENOENT (no such extension) / EPROTOTYPE (no such revision) when a match or target (or that
   * revision) is missing, without saying which: ask the kernel about each extension the table uses
   * and name the first rule with one it lacks.
   */
  private async diagnose<T>(table: IptTable, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (!(e instanceof KernelError) || (e.errno !== ENOENT && e.errno !== EPROTOTYPE)) throw e;
      const seen = new Map<string, number>();
      let index = 0;
      for (const c of orderChains(table.chains)) {
        if (c.policy === undefined) index++;
        for (const [ri, r] of c.rules.entries()) {
          const exts: Array<[boolean, string, number]> = [];
          for (const m of r.matches ?? []) {
            const codec = m.type === 'raw' ? undefined : matchByType.get(m.type);
            exts.push(m.type === 'raw' ? [false, m.name, m.revision] : [false, codec!.name, codec!.revision(this.family)]);
          }
          const t = r.target;
          if (t && t.type === 'raw') exts.push([true, t.name, t.revision]);
          else if (t && targetByType.has(t.type)) {
            const codec = targetByType.get(t.type)!;
            exts.push([true, codec.name, codec.revision(this.family)]);
          }
          for (const [isTarget, name, rev] of exts) {
            const key = `${isTarget}/${name}/${rev}`;
            let known = seen.get(key);
            if (known === undefined) {
              known = await this.run({ op: 'probe iptables extension', object: name }, (h) => native().iptables.extensionKnown(h, this.v6, isTarget, name, rev)).catch(() => 1);
              seen.set(key, known);
            }
            if (known !== 1) {
              const what = `${isTarget ? 'target' : 'match'} "${name}" ${known === 0 ? `revision ${rev} ` : ''}is unknown to this kernel`;
              throw new KernelError({ errno: e.errno, op: e.op, ...(e.object !== undefined ? { object: e.object } : {}), index, item: `chain ${c.name} rule ${ri + 1}: ${what}` });
            }
          }
          index++;
        }
        index++;
      }
      throw e;
    }
  }

  /**
   * Read-modify-write with retries: reads `table`, lets `edit` change it (or return a new one),
   * commits with expectUnchanged, and starts over on a conflict. Returns the committed table.
   */
  async update(table: string, edit: (t: IptTable) => void | IptTable | Promise<void | IptTable>, opts: UpdateOptions = {}): Promise<IptTable> {
    const attempts = opts.attempts ?? 5;
    for (let i = 1; ; i++) {
      const t = await this.read(table);
      const out = (await edit(t)) ?? t;
      if (!out.readState) out.readState = t.readState!;
      try {
        const done = await this.commit(out, { expectUnchanged: true });
        // The returned table is what the kernel now holds: it can be committed again as it is.
        out.readState = { numEntries: done.numEntries, digest: done.digest };
        return out;
      } catch (e) {
        if (!(e instanceof ConflictError) || i >= attempts) throw e;
      }
    }
  }
}
