/**
 * ipvs mode over the Ipvs handle. The namespace's address-based IPVS services belong to kernlb in
 * this mode (IPVS has no owner tag): services not in the state are deleted; fwmark services are
 * left alone. IPVS cannot store a service name, so status() names a service after its identity
 * unless the applied state is known.
 */
import type { DestinationSpec, Ipvs, IpvsOp, Service as IpvsService, ServiceKey, ServiceSpec } from '../../../ipvs';
import { compareAddress, parseAddress } from '../../address';
import { isNotFound } from '../../../errors';
import { endpointKey, serviceKey, type Protocol, type Service, type State } from '../../state';
import type { BackendRead, DrainingEndpoint, EndpointStatus, ModeBackend, ServiceStatus } from '../../types';
import { compileIpvs, compileIpvsService, drainingAfter, drainStart, planIpvs, type IpvsCurrentDest, type IpvsCurrentSvc, type IpvsDest, type IpvsStep, type IpvsSvc } from './compile';

export interface IpvsRead extends BackendRead {
  current: IpvsCurrentSvc[];
}

export interface IpvsBackendOptions {
  /** Seconds a removed endpoint may keep its connections before it is deleted anyway (default 300). */
  drainTimeout?: number;
  /** Clock in Unix seconds (tests). */
  now?: () => number;
}

type AddrService = Extract<IpvsService, { protocol: Protocol }>;

function keyOf(s: Pick<IpvsSvc, 'protocol' | 'address' | 'port' | 'family'>): ServiceKey {
  return { protocol: s.protocol, address: s.address, port: s.port, family: s.family };
}

function dest(d: { address: string; port: number; weight: number; upperThreshold: number; lowerThreshold: number }): DestinationSpec {
  return { address: d.address, port: d.port, weight: d.weight, forwarding: 'masq', upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold };
}

function svcSpec(s: IpvsSvc, withDests: boolean): ServiceSpec {
  const spec: ServiceSpec = { ...keyOf(s), scheduler: s.scheduler };
  if (s.persistence) spec.persistence = { timeout: s.persistence.timeout };
  if (withDests) spec.destinations = s.dests.map(dest);
  return spec;
}

export function stepToOp(step: IpvsStep): IpvsOp {
  switch (step.op) {
    case 'addService':
      return { op: 'addService', service: svcSpec(step.svc, true) };
    case 'updateService':
      return { op: 'updateService', service: svcSpec(step.svc, false) };
    case 'deleteService':
      return { op: 'deleteService', service: keyOf(step.svc) };
    case 'addDestination':
      return { op: 'addDestination', service: keyOf(step.svc), destination: dest(step.dest) };
    case 'updateDestination':
      return { op: 'updateDestination', service: keyOf(step.svc), destination: dest(step.dest) };
    case 'deleteDestination':
      return { op: 'deleteDestination', service: keyOf(step.svc), destination: { address: step.dest.address, port: step.dest.port } };
  }
}

/** The kernel's services once `steps` succeeded: the desired ones plus destinations still draining. */
function afterSteps(want: IpvsSvc[], before: IpvsCurrentSvc[], steps: IpvsStep[]): IpvsCurrentSvc[] {
  const prev = new Map(before.map((c) => [c.key, c]));
  const deleted = new Set(steps.flatMap((s) => (s.op === 'deleteDestination' ? [`${s.svc.key}>${endpointKey(s.dest)}`] : [])));
  const drained = new Map<string, IpvsDest>(steps.flatMap((s) => (s.op === 'updateDestination' && s.why === 'drain' ? [[`${s.svc.key}>${endpointKey(s.dest)}`, s.dest] as [string, IpvsDest]] : [])));
  return want.map((w) => {
    const dests: IpvsCurrentDest[] = w.dests.map((d) => ({ ...d, activeConnections: 0, inactiveConnections: 0 }));
    const old = prev.get(w.key);
    if (old) {
      const wanted = new Set(w.dests.map(endpointKey));
      for (const d of old.dests) {
        const k = `${w.key}>${endpointKey(d)}`;
        if (wanted.has(endpointKey(d)) || deleted.has(k)) continue;
        dests.push({ ...d, ...(drained.get(k) ?? {}) });
      }
    }
    return { ...w, dests };
  });
}

export class IpvsBackend implements ModeBackend<IpvsRead> {
  readonly mode = 'ipvs' as const;
  readonly #drainTimeout: number;
  readonly #now: () => number;
  /** Names of the last applied state, by service key (IPVS cannot store them). */
  readonly #names = new Map<string, string>();

  constructor(
    private readonly ipvs: Ipvs,
    opts: IpvsBackendOptions = {},
  ) {
    this.#drainTimeout = opts.drainTimeout ?? 300;
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** One kernel service in both forms: the plan's input and the status model. */
  #convert(s: AddrService): { cur: IpvsCurrentSvc; status: ServiceStatus } {
    const vip = parseAddress(s.address)!;
    const key = serviceKey({ protocol: s.protocol, vip: vip.text, port: s.port });
    const cur: IpvsCurrentSvc = {
      key,
      protocol: s.protocol,
      address: vip.text,
      port: s.port,
      family: s.family,
      scheduler: s.scheduler,
      ...(s.persistence ? { persistence: { timeout: s.persistence.timeout } } : {}),
      dests: s.destinations.map((d) => ({
        address: parseAddress(d.address)!.text,
        port: d.port,
        weight: d.weight,
        upperThreshold: d.upperThreshold,
        lowerThreshold: d.lowerThreshold,
        activeConnections: d.activeConnections,
        inactiveConnections: d.inactiveConnections,
      })),
    };
    const endpoints: EndpointStatus[] = s.destinations.map((d, i) => {
      const cd = cur.dests[i]!;
      const since = drainStart(cd);
      const ep: EndpointStatus = {
        address: cd.address,
        port: d.port,
        weight: d.weight,
        counters: {
          connections: d.stats.connections,
          packets: d.stats.packetsIn + d.stats.packetsOut,
          bytes: d.stats.bytesIn + d.stats.bytesOut,
          activeConnections: d.activeConnections,
          inactiveConnections: d.inactiveConnections,
        },
      };
      if (since !== undefined) ep.drainingSince = since;
      return ep;
    });
    endpoints.sort((a, b) => compareAddress(parseAddress(a.address)!, parseAddress(b.address)!) || a.port - b.port);
    const status: ServiceStatus = {
      name: this.#names.get(key) ?? `${s.protocol}-${vip.text.replace(/:/g, '_')}-${s.port}`,
      protocol: s.protocol,
      family: vip.family,
      vip: vip.text,
      port: s.port,
      scheduler: s.scheduler,
      ...(s.persistence ? { persistence: { timeout: s.persistence.timeout } } : {}),
      endpoints,
    };
    return { cur, status };
  }

  #assemble(current: IpvsCurrentSvc[], services: ServiceStatus[]): IpvsRead {
    const draining: DrainingEndpoint[] = [];
    for (const c of current) for (const d of c.dests) {
      const since = drainStart(d);
      if (since !== undefined) draining.push({ service: c.key, address: d.address, port: d.port, since });
    }
    const state: State = {
      services: services.map((s) => ({
        ...s,
        endpoints: s.endpoints.filter((e) => e.drainingSince === undefined).map(({ address, port, weight }) => ({ address, port, weight })),
      })) as Service[],
    };
    return { state, services, draining, current };
  }

  /**
   * The kernel view after our last apply. IPVS has no generation counter, so this is trusted only
   * for services the next apply does not touch; every touched service (and every one with a
   * draining destination) is read again before the plan is made. Any error drops it; a new
   * LoadBalancer starts from a full read. `applied` holds the Service objects last applied, by
   * key: the validation cache returns the same object for an unchanged service, so the next apply
   * finds what changed by identity and plans, reads and records only that.
   */
  #last: { read: IpvsRead; byKey: Map<string, IpvsCurrentSvc>; applied: Map<string, Service>; drains: Set<string> } | undefined;

  async read(opts: { forApply?: boolean } = {}): Promise<IpvsRead> {
    if (opts.forApply && this.#last) return this.#last.read;
    this.#last = undefined;
    const list = (await this.ipvs.listServices()).filter((s): s is AddrService => 'protocol' in s);
    const conv = list.map((s) => this.#convert(s)).sort((a, b) => (a.cur.key < b.cur.key ? -1 : 1));
    return this.#assemble(conv.map((c) => c.cur), conv.map((c) => c.status));
  }

  /** Reads the given services back from the kernel (those it does not have are left out). */
  async #refresh(known: Map<string, IpvsCurrentSvc>, keys: Set<string>, desired: IpvsSvc[]): Promise<IpvsCurrentSvc[]> {
    const spec = new Map<string, Pick<IpvsSvc, 'protocol' | 'address' | 'port' | 'family'>>();
    for (const d of desired) if (keys.has(d.key)) spec.set(d.key, d);
    for (const k of keys) {
      const c = known.get(k);
      if (c) spec.set(k, c);
    }
    const out: IpvsCurrentSvc[] = [];
    for (const k of spec.values()) {
      try {
        const s = await this.ipvs.getService(keyOf(k));
        if ('protocol' in s) out.push(this.#convert(s).cur);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return out;
  }

  /** Names the read-back services after the desired ones with the same identity (for the diff). */
  adoptNames(desired: State, read: IpvsRead): void {
    for (const s of desired.services) this.#names.set(serviceKey(s), s.name);
    const byKey = new Map(desired.services.map((s) => [serviceKey(s), s.name]));
    for (const s of [...read.state.services, ...read.services]) s.name = byKey.get(serviceKey(s)) ?? s.name;
  }

  async apply(desired: State, cur: IpvsRead, opts: { dryRun: boolean }) {
    const planOpts = { now: this.#now(), drainTimeout: this.#drainTimeout };
    const last = cur === this.#last?.read ? this.#last : undefined;
    this.#last = undefined;
    let want: IpvsSvc[];
    let current: IpvsCurrentSvc[];
    const touched = new Set(last?.drains);
    if (last) {
      // Cached view: only services whose Service object changed, that went away, or that have a
      // draining destination; those are read back from the kernel before deciding.
      want = [];
      const keys = new Set<string>();
      for (const s of desired.services) {
        const w = compileIpvsService(s);
        keys.add(w.key);
        if (last.applied.get(w.key) !== s || touched.has(w.key)) {
          touched.add(w.key);
          want.push(w);
        }
      }
      for (const k of last.byKey.keys()) if (!keys.has(k)) touched.add(k);
      current = touched.size ? await this.#refresh(last.byKey, touched, want) : [];
    } else {
      want = compileIpvs(desired);
      current = cur.current;
    }
    const steps = planIpvs(current, want, planOpts);
    const draining = drainingAfter(current, steps);
    if (opts.dryRun) return { operations: steps.length, draining, changed: steps.length > 0 };
    let applied = 0;
    if (steps.length) {
      // In order, stopping at the first refusal: adds before removes is what keeps connections alive.
      const r = await this.ipvs.batch(steps.map(stepToOp), { stopOnError: true });
      if (r.failures.length) throw r.failures[0]!;
      applied = r.applied;
    }
    const byKey = last ? last.byKey : new Map<string, IpvsCurrentSvc>();
    for (const k of touched) byKey.delete(k);
    for (const c of afterSteps(want, current, steps)) byKey.set(c.key, c);
    const drains = new Set<string>();
    for (const c of byKey.values()) if (c.dests.some((d) => drainStart(d) !== undefined)) drains.add(c.key);
    const appliedNow = new Map(desired.services.map((s) => [serviceKey(s), s]));
    const allDraining = drainingAfter([...drains].map((k) => byKey.get(k)!), []);
    // The state is the desired one itself (draining destinations are not part of it): the next
    // diff skips unchanged services by identity. Counters and statuses come from status().
    this.#last = { read: { state: desired, services: [], draining: allDraining, current: [...byKey.values()] }, byKey, applied: appliedNow, drains };
    return { operations: applied, draining, changed: steps.length > 0 };
  }

  /** Deletes drained destinations (no connections left, or drain timeout passed); the state is the kernel's own. */
  async sweep(): Promise<number> {
    const cur = await this.read();
    const desired: State = {
      services: cur.current.map((s) => ({
        name: s.key,
        protocol: s.protocol,
        family: s.family === 'inet' ? 'ipv4' : 'ipv6',
        vip: s.address,
        port: s.port,
        scheduler: s.scheduler,
        ...(s.persistence ? { persistence: s.persistence } : {}),
        endpoints: s.dests.filter((d) => drainStart(d) === undefined).map((d) => ({ address: d.address, port: d.port, weight: d.weight })),
      })),
    };
    const r = await this.apply(desired, cur, { dryRun: false });
    return r.operations;
  }

  async present(): Promise<boolean> {
    return (await this.ipvs.listServices()).some((s) => 'protocol' in s);
  }

  async clear(): Promise<void> {
    const list = (await this.ipvs.listServices()).filter((s): s is AddrService => 'protocol' in s);
    if (!list.length) return;
    const r = await this.ipvs.batch(list.map((s) => ({ op: 'deleteService', service: { protocol: s.protocol, address: s.address, port: s.port } })));
    if (r.failures.length) throw r.failures[0]!;
  }

  close(): Promise<void> {
    return this.ipvs.close();
  }
}
