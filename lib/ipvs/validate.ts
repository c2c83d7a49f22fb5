/**
 * Validation and normalization of the public model into the native codec's descriptions. Everything
 * is checked here, before the kernel is touched; errors name the field path.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../errors';
import type { NativeIpvsDaemonDesc, NativeIpvsDestDesc, NativeIpvsServiceDesc } from '../native';
import { AF_INET, AF_INET6, DaemonStateNum, Fwd, IPPROTO, SCHED_NAME_MAX, SvcFlag, TunFlags, TunType } from './constants';
import type { DaemonSpec, DestinationKey, DestinationSpec, SchedulerFlag, ServiceKey, ServiceSpec, Timeouts } from './types';
import { ownValue } from '../own-key';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ValidationError(field, `must be an integer from ${min} to ${max}`, v);
  return v;
}

function optInt(v: unknown, field: string, min: number, max: number, def: number): number {
  return v === undefined ? def : int(v, field, min, max);
}

function familyOf(address: unknown, field: string): number {
  if (typeof address !== 'string') throw new ValidationError(field, 'must be an IP address string', address);
  if (isIPv4(address)) return AF_INET;
  if (isIPv6(address)) return AF_INET6;
  throw new ValidationError(field, `"${address}" is not an IPv4 or IPv6 address`, address);
}

function familyName(v: unknown, field: string): number {
  if (v === undefined || v === 'inet') return AF_INET;
  if (v === 'inet6') return AF_INET6;
  throw new ValidationError(field, 'must be "inet" or "inet6"', v);
}

function name(v: unknown, field: string, what: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(v))
    throw new ValidationError(field, `must be a ${what} name (letters, digits, _ . -)`, v);
  if (v.length > SCHED_NAME_MAX) throw new ValidationError(field, `is longer than ${SCHED_NAME_MAX} characters`, v);
  return v;
}

/** The identity part of a service. */
export function serviceKeyDesc(key: ServiceKey, field: string): NativeIpvsServiceDesc {
  if (!isObject(key)) throw new ValidationError(field, 'must be an object', key);
  if (key.fwmark !== undefined) {
    if (key.address !== undefined || key.protocol !== undefined || key.port !== undefined)
      throw new ValidationError(field, 'a fwmark service has no protocol, address or port', key);
    return { family: familyName(key.family, `${field}.family`), fwmark: int(key.fwmark, `${field}.fwmark`, 1, 0xffffffff) };
  }
  const k = key as Record<string, unknown>;
  const proto = k.protocol;
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw new ValidationError(`${field}.protocol`, 'must be "tcp", "udp" or "sctp" (or give a fwmark)', proto);
  const family = familyOf(k.address, `${field}.address`);
  if (k.family !== undefined && familyName(k.family, `${field}.family`) !== family)
    throw new ValidationError(`${field}.family`, `does not match the address ${String(k.address)}`, k.family);
  return {
    family,
    protocol: IPPROTO[proto],
    address: k.address as string,
    port: int(k.port, `${field}.port`, 0, 65535),
  };
}

function ipv4MaskToNumber(mask: string, field: string): number {
  if (!isIPv4(mask)) throw new ValidationError(field, 'must be an IPv4 netmask like "255.255.255.0"', mask);
  const n = mask.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
  // contiguous ones then zeros
  const inv = ~n >>> 0;
  if (n === 0 || (inv & (inv + 1)) !== 0) throw new ValidationError(field, 'must be a contiguous netmask', mask);
  return n;
}

const schedFlagBits: Record<SchedulerFlag, [number, string | undefined]> = {
  'sh-fallback': [SvcFlag.SCHED1, 'sh'],
  'sh-port': [SvcFlag.SCHED2, 'sh'],
  'mh-fallback': [SvcFlag.SCHED1, 'mh'],
  'mh-port': [SvcFlag.SCHED2, 'mh'],
  'flag-1': [SvcFlag.SCHED1, undefined],
  'flag-2': [SvcFlag.SCHED2, undefined],
  'flag-3': [SvcFlag.SCHED3, undefined],
};

/** A full service description (NEW/SET_SERVICE). */
export function serviceDesc(spec: ServiceSpec, field: string): NativeIpvsServiceDesc {
  const d = serviceKeyDesc(spec, field);
  const scheduler = spec.scheduler === undefined ? 'wlc' : name(spec.scheduler, `${field}.scheduler`, 'scheduler');
  let flags = 0;
  if (spec.schedulerFlags !== undefined) {
    if (!Array.isArray(spec.schedulerFlags)) throw new ValidationError(`${field}.schedulerFlags`, 'must be an array', spec.schedulerFlags);
    spec.schedulerFlags.forEach((f, i) => {
      const bits = ownValue(schedFlagBits, f);
      const ff = `${field}.schedulerFlags[${i}]`;
      if (!bits) throw new ValidationError(ff, `must be one of ${Object.keys(schedFlagBits).join(', ')}`, f);
      if (bits[1] && bits[1] !== scheduler) throw new ValidationError(ff, `"${f}" applies to the ${bits[1]} scheduler only`, f);
      flags |= bits[0];
    });
  }
  let timeout = 0;
  let netmask = d.family === AF_INET6 ? 128 : 0xffffffff;
  if (spec.persistence !== undefined) {
    const p = spec.persistence;
    if (!isObject(p)) throw new ValidationError(`${field}.persistence`, 'must be an object { timeout, netmask }', p);
    flags |= SvcFlag.PERSISTENT;
    timeout = optInt(p.timeout, `${field}.persistence.timeout`, 1, 0x7fffffff, 300);
    if (p.netmask !== undefined) {
      if (d.family === AF_INET6) netmask = int(p.netmask, `${field}.persistence.netmask`, 1, 128);
      else if (typeof p.netmask === 'string') netmask = ipv4MaskToNumber(p.netmask, `${field}.persistence.netmask`);
      else throw new ValidationError(`${field}.persistence.netmask`, 'must be an IPv4 netmask string like "255.255.255.0"', p.netmask);
    }
  }
  if (spec.onePacket !== undefined && typeof spec.onePacket !== 'boolean')
    throw new ValidationError(`${field}.onePacket`, 'must be a boolean', spec.onePacket);
  if (spec.onePacket) flags |= SvcFlag.ONEPACKET;
  // (a multiplication: `<< 16` of 0x8000 and above would turn negative)
  if (spec.tag !== undefined) flags = (flags + int(spec.tag, `${field}.tag`, 0, 0xffff) * 0x10000) >>> 0;
  const out: NativeIpvsServiceDesc = { ...d, scheduler, flags, timeout, netmask };
  if (spec.persistenceEngine !== undefined && spec.persistenceEngine !== '')
    out.pe = name(spec.persistenceEngine, `${field}.persistenceEngine`, 'persistence engine');
  return out;
}

/** Port a destination gets when none is given: the service's (ipvsadm does the same). */
export function defaultDestPort(svc: NativeIpvsServiceDesc): number {
  return svc.port ?? 0;
}

export function destKeyDesc(dest: DestinationKey, svc: NativeIpvsServiceDesc, field: string): NativeIpvsDestDesc {
  if (!isObject(dest)) throw new ValidationError(field, 'must be an object', dest);
  const family = familyOf(dest.address, `${field}.address`);
  return {
    family,
    address: dest.address,
    port: optInt(dest.port, `${field}.port`, 0, 65535, defaultDestPort(svc)),
    fwd: 0,
    weight: 0,
    upperThreshold: 0,
    lowerThreshold: 0,
  };
}

export function destDesc(dest: DestinationSpec, svc: NativeIpvsServiceDesc, field: string): NativeIpvsDestDesc {
  const d = destKeyDesc(dest, svc, field);
  const fwdName = dest.forwarding ?? 'masq';
  const fwd = fwdName === 'direct' ? Fwd.route : fwdName === 'local' ? undefined : ownValue<number>(Fwd, fwdName);
  if (fwd === undefined)
    throw new ValidationError(`${field}.forwarding`, 'must be "masq", "tunnel" or "route" ("direct")', dest.forwarding);
  d.fwd = fwd;
  d.weight = optInt(dest.weight, `${field}.weight`, 0, 0x7fffffff, 1);
  d.upperThreshold = optInt(dest.upperThreshold, `${field}.upperThreshold`, 0, 0xffffffff, 0);
  d.lowerThreshold = optInt(dest.lowerThreshold, `${field}.lowerThreshold`, 0, 0xffffffff, 0);
  if (d.upperThreshold > 0 && d.lowerThreshold > d.upperThreshold)
    throw new ValidationError(`${field}.lowerThreshold`, `is above upperThreshold (${d.upperThreshold}): thresholds inverted`, d.lowerThreshold);
  if (dest.tunnel !== undefined) {
    const t = dest.tunnel;
    if (fwd !== Fwd.tunnel) throw new ValidationError(`${field}.tunnel`, 'needs forwarding "tunnel"', t);
    if (!isObject(t)) throw new ValidationError(`${field}.tunnel`, 'must be an object { type, port, checksum }', t);
    const type = ownValue<number>(TunType, t.type);
    if (type === undefined) throw new ValidationError(`${field}.tunnel.type`, 'must be "ipip", "gue" or "gre"', t.type);
    const port = optInt(t.port, `${field}.tunnel.port`, 0, 65535, 0);
    if (t.type === 'gue' && port === 0) throw new ValidationError(`${field}.tunnel.port`, 'is required for gue (1..65535)', t.port);
    const csum = ownValue<number>(TunFlags, t.checksum ?? 'none');
    if (csum === undefined) throw new ValidationError(`${field}.tunnel.checksum`, 'must be "none", "csum" or "remcsum"', t.checksum);
    d.tunType = type;
    d.tunPort = port;
    d.tunFlags = csum;
  } else if (fwd === Fwd.tunnel) {
    d.tunType = TunType.ipip;
    d.tunPort = 0;
    d.tunFlags = 0;
  }
  return d;
}

export function daemonDesc(spec: DaemonSpec, field: string): NativeIpvsDaemonDesc {
  if (!isObject(spec)) throw new ValidationError(field, 'must be an object', spec);
  const state = ownValue<number>(DaemonStateNum, spec.state);
  if (state === undefined) throw new ValidationError(`${field}.state`, 'must be "master" or "backup"', spec.state);
  if (typeof spec.interface !== 'string' || !/^[^\s/:]{1,15}$/.test(spec.interface))
    throw new ValidationError(`${field}.interface`, 'must be an interface name (1..15 characters)', spec.interface);
  const d: NativeIpvsDaemonDesc = { state, ifname: spec.interface, syncId: optInt(spec.syncId, `${field}.syncId`, 0, 255, 0) };
  if (spec.maxLength !== undefined) d.syncMaxLen = int(spec.maxLength, `${field}.maxLength`, 1, 65535);
  if (spec.group !== undefined) {
    familyOf(spec.group, `${field}.group`);
    d.group = spec.group;
  }
  if (spec.port !== undefined) d.port = int(spec.port, `${field}.port`, 1, 65535);
  if (spec.ttl !== undefined) d.ttl = int(spec.ttl, `${field}.ttl`, 1, 255);
  return d;
}

export function timeoutsDesc(t: Partial<Timeouts>, field: string): Timeouts {
  if (!isObject(t)) throw new ValidationError(field, 'must be an object { tcp, tcpFin, udp }', t);
  return {
    tcp: optInt(t.tcp, `${field}.tcp`, 0, 0x7fffffff, 0),
    tcpFin: optInt(t.tcpFin, `${field}.tcpFin`, 0, 0x7fffffff, 0),
    udp: optInt(t.udp, `${field}.udp`, 0, 0x7fffffff, 0),
  };
}

/** Options of a batch (Ipvs.batch); fields named bare, like Ipvs.open's dumpSockets. */
export function batchOptionsDesc(opts: unknown): { chunk: number; stopOnError: boolean } {
  if (!isObject(opts)) throw new ValidationError('opts', 'must be an object { stopOnError?, chunk? }', opts);
  if (opts.stopOnError !== undefined && typeof opts.stopOnError !== 'boolean')
    throw new ValidationError('stopOnError', 'must be a boolean', opts.stopOnError);
  return { chunk: optInt(opts.chunk, 'chunk', 1, 65536, 1024), stopOnError: opts.stopOnError === true };
}
