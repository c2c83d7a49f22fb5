/** Kernel replies (native descriptions) into the public model: the inverse of validate.ts. */
import type { NativeIpvsDaemonOut, NativeIpvsDestOut, NativeIpvsServiceOut, NativeIpvsStats } from '../native';
import { AF_INET6, SvcFlag } from './constants';
import type { AddressFamily, Daemon, Destination, Protocol, SchedulerFlag, Service, Stats, Tunnel } from './types';

const protoNames: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export function familyName(af: number): AddressFamily {
  return af === AF_INET6 ? 'inet6' : 'inet';
}

/** The native layer already builds the public shape (see NativeIpvsStats). */
export function statsFrom(s: NativeIpvsStats): Stats {
  return s;
}

/** IPv4 netmask number (host order) to dotted text. */
export function maskText(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function schedulerFlagsFrom(scheduler: string, flags: number): SchedulerFlag[] {
  const out: SchedulerFlag[] = [];
  const prefix = scheduler === 'sh' || scheduler === 'mh' ? scheduler : undefined;
  if (flags & SvcFlag.SCHED1) out.push(prefix ? (`${prefix}-fallback` as SchedulerFlag) : 'flag-1');
  if (flags & SvcFlag.SCHED2) out.push(prefix ? (`${prefix}-port` as SchedulerFlag) : 'flag-2');
  if (flags & SvcFlag.SCHED3) out.push('flag-3');
  return out;
}

const fwdNames = ['masq', 'local', 'tunnel', 'route'] as const;
const tunTypes = ['ipip', 'gue', 'gre'] as const;
const tunChecksums = ['none', 'csum', 'remcsum'] as const;

export function destinationFrom(d: NativeIpvsDestOut): Destination {
  const forwarding = fwdNames[d.fwd] ?? 'masq';
  const out: Destination = {
    address: d.address,
    port: d.port,
    family: familyName(d.family),
    weight: d.weight,
    forwarding,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    activeConnections: d.activeConns,
    inactiveConnections: d.inactConns,
    persistentConnections: d.persistConns,
    stats: statsFrom(d.stats),
  };
  // The kernel reports tunnel fields for every destination; they mean something for tunnels only.
  if (forwarding === 'tunnel' && d.tunType !== undefined) {
    const t: Tunnel = { type: tunTypes[d.tunType] ?? 'ipip' };
    if (t.type === 'gue') t.port = d.tunPort ?? 0;
    t.checksum = tunChecksums[d.tunFlags ?? 0] ?? 'none';
    out.tunnel = t;
  }
  return out;
}

export function serviceFrom(s: NativeIpvsServiceOut, destinations: NativeIpvsDestOut[] = []): Service {
  const family = familyName(s.family);
  const common = {
    family,
    scheduler: s.scheduler,
    schedulerFlags: schedulerFlagsFrom(s.scheduler, s.flags),
    onePacket: (s.flags & SvcFlag.ONEPACKET) !== 0,
    stats: statsFrom(s.stats),
    destinations: destinations.map(destinationFrom),
  };
  const extra: Partial<Pick<Service, 'persistence' | 'persistenceEngine'>> = {};
  if (s.flags & SvcFlag.PERSISTENT)
    extra.persistence = { timeout: s.timeout, netmask: s.family === AF_INET6 ? s.netmask : maskText(s.netmask) };
  if (s.pe) extra.persistenceEngine = s.pe;
  if (s.fwmark) return { fwmark: s.fwmark, ...common, ...extra };
  return { protocol: protoNames[s.protocol] ?? 'tcp', address: s.address, port: s.port, ...common, ...extra };
}

export function daemonFrom(d: NativeIpvsDaemonOut): Daemon {
  const out: Daemon = {
    state: d.state === 2 ? 'backup' : 'master',
    interface: d.ifname,
    syncId: d.syncId,
    maxLength: d.syncMaxLen,
    port: d.port,
    ttl: d.ttl,
  };
  if (d.group !== undefined) out.group = d.group;
  return out;
}
