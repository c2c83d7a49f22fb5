/**
 * ipvs mode: one virtual service per service (the scheduler as given, persistence as IPVS
 * persistence), one real server per endpoint with masquerading (NAT) forwarding.
 *
 * IPVS has no transactions, so apply() is a plan of single operations ordered so that no new
 * connection fails while it runs: new services and destinations first, then re-weights, then
 * removals. A removed endpoint is not deleted at once: it is drained (weight 0) and deleted once it
 * has no connections or the drain timeout passed.
 *
 * Drain state lives in the kernel, not in memory: a draining destination has weight 0 and its
 * upper and lower connection thresholds both set to the drain start time (Unix seconds). The
 * thresholds are inert on a weight-0 destination (it gets no new connections anyway, and the
 * kernel refuses lower > upper, hence both), so a restarted process reads the drain start back
 * from the kernel and finishes the job. An endpoint the state keeps at weight 0 has thresholds 0:
 * it stays.
 */
import { endpointKey, serviceKey, type Protocol, type Service, type State } from '../../state';

/**
 * kernlb's mark on its own services: the upper half of the IPVS flags word ("kl"), which the kernel
 * keeps and returns but never acts on, and ipvsadm does not show (see the README: Ownership).
 */
export const OWNER_TAG = 0x6b6c;

/** Anything before this (2001-09-09) cannot be a drain start: a user's own threshold instead. */
export const MIN_DRAIN_STAMP = 1_000_000_000;

export interface IpvsDest {
  address: string;
  port: number;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
}

export interface IpvsSvc {
  key: string;
  protocol: Protocol;
  address: string;
  port: number;
  family: 'inet' | 'inet6';
  scheduler: string;
  persistence?: { timeout: number };
  dests: IpvsDest[];
}

/**
 * What the kernel holds now, as read back (connection counts included). Absent counts (the record
 * of what kernlb applied, not read back: its compiled destinations themselves) are unknown, so
 * such a destination drains rather than being deleted at once.
 */
export interface IpvsCurrentDest extends IpvsDest {
  activeConnections?: number;
  inactiveConnections?: number;
}

/** Connections on a destination: NaN when unknown (not read back). */
function connections(d: IpvsCurrentDest): number {
  return (d.activeConnections ?? NaN) + (d.inactiveConnections ?? NaN);
}
export interface IpvsCurrentSvc extends Omit<IpvsSvc, 'dests'> {
  dests: IpvsCurrentDest[];
  /** false: a service without kernlb's tag that the state names (taken over by an updateService). */
  owned?: false;
}

/** Per Service object (immutable; the validation cache returns the same one while unchanged). */
const compiled = new WeakMap<Service, IpvsSvc>();

export function compileIpvs(state: State): IpvsSvc[] {
  return state.services.map(compileIpvsService);
}

export function compileIpvsService(s: Service): IpvsSvc {
  let c = compiled.get(s);
  if (!c) compiled.set(s, (c = compileOne(s)));
  return c;
}

function compileOne(s: Service): IpvsSvc {
  return {
    key: serviceKey(s),
    protocol: s.protocol,
    address: s.vip,
    port: s.port,
    family: s.family === 'ipv4' ? 'inet' : 'inet6',
    scheduler: s.scheduler,
    ...(s.persistence ? { persistence: { timeout: s.persistence.timeout } } : {}),
    dests: s.endpoints.map((e) => ({ address: e.address, port: e.port, weight: e.weight, upperThreshold: 0, lowerThreshold: 0 })),
  };
}

export type IpvsStep =
  | { op: 'addService'; svc: IpvsSvc }
  | { op: 'updateService'; svc: IpvsSvc }
  | { op: 'deleteService'; svc: Pick<IpvsSvc, 'key' | 'protocol' | 'address' | 'port' | 'family'> }
  | { op: 'addDestination'; svc: IpvsSvc; dest: IpvsDest }
  | { op: 'updateDestination'; svc: Pick<IpvsSvc, 'key' | 'protocol' | 'address' | 'port' | 'family'>; dest: IpvsDest; why: 'reweight' | 'undrain' | 'drain' }
  | { op: 'deleteDestination'; svc: Pick<IpvsSvc, 'key' | 'protocol' | 'address' | 'port' | 'family'>; dest: Pick<IpvsDest, 'address' | 'port'>; why: 'drained' | 'drain-timeout' | 'idle' };

export function drainStart(d: IpvsDest): number | undefined {
  return d.weight === 0 && d.upperThreshold === d.lowerThreshold && d.lowerThreshold >= MIN_DRAIN_STAMP ? d.lowerThreshold : undefined;
}

export interface IpvsPlanOptions {
  /** Unix seconds "now" (injected for tests). */
  now: number;
  /** Seconds after which a draining destination is deleted even with connections. */
  drainTimeout: number;
}

/**
 * The ordered steps that take the kernel from `current` to `desired`. Pure: tests feed both sides.
 * Order: add services, add destinations, re-weight / un-drain, start drains, delete drained
 * destinations, delete services.
 */
export function planIpvs(current: IpvsCurrentSvc[], desired: IpvsSvc[], opts: IpvsPlanOptions): IpvsStep[] {
  const adds: IpvsStep[] = [];
  const addDests: IpvsStep[] = [];
  const updates: IpvsStep[] = [];
  const drains: IpvsStep[] = [];
  const deletes: IpvsStep[] = [];
  const svcDeletes: IpvsStep[] = [];
  const cur = new Map(current.map((s) => [s.key, s]));
  for (const want of desired) {
    const have = cur.get(want.key);
    if (!have) {
      adds.push({ op: 'addService', svc: want });
      continue;
    }
    cur.delete(want.key);
    if (have.owned === false || have.scheduler !== want.scheduler || (have.persistence?.timeout ?? 0) !== (want.persistence?.timeout ?? 0))
      updates.push({ op: 'updateService', svc: want });
    const haveDests = new Map(have.dests.map((d) => [endpointKey(d), d]));
    for (const d of want.dests) {
      const h = haveDests.get(endpointKey(d));
      if (!h) {
        addDests.push({ op: 'addDestination', svc: want, dest: d });
        continue;
      }
      haveDests.delete(endpointKey(d));
      if (h.weight !== d.weight || h.upperThreshold !== d.upperThreshold || h.lowerThreshold !== d.lowerThreshold)
        updates.push({ op: 'updateDestination', svc: want, dest: d, why: drainStart(h) !== undefined ? 'undrain' : 'reweight' });
    }
    for (const h of haveDests.values()) {
      const since = drainStart(h);
      if (since === undefined) {
        // Removed from the state: start draining now (weight 0, stamp in the thresholds).
        if (connections(h) === 0)
          deletes.push({ op: 'deleteDestination', svc: want, dest: h, why: 'idle' });
        else drains.push({ op: 'updateDestination', svc: want, dest: { address: h.address, port: h.port, weight: 0, upperThreshold: opts.now, lowerThreshold: opts.now }, why: 'drain' });
      } else if (connections(h) === 0) {
        deletes.push({ op: 'deleteDestination', svc: want, dest: h, why: 'drained' });
      } else if (opts.now - since >= opts.drainTimeout) {
        deletes.push({ op: 'deleteDestination', svc: want, dest: h, why: 'drain-timeout' });
      }
    }
  }
  for (const have of cur.values()) svcDeletes.push({ op: 'deleteService', svc: have });
  return [...adds, ...addDests, ...updates, ...drains, ...deletes, ...svcDeletes];
}

/** Destinations still draining after a plan (for the change summary). */
export function drainingAfter(current: IpvsCurrentSvc[], steps: IpvsStep[]): { service: string; address: string; port: number; since: number }[] {
  const destKey = (s: IpvsStep) => ('dest' in s ? `${s.svc.key}>${endpointKey(s.dest)}` : '');
  const deleted = new Set(steps.filter((s) => s.op === 'deleteDestination').map(destKey));
  const deletedSvc = new Set(steps.filter((s) => s.op === 'deleteService').map((s) => s.svc.key));
  const undrained = new Set(steps.filter((s) => s.op === 'updateDestination' && s.why === 'undrain').map(destKey));
  const out: { service: string; address: string; port: number; since: number }[] = [];
  for (const s of current) {
    if (deletedSvc.has(s.key)) continue;
    for (const d of s.dests) {
      const k = `${s.key}>${endpointKey(d)}`;
      const since = drainStart(d);
      if (since !== undefined && !deleted.has(k) && !undrained.has(k)) out.push({ service: s.key, address: d.address, port: d.port, since });
    }
  }
  for (const st of steps)
    if (st.op === 'updateDestination' && st.why === 'drain') out.push({ service: st.svc.key, address: st.dest.address, port: st.dest.port, since: st.dest.lowerThreshold });
  return out;
}

/** The desired state in `ipvsadm -R` syntax (the benchmark's reference run). */
export function renderIpvsadm(svcs: IpvsSvc[]): string {
  const flag = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;
  const hp = (a: string, p: number) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
  const out: string[] = [];
  for (const s of svcs) {
    out.push(`-A ${flag[s.protocol]} ${hp(s.address, s.port)} -s ${s.scheduler}${s.persistence ? ` -p ${s.persistence.timeout}` : ''}`);
    for (const d of s.dests) out.push(`-a ${flag[s.protocol]} ${hp(s.address, s.port)} -r ${hp(d.address, d.port)} -m -w ${d.weight}`);
  }
  return out.join('\n') + '\n';
}

