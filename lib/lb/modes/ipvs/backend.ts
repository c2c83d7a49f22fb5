/**
 * ipvs mode over the Ipvs handle. The namespace's address-based IPVS services belong to kernlb in
 * this mode (IPVS has no owner tag): services not in the state are deleted; fwmark services are
 * left alone. IPVS cannot store a service name, so status() names a service after its identity
 * unless the applied state is known.
 */
import type { DestinationSpec, Ipvs, IpvsOp, Service as IpvsService, ServiceKey, ServiceSpec } from '../../../ipvs';
import { compareAddress, parseAddress } from '../../address';
import { serviceKey, type Protocol, type Service, type State } from '../../state';
import type { BackendRead, DrainingEndpoint, EndpointStatus, ModeBackend, ServiceStatus } from '../../types';
import { compileIpvs, drainingAfter, drainStart, planIpvs, type IpvsCurrentSvc, type IpvsStep, type IpvsSvc } from './compile';

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

  async read(): Promise<IpvsRead> {
    const list = (await this.ipvs.listServices()).filter((s): s is AddrService => 'protocol' in s);
    const current: IpvsCurrentSvc[] = [];
    const services: ServiceStatus[] = [];
    const draining: DrainingEndpoint[] = [];
    for (const s of list) {
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
      current.push(cur);
      const endpoints: EndpointStatus[] = [];
      s.destinations.forEach((d, i) => {
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
        if (since !== undefined) {
          ep.drainingSince = since;
          draining.push({ service: key, address: cd.address, port: d.port, since });
        }
        endpoints.push(ep);
      });
      endpoints.sort((a, b) => compareAddress(parseAddress(a.address)!, parseAddress(b.address)!) || a.port - b.port);
      services.push({
        name: this.#names.get(key) ?? `${s.protocol}-${vip.text.replace(/:/g, '_')}-${s.port}`,
        protocol: s.protocol,
        family: vip.family,
        vip: vip.text,
        port: s.port,
        scheduler: s.scheduler,
        ...(s.persistence ? { persistence: { timeout: s.persistence.timeout } } : {}),
        endpoints,
      });
    }
    const state: State = {
      services: services.map((s) => ({
        ...s,
        endpoints: s.endpoints.filter((e) => e.drainingSince === undefined).map(({ address, port, weight }) => ({ address, port, weight })),
      })) as Service[],
    };
    return { state, services, draining, current };
  }

  /** Names the read-back services after the desired ones with the same identity (for the diff). */
  adoptNames(desired: State, read: IpvsRead): void {
    for (const s of desired.services) this.#names.set(serviceKey(s), s.name);
    const byKey = new Map(desired.services.map((s) => [serviceKey(s), s.name]));
    for (const s of [...read.state.services, ...read.services]) s.name = byKey.get(serviceKey(s)) ?? s.name;
  }

  async apply(desired: State, cur: IpvsRead, opts: { dryRun: boolean }) {
    const steps = planIpvs(cur.current, compileIpvs(desired), { now: this.#now(), drainTimeout: this.#drainTimeout });
    const draining = drainingAfter(cur.current, steps);
    if (!steps.length || opts.dryRun) return { operations: steps.length, draining, changed: steps.length > 0 };
    const ops = steps.map(stepToOp);
    // In order, stopping at the first refusal: adds before removes is what keeps connections alive.
    const r = await this.ipvs.batch(ops, { stopOnError: true });
    if (r.failures.length) throw r.failures[0]!;
    return { operations: r.applied, draining, changed: true };
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
