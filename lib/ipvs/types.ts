/**
 * The IPVS model. Reads return these same shapes (with stats and counters added), so a service read
 * with getService()/listServices() can be passed back to addService() unchanged.
 */

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type AddressFamily = 'inet' | 'inet6';

/** A virtual service identified by protocol, address and port. */
export interface AddressServiceKey {
  protocol: Protocol;
  address: string;
  port: number;
  /** Derived from the address; accepted (and checked) when given, always present on reads. */
  family?: AddressFamily;
}

/** A virtual service identified by a firewall mark (set by nftables/iptables rules). */
export interface FwmarkServiceKey {
  fwmark: number;
  /** Default 'inet'. */
  family?: AddressFamily;
}

export type ServiceKey = AddressServiceKey | FwmarkServiceKey;

/**
 * Scheduler flags. sh-* apply to the sh scheduler and mh-* to mh (both reuse the kernel's SCHED1 and
 * SCHED2 bits); flag-1..3 are the raw bits for any other scheduler.
 */
export type SchedulerFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port' | 'flag-1' | 'flag-2' | 'flag-3';

export interface Persistence {
  /** Seconds a client sticks to its destination (default 300, like ipvsadm -p). */
  timeout?: number;
  /** Granularity of client grouping: an IPv4 mask ("255.255.255.0") or an IPv6 prefix length (64). */
  netmask?: string | number;
}

export interface ServiceAttributes {
  /** Kernel scheduler name: rr, wrr, lc, wlc (default), lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos, ... */
  scheduler?: string;
  schedulerFlags?: SchedulerFlag[];
  /** Present = persistent service. */
  persistence?: Persistence;
  /** One-packet scheduling (each UDP datagram scheduled on its own). */
  onePacket?: boolean;
  /** Persistence engine, e.g. "sip". */
  persistenceEngine?: string;
  /**
   * 1..0xffff in the upper half of the service's flags word: the kernel stores and returns those
   * bits but never acts on them, and ipvsadm neither shows nor keeps them (its edits and `-R`
   * write the whole word without them). A client marks its own services with it; kernlb's load
   * balancer uses 0x6b6c. Absent or 0 = none.
   */
  tag?: number;
}

/** route = direct routing (gatewaying, ipvsadm -g; 'direct' is accepted as a synonym); local is read-only. */
export type ForwardingMethod = 'masq' | 'tunnel' | 'route' | 'direct' | 'local';
export type TunnelType = 'ipip' | 'gue' | 'gre';
export type TunnelChecksum = 'none' | 'csum' | 'remcsum';

export interface Tunnel {
  type: TunnelType;
  /** UDP port of GUE encapsulation (required for gue). */
  port?: number;
  checksum?: TunnelChecksum;
}

export interface DestinationKey {
  address: string;
  /** Default: the service's port (0 for fwmark services), as with ipvsadm. */
  port?: number;
}

export interface DestinationSpec extends DestinationKey {
  /** 0 = receives no new connections. Default 1. */
  weight?: number;
  /** Default 'masq'. */
  forwarding?: ForwardingMethod;
  /** Connection thresholds; 0 = none. */
  upperThreshold?: number;
  lowerThreshold?: number;
  /** Encapsulation of tunnel forwarding. */
  tunnel?: Tunnel;
}

export type ServiceSpec = ServiceKey & ServiceAttributes & {
  /** Added together with the service by addService(). */
  destinations?: DestinationSpec[];
};

export interface Rates {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Totals since creation (or the last zero()), and per-second rates estimated by the kernel. */
export interface Stats extends Rates {
  rates: Rates;
}

export interface Destination {
  address: string;
  port: number;
  family: AddressFamily;
  weight: number;
  forwarding: 'masq' | 'tunnel' | 'route' | 'local';
  upperThreshold: number;
  lowerThreshold: number;
  tunnel?: Tunnel;
  activeConnections: number;
  inactiveConnections: number;
  persistentConnections: number;
  stats: Stats;
}

interface ServiceRead {
  family: AddressFamily;
  scheduler: string;
  schedulerFlags: SchedulerFlag[];
  persistence?: { timeout: number; netmask: string | number };
  onePacket: boolean;
  persistenceEngine?: string;
  /** Present when the upper half of the flags word is set (see ServiceAttributes.tag). */
  tag?: number;
  stats: Stats;
  destinations: Destination[];
}

export type Service =
  | (ServiceRead & { protocol: Protocol; address: string; port: number })
  | (ServiceRead & { fwmark: number });

export interface Timeouts {
  /** Seconds; on write, 0 or absent keeps the current value. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsInfo {
  /** "1.2.1" */
  version: string;
  versionCode: number;
  connectionTableSize: number;
}

export type DaemonState = 'master' | 'backup';

export interface DaemonSpec {
  state: DaemonState;
  /** Multicast interface. */
  interface: string;
  /** 0..255, default 0. */
  syncId?: number;
  /** Maximum sync message payload (ipvsadm --sync-maxlen). */
  maxLength?: number;
  /** Multicast group (IPv4 or IPv6), port and TTL; kernel defaults when absent. */
  group?: string;
  port?: number;
  ttl?: number;
}

export interface Daemon {
  state: DaemonState;
  interface: string;
  syncId: number;
  maxLength: number;
  group?: string;
  port: number;
  ttl: number;
}

export interface Endpoint {
  address: string;
  port: number;
}

/** One entry of the namespace's IPVS connection table. */
export interface Connection {
  /** Lower case: tcp, udp, sctp (other protocols as the kernel names them). */
  protocol: string;
  client: Endpoint;
  virtual: Endpoint;
  destination: Endpoint;
  /** Protocol state, e.g. ESTABLISHED, TIME_WAIT, NONE (templates). */
  state: string;
  expiresSeconds: number;
  persistenceEngine?: string;
  persistenceData?: string;
}

/** Operations of a batch: one message each (addService with destinations expands to several). */
export type IpvsOp =
  | { op: 'addService'; service: ServiceSpec }
  | { op: 'updateService'; service: ServiceSpec }
  | { op: 'deleteService'; service: ServiceKey }
  | { op: 'addDestination'; service: ServiceKey; destination: DestinationSpec }
  | { op: 'updateDestination'; service: ServiceKey; destination: DestinationSpec }
  | { op: 'deleteDestination'; service: ServiceKey; destination: DestinationKey };

export interface BatchOptions {
  /** Stop sending after the chunk in which something failed (default false: report all failures). */
  stopOnError?: boolean;
  /** Messages per sendmsg (default 1024). */
  chunk?: number;
}
