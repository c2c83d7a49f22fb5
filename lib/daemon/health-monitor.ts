/**
 * HealthMonitor: probes every endpoint of every service that has a `healthCheck`, from inside the
 * balancer's network namespace, and says when one goes down (`fall` bad checks in a row) or comes
 * back (`rise` good ones) with a 'change' event carrying the reason. At most `concurrency` checks
 * are open at once (a semaphore), whatever the number of endpoints.
 *
 *   const health = await HealthMonitor.open({ netns: 'lb' });
 *   health.on('change', (c) => console.log(c.service, c.endpoint, c.healthy ? 'up' : 'down', c.reason));
 *   health.watch(state);                  // the state file's model; again whenever it changes
 *   health.drained(state);                // the same state with down endpoints at weight 0
 *
 * Endpoints start healthy (as keepalived's real servers do), so a restart does not drain anything
 * before its first checks; endpoints kept across watch() keep their health.
 */
import { EventEmitter } from 'node:events';
import { ValidationError } from '../errors';
import { parseAddress } from '../lb/address';
import type { HealthCheck } from '../lb/health-check';
import { endpointKey, validateState, type DesiredState, type EndpointSpec, type Service, type ServiceSpec, type State, type StateInput } from '../lb/state';
import type { NetnsSpec } from '../netns';
import { openSocketSource, probe, type ProbeResult, type SocketSource } from './probe';
import { Semaphore } from './semaphore';

export interface HealthMonitorOptions {
  /** Where the checks run (the balancer's namespace); default the caller's. */
  netns?: NetnsSpec;
  /** Checks open at once (default 256). */
  concurrency?: number;
}

/** One transition, as emitted on 'change'. */
export interface HealthChange {
  service: string;
  address: string;
  port: number;
  /** "10.0.1.2:8080" / "[fd00::2]:8080" */
  endpoint: string;
  healthy: boolean;
  /** "3 failed checks in a row (last: ECONNREFUSED)", "2 good checks in a row (HTTP 200)". */
  reason: string;
}

/** What the monitor knows of one endpoint right now. */
export interface EndpointHealth {
  service: string;
  endpoint: string;
  address: string;
  port: number;
  healthy: boolean;
  /** Checks done so far. */
  checks: number;
  /** The last check's outcome (undefined before the first). */
  last?: ProbeResult;
}

interface Target extends EndpointHealth {
  check: HealthCheck;
  ipv6: boolean;
  /** Same result in a row (good while healthy counts towards nothing; see #record). */
  streak: number;
  timer: NodeJS.Timeout | undefined;
  /** Set when removed from the watch list: a running check's result is then dropped. */
  gone: boolean;
}

export declare interface HealthMonitor {
  on(event: 'change', listener: (c: HealthChange) => void): this;
  on(event: 'check', listener: (h: EndpointHealth) => void): this;
}

export class HealthMonitor extends EventEmitter implements AsyncDisposable {
  #src: SocketSource;
  #sem: Semaphore;
  /** By service name, then endpoint key. */
  #targets = new Map<string, Map<string, Target>>();
  #running = new Set<Promise<void>>();
  #closed = false;

  private constructor(src: SocketSource, concurrency: number) {
    super();
    this.#src = src;
    this.#sem = new Semaphore(concurrency);
  }

  static async open(opts: HealthMonitorOptions = {}): Promise<HealthMonitor> {
    if (typeof opts !== 'object' || opts === null) throw new ValidationError('opts', 'must be an object { netns?, concurrency? }', opts);
    const c = opts.concurrency ?? 256;
    if (!Number.isInteger(c) || c < 1 || c > 65536) throw new ValidationError('concurrency', 'must be an integer 1..65536', opts.concurrency);
    return new HealthMonitor(await openSocketSource(opts.netns), c);
  }

  /**
   * Checks exactly the endpoints of the services of `state` that have a healthCheck (a DesiredState
   * is validated first; a ValidationError names the field). Endpoints already watched with the same
   * check keep their health and schedule; the others start healthy, their first check spread over
   * one interval so that thousands of endpoints are not all probed in the same millisecond.
   * `startDown(service, endpointKey)`: new endpoints it says true for start down (they need `rise`
   * good checks), e.g. those a previous run left drained in the kernel.
   */
  watch(state: State | DesiredState, startDown?: (service: string, endpoint: string) => boolean): void {
    if (this.#closed) throw new Error('HealthMonitor is closed');
    const s = isNormalised(state) ? state : validateState(state);
    const next = new Map<string, Map<string, Target>>();
    for (const svc of s.services) {
      const hc = svc.healthCheck;
      if (!hc) continue;
      const old = this.#targets.get(svc.name);
      const mine = new Map<string, Target>();
      for (const e of svc.endpoints) {
        const key = endpointKey(e);
        const prev = old?.get(key);
        if (prev && sameCheck(prev.check, hc)) {
          old!.delete(key);
          mine.set(key, prev);
          continue;
        }
        const t: Target = {
          service: svc.name, endpoint: key, address: e.address, port: e.port, ipv6: svc.family === 'ipv6',
          healthy: prev?.healthy ?? !startDown?.(svc.name, key), checks: 0, check: hc, streak: 0, timer: undefined, gone: false,
        };
        mine.set(key, t);
        this.#schedule(t, Math.floor(Math.random() * hc.intervalMs));
      }
      next.set(svc.name, mine);
    }
    for (const m of this.#targets.values()) for (const t of m.values()) this.#drop(t);
    this.#targets = next;
  }

  /** Whether an endpoint is healthy (true for one that is not watched). */
  isHealthy(service: string, address: string, port: number): boolean {
    return this.#targets.get(service)?.get(endpointKey({ address, port }))?.healthy ?? true;
  }

  /** Every watched endpoint of a service (undefined: the service has no health check). */
  service(name: string): ReadonlyMap<string, EndpointHealth> | undefined {
    return this.#targets.get(name);
  }

  /** Every watched endpoint. */
  *endpoints(): IterableIterator<EndpointHealth> {
    for (const m of this.#targets.values()) yield* m.values();
  }

  /** Names of the services with at least one endpoint down. */
  servicesWithDown(): string[] {
    const out: string[] = [];
    for (const [name, m] of this.#targets) for (const t of m.values()) if (!t.healthy) { out.push(name); break; }
    return out;
  }

  /**
   * `spec` (one service of a state file) with its down endpoints at weight 0, or `spec` itself
   * when none is down (the same object: the load balancer's validation cache then skips it).
   */
  drainedService(spec: ServiceSpec | Service): ServiceSpec | Service {
    const m = this.#targets.get(spec.name);
    if (!m) return spec;
    let down = false;
    for (const t of m.values()) if (!t.healthy) { down = true; break; }
    if (!down || !Array.isArray(spec.endpoints)) return spec;
    // (a copy as a spec: a validated Service is frozen, and the changed one is validated anew)
    const eps: EndpointSpec[] = spec.endpoints;
    return {
      ...(spec as ServiceSpec),
      endpoints: eps.map((e) => {
        const a = parseAddress(e.address);
        const t = a && m.get(endpointKey({ address: a.text, port: e.port }));
        return t && !t.healthy ? { ...e, weight: 0 } : e;
      }),
    };
  }

  /** A state file's model with every down endpoint at weight 0 (unchanged services are the same objects). */
  drained(state: DesiredState | State): StateInput {
    return { ...state, services: state.services.map((s) => this.drainedService(s)) };
  }

  /** Stops every check and waits for the ones running; closes the namespace handle. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#targets.values()) for (const t of m.values()) this.#drop(t);
    this.#targets.clear();
    await Promise.allSettled([...this.#running]);
    await this.#src.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #drop(t: Target): void {
    t.gone = true;
    if (t.timer) clearTimeout(t.timer);
    t.timer = undefined;
  }

  #schedule(t: Target, delayMs: number): void {
    t.timer = setTimeout(() => {
      t.timer = undefined;
      const p = this.#run(t);
      this.#running.add(p);
      void p.finally(() => this.#running.delete(p));
    }, delayMs);
    // checks alone must not keep a process alive (a library user's script ends when it is done)
    t.timer.unref();
  }

  async #run(t: Target): Promise<void> {
    const started = performance.now();
    const release = await this.#sem.acquire();
    let r: ProbeResult;
    try {
      if (t.gone) return;
      r = await probe(this.#src, t, t.check);
    } finally {
      release();
    }
    if (t.gone) return;
    this.#record(t, r);
    // the next check is due one interval after this one was due (waiting for a slot included)
    if (!t.gone) this.#schedule(t, Math.max(0, t.check.intervalMs - (performance.now() - started)));
  }

  #record(t: Target, r: ProbeResult): void {
    t.checks++;
    t.last = r;
    // streak counts results that argue for a change: failures while healthy, successes while down
    if (r.ok === t.healthy) t.streak = 0;
    else t.streak++;
    this.emit('check', t);
    const need = t.healthy ? t.check.fall : t.check.rise;
    if (t.streak < need) return;
    t.healthy = !t.healthy;
    t.streak = 0;
    const reason = t.healthy ? `${need} good check${need > 1 ? 's' : ''} in a row (${r.reason})` : `${need} failed check${need > 1 ? 's' : ''} in a row (last: ${r.reason})`;
    const c: HealthChange = { service: t.service, address: t.address, port: t.port, endpoint: t.endpoint, healthy: t.healthy, reason };
    this.emit('change', c);
  }
}

function isNormalised(s: State | DesiredState): s is State {
  const first = s?.services?.[0];
  return first !== undefined && typeof first === 'object' && first !== null && 'family' in first;
}

function sameCheck(a: HealthCheck, b: HealthCheck): boolean {
  return a.type === b.type && a.port === b.port && a.path === b.path && a.expectStatus === b.expectStatus &&
    a.intervalMs === b.intervalMs && a.timeoutMs === b.timeoutMs && a.rise === b.rise && a.fall === b.fall;
}
