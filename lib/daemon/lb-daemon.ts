/**
 * LbDaemon: a LoadBalancer kept applied. It applies the state with every endpoint its health checks
 * find down at weight 0, applies each health transition as an update of that one service (several
 * transitions close together go in one LoadBalancer.update(), whose cost does not depend on the
 * other services), reloads a new state on demand (a bad one is
 * refused and the running state kept), reconciles in full every `resyncIntervalS`, and renders
 * /metrics. Every kernel write goes through one queue, so applies never overlap. `kernlb run` is this
 * plus signals, a file watch, a lock and an HTTP server (lib/cli/run.ts).
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { ValidationError } from '../errors';
import { LoadBalancer, type LoadBalancerOptions } from '../lb/load-balancer';
import { endpointKey, type DesiredState, type Service, type ServiceSpec, type State } from '../lb/state';
import type { ApplySummary } from '../lb/types';
import { DaemonMetrics } from './daemon-metrics';
import { LabelArena, MetricsWriter, statusMetricsPieces, writeHealthMetrics, writeStatusMetrics, type StatusSource } from './endpoint-metrics';
import { HealthMonitor, type HealthChange } from './health-monitor';

export interface LbDaemonOptions extends LoadBalancerOptions {
  /** Seconds between full reconciles (0: none; default 60). */
  resyncIntervalS?: number;
  /** Health checks open at once (default 256). */
  healthConcurrency?: number;
  /** prom-client's default process metrics in metrics() (default true). */
  processMetrics?: boolean;
}

export type ApplyKind = 'full' | 'update' | 'resync';

/** What the daemon reports; `kernlb run` logs one line per event. */
export interface DaemonEvents {
  applied: (s: ApplySummary, kind: ApplyKind, why: string) => void;
  change: (c: HealthChange) => void;
  error: (e: unknown, what: string) => void;
}

export declare interface LbDaemon {
  on<K extends keyof DaemonEvents>(event: K, listener: DaemonEvents[K]): this;
  emit<K extends keyof DaemonEvents>(event: K, ...args: Parameters<DaemonEvents[K]>): boolean;
}

export class LbDaemon extends EventEmitter implements AsyncDisposable {
  readonly lb: LoadBalancer;
  readonly health: HealthMonitor;
  readonly metricsRegistry: DaemonMetrics;
  /**
   * The running state as the LoadBalancer validated it (its own frozen Services), not the file's
   * parsed tree: at 10k x 10 that tree is ~20 MB of heap that nothing needs once validated, and
   * these Services, drained or not, go back to apply()/update() by identity (lib/lb's fast path).
   */
  #input: State;
  #byName = new Map<string, Service>();
  #queue: Promise<unknown> = Promise.resolve();
  #dirty = new Set<string>();
  #flushQueued = false;
  /** Set after a failed write: the next write is a full one. */
  #needFull = false;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** The scrape being rendered, plain or gzip (concurrent scrapes of one encoding share it), and how many callers hold its chunks. */
  #scrapes = new Map<boolean, { done: Promise<MetricsWriter>; users: number }>();
  /** Chunks of finished scrapes whose readers are done: the next scrape writes into them. */
  #pool: Buffer[] = [];
  /** Label bytes of the last scrape's endpoints, reused by the next (no strings kept between scrapes). */
  #labels = new LabelArena();
  #closing: Promise<void> | undefined;
  /**
   * The first apply's summary (start() resolves after it) until takeStarted(): at 10k services its
   * diff lines are ~10^4 strings (~5 MB of heap) that a long-running process should not keep.
   */
  started: ApplySummary | undefined;
  /** [service, endpoint] left drained in the kernel that start() kept down until their checks pass. */
  startedDown: [string, string][] = [];

  private constructor(lb: LoadBalancer, health: HealthMonitor, input: State, opts: LbDaemonOptions) {
    super();
    this.lb = lb;
    this.health = health;
    this.#input = input;
    this.#index();
    this.metricsRegistry = new DaemonMetrics(lb.mode, opts.processMetrics === false ? { processMetrics: false } : {});
    health.on('change', (c) => this.#onChange(c));
  }

  /** Opens, validates `input` (a ValidationError before the kernel is touched), applies, starts the checks. */
  static async start(input: unknown, opts: LbDaemonOptions): Promise<LbDaemon> {
    const r = opts.resyncIntervalS ?? 60;
    if (!Number.isInteger(r) || r < 0 || r > 86400) throw new ValidationError('resyncIntervalS', 'must be a whole number of seconds 0..86400 (0: never)', opts.resyncIntervalS);
    const { resyncIntervalS: _r, healthConcurrency, processMetrics: _p, ...lbOpts } = opts;
    // (opening reads nothing and writes nothing: the state is validated once, by the handle that
    // keeps the result, before anything touches the kernel. A second validation here before open
    // doubled the start's allocations: a whole validated 10k x 10 tree of garbage at its peak.)
    const lb = await LoadBalancer.open(lbOpts);
    let health: HealthMonitor | undefined;
    try {
      const st = lb.validate(input as DesiredState); // (checked at run time: the typed overload only)
      health = await HealthMonitor.open({ ...(opts.netns !== undefined ? { netns: opts.netns } : {}), ...(healthConcurrency !== undefined ? { concurrency: healthConcurrency } : {}) });
      const d = new LbDaemon(lb, health, st, opts);
      // An endpoint the kernel holds at weight 0 where the state says more was drained by a previous
      // run (or by hand): it starts down, so that a restart does not send new connections to a
      // backend that is still dead until its checks fail again (drain state not kept only in memory).
      const down = new Set<string>();
      if (st.services.some((s) => s.healthCheck)) {
        for (const c of (await lb.diff(st)).diff.updated) {
          for (const w of c.endpoints.reweighted) if (w.from === 0 && w.to > 0) down.add(`${c.name} ${endpointKey(w)}`);
        }
      }
      health.watch(st, (service, endpoint) => down.has(`${service} ${endpoint}`));
      d.startedDown = [...down].map((k) => k.split(' ') as [string, string]).filter(([sv, ep]) => health!.service(sv)?.get(ep)?.healthy === false);
      d.started = await d.#write('full', 'start', () => lb.apply(health!.drained(d.#input)));
      if (r > 0) {
        d.#resyncTimer = setInterval(() => void d.resync().catch(() => undefined), r * 1000);
        d.#resyncTimer.unref();
      }
      return d;
    } catch (e) {
      await health?.close();
      await lb.close();
      throw e;
    }
  }

  /** The running state, as validated (frozen Services: copy one to edit it). */
  get state(): State {
    return this.#input;
  }

  /** The first apply's summary, handed over once and then forgotten (`kernlb run` logs it, then keeps no copy). */
  takeStarted(): ApplySummary | undefined {
    const s = this.started;
    this.started = undefined;
    return s;
  }

  /**
   * Makes `input` the running state: validated first (a ValidationError leaves everything as it
   * was), then applied with down endpoints drained; endpoints kept keep their health.
   */
  async reload(input: unknown): Promise<ApplySummary> {
    const st = this.lb.validate(input as DesiredState); // (a file's content, checked at run time)
    return this.#write('full', 'reload', async () => {
      this.health.watch(st);
      this.#input = st;
      this.#index();
      this.#dirty.clear();
      return this.lb.apply(this.health.drained(this.#input));
    });
  }

  /** A full reconcile now (also every resyncIntervalS). */
  resync(): Promise<ApplySummary> {
    return this.#write('resync', 'periodic resync', () => {
      this.metricsRegistry.resyncs.inc({ mode: this.lb.mode });
      // (what the daemon applied last already has the down endpoints drained)
      return this.lb.resync();
    });
  }

  /** Prometheus text: the kernel's counters (one status() read, shared by concurrent scrapes), health, daemon and process metrics. */
  async metrics(): Promise<Buffer> {
    const m = await this.lendMetrics();
    try {
      return Buffer.concat(m.chunks);
    } finally {
      m.release();
    }
  }

  /**
   * metrics() as the writer's chunks (256 KiB each: ~80 of them at 10k x 10), to be written out as
   * they are and then handed back with release() (once they are sent: an HTTP response's 'finish'
   * or 'close'), so that the next scrape writes into the same memory. The 20 MB of a scrape at that
   * scale are then neither copied into one buffer nor allocated anew each time. `gzip`: the chunks
   * are one gzip stream of the text (~1.8 MB at that scale, only one chunk of text held at a time).
   */
  async lendMetrics(opts: { gzip?: boolean } = {}): Promise<{ chunks: Buffer[]; release: () => void }> {
    const gzip = opts.gzip === true;
    let s = this.#scrapes.get(gzip);
    if (!s) this.#scrapes.set(gzip, (s = { done: this.#render(gzip), users: 0 }));
    s.users++; // (counted now: a release before this caller resumes must not give its chunks away)
    let w: MetricsWriter;
    try {
      w = await s.done;
    } catch (e) {
      s.users--;
      throw e;
    }
    let held = true;
    return {
      chunks: w.chunks(),
      release: () => {
        if (!held) return;
        held = false;
        if (--s.users === 0) this.#pool.push(...w.owned);
      },
    };
  }

  /**
   * metrics() written to `out` as it is rendered (what `kernlb run` serves). `begin` runs once the
   * counters are read, before the first byte (an HTTP server sends its headers there: a failed read
   * rejects before it, and can still be answered with a 500). Each 256 KiB chunk goes to
   * `out.write` as it fills, and the rendering waits for 'drain' whenever `out` is full: a scrape
   * holds a few chunks, not its text (~20 MB for nftables, ~56 MB for IPVS at 10k x 10), and each
   * chunk goes back to the pool once written. Resolves once everything is handed to `out` (the
   * caller ends it), or as soon as `out` closes or fails (the rest is not rendered).
   */
  async pipeMetrics(out: Writable, begin: () => void = () => undefined): Promise<void> {
    const st = await this.#readCounters();
    const pool = this.#pool;
    let full = false;
    const w = new MetricsWriter(pool, {
      sink: (view, whole) => {
        if (!out.write(view, whole && (() => pool.push(whole)))) full = true;
      },
    });
    begin();
    for (const _ of statusMetricsPieces(w, [st], this.#labels)) {
      if (full) {
        full = false;
        if (!(await drained(out))) return;
      }
    }
    await this.#writeRest(w);
    if (!out.writable) return;
    w.end();
  }

  /** The counters alone, packed, where the mode can prove the rest (nftables: no object per endpoint); else status(). Timed into the registry. */
  async #readCounters(): Promise<StatusSource> {
    const t0 = performance.now();
    const st = (await this.lb.counters()) ?? (await this.lb.status());
    this.metricsRegistry.statusRead.set({ mode: this.lb.mode }, (performance.now() - t0) / 1000);
    return st;
  }

  /** What follows the kernel's counters in a scrape: health, then the daemon's and the process's metrics. */
  async #writeRest(w: MetricsWriter): Promise<void> {
    writeHealthMetrics(w, this.lb.mode, this.health, this.#byName.keys());
    w.write(await this.metricsRegistry.registry.metrics());
  }

  async #render(gzip: boolean): Promise<MetricsWriter> {
    try {
      const w = new MetricsWriter(this.#pool, { gzip });
      // (the status read goes out of scope before the registry's text: it can be collected meanwhile)
      writeStatusMetrics(w, [await this.#readCounters()], this.#labels);
      await this.#writeRest(w);
      w.chunks(); // (gzip: ends the stream)
      return w;
    } finally {
      this.#scrapes.delete(gzip);
    }
  }

  /** Stops the checks, waits for the write in flight, closes the handles; `clear` removes the mode's objects first. */
  close(opts: { clear?: boolean } = {}): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#resyncTimer) clearInterval(this.#resyncTimer);
      await this.health.close();
      await this.#queue.catch(() => undefined);
      try {
        if (opts.clear) await this.lb.clear();
      } finally {
        await this.lb.close();
      }
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #index(): void {
    this.#byName = new Map(this.#input.services.map((s) => [s.name, s]));
  }

  #onChange(c: HealthChange): void {
    this.metricsRegistry.transitions.inc({ mode: this.lb.mode, to: c.healthy ? 'up' : 'down' });
    this.emit('change', c);
    this.#dirty.add(c.service);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // transitions of the same moment (a backend host with many endpoints) make one update
    setImmediate(() => {
      this.#flushQueued = false;
      void this.#flush().catch(() => undefined);
    });
  }

  #flush(): Promise<ApplySummary | undefined> {
    return this.#write('update', 'health', async () => {
      const names = [...this.#dirty];
      this.#dirty.clear();
      const whole = this.health.drained(this.#input);
      if (this.#needFull) return this.lb.apply(whole);
      const specs = names.map((n) => this.#byName.get(n)).filter((s): s is Service => s !== undefined);
      if (!specs.length) return undefined;
      // (unchanged Services go back as the LoadBalancer's own, taken by identity)
      return this.lb.update({ upsert: specs.map((s) => this.health.drainedService(s)) as ServiceSpec[] });
    });
  }

  #write<T extends ApplySummary | undefined>(kind: ApplyKind, why: string, fn: () => Promise<T>): Promise<T> {
    const mode = this.lb.mode;
    const run = async (): Promise<T> => {
      const end = this.metricsRegistry.applyDuration.startTimer({ mode, kind });
      try {
        const s = await fn();
        end();
        this.#needFull = false;
        if (s) {
          this.metricsRegistry.applies.inc({ mode, kind });
          this.emit('applied', s, kind, why);
        }
        return s;
      } catch (e) {
        this.metricsRegistry.applyFailures.inc({ mode, kind });
        if (!(e instanceof ValidationError)) this.#needFull = true;
        if (this.listenerCount('error')) this.emit('error', e, `${kind} (${why})`);
        throw e;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }
}

/** Whether `out` drained (true) or closed or failed first (false). */
function drained(out: Writable): Promise<boolean> {
  if (out.destroyed || !out.writable) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      out.off('drain', onDrain).off('close', onClose).off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true), onClose = done(false);
    out.on('drain', onDrain).on('close', onClose).on('error', onClose);
  });
}
