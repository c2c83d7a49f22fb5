/**
 * ipvs mode over the Ipvs handle. kernlb's services carry its tag (OWNER_TAG, in the flags word's
 * upper half): reads, status(), apply() and clear() see and touch only those, except that a
 * service the state names and that exists untagged (another client's, or one `ipvsadm -E`/`-R`
 * rewrote) is taken over. IPVS cannot store a service name, so status() names a service after
 * its identity unless the applied state is known.
 */
import type { DestinationSpec, Ipvs, IpvsOp, Service as IpvsService, ServiceKey, ServiceSpec } from '../../../ipvs';
import { compareAddress, parseAddress } from '../../address';
import { constants } from 'node:os';
import { isKernelError, kernelError } from '../../../errors';
import { IPVS_EPERM_HINT } from '../../../ipvs/ipvs';
import { endpointKey, serviceKey, type Protocol, type Service, type State } from '../../state';
import type { BackendApplyResult, BackendRead, DrainingEndpoint, EndpointStatus, ModeBackend, PackedStatus, ServiceChange, ServiceStatus } from '../../types';
import { IpvsStatusReader, type IpvsStatusRead } from './status';
import { compileIpvs, compileIpvsService, drainingAfter, drainStart, OWNER_TAG, planIpvs, type IpvsCurrentDest, type IpvsCurrentSvc, type IpvsDest, type IpvsStep, type IpvsSvc } from './compile';

export interface IpvsRead extends BackendRead {
  /** kernlb's own services (tagged). */
  current: IpvsCurrentSvc[];
  /** Address-based services without the tag, by key: left alone unless the state names one. */
  foreign?: Map<string, IpvsCurrentSvc>;
}

export interface IpvsBackendOptions {
  /** Seconds a removed endpoint may keep its connections before it is deleted anyway (default 300). */
  drainTimeout?: number;
  /** Clock in Unix seconds (tests). */
  now?: () => number;
}

type AddrService = Extract<IpvsService, { protocol: Protocol }>;
const { EEXIST, ENOENT, ESRCH } = constants.errno;

/** What the backend applied last (see IpvsBackend.#last). */
interface Last {
  read: IpvsRead;
  byKey: Map<string, IpvsCurrentSvc>;
  applied: Map<string, Service>;
  /** The services array last applied, in order: the next apply(state) compares with it by place. */
  list: readonly Service[];
  drains: Set<string>;
}

/**
 * Above this many places that differ from the last applied list, apply(state) compares by key
 * instead (a service inserted near the front shifts every later place).
 */
const BY_PLACE_MAX = 64;

/**
 * What changed between the last applied list and `want`, compared place by place by identity (the
 * validation cache hands back an unchanged service as the same object, mostly at the same place):
 * a pointer comparison per service and no allocation for the unchanged ones, which at 10k services
 * is what keeps a no-op and a one-service change from costing a walk with a hash lookup and a Set
 * entry per service (50-350 ms in UML, most of it the garbage those made). Undefined when more than
 * BY_PLACE_MAX places differ. A key held at a differing place of `had` can only be in `want` at a
 * differing place (keys are unique within a state), so both lists' differing places decide alone.
 */
function changedByPlace(had: readonly Service[], want: readonly Service[], applied: Map<string, Service>): { changed: Service[]; gone: string[] } | undefined {
  const n = Math.min(had.length, want.length);
  const h: Service[] = [];
  const w: Service[] = [];
  for (let i = 0; i < n; i++) {
    if (had[i] === want[i]) continue;
    h.push(had[i]!);
    w.push(want[i]!);
    if (w.length > BY_PLACE_MAX) return undefined;
  }
  if (h.length + had.length - n > BY_PLACE_MAX || w.length + want.length - n > BY_PLACE_MAX) return undefined;
  for (let i = n; i < had.length; i++) h.push(had[i]!);
  for (let i = n; i < want.length; i++) w.push(want[i]!);
  const keys = new Set<string>();
  const changed: Service[] = [];
  for (const s of w) {
    const k = compileIpvsService(s).key;
    keys.add(k);
    // (a service that only moved is the same object under its key)
    if (applied.get(k) !== s) changed.push(s);
  }
  const gone: string[] = [];
  for (const s of h) {
    const k = compileIpvsService(s).key;
    if (!keys.has(k)) gone.push(k);
  }
  return { changed, gone };
}

function keyOf(s: Pick<IpvsSvc, 'protocol' | 'address' | 'port' | 'family'>): ServiceKey {
  return { protocol: s.protocol, address: s.address, port: s.port, family: s.family };
}

/**
 * A compiled destination is a DestinationSpec as it is (masquerading is the default forwarding):
 * passed through, not copied (a full apply would copy 100k of them; in UML every fresh page of
 * them costs a fault). Read-back ones carry counters: those are copied to the spec's fields.
 */
function dest(d: IpvsDest | IpvsCurrentDest): DestinationSpec {
  if (!('activeConnections' in d)) return d;
  return { address: d.address, port: d.port, weight: d.weight, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold };
}

function svcSpec(s: IpvsSvc, withDests: boolean): ServiceSpec {
  const spec: ServiceSpec = { ...keyOf(s), scheduler: s.scheduler, tag: OWNER_TAG };
  if (s.persistence) spec.persistence = { timeout: s.persistence.timeout };
  // (an added service is always a compiled one: its destinations pass as they are)
  if (withDests) spec.destinations = s.dests;
  return spec;
}

/** Steps per Ipvs.batch call of one apply (#send). */
const SEND_CHUNK = 1024;

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
    const old = prev.get(w.key);
    // A new service is its compiled self (destinations without counts: unknown until read, so
    // planIpvs drains rather than deletes): no copy of 100k destinations after a full apply.
    if (!old) return w;
    const dests: IpvsCurrentDest[] = [...w.dests];
    const wanted = new Set(w.dests.map(endpointKey));
    for (const d of old.dests) {
      const k = `${w.key}>${endpointKey(d)}`;
      if (wanted.has(endpointKey(d)) || deleted.has(k)) continue;
      dests.push({ ...d, ...(drained.get(k) ?? {}) });
    }
    return { ...w, dests };
  });
}

/** A full read's own services plus the untagged ones the state names (planned as a take-over). */
function withAdopted(desired: State, read: IpvsRead): IpvsCurrentSvc[] {
  const foreign = read.foreign;
  if (!foreign) return read.current;
  const out = [...read.current];
  for (const s of desired.services) {
    const f = foreign.get(serviceKey(s));
    if (f) out.push(f);
  }
  return out;
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
   * The kernel view after our last apply. IPVS has no generation counter and no cheap check, so
   * this is taken on trust: an apply plans against it, reading back only services that have a
   * draining destination (their connection counts decide when it goes), and sends exactly the
   * operations the change needs. A kernel refusal (a destination or service that is not where the
   * record says) drops it and the apply starts over from a full read; so does invalidate()
   * (LoadBalancer.resync). Changes behind kernlb's back that the kernel does not refuse (a weight
   * set with ipvsadm, an extra destination) stay until such a full read. A new backend starts
   * from a full read. `applied` holds the Service objects last applied, by key: the validation
   * cache returns the same object for an unchanged service, so an apply finds what changed by
   * identity and plans only that.
   */
  #last: Last | undefined;

  async read(opts: { forApply?: boolean } = {}): Promise<IpvsRead> {
    if (opts.forApply && this.#last) return this.#last.read;
    this.#last = undefined;
    const list = (await this.ipvs.listServices()).filter((s): s is AddrService => 'protocol' in s);
    const foreign = new Map<string, IpvsCurrentSvc>();
    const conv: { cur: IpvsCurrentSvc; status: ServiceStatus }[] = [];
    for (const s of list) {
      const c = this.#convert(s);
      if (s.tag === OWNER_TAG) conv.push(c);
      else foreign.set(c.cur.key, { ...c.cur, owned: false });
    }
    conv.sort((a, b) => (a.cur.key < b.cur.key ? -1 : 1));
    const r = this.#assemble(conv.map((c) => c.cur), conv.map((c) => c.status));
    if (foreign.size) r.foreign = foreign;
    return r;
  }

  invalidate(): void {
    this.#last = undefined;
  }

  /**
   * LoadBalancer.status(): what read() reports (services, state, draining) decoded straight from the
   * packed listing (status.ts), without the plan's objects; the record of the last apply is kept (a
   * scrape is no reason to read everything at the next apply).
   */
  status(): Promise<IpvsStatusRead> {
    return this.ipvs.decodeListing((l) => this.#status.read(l, this.#names));
  }

  readonly #status = new IpvsStatusReader();

  /**
   * LoadBalancer.counters(): status()'s services and counters packed (status.ts readPacked), the
   * services the apply record's own where the kernel lists exactly them. Never undefined: the
   * listing holds every field the result carries, so each is compared there, not taken on trust.
   */
  readCounters(): Promise<PackedStatus> {
    return this.ipvs.decodeListing((l) => this.#status.readPacked(l, this.#names, this.#last?.applied));
  }

  /**
   * Reads the given services back from the kernel (those it does not have are left out), all in one
   * read (Ipvs.getServices): one getService each was ~3 ms a service in UML, so 7 draining services
   * cost ~20 ms of the apply that followed their drains.
   */
  async #refresh(known: Map<string, IpvsCurrentSvc>, keys: Iterable<string>): Promise<IpvsCurrentSvc[]> {
    const want: ServiceKey[] = [];
    for (const k of keys) {
      const c = known.get(k);
      if (c) want.push(keyOf(c));
    }
    const out: IpvsCurrentSvc[] = [];
    if (!want.length) return out;
    for (const s of await this.ipvs.getServices(want)) if ('protocol' in s) out.push(this.#convert(s).cur);
    return out;
  }

  /** Names the read-back services after the desired ones with the same identity (for the diff). */
  adoptNames(desired: State, read: IpvsRead): void {
    // The record's state is the last applied one (its names are kernlb's own); the names of what an
    // apply changes are recorded by the apply (#applyFull, #applyCached): 3 x 10k keys spared.
    if (read === this.#last?.read) return;
    // Nothing read back to name (an empty namespace): the apply records the names itself.
    if (!read.services.length) return;
    for (const s of desired.services) this.#names.set(compileIpvsService(s).key, s.name);
    const byKey = new Map(desired.services.map((s) => [compileIpvsService(s).key, s.name]));
    for (const s of [...read.state.services, ...read.services]) s.name = byKey.get(serviceKey(s)) ?? s.name;
  }

  async apply(desired: State, cur: IpvsRead, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    const last = cur === this.#last?.read ? this.#last : undefined;
    if (!last) return this.#applyFull(desired, withAdopted(desired, cur), opts);
    let diff = changedByPlace(last.list, desired.services, last.applied);
    if (!diff) {
      const changed: Service[] = [];
      const gone: string[] = [];
      const keys = new Set<string>();
      for (const s of desired.services) {
        const k = compileIpvsService(s).key;
        keys.add(k);
        if (last.applied.get(k) !== s) changed.push(s);
      }
      for (const k of last.byKey.keys()) if (!keys.has(k)) gone.push(k);
      diff = { changed, gone };
    }
    // Nothing changed and nothing draining: nothing to read, send or record.
    if (!diff.changed.length && !diff.gone.length && !last.drains.size) {
      last.list = desired.services; // (the same services, maybe moved: compare with this order next)
      return { operations: 0, draining: [], changed: false };
    }
    return this.#applyCached(last, diff.changed, diff.gone, desired, opts);
  }

  /** LoadBalancer.update: plans only the named services against the record (no read, no walk of the others). */
  async applyChanges(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    const last = this.#last;
    if (!last) return this.#applyFull(desired, withAdopted(desired, await this.read()), opts);
    const changed: Service[] = [];
    const gone: string[] = [];
    for (const c of changes) {
      const before = c.before && serviceKey(c.before);
      if (c.after) {
        changed.push(c.after);
        this.#names.set(serviceKey(c.after), c.after.name);
      }
      if (before !== undefined && (!c.after || serviceKey(c.after) !== before)) gone.push(before);
    }
    return this.#applyCached(last, changed, gone, desired, opts);
  }

  /** Plans against a full read of the kernel (`current`), and records the result. */
  async #applyFull(desired: State, current: IpvsCurrentSvc[], opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    this.#last = undefined;
    const want = compileIpvs(desired);
    // (keys from the compiled services: serviceKey() builds each string again)
    desired.services.forEach((s, i) => this.#names.set(want[i]!.key, s.name));
    const steps = planIpvs(current, want, { now: this.#now(), drainTimeout: this.#drainTimeout });
    const draining = drainingAfter(current, steps);
    if (opts.dryRun) return { operations: steps.length, draining, changed: steps.length > 0 };
    const applied = await this.#send(steps);
    const byKey = new Map<string, IpvsCurrentSvc>();
    for (const c of afterSteps(want, current, steps)) byKey.set(c.key, c);
    const drains = new Set<string>();
    for (const c of byKey.values()) if (c.dests.some((d) => drainStart(d) !== undefined)) drains.add(c.key);
    this.#record(desired, byKey, new Map(desired.services.map((s, i) => [want[i]!.key, s])), drains);
    return { operations: applied, draining, changed: steps.length > 0 };
  }

  /**
   * Plans `changed` (and `gone`, removed) against the record: no read except of services with a
   * draining destination. Destinations of the record have unknown connection counts (NaN), so a
   * removed one drains (one SET_DEST) instead of being deleted at once; a later apply reads that
   * service and deletes it when idle or past the drain timeout. The record is updated in place
   * (O(changed): rebuilding the map of applied services was a 10k-entry allocation per apply).
   */
  async #applyCached(last: Last, changed: Service[], gone: string[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    const want: IpvsSvc[] = [];
    const touched = new Set<string>();
    for (const s of changed) {
      const w = compileIpvsService(s);
      this.#names.set(w.key, s.name);
      if (!touched.has(w.key)) want.push(w);
      touched.add(w.key);
    }
    for (const k of gone) touched.add(k);
    for (const k of last.drains) {
      if (touched.has(k)) continue;
      touched.add(k);
      const s = last.applied.get(k);
      if (s) want.push(compileIpvsService(s));
    }
    const reread = new Map((await this.#refresh(last.byKey, [...touched].filter((k) => last.drains.has(k)))).map((c) => [c.key, c]));
    const current: IpvsCurrentSvc[] = [];
    for (const k of touched) {
      if (last.drains.has(k)) {
        const r = reread.get(k);
        if (r) current.push(r);
        continue;
      }
      const c = last.byKey.get(k);
      if (c) current.push(c);
    }
    const steps = planIpvs(current, want, { now: this.#now(), drainTimeout: this.#drainTimeout });
    const draining = [...drainingAfter(current, steps), ...last.read.draining.filter((d) => !touched.has(d.service))];
    if (opts.dryRun) return { operations: steps.length, draining, changed: steps.length > 0 };
    this.#last = undefined;
    let applied: number;
    try {
      applied = await this.#send(steps);
    } catch (e) {
      // The record was wrong (EEXIST, ENOENT, ESRCH: someone changed IPVS behind kernlb's back):
      // read everything and plan again from the kernel's own view.
      if (!isKernelError(e) || ![EEXIST, ENOENT, ESRCH].includes(e.errno)) throw e;
      return this.#applyFull(desired, withAdopted(desired, await this.read()), opts);
    }
    const byKey = last.byKey;
    for (const k of touched) byKey.delete(k);
    for (const c of afterSteps(want, current, steps)) byKey.set(c.key, c);
    const drains = last.drains;
    for (const k of touched) {
      const c = byKey.get(k);
      if (c?.dests.some((d) => drainStart(d) !== undefined)) drains.add(k);
      else drains.delete(k);
    }
    const applied2 = last.applied;
    for (const k of gone) applied2.delete(k);
    for (const s of changed) applied2.set(compileIpvsService(s).key, s);
    this.#record(desired, byKey, applied2, drains);
    return { operations: applied, draining, changed: steps.length > 0 };
  }

  /**
   * In order, stopping at the first refusal: adds before removes is what keeps connections alive.
   * Sent SEND_CHUNK steps per Ipvs.batch (IPVS has no transactions: one batch or several is the same
   * to the kernel): a full apply of 10k x 10 made its 10k ops (110k destination specs in them) and
   * their plans at once, at the start's peak. A refusal's index counts from the first step.
   */
  async #send(steps: IpvsStep[]): Promise<number> {
    let applied = 0;
    for (let from = 0; from < steps.length; from += SEND_CHUNK) {
      const r = await this.ipvs.batch(steps.slice(from, from + SEND_CHUNK).map(stepToOp), { stopOnError: true });
      applied += r.applied;
      const f = r.failures[0];
      if (f) {
        if (from === 0 || f.index === undefined) throw f;
        const { errno, op, object, extack, item, attrOffset } = f;
        throw kernelError({ errno, op, index: f.index + from, ...(object !== undefined ? { object } : {}), ...(extack !== undefined ? { extack } : {}), ...(item !== undefined ? { item } : {}), ...(attrOffset !== undefined ? { attrOffset } : {}), ...(errno === constants.errno.EPERM ? { hint: IPVS_EPERM_HINT } : {}) });
      }
    }
    return applied;
  }

  #record(desired: State, byKey: Map<string, IpvsCurrentSvc>, applied: Map<string, Service>, drains: Set<string>): void {
    const allDraining = drainingAfter([...drains].map((k) => byKey.get(k)!), []);
    // The state is the desired one itself (draining destinations are not part of it): the next
    // diff skips unchanged services by identity. Counters and statuses come from status().
    // (`current` is built on demand: only a full read's plan uses it.)
    const read: IpvsRead = { state: desired, services: [], draining: allDraining, get current() { return [...byKey.values()]; } };
    this.#last = { read, byKey, applied, list: desired.services, drains };
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
    return (await this.ipvs.listServices()).some((s) => 'protocol' in s && s.tag === OWNER_TAG);
  }

  /** Deletes kernlb's services (tagged) only; another client's stay, whatever their address. */
  async clear(): Promise<void> {
    this.#last = undefined;
    const list = (await this.ipvs.listServices()).filter((s): s is AddrService => 'protocol' in s && s.tag === OWNER_TAG);
    if (!list.length) return;
    const r = await this.ipvs.batch(list.map((s) => ({ op: 'deleteService', service: { protocol: s.protocol, address: s.address, port: s.port } })));
    if (r.failures.length) throw r.failures[0]!;
  }

  close(): Promise<void> {
    return this.ipvs.close();
  }
}
