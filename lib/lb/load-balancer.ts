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
 */
import { isConflict, ValidationError } from '../errors';
import { Iptables, type IptEngine } from '../iptables';
import { IPT_ENGINES } from '../iptables/engine';
import { Ipvs } from '../ipvs';
import { Nftables } from '../nft';
import { describeNetns, type NetnsSpec } from '../netns';
import { diffStates, formatDiff, isEmptyDiff } from './diff';
import { IptablesBackend } from './modes/iptables/backend';
import { IpvsBackend, type IpvsRead } from './modes/ipvs/backend';
import { NftBackend } from './modes/nftables/backend';
import { MODES, type Mode } from './schedulers';
import { stateWarnings, validateState, ValidationCache, type DesiredState, type State } from './state';
import type { ApplySummary, BackendRead, LbStatus, ModeBackend } from './types';

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
}

export interface ApplyOptions {
  /** Compute and validate (nftables: the kernel validates the batch) without changing anything. */
  dryRun?: boolean;
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

  private constructor(backend: ModeBackend, opts: LoadBalancerOptions & { mode: M }) {
    this.#backend = backend;
    this.mode = opts.mode;
    this.netns = opts.netns;
    this.#opts = opts;
    this.#validated = new ValidationCache(opts.mode);
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
    return new LoadBalancer<M>(await factories[opts.mode](opts.netns, opts), opts);
  }

  /**
   * Validates `input` for this mode (throws ValidationError naming the field) and normalises it.
   * Typed input only (a DesiredState for this mode, or a State as status() and validateState()
   * return it); for input of unknown shape (a file) use validateState(input, mode).
   */
  validate(input: DesiredState<M> | State): State {
    return validateState(input, this.mode, this.#validated);
  }

  /** Makes the kernel match `input`; returns what changed. Applying the same state twice changes nothing. */
  async apply(input: DesiredState<M> | State, opts: ApplyOptions = {}): Promise<ApplySummary> {
    if (typeof opts !== 'object' || opts === null) throw new ValidationError('opts', 'must be an object { dryRun? }', opts);
    // a truthy non-boolean (the string "false") must not silently choose between a dry run and a commit
    if (opts.dryRun !== undefined && typeof opts.dryRun !== 'boolean') throw new ValidationError('dryRun', 'must be a boolean', opts.dryRun);
    const desired = this.validate(input);
    const started = performance.now();
    const attempts = this.#opts.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      // (A real apply may take the last committed state on trust: its commit proves it.)
      const current = await this.#read(desired, !opts.dryRun);
      const diff = diffStates(current.state, desired);
      try {
        const r = await this.#backend.apply(desired, current, { dryRun: !!opts.dryRun });
        let removedModes: Mode[] = [];
        if (!opts.dryRun && !this.#otherModesChecked && this.#opts.removeOtherModes !== false) {
          removedModes = await this.#removeOtherModes();
          this.#otherModesChecked = true;
        }
        return {
          mode: this.mode,
          dryRun: !!opts.dryRun,
          changed: r.changed || removedModes.length > 0,
          diff,
          lines: formatDiff(diff),
          operations: r.operations,
          durationMs: performance.now() - started,
          draining: r.draining,
          removedModes,
          warnings: stateWarnings(desired),
        };
      } catch (e) {
        if (!isConflict(e) || attempt >= attempts) throw e;
      }
    }
  }

  /** What would change, without touching the kernel. */
  async diff(input: DesiredState<M> | State) {
    const desired = this.validate(input);
    const current = await this.#read(desired);
    const d = diffStates(current.state, desired);
    return { diff: d, lines: formatDiff(d), empty: isEmptyDiff(d) };
  }

  /** The kernel's view in the same model, with per-endpoint counters. */
  async status(): Promise<LbStatus> {
    const r = await this.#backend.read();
    return { mode: this.mode, state: r.state, services: r.services };
  }

  /** IPVS: deletes drained endpoints (idle or past the drain timeout). Other modes: nothing to do. */
  async sweepDrains(): Promise<number> {
    return this.#backend instanceof IpvsBackend ? this.#backend.sweep() : 0;
  }

  /** Removes everything this mode put in the namespace. */
  async clear(): Promise<void> {
    await this.#backend.clear();
  }

  async #read(desired: State, lazy = false): Promise<BackendRead> {
    const r = await this.#backend.read({ forApply: true, lazy });
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

  close(): Promise<void> {
    return this.#backend.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  toString(): string {
    return `LoadBalancer(${this.mode}, ${describeNetns(this.netns)})`;
  }
}
