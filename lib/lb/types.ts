/** What LoadBalancer returns: the change summary of apply() and the status() read-back. */
import type { StateDiff } from './diff';
import type { Mode } from './schedulers';
import type { Endpoint, Service, State } from './state';

export interface EndpointCounters {
  /** New connections sent to this endpoint (nftables/iptables: nat rule hits; IPVS: conns). */
  connections: number;
  /** Packets and bytes (IPVS: both directions; nftables/iptables: the first packet of each connection). */
  packets: number;
  bytes: number;
  /** IPVS only: current connection counts. */
  activeConnections?: number;
  inactiveConnections?: number;
}

export interface EndpointStatus extends Endpoint {
  counters: EndpointCounters;
  /** IPVS: removed from the state, drained since this Unix time (seconds), deleted when idle. */
  drainingSince?: number;
}

export interface ServiceStatus extends Omit<Service, 'endpoints'> {
  endpoints: EndpointStatus[];
}

export interface LbStatus {
  mode: Mode;
  /** The kernel's view in the desired-state model (draining IPVS destinations left out). */
  state: State;
  services: ServiceStatus[];
  /** Objects in the mode's tables beyond the state (foreign or duplicated rules, elements, chains), one line each: the next apply() removes them. */
  drift?: string[];
}

/**
 * status()'s counters without an object per endpoint (a scrape at 10k x 10: LoadBalancer.counters()).
 * `services` is the kernel's view (no drift: a mode gives this only when it can prove there is none),
 * endpoints in status() order; the arrays hold each endpoint's counters in that order, services one
 * after the other. The services may be the LoadBalancer's own records (nftables: no copy): read them,
 * never edit them (status().state is the copy to edit and apply).
 */
export interface PackedStatus {
  mode: Mode;
  services: readonly Service[];
  connections: Float64Array;
  packets: Float64Array;
  bytes: Float64Array;
  /** IPVS: each endpoint's established connections and its other ones (status()'s counters of the same names). */
  activeConnections?: Float64Array;
  inactiveConnections?: Float64Array;
}

export interface DrainingEndpoint {
  service: string;
  address: string;
  port: number;
  since: number;
}

export interface ApplySummary {
  mode: Mode;
  dryRun: boolean;
  /** False when the kernel already matched: nothing was sent. */
  changed: boolean;
  diff: StateDiff;
  /** Human-readable diff lines (+ added, - removed, ~ updated). */
  lines: string[];
  /** Kernel operations sent (nft/iptables: items in the one commit; IPVS: messages). */
  operations: number;
  /** Wall time of the whole apply (read, diff, commit), milliseconds. */
  durationMs: number;
  /** IPVS: destinations still draining after this apply. */
  draining: DrainingEndpoint[];
  /** Other modes' rules removed from the namespace after this mode went live. */
  removedModes: Mode[];
  /** What the state asks that the kernel does not do as written (e.g. weights under rr). */
  warnings: string[];
}

/** What a backend reads from the kernel; backends add what their apply() needs. */
export interface BackendRead {
  state: State;
  services: ServiceStatus[];
  draining: DrainingEndpoint[];
  /**
   * What the kernel holds beyond the model (objects in the mode's tables that the backend would not
   * have written: duplicated or foreign rules, elements, chains), one line each. diff() reports it
   * and apply() repairs it even when the states compare equal.
   */
  drift?: string[];
}

/** One service a caller says changed (LoadBalancer.update): before = undefined when added, after = undefined when removed. */
export interface ServiceChange {
  name: string;
  before?: Service;
  after?: Service;
}

export interface BackendApplyResult {
  operations: number;
  draining: DrainingEndpoint[];
  changed: boolean;
}

/** What each mode implements; LoadBalancer does validation, diffing, timing and mode switching. */
export interface ModeBackend<C extends BackendRead = BackendRead> {
  readonly mode: Mode;
  /**
   * Reads the kernel into the model plus counters. `forApply`: counters are not needed, and a
   * backend may answer from what it committed last when it can prove nothing changed since
   * (nftables: the ruleset generation). `lazy` (with forApply, for an apply that is not a dry run):
   * the backend may skip that proof when its apply makes it anyway (iptables: the commit's
   * expectUnchanged), failing the apply with a ConflictError when it does not hold.
   */
  read(opts?: { forApply?: boolean; lazy?: boolean }): Promise<C>;
  /** Makes the kernel match `desired`, knowing `current` (from read()). */
  apply(desired: State, current: C, opts: { dryRun: boolean }): Promise<BackendApplyResult>;
  /**
   * Applies only the services a caller says changed (LoadBalancer.update); `desired` is the whole
   * state after the change. The backend trusts its record of what it last applied, checking cheaply
   * that the kernel has not changed behind it where the kernel allows (nftables: the generation;
   * iptables: the table's state), and falls back to a full read when that check fails. Its cost must
   * not depend on the untouched services. Backends without it get apply() after a read.
   */
  applyChanges?(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult>;
  /**
   * LoadBalancer.status(): the kernel's view with counters, as read() gives it; backends that read it
   * more cheaply than read() does implement it (IPVS: no plan objects built). Absent: read().
   */
  status?(): Promise<BackendRead>;
  /** status()'s counters packed, when the backend can read them alone and prove the rest (else undefined: call read()). */
  readCounters?(): Promise<PackedStatus | undefined>;
  /** Forgets every record of the kernel's state: the next read is a full one (LoadBalancer.resync). */
  invalidate?(): void;
  /** Whether this mode has anything in the namespace. */
  present(): Promise<boolean>;
  /** Removes everything this mode owns in the namespace. */
  clear(): Promise<void>;
  close(): Promise<void>;
}
