/**
 * The iptables handle: reads and replaces whole x_tables tables of one family in one namespace.
 * A commit is one IPT_SO_SET_REPLACE (atomic per table), made directly or through libiptc's
 * iptc_commit (engine.ts); `expectUnchanged` turns it into a compare-and-swap against what read() saw.
 */
import { constants } from 'node:os';
import { ConflictError, kernelError, KernelError, ValidationError, ValidationErrors } from '../errors';
import { KernelHandle, NO_SOCKET, openNativeHandle, type OpenOptions } from '../netlink/handle';
import { native, type NativeIptReplaceResult, type NativeIptTable } from '../native';
import { releaseBlob, takeArena, takeBlob, takeRoom } from './arena';
import { decodeTable, encodeValidTable, type EncodedTable } from './blob';
import { carryMap, recordEntries, type EntryRecord } from './carry';
import { layoutOfBlob, spliceChains } from './splice';
import { orderedChains, pinOrder } from './chain-order';
import { refreshCounters, visitCounters } from './refresh';
import { checkEngine, describeEntry, resolveXtablesLock, ruleEntries, type IptEngine } from './engine';
import { matchByType, targetByType } from './extensions';
import { HOOKS, REPLACE_HEADER, tableHooks } from './layout';
import { misplaced, reachingHooks } from './places';
import { chainCaches, closeSlab, ruleCaches, type Slab } from './rule-cache';
import type { CommitResult, IptChain, IptFamily, IptTable, TableInfo, TableReadState } from './types';

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
  /**
   * How expectUnchanged compares (direct engine): 'digest' (default) reads the whole current table
   * and compares its entry count and digest with table.readState; 'info' compares only the entry
   * count and size IPT_SO_GET_INFO reports with `layout` (what CommitResult returned for the commit
   * that made the table): no read of the entries (0.3-2 s of kernel time at 10^5 rules), for a
   * controller that committed the table itself and finds same-size edits by a full read instead.
   */
  check?: 'digest' | 'info';
  /** check 'info': the entry count and size the kernel must still report. */
  layout?: { numEntries: number; size: number };
  /**
   * The counters the new table starts from:
   * - true (default): the model's (rules without counters start at 0);
   * - false: all zero;
   * - 'carry': a rule object that is in the table this handle last read or committed keeps
   *   counting from its old entry's counters as the kernel hands them back at the replace, so
   *   nothing counted since the read is lost (what iptables-legacy does for the rules an edit
   *   leaves alone); other rules start from the model's. Needs expectUnchanged, which proves the
   *   kernel still holds that table, and the direct engine. CommitResult.carried says how many.
   */
  counters?: boolean | 'carry';
  /**
   * Keep a copy of the committed blob and where its chains and entry offsets are (direct engine), so
   * that the next change of a few user chains can be spliced into it (commitChains) instead of the
   * whole table encoded again. The blob itself is kept (memory the size of the table), as the
   * layout's alone: it is not the rule caches' home (a later whole-table commit encodes frozen rules
   * again), and entryCounters reads the kernel's counters over it instead of into a new block.
   */
  keepLayout?: boolean;
}

/** CommitResult of commitChains, with the table's chains as the kernel now holds them (kernel order). */
export interface ChainsCommitResult extends CommitResult {
  chains: IptChain[];
  /** Sizes changed, and the kept blob's buffer had room: the splice moved bytes within it (no second buffer). */
  within: boolean;
}

export interface UpdateOptions {
  /** Attempts before the ConflictError is passed on (default 5). */
  attempts?: number;
}

const ENOPROTOOPT = constants.errno.ENOPROTOOPT;

/** What #encode takes from the model for one commit. */
interface Encoded {
  enc: EncodedTable;
  carryFrom: Int32Array | null;
  /** Which rule objects sit at which entry: taken once the blob is on its way (sent()), while the kernel works. */
  record: EntryRecord | null;
  ordered: readonly IptChain[];
  counters: Buffer | null;
}

interface Home {
  slab: Slab;
  blob: Buffer;
}

/**
 * The blob is handed to the kernel's thread (or queued behind the commit in flight): the record of
 * this commit's entries is taken now, while the kernel works, and before the caller can change the
 * model (nothing awaited yet).
 */
function sent(job: Encoded): void {
  job.record = recordEntries(job.ordered, job.enc.numEntries, '');
}

/**
 * A splice's buffer when the kept one has no room for the new table: a free one of the arena that
 * is big enough (not zeroed: the splice writes every byte), else a new one with room to grow
 * (1/16 more, ~600 services at 10k: never touched, so no RSS) for the next splices to move within.
 */
function spliceRoom(size: number): Buffer {
  const b = takeRoom(size);
  if (b.length >= size) return b;
  releaseBlob(b);
  return Buffer.allocUnsafeSlow(size + (size >> 4) + 65536);
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
      throw kernelError({
        errno: e.errno, op: e.op, ...(e.object !== undefined ? { object: e.object } : {}),
        hint: `the kernel has no ${family} x_tables: load it with "modprobe ${mod}" (iptables-legacy does that itself)`,
      });
    }
    throw e;
  });
}

const ENOENT = constants.errno.ENOENT;
const EPROTOTYPE = constants.errno.EPROTOTYPE;
const EINVAL = constants.errno.EINVAL;

/** A table smaller than this is read into a fresh block by expectUnchanged (no buffer kept for it). */
const SCRATCH_MIN = 1 << 20;
const TABLE_NAME = /^[a-z_0-9]{1,31}$/i;
const EAGAIN = constants.errno.EAGAIN;

export class Iptables extends KernelHandle {
  readonly family: IptFamily;
  readonly engine: IptEngine;
  readonly #lock: ReturnType<typeof resolveXtablesLock>;
  /** Per table, the last committed blob that holds cached entries of frozen rules (rule-cache.ts). */
  readonly #homes = new Map<string, Home>();
  /** Per table, the rule objects at the entry indices of what this handle last read or committed (carry.ts). */
  readonly #entries = new Map<string, EntryRecord>();
  /** Per table, the commit in flight through this handle (settled: never rejects), while there is one. */
  readonly #pending = new Map<string, Promise<void>>();
  /** Per table, a counters read over its layout's blob in flight (entryCounters): a splice waits for it. */
  readonly #reading = new Map<string, Promise<void>>();
  /** Per table, the size of its last blob read or committed (for expectUnchanged's read buffer). */
  readonly #sizes = new Map<string, number>();
  readonly #waitMs: number;

  private constructor(h: Awaited<ReturnType<typeof openNativeHandle>>, opts: IptablesOpenOptions, family: IptFamily, lock: ReturnType<typeof resolveXtablesLock>) {
    super(h, opts.netns);
    this.family = family;
    this.engine = checkEngine(opts.engine);
    this.#lock = lock;
    this.#waitMs = opts.timeoutMs ?? 30000;
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
    let t!: IptTable;
    await this.#readRaw(table, this.engine === 'libiptc', (entries, state, raw) => {
      t = decodeTable({ validHooks: raw.validHooks, hookEntry: raw.hookEntry, underflow: raw.underflow, entries }, this.family, table);
      t.readState = state;
      // (Decoded chains are in the blob's order: each rule's entry index is where it was read.)
      this.#entries.set(table, recordEntries(t.chains, state.numEntries, state.digest));
    });
    return t;
  }

  /**
   * The counters of the entries at the given indices (ascending) as [packets, bytes] pairs, when
   * the kernel still holds `model` (the same entry count and digest); undefined otherwise. The
   * table is walked in native code and not kept: for status reads at scale.
   */
  async entryCounters(model: IptTable, entries: Uint32Array): Promise<Float64Array | undefined> {
    const rs = model.readState;
    if (!rs) throw new ValidationError('readState', 'entryCounters needs a table returned by read() or given a commit\'s readState');
    if (model.family !== this.family) throw new ValidationError('family', `this handle is ${this.family}; the table is ${model.family}`, model.family);
    // The table this handle committed with keepLayout, and still the model's: read over its kept
    // blob (no fresh block of the table's size), unless a commit of it is in flight (which may be
    // a splice writing that blob or about to take it as its source).
    const rec = this.#entries.get(model.name);
    const lay = rec?.layout;
    const over = lay && rec.digest === rs.digest && rec.numEntries === rs.numEntries && !this.#pending.has(model.name) ? lay.blob : null;
    const p = explain(this.family, this.run({ op: 'read iptables counters', object: this.object(model.name) }, (h) =>
      native().iptables.readCounters(h, this.v6, model.name, entries, over),
    ));
    if (over) this.#reading.set(model.name, p.then(() => undefined, () => undefined));
    let r;
    try {
      r = await p;
    } catch (e) {
      // (A read that failed part way may have written into the blob: the layout is not kept.)
      if (over && rec!.layout === lay) rec!.layout = undefined;
      throw e;
    } finally {
      if (over) this.#reading.delete(model.name);
    }
    const same = r.numEntries === rs.numEntries && r.digest === rs.digest;
    // (Read over it, the blob is now someone else's table: no splice into it.)
    if (r.over && !same && rec!.layout === lay) rec!.layout = undefined;
    return same ? r.counters : undefined;
  }

  /**
   * The table's readState as the kernel holds it now (entry count and digest), without decoding it:
   * the table is read into a reusable buffer and digested in native code (~0.5 s of the kernel's
   * time at 10^5 rules, where a read() also decodes for ~0.4 s more). Equal to a model's readState:
   * the kernel still holds that model.
   */
  async readState(table = 'filter'): Promise<TableReadState> {
    return this.#readRaw(table, false, () => undefined);
  }

  /**
   * The table's entry count, size and hook offsets (IPT_SO_GET_INFO), without reading its entries:
   * microseconds at any size. A cheap check that the table is still what was committed, blind to a
   * rule replaced by one of the same size (readState sees that).
   */
  async info(table = 'filter'): Promise<TableInfo> {
    if (!TABLE_NAME.test(table)) throw new ValidationError('table', 'must be a table name like "filter" or "nat"', table);
    const i = await explain(this.family, this.run({ op: 'read iptables info', object: this.object(table) }, (h) => native().iptables.getInfo(h, this.v6, table)));
    return { numEntries: i.numEntries, size: i.size, hookEntry: i.hookEntry, underflow: i.underflow };
  }

  /**
   * When the kernel still holds `model` (the same readState), copies the kernel's counters into it,
   * rules and built-in chains (a frozen rule's counters object is updated in place), and resolves
   * true; otherwise resolves false and leaves the model as it was. No decoding: the cheap way to
   * bring a model a controller keeps up to date with the kernel's counts.
   */
  async refreshCounters(model: IptTable): Promise<boolean> {
    const rs = model.readState;
    if (!rs) throw new ValidationError('readState', 'refreshCounters needs a table returned by read() or given a commit\'s readState');
    if (model.family !== this.family) throw new ValidationError('family', `this handle is ${this.family}; the table is ${model.family}`, model.family);
    let same = false;
    await this.#readRaw(model.name, false, (entries, now) => {
      same = now.numEntries === rs.numEntries && now.digest === rs.digest;
      if (same) refreshCounters(model, entries);
    });
    return same;
  }

  /**
   * When the kernel still holds `model` (the same readState), hands each rule's counters to `visit`
   * (chain name, rule index, packets, bytes) and resolves true; otherwise false. The model is not
   * touched and nothing is decoded: the table is read into a reused buffer (the kernel's
   * IPT_SO_GET_ENTRIES is the cost).
   */
  async visitCounters(
    model: IptTable, visit: (chain: string, rule: number, packets: number, bytes: number) => void, opts: { unchangedSinceCommit?: boolean } = {},
  ): Promise<boolean> {
    const rs = model.readState;
    if (!rs) throw new ValidationError('readState', 'visitCounters needs a table returned by read() or given a commit\'s readState');
    if (model.family !== this.family) throw new ValidationError('family', `this handle is ${this.family}; the table is ${model.family}`, model.family);
    let same = false;
    await this.#readRaw(model.name, false, (entries, now) => {
      same = now.numEntries === rs.numEntries && now.digest === rs.digest;
      if (!same) return;
      // (unchangedSinceCommit: the caller vouches that model.chains is the very array this handle
      // committed, untouched: its kernel order as computed then is trusted, no re-check of 10^5 chains)
      if (opts.unchangedSinceCommit) pinOrder(model.chains);
      try {
        visitCounters(model, entries, visit);
      } finally {
        if (opts.unchangedSinceCommit) pinOrder(null);
      }
    });
    return same;
  }

  /**
   * The kernel's table, read raw; `use` sees its entries during the call only. The read goes into
   * the blob arena when it is free (no fresh pages for the kernel to fault in), and the block goes
   * back to it afterwards: decoding copies everything it keeps. `viaLibiptc`: read through libiptc
   * (the libiptc engine's read), which reads into its own memory and returns a new block.
   */
  async #readRaw(
    table: string, viaLibiptc: boolean, use: (entries: Buffer, state: TableReadState, raw: NativeIptTable) => void,
  ): Promise<TableReadState> {
    if (!TABLE_NAME.test(table)) throw new ValidationError('table', 'must be a table name like "filter" or "nat"', table);
    const scratch = viaLibiptc ? null : takeArena();
    let block: Buffer | null = scratch;
    try {
      const raw = await explain(this.family, this.run({ op: 'read iptables', object: this.object(table) }, (h) =>
        viaLibiptc ? native().iptables.readLibiptc(h, this.v6, table, this.#lock) : native().iptables.getTable(h, this.v6, table, scratch)));
      if (raw.block) block = raw.block;
      const state = { numEntries: raw.numEntries, digest: raw.digest };
      use((raw.block ?? scratch!).subarray(raw.entriesOffset, raw.entriesOffset + raw.size), state, raw);
      this.#sizes.set(table, raw.size + REPLACE_HEADER);
      return state;
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
    const carry = opts.counters === 'carry';
    if (opts.counters !== undefined && typeof opts.counters !== 'boolean' && !carry) throw new ValidationError('counters', 'must be true, false or "carry"', opts.counters);
    if (carry && !opts.expectUnchanged) throw new ValidationError('counters', '"carry" needs expectUnchanged: old entries are known only for the table that was read or committed');
    if (carry && this.engine !== 'direct') throw new ValidationError('counters', '"carry" needs the direct engine: libiptc does not hand back the old counters');
    const ctx = {
      op: 'commit iptables', object: this.object(table.name),
      conflictErrno: opts.expectUnchanged ? [EAGAIN] : [], describeItem: (i: number) => describeEntry(table, i),
      hint: 'CAP_NET_ADMIN in the namespace\'s user namespace is needed',
    };
    const hooks = tableHooks(table.name)?.reduce((m, h) => m | (1 << HOOKS.indexOf(h)), 0);
    if (opts.check !== undefined && opts.check !== 'digest' && opts.check !== 'info') throw new ValidationError('check', 'must be "digest" or "info"', opts.check);
    const shallow = opts.expectUnchanged && opts.check === 'info';
    if (shallow && this.engine !== 'direct') throw new ValidationError('check', '"info" needs the direct engine');
    if (shallow && (typeof opts.layout?.numEntries !== 'number' || typeof opts.layout.size !== 'number'))
      throw new ValidationError('layout', 'check "info" needs layout { numEntries, size } (a CommitResult\'s)', opts.layout);
    const expect = !opts.expectUnchanged ? undefined : shallow && table.readState ? { ...table.readState, numEntries: opts.layout!.numEntries, size: opts.layout!.size, shallow: true } : table.readState;
    // Commits of one table through one handle reach the kernel in the order they were made: a
    // commit made while another is in flight waits for it (native calls run on a thread pool).
    const before = this.#pending.get(table.name);
    if (expect && hooks !== undefined && this.engine === 'direct' && table.family === this.family && !before) return this.#pipelined(table, opts, hooks, expect, ctx);

    const job = this.#encode(table, opts);
    if (table.family !== this.family) throw new ValidationError('family', `this handle is ${this.family}; the table is ${table.family}`, table.family);
    if (opts.expectUnchanged && !table.readState) throw new ValidationError('readState', 'expectUnchanged needs a table returned by read()');
    const scratch = expect && opts.check !== 'info' ? this.#scratch(table.name) : null;
    const n = native().iptables;
    const replace = this.engine === 'libiptc' ? n.commitLibiptc : n.replaceTable;
    return this.#finish(table, job, scratch, this.#inOrder(table.name, this.run(ctx, (h) => {
      const send = async () => {
        // (A table without known hooks asks the kernel which it has, in its turn.)
        job.enc.blob.writeUInt32LE(hooks ?? (await n.getInfo(h, this.v6, table.name)).validHooks, 32);
        return replace(h, this.v6, table.name, job.enc.blob, expect ?? null, job.counters, this.#lock, job.carryFrom, scratch);
      };
      const p = before ? before.then(send) : send();
      sent(job);
      return p;
    })), !!opts.keepLayout && this.engine === 'direct');
  }

  /** Keeps `p` as the table's commit in flight until it settles (see commit). */
  #inOrder<T>(name: string, p: Promise<T>): Promise<T> {
    const settled = p.then(() => undefined, () => undefined);
    this.#pending.set(name, settled);
    void settled.then(() => {
      if (this.#pending.get(name) === settled) this.#pending.delete(name);
    });
    return p;
  }

  /**
   * A compare-and-swap commit whose check overlaps the encoding: the worker takes the locks and reads
   * the current table (a second core's work, ~0.5 s at 10^5 rules) while this thread validates and
   * encodes; then the blob is handed over and replaced under the same locks. A table that fails
   * validation is dropped (abortReplace) and nothing is sent.
   */
  #pipelined(table: IptTable, opts: CommitOptions, hooks: number, expect: TableReadState, ctx: Parameters<Iptables['run']>[0]): Promise<CommitResult> {
    // (check 'info' reads no entries: no buffer for them)
    const scratch = opts.check === 'info' ? null : this.#scratch(table.name);
    let job: Encoded | undefined;
    let settled: Promise<unknown> = Promise.resolve();
    const p = this.run(ctx, (h) => {
      const n = native().iptables;
      const { tx, done } = n.beginReplace(h, this.v6, table.name, expect, this.#lock, scratch, this.#waitMs);
      settled = done.catch(() => undefined);
      try {
        job = this.#encode(table, opts);
        job.enc.blob.writeUInt32LE(hooks, 32);
      } catch (e) {
        n.abortReplace(tx);
        throw e;
      }
      n.sendReplace(tx, job.enc.blob, job.counters, job.carryFrom);
      sent(job);
      return done;
    });
    if (!job) {
      // (Encoding threw: the scratch buffer is the worker's until it has let go of the locks.)
      void settled.then(() => scratch && releaseBlob(scratch));
      return p as Promise<never>; // (rejected with what the encoding threw)
    }
    return this.#finish(table, job, scratch, this.#inOrder(table.name, p), !!opts.keepLayout);
  }

  /**
   * Validates and encodes `table` in one walk (it throws what validateTable throws), and takes what
   * the commit needs from the model now, while it is exactly what was encoded (the caller may change
   * it once we await): the carry map (the record of this commit's entries follows in sent()).
   * valid_hooks is patched in by the caller. (A throw leaves the blob to the garbage collector.)
   */
  #encode(table: IptTable, opts: CommitOptions): Encoded {
    const enc = encodeValidTable(table, 0, takeBlob, ruleCaches[this.family], chainCaches[this.family], this.#homes.get(table.name) ?? null, takeRoom);
    // (Written over its home: that memory is this commit's blob until it settles, and nobody's home meanwhile.)
    if (enc.inPlace) this.#homes.delete(table.name);
    const ordered = orderedChains(table.chains);
    const known = this.#entries.get(table.name);
    const rs = table.readState;
    const carryFrom = opts.counters === 'carry' && known !== undefined && rs !== undefined && known.digest === rs.digest && known.numEntries === rs.numEntries
      ? carryMap(known, ordered, enc.numEntries) : null;
    return { enc, carryFrom, record: null, ordered, counters: opts.counters === false ? null : enc.counters };
  }

  /**
   * Where expectUnchanged's read of the whole current table goes: a buffer whose pages are already
   * there, or one that will be from the next commit on (it goes to the arena afterwards).
   */
  #scratch(table: string): Buffer | null {
    const size = this.#sizes.get(table) ?? 0;
    return takeArena() ?? (size >= SCRATCH_MIN ? Buffer.allocUnsafeSlow(size + (size >> 3)) : null);
  }

  #finish(table: IptTable, job: Encoded, scratch: Buffer | null, p: Promise<NativeIptReplaceResult>, keepLayout = false): Promise<CommitResult> {
    let kept = false;
    return this.diagnose(table, explain(this.family, p.then((done) => {
      const record = job.record!; // (sent() ran before the commit could settle)
      record.digest = done.digest;
      if (keepLayout) {
        // The blob itself (not a copy: a second table-sized buffer): the layout's alone from now
        // on, neither the rule caches' home nor the arena's, since splices write over it.
        record.layout = layoutOfBlob(job.enc.blob, this.family, record);
        kept = true;
      }
      this.#entries.set(table.name, record);
      this.#sizes.set(table.name, job.enc.blob.length);
      // (ipt_replace/ip6t_replace: name[32], valid_hooks, num_entries, size at offset 40)
      return { ...done, size: job.enc.blob.readUInt32LE(40), reused: job.enc.reused, inPlace: job.enc.inPlace };
    }).finally(() => {
      if (scratch) releaseBlob(scratch);
      this.#settled(table.name, job.enc, kept);
    })));
  }

  /**
   * A change of a few user chains of a table this handle committed last with keepLayout (and has not
   * read or committed otherwise since): `put` chains are added or replace the chain of their name,
   * `remove` names chains to take out, everything else is the table as committed. The blob is that
   * commit's with those chains spliced in (splice.ts: the same bytes a whole-table commit would
   * send), replaced with the compare-and-swap of check 'info' (`expect`: the table's readState,
   * `layout`: the entry count and size its commit reported) and counters carried as 'carry'.
   * Resolves to null, sending nothing, when there is no such layout (commit the whole table then).
   */
  async commitChains(
    table: string, edit: { put: readonly IptChain[]; remove: readonly string[] }, opts: { expect: TableReadState; layout: { numEntries: number; size: number } },
  ): Promise<ChainsCommitResult | null> {
    // (A status read over the kept blob writes its counters: wait for it, it may also drop the layout.)
    const reading = this.#reading.get(table);
    if (reading) await reading;
    const rec = this.#entries.get(table);
    const lay = rec?.layout;
    if (!rec || !lay || this.engine !== 'direct' || this.#pending.has(table) || rec.digest !== opts.expect.digest || rec.numEntries !== opts.expect.numEntries) return null;
    let s: ReturnType<typeof spliceChains>;
    try {
      s = spliceChains(rec, lay, this.family, edit.put, edit.remove, spliceRoom); // (throws ValidationError: nothing sent, nothing written)
    } catch (e) {
      // (Anything else may have come part way through a splice within the kept blob: it is not kept.)
      if (!(e instanceof ValidationError || e instanceof ValidationErrors) && this.#entries.get(table) === rec) this.#entries.delete(table);
      throw e;
    }
    const expect = { ...opts.expect, numEntries: opts.layout.numEntries, size: opts.layout.size, shallow: true };
    const model: IptTable = { name: table, family: this.family, chains: s.record.chains };
    const ctx = {
      op: 'commit iptables', object: this.object(table), conflictErrno: [EAGAIN], describeItem: (i: number) => describeEntry(model, i),
      hint: 'CAP_NET_ADMIN in the namespace\'s user namespace is needed',
    };
    // (Until it settles, the record is the old table's: any other commit of it waits, and this one's failure drops it.)
    const p = this.#inOrder(table, this.run(ctx, (h) => {
      const n = native().iptables;
      const { tx, done } = n.beginReplace(h, this.v6, table, expect, this.#lock, null, this.#waitMs);
      n.sendReplace(tx, s.blob, null, s.carry);
      return done;
    }));
    try {
      const done = await this.diagnose(model, explain(this.family, p));
      s.record.digest = done.digest;
      s.record.layout = s.layout;
      this.#entries.set(table, s.record);
      this.#sizes.set(table, s.blob.length);
      // (A blob moved to a new buffer leaves the old one to the garbage collector, not to the arena:
      // kept there a minute, it would be a second table's worth of RSS.)
      return { ...done, size: s.blob.readUInt32LE(40), reused: s.copied, inPlace: s.inPlace, within: s.within, chains: s.record.chains };
    } catch (e) {
      // (In place, the record and its blob are the refused table's now: dropped either way.)
      if (this.#entries.get(table) === rec) this.#entries.delete(table);
      releaseBlob(s.blob);
      throw e;
    }
  }

  /**
   * A commit's blob once the kernel is done with it: back to the arena, or, when cached entries of
   * frozen rules now live in it, kept as this table's home until the next commit of the table has
   * copied them (rule-cache.ts); the home it replaces is given back then.
   */
  #settled(name: string, enc: EncodedTable, kept: boolean): void {
    if (kept) {
      // (The layout's: its cached entries go stale, and the table has no home until a commit without keepLayout.)
      if (enc.slab) closeSlab(enc.slab);
      const old = this.#homes.get(name);
      this.#homes.delete(name);
      if (old) retire(old);
      return;
    }
    if (!enc.slab) return releaseBlob(enc.blob);
    const old = this.#homes.get(name);
    this.#homes.set(name, { slab: enc.slab, blob: enc.blob });
    if (old) retire(old);
  }

  override async close(): Promise<void> {
    await super.close();
    for (const h of this.#homes.values()) retire(h);
    this.#homes.clear();
    this.#entries.clear();
    this.#sizes.clear();
  }

  /**
   * x_tables refuses a whole table with EINVAL when a target or match stands where it may not
   * (places.ts): that error names the first such rule. And with ENOENT (no such extension) / EPROTOTYPE (no such revision) when a match or target (or that
   * revision) is missing, without saying which: ask the kernel about each extension the table uses
   * and name the first rule with one it lacks.
   */
  private async diagnose<T>(table: IptTable, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (e instanceof KernelError && e.errno === EINVAL) throw misplacedRule(table, e) ?? e;
      if (!(e instanceof KernelError) || (e.errno !== ENOENT && e.errno !== EPROTOTYPE)) throw e;
      const seen = new Map<string, number>();
      for (const [c, ruleNo, r, index] of ruleEntries(table)) {
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
          if (known !== 1) throw namedRule(e, index, c, ruleNo, `${isTarget ? 'target' : 'match'} "${name}" ${known === 0 ? `revision ${rev} ` : ''}is unknown to this kernel`);
        }
      }
      throw e;
    }
  }

  /**
   * Read-modify-write with retries: reads `table`, lets `edit` change it (or return a new one),
   * commits with expectUnchanged, and starts over on a conflict. Returns the committed table.
   * With the direct engine the rules the edit kept (the same objects) carry their counters over
   * exactly (CommitOptions.counters 'carry'); new and changed rules start from their own.
   */
  async update(table: string, edit: (t: IptTable) => void | IptTable | Promise<void | IptTable>, opts: UpdateOptions = {}): Promise<IptTable> {
    const attempts = opts.attempts ?? 5;
    for (let i = 1; ; i++) {
      const t = await this.read(table);
      const out = (await edit(t)) ?? t;
      if (!out.readState) out.readState = t.readState!;
      try {
        // Rules the edit left alone keep counting from the kernel's counters at the replace.
        const done = await this.commit(out, { expectUnchanged: true, ...(this.engine === 'direct' ? { counters: 'carry' as const } : {}) });
        // The returned table is what the kernel now holds: it can be committed again as it is.
        out.readState = { numEntries: done.numEntries, digest: done.digest };
        return out;
      } catch (e) {
        if (!(e instanceof ConflictError) || i >= attempts) throw e;
      }
    }
  }
}

/** The kernel's EINVAL for a table, naming the first rule whose target or match may not stand where it does (places.ts). */
function misplacedRule(table: IptTable, e: KernelError): KernelError | undefined {
  const reach = reachingHooks(table.chains);
  for (const [c, ruleNo, r, index] of ruleEntries(table)) {
    const what = misplaced(table, r, reach.get(c.name) ?? 0); // (an unreached chain is still checked for its table)
    if (what) return namedRule(e, index, c, ruleNo, what);
  }
  return undefined;
}

/** The kernel's error `e` for a whole table, naming the rule at entry `index` and what is wrong with it. */
function namedRule(e: KernelError, index: number, c: IptChain, ruleNo: number, what: string): KernelError {
  return kernelError({ errno: e.errno, op: e.op, ...(e.object !== undefined ? { object: e.object } : {}), index, item: `chain ${c.name} rule ${ruleNo}: ${what}` });
}
