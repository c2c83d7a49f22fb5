/**
 * LoadBalancer: one desired state, compiled to the mode's kernel objects, applied as a minimal diff.
 *
 *   await using lb = await LoadBalancer.open({ mode: 'nftables', netns: 'lb' });
 *   const summary = await lb.apply({ services: [...] });   // what changed, and how long it took
 *   const status = await lb.status();                      // the kernel's view + per-endpoint counters
 *
 * - nftables and iptables: one atomic commit per apply, none at all when nothing changed; a commit
 *   that races with another writer fails with ConflictError and apply() re-reads and retries (bounded).
 * - ipvs: ordered single operations (add before remove); removed endpoints drain in the kernel
 *   (see modes/ipvs/compile.ts), finished by later applies or sweepDrains(), also after a restart.
 * - Switching mode: after this mode's apply succeeded, the other modes' objects in the namespace are
 *   removed (new mode live first).
 * - Incremental: `update({ upsert, remove })` changes only the named services, starting from what this
 *   LoadBalancer last applied (read from the kernel once when it has applied nothing yet); the backend
 *   sends only those services' objects (its `applyChanges`) and falls back to a full read when it sees
 *   the kernel changed behind it. Cost: validation and kernel work of the changed services, plus a
 *   copy of the list of service references that backends get as the whole state (a memcpy: the
 *   LoadBalancer's own share of one changed service is ~0.05 ms CPU at 10k; a removal adds one pass
 *   over the list).
 * - apply(state): unchanged services cost a comparison with their last input (validation-cache.ts),
 *   the diff and the record of what was applied go by object identity: no per-service allocation.
 *   The fast path for a controller: keep the State that validate() returns (its Services are
 *   frozen) and pass those Services back, a changed service as a spec in its place; a Service
 *   passed back is taken by identity without reading a field (10k services: ~1 ms for the whole
 *   apply(state) against ~5-10 ms for a freshly built tree of specs, CPU, loaded machine). A
 *   result that differs from the last applied in a few services goes to the backend as update()
 *   sends it (#applyAsChanges); a no-op keeps the mode's own check of the kernel.
 * - `resync()` forgets every record of the kernel and re-applies the last state with a full read;
 *   `resyncInterval` does it periodically (errors: `lastResyncError` and `onResyncError`).
 * - Mutations (apply, update, resync, clear) run one at a time in call order; close() waits for the
 *   one in flight and for reads (status, diff) in flight.
 */
import { isConflict, ValidationError } from '../errors';
import { Iptables, type IptEngine } from '../iptables';
import { IPT_ENGINES } from '../iptables/engine';
import { Ipvs } from '../ipvs';
import { Nftables } from '../nft';
import { describeNetns, type NetnsSpec } from '../netns';
import { changedService, diffService, diffStates, formatDiff, isEmptyDiff, previousService, type StateDiff } from './diff';
import { IptablesBackend } from './modes/iptables/backend';
import { IpvsBackend, type IpvsRead } from './modes/ipvs/backend';
import { NftBackend } from './modes/nftables/backend';
import { MODES, type Mode } from './schedulers';
import { serviceKey, stateWarnings, validateServices, validateState, validateStateWarnings, ValidationCache, type Service, type ServiceSpec, type State, type StateInput } from './state';
import type { ApplySummary, BackendApplyResult, BackendRead, LbStatus, ModeBackend, PackedStatus, ServiceChange } from './types';

export interface LoadBalancerOptions {
  mode: Mode;
  netns?: NetnsSpec;
  /** IPVS: seconds a removed endpoint may keep connections before it is deleted (default 300). */
  drainTimeout?: number;
  /**
   * Remove the other modes' objects after the first successful apply of this LoadBalancer
   * (default true). Checked once per instance: switching modes is a one-time event.
   */
  removeOtherModes?: boolean;
  /** Commit attempts when another writer races (nftables/iptables; default 5). */
  attempts?: number;
  /**
   * iptables mode: the commit engine and iptables' xtables lock, as Iptables.open takes them
   * (default engine 'direct', lock on). The mode's status counters are read directly either way.
   */
  iptables?: { engine?: IptEngine; xtablesLock?: boolean | string };
  /**
   * Seconds between periodic full reconciles (resync(): a full read, repairing whatever changed
   * behind kernlb's back). Off by default. The timer does not keep the process alive, starts
   * working once this LoadBalancer has applied a state, and is stopped by close().
   */
  resyncInterval?: number;
  /** Called with the error of a failed periodic resync (also kept in `lastResyncError`). */
  onResyncError?: (err: unknown) => void;
}

export interface ApplyOptions {
  /** Compute and validate (nftables: the kernel validates the batch) without changing anything. */
  dryRun?: boolean;
  /** apply() only: forget every record of the kernel's state first and read all of it (`kernlb apply --resync`). */
  resync?: boolean;
}

/** LoadBalancer.update's input: services to add or replace (by name) and names of services to remove. */
export interface LbUpdate {
  upsert?: ServiceSpec[];
  /** Service names; a name this LoadBalancer does not know is already removed (no error). */
  remove?: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkApplyOptions(opts: unknown): asserts opts is ApplyOptions {
  if (!isPlainObject(opts)) throw new ValidationError('opts', 'must be an object { dryRun?, resync? }', opts);
  // a truthy non-boolean (the string "false") must not silently choose between a dry run and a commit
  if (opts.dryRun !== undefined && typeof opts.dryRun !== 'boolean') throw new ValidationError('dryRun', 'must be a boolean', opts.dryRun);
  if (opts.resync !== undefined && typeof opts.resync !== 'boolean') throw new ValidationError('resync', 'must be a boolean', opts.resync);
}

type BackendFactory = (netns: NetnsSpec | undefined, opts: LoadBalancerOptions) => Promise<ModeBackend>;

const factories: Record<Mode, BackendFactory> = {
  nftables: async (netns) => new NftBackend(await Nftables.open(netns !== undefined ? { netns } : {})),
  ipvs: async (netns, o) => new IpvsBackend(await Ipvs.open(netns !== undefined ? { netns } : {}), o.drainTimeout !== undefined ? { drainTimeout: o.drainTimeout } : {}),
  iptables: async (netns, o) => {
    const ns = { ...(netns !== undefined ? { netns } : {}), ...(o.iptables ?? {}) };
    const ipv4 = await Iptables.open({ ...ns, family: 'ipv4' });
    try {
      return new IptablesBackend({ ipv4, ipv6: await Iptables.open({ ...ns, family: 'ipv6' }) });
    } catch (e) {
      await ipv4.close();
      throw e;
    }
  },
};

/** Registers a backend factory (used when a subsystem lands after this module). */
export function registerModeBackend(mode: Mode, f: BackendFactory): void {
  factories[mode] = f;
}

export class LoadBalancer<M extends Mode = Mode> implements AsyncDisposable {
  readonly mode: M;
  readonly netns: NetnsSpec | undefined;
  #backend: ModeBackend;
  #opts: LoadBalancerOptions;
  #otherModesChecked = false;
  /** Unchanged services of the next input skip validation and come back as the same objects. */
  #validated: ValidationCache;
  /**
   * What this LoadBalancer last applied (or read, before its first update), by name in state order;
   * undefined until then. update() builds on it; resync() re-applies it.
   */
  #last: Map<string, Service> | undefined;
  /** The services #last holds, as the array last applied (or built by update()): #remember compares with it. */
  #lastList: readonly Service[] = [];
  /** Each service's place in #lastList (update() replaces it there instead of rebuilding the list). */
  #at = new Map<string, number>();
  /** #last's service keys -> names (update's check that a new VIP:port is free). */
  #byKey = new Map<string, string>();
  /** The tail of the mutation queue (never rejects). */
  #tail: Promise<unknown> = Promise.resolve();
  /** Reads in flight (status, diff): close() waits for them too. */
  #reads = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #resyncQueued = false;
  #closed = false;
  /** The error of the last periodic resync; undefined once one succeeds (and before any ran). */
  lastResyncError: unknown = undefined;

  private constructor(backend: ModeBackend, opts: LoadBalancerOptions & { mode: M }) {
    this.#backend = backend;
    this.mode = opts.mode;
    this.netns = opts.netns;
    this.#opts = opts;
    this.#validated = new ValidationCache(opts.mode);
    if (opts.resyncInterval) {
      this.#timer = setInterval(() => void this.#periodicResync(), opts.resyncInterval * 1000);
      this.#timer.unref();
    }
  }

  /** `LoadBalancer.open({ mode: 'iptables' })` is a LoadBalancer<'iptables'>: its input's schedulers are iptables' own. */
  static async open<M extends Mode>(opts: LoadBalancerOptions & { mode: M }): Promise<LoadBalancer<M>> {
    if (!opts || !MODES.includes(opts.mode)) throw new ValidationError('mode', `must be one of ${MODES.join(', ')}`, opts?.mode);
    if (opts.drainTimeout !== undefined && (!Number.isInteger(opts.drainTimeout) || opts.drainTimeout < 0))
      throw new ValidationError('drainTimeout', 'must be a whole number of seconds >= 0', opts.drainTimeout);
    // (apply() retries while attempt < attempts: NaN or a string would retry conflicts for ever)
    if (opts.attempts !== undefined && (!Number.isInteger(opts.attempts) || opts.attempts < 1 || opts.attempts > 1000))
      throw new ValidationError('attempts', 'must be an integer from 1 to 1000', opts.attempts);
    if (opts.removeOtherModes !== undefined && typeof opts.removeOtherModes !== 'boolean')
      throw new ValidationError('removeOtherModes', 'must be a boolean', opts.removeOtherModes);
    if (opts.iptables !== undefined && (typeof opts.iptables !== 'object' || opts.iptables === null || Array.isArray(opts.iptables)))
      throw new ValidationError('iptables', 'must be an object { engine?, xtablesLock? }', opts.iptables);
    const engine = opts.iptables?.engine;
    if (engine !== undefined && !IPT_ENGINES.includes(engine)) throw new ValidationError('iptables.engine', `must be one of ${IPT_ENGINES.join(', ')}`, engine);
    // (setInterval takes at most 2^31-1 ms and treats NaN or less than 1 ms as 1 ms: a busy loop)
    const ri = opts.resyncInterval;
    if (ri !== undefined && (typeof ri !== 'number' || !Number.isFinite(ri) || ri < 0.01 || ri * 1000 > 0x7fffffff))
      throw new ValidationError('resyncInterval', 'must be a number of seconds from 0.01 to 2147483', ri);
    if (opts.onResyncError !== undefined && typeof opts.onResyncError !== 'function')
      throw new ValidationError('onResyncError', 'must be a function', opts.onResyncError);
    return new LoadBalancer<M>(await factories[opts.mode](opts.netns, opts), opts);
  }

  /**
   * Validates `input` for this mode (throws ValidationError naming the field) and normalises it.
   * Typed input only (a DesiredState for this mode, a State as status() and validateState() return
   * it, or a mix of specs and Services); for input of unknown shape (a file) use
   * validateState(input, mode). The Services returned are frozen and, passed back to apply(), are
   * taken by identity (see StateInput).
   */
  validate(input: StateInput<M>): State {
    return validateState(input, this.mode, this.#validated);
  }

  /** Makes the kernel match `input`; returns what changed. Applying the same state twice changes nothing. */
  async apply(input: StateInput<M>, opts: ApplyOptions = {}): Promise<ApplySummary> {
    checkApplyOptions(opts);
    return this.#serial(async () => {
      const { state: desired, warnings } = validateStateWarnings(input, this.mode, this.#validated);
      if (opts.resync) this.#backend.invalidate?.();
      else if (!opts.dryRun) {
        const s = await this.#applyAsChanges(desired, warnings ?? stateWarnings(desired));
        if (s) return s;
      }
      return this.#applyState(desired, !!opts.dryRun, !!opts.resync, warnings);
    });
  }

  /**
   * Changes only the services named: `upsert` adds or replaces services (by name), `remove` deletes
   * services by name. Validates only the upserted services (fields named `upsert[i]...`), starts from
   * what this LoadBalancer last applied, and sends only the changed services' kernel objects when the
   * mode can (its cost does not depend on the untouched services). Returns the same summary as apply().
   */
  async update(change: LbUpdate | unknown, opts: ApplyOptions = {}): Promise<ApplySummary> {
    checkApplyOptions(opts);
    if (opts.resync !== undefined) throw new ValidationError('resync', 'is an apply() option (update() changes what it is told; resync() reads everything)', opts.resync);
    if (!isPlainObject(change)) throw new ValidationError('update', 'must be an object { upsert?, remove? }', change);
    for (const k of Object.keys(change)) if (k !== 'upsert' && k !== 'remove') throw new ValidationError(k, 'unknown field (allowed: upsert, remove)');
    const remove = change.remove ?? [];
    if (!Array.isArray(remove)) throw new ValidationError('remove', 'must be an array of service names', remove);
    remove.forEach((n, i) => {
      if (typeof n !== 'string') throw new ValidationError(`remove[${i}]`, 'must be a service name (a string)', n);
    });
    return this.#serial(async () => {
      const started = performance.now();
      const upserts = change.upsert === undefined ? [] : validateServices(change.upsert, this.mode, this.#validated, 'upsert');
      const removed = new Set<string>(remove as string[]);
      const upserted = new Map<string, Service>();
      upserts.forEach((s, i) => {
        if (removed.has(s.name)) throw new ValidationError(`upsert[${i}].name`, `service "${s.name}" is also in remove`, s.name);
        upserted.set(s.name, s);
      });
      const base = await this.#base(upserts);
      // A VIP:port may move to another service only if its owner goes away or moves too.
      upserts.forEach((s, i) => {
        const owner = this.#byKey.get(serviceKey(s));
        if (owner === undefined || owner === s.name || removed.has(owner)) return;
        const moved = upserted.get(owner);
        if (moved && serviceKey(moved) !== serviceKey(s)) return;
        throw new ValidationError(`upsert[${i}]`, `service "${s.name}": VIP:port:protocol ${serviceKey(s)} belongs to service "${owner}" (remove or move it in the same update)`, serviceKey(s));
      });
      const changes: ServiceChange[] = [];
      for (const name of removed) {
        const before = base.get(name);
        if (before) changes.push({ name, before });
      }
      for (const after of upserts) {
        const before = base.get(after.name);
        if (before && serviceKey(before) === serviceKey(after) && !diffService(before, after)) continue;
        changes.push(before ? { name: after.name, before, after } : { name: after.name, after });
      }
      const diff = changesDiff(changes, base.size);
      if (!changes.length) return this.#summary(!!opts.dryRun, diff, { operations: 0, draining: [], changed: false }, [], started, stateWarnings({ services: upserts }));
      // Backends want the whole state: the last list copied (a memcpy of references, ~10 µs at
      // 10k), changed services replaced at their place, new ones appended. Only a removal closes
      // the gaps (one pass over the list).
      let services = this.#lastList.slice();
      const added: [string, number][] = [];
      let gaps = false;
      for (const c of changes) {
        if (!c.before) {
          added.push([c.name, services.length]);
          services.push(c.after!);
          continue;
        }
        const at = this.#at.get(c.name)!;
        if (services[at] !== c.before) throw new Error(`${this}: internal: service ${c.name} is not where it was recorded`);
        if (c.after) services[at] = c.after;
        else gaps = true;
      }
      if (gaps) services = services.filter((s) => !removed.has(s.name));
      const desired: State = { services };
      const dryRun = !!opts.dryRun;
      const r = await this.#withRetries(async () => {
        if (this.#backend.applyChanges) return this.#backend.applyChanges(changes, desired, { dryRun });
        return this.#backend.apply(desired, await this.#read(desired, !dryRun), { dryRun });
      });
      const removedModes = dryRun ? [] : await this.#maybeRemoveOtherModes();
      if (!dryRun) {
        this.#lastList = services;
        if (gaps) this.#at = new Map(services.map((s, i) => [s.name, i]));
        else for (const [name, at] of added) this.#at.set(name, at);
        for (const c of changes) {
          if (c.before) this.#byKey.delete(serviceKey(c.before));
          if (c.after) {
            base.set(c.name, c.after);
            this.#byKey.set(serviceKey(c.after), c.name);
          } else {
            base.delete(c.name);
            this.#validated.delete(c.name);
          }
        }
      }
      return this.#summary(dryRun, diff, r, removedModes, started, stateWarnings({ services: upserts }));
    });
  }

  /**
   * Forgets every record of the kernel's state, reads all of it and re-applies the last state this
   * LoadBalancer applied (repairing whatever changed behind its back). Before any apply: re-applies
   * what the kernel holds in this mode's model (which still removes what the model cannot express,
   * such as duplicated rules).
   */
  async resync(opts: Pick<ApplyOptions, 'dryRun'> = {}): Promise<ApplySummary> {
    checkApplyOptions(opts);
    return this.#serial(() => this.#resync(!!opts.dryRun));
  }

  async #resync(dryRun: boolean): Promise<ApplySummary> {
    this.#backend.invalidate?.();
    const desired = this.#last ? { services: [...this.#lastList] } : (await this.#backend.read(this.#backend.invalidate ? { forApply: true } : {})).state;
    return this.#applyState(desired, dryRun, true);
  }

  /** What would change, without touching the kernel. */
  async diff(input: StateInput<M>) {
    return this.#reading(async () => {
      const desired = this.validate(input);
      const current = await this.#read(desired);
      const d = diffStates(current.state, desired);
      const drift = current.drift ?? [];
      return { diff: d, lines: [...formatDiff(d), ...drift], empty: isEmptyDiff(d) && !drift.length, drift };
    });
  }

  /** The kernel's view in the same model, with per-endpoint counters. */
  async status(): Promise<LbStatus> {
    return this.#reading(async () => {
      const r = await (this.#backend.status ? this.#backend.status() : this.#backend.read());
      return { mode: this.mode, state: r.state, services: r.services, ...(r.drift?.length ? { drift: r.drift } : {}) };
    });
  }

  /**
   * status()'s per-endpoint counters packed into arrays, for scrapes (no object per endpoint), when
   * the mode can read the counters alone and prove the rest of the kernel's view (nftables, while
   * the ruleset generation is its own; ipvs always: its listing holds every field, compared with the
   * apply record's services); undefined otherwise: then call status().
   */
  async counters(): Promise<PackedStatus | undefined> {
    return this.#reading(async () => this.#backend.readCounters?.());
  }

  /** IPVS: deletes drained endpoints (idle or past the drain timeout). Other modes: nothing to do. */
  async sweepDrains(): Promise<number> {
    return this.#serial(async () => (this.#backend instanceof IpvsBackend ? this.#backend.sweep() : 0));
  }

  /** Removes everything this mode put in the namespace. */
  async clear(): Promise<void> {
    return this.#serial(async () => {
      this.#last = undefined;
      this.#lastList = [];
      this.#at.clear();
      this.#byKey.clear();
      this.#backend.invalidate?.();
      await this.#backend.clear();
    });
  }

  /**
   * apply(state) of a state that differs from what this LoadBalancer last applied in a few services:
   * the backend gets them as update() would give them (its `applyChanges`: only those services'
   * objects, sent at the kernel's state it recorded, so a change made behind it still fails the
   * commit and makes it read everything). The full path's apply of the same change compares the
   * whole state with its record and, in nftables mode, asks the kernel for its generation first
   * (Services passed back, 10k services: 5.7 ms against update()'s 1.1-2.2 ms). undefined: take
   * the full path (a no-op keeps the mode's own check of the kernel, nothing recorded yet, many
   * changes, a renamed service, a backend without applyChanges).
   */
  async #applyAsChanges(desired: State, warnings: string[]): Promise<ApplySummary | undefined> {
    if (!this.#last || !this.#backend.applyChanges) return undefined;
    const started = performance.now();
    const diff = diffStates({ services: this.#lastList as Service[] }, desired);
    if (isEmptyDiff(diff) || diff.added.length + diff.removed.length + diff.updated.length > 64) return undefined;
    // As update() names them: removals first, a service whose VIP:port moved is one change (removed
    // and added under one name); a rename (the same key under another name) takes the full path.
    const changes: ServiceChange[] = [];
    const moved = new Map<string, Service>();
    for (const s of diff.added) moved.set(s.name, s);
    for (const s of diff.removed) {
      const after = moved.get(s.name);
      moved.delete(s.name);
      changes.push(after ? { name: s.name, before: s, after } : { name: s.name, before: s });
    }
    for (const c of diff.updated) {
      const before = previousService(c), after = changedService(c);
      if (!before || !after || before.name !== after.name) return undefined;
      changes.push({ name: after.name, before, after });
    }
    for (const s of moved.values()) changes.push({ name: s.name, after: s });
    const r = await this.#withRetries(async () => this.#backend.applyChanges!(changes, desired, { dryRun: false }));
    const removedModes = await this.#maybeRemoveOtherModes();
    this.#remember(desired.services);
    return this.#summary(false, diff, r, removedModes, started, warnings);
  }

  /** One full-path apply of a validated state (apply, resync), with conflict retries. */
  async #applyState(desired: State, dryRun: boolean, fullRead: boolean, warnings?: string[]): Promise<ApplySummary> {
    const started = performance.now();
    let diff: StateDiff | undefined;
    let drift: string[] = [];
    const r = await this.#withRetries(async () => {
      // (A real apply may take the last committed state on trust: its commit proves it.)
      const current = await this.#read(desired, !dryRun && !fullRead, fullRead);
      diff = diffStates(current.state, desired);
      drift = current.drift ?? [];
      return this.#backend.apply(desired, current, { dryRun });
    });
    const removedModes = dryRun ? [] : await this.#maybeRemoveOtherModes();
    if (!dryRun) this.#remember(desired.services);
    const s = this.#summary(dryRun, diff!, r, removedModes, started, warnings ?? stateWarnings(desired));
    // (drift: objects the model cannot show, repaired by this apply; listed after the diff's lines)
    if (drift.length) s.lines.push(...drift.map((l) => `${l} (${dryRun ? 'would repair' : 'repaired'})`));
    return s;
  }

  /** Runs one backend operation, retrying it when another writer raced (ConflictError). */
  async #withRetries(op: () => Promise<BackendApplyResult>): Promise<BackendApplyResult> {
    const attempts = this.#opts.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (e) {
        if (!isConflict(e) || attempt >= attempts) {
          // The kernel may hold part of it (IPVS) or the backend's record may be stale: read it all next time.
          this.#backend.invalidate?.();
          throw e;
        }
      }
    }
  }

  #summary(dryRun: boolean, diff: StateDiff, r: BackendApplyResult, removedModes: Mode[], started: number, warnings: string[]): ApplySummary {
    return {
      mode: this.mode,
      dryRun,
      changed: r.changed || removedModes.length > 0,
      diff,
      lines: formatDiff(diff),
      operations: r.operations,
      durationMs: performance.now() - started,
      draining: r.draining,
      removedModes,
      warnings,
    };
  }

  async #maybeRemoveOtherModes(): Promise<Mode[]> {
    if (this.#otherModesChecked || this.#opts.removeOtherModes === false) return [];
    const removed = await this.#removeOtherModes();
    this.#otherModesChecked = true;
    return removed;
  }

  /**
   * Records what was just applied. An apply that changed few services hands back the others as the
   * same objects, mostly at the same place: those need no map work (rebuilding both maps of 10k
   * services was ~5 ms an apply).
   */
  #remember(services: readonly Service[]): void {
    const prev = this.#lastList;
    this.#lastList = services;
    const gone: Service[] = [], come: number[] = [];
    if (this.#last) {
      const n = Math.min(prev.length, services.length);
      for (let i = 0; i < n; i++) {
        if (prev[i] === services[i]) continue;
        gone.push(prev[i]!);
        come.push(i);
        if (come.length > 64) break; // (many changed or moved: rebuilding is as cheap)
      }
      for (let i = n; i < prev.length && gone.length <= 64; i++) gone.push(prev[i]!);
      for (let i = n; i < services.length && come.length <= 64; i++) come.push(i);
    }
    if (!this.#last || gone.length > 64 || come.length > 64) {
      this.#last = new Map(services.map((s) => [s.name, s]));
      this.#at = new Map(services.map((s, i) => [s.name, i]));
      this.#byKey = new Map(services.map((s) => [serviceKey(s), s.name]));
      return;
    }
    // (all removals first: a service that only moved is in both lists)
    for (const g of gone) {
      if (this.#last.get(g.name) === g) {
        this.#last.delete(g.name);
        this.#at.delete(g.name);
      }
      const k = serviceKey(g);
      if (this.#byKey.get(k) === g.name) this.#byKey.delete(k);
    }
    for (const i of come) {
      const c = services[i]!;
      this.#last.set(c.name, c);
      this.#at.set(c.name, i);
      this.#byKey.set(serviceKey(c), c.name);
    }
  }

  /** update()'s starting point: the last applied state, or (first time) the kernel's. */
  async #base(upserts: Service[]): Promise<Map<string, Service>> {
    if (!this.#last) {
      const r = await this.#backend.read({ forApply: true });
      // (IPVS keeps no names: the kernel's services take the upserted ones' names by key)
      if (this.#backend instanceof IpvsBackend) this.#backend.adoptNames({ services: upserts }, r as IpvsRead);
      this.#remember(r.state.services);
    }
    return this.#last!;
  }

  /** Runs mutations one at a time, in call order. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this} is closed`));
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #reading<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this} is closed`));
    const p = fn();
    const settled = p.catch(() => undefined);
    this.#reads.add(settled);
    void settled.then(() => this.#reads.delete(settled));
    return p;
  }

  async #periodicResync(): Promise<void> {
    // Nothing applied yet: nothing to keep. A resync already waiting covers this tick too.
    if (!this.#last || this.#resyncQueued || this.#closed) return;
    this.#resyncQueued = true;
    try {
      await this.#serial(async () => {
        this.#resyncQueued = false;
        return this.#resync(false);
      });
      this.lastResyncError = undefined;
    } catch (e) {
      this.#resyncQueued = false;
      if (this.#closed) return; // (closed while it waited: nothing failed)
      this.lastResyncError = e;
      try {
        this.#opts.onResyncError?.(e);
      } catch {
        // the caller's callback failing must not become an unhandled rejection of a timer
      }
    }
  }

  async #read(desired: State, lazy = false, full = false): Promise<BackendRead> {
    // (a backend that cannot forget its records reads everything when not asked for an apply's view)
    const r = await this.#backend.read(full && !this.#backend.invalidate ? {} : { forApply: true, lazy });
    if (this.#backend instanceof IpvsBackend) this.#backend.adoptNames(desired, r as IpvsRead);
    return r;
  }

  async #removeOtherModes(): Promise<Mode[]> {
    const removed: Mode[] = [];
    for (const m of MODES) {
      if (m === this.mode) continue;
      let other: ModeBackend | undefined;
      try {
        other = await factories[m](this.netns, this.#opts);
      } catch {
        continue; // that mode cannot exist here (e.g. no IPVS in this kernel): nothing to remove
      }
      try {
        let present = false;
        try {
          present = await other.present();
        } catch {
          // that mode cannot read its tables here (e.g. no nat table module): nothing of it to remove
        }
        if (present) {
          await other.clear();
          removed.push(m);
        }
      } finally {
        await other.close();
      }
    }
    return removed;
  }

  /** Stops the periodic resync, waits for the operation and reads in flight, then closes the kernel handles. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#tail;
    await Promise.all(this.#reads);
    await this.#backend.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  toString(): string {
    return `LoadBalancer(${this.mode}, ${describeNetns(this.netns)})`;
  }
}

/** The StateDiff of an update's changes (unchanged = every other service of the state). */
function changesDiff(changes: ServiceChange[], before: number): StateDiff {
  const d: StateDiff = { added: [], removed: [], updated: [], unchanged: 0 };
  for (const c of changes) {
    if (c.before && c.after && serviceKey(c.before) === serviceKey(c.after)) d.updated.push(diffService(c.before, c.after)!);
    else {
      if (c.before) d.removed.push(c.before);
      if (c.after) d.added.push(c.after);
    }
  }
  d.unchanged = before - d.removed.length - d.updated.length;
  return d;
}
