/**
 * NAT targets: DNAT, SNAT, MASQUERADE, REDIRECT, at the revisions iptables 1.8.9 uses (so
 * iptables-save can print them): DNAT revision 2 (nf_nat_range2, 44 bytes) in both families; SNAT,
 * MASQUERADE and REDIRECT revision 0 on IPv4 (nf_nat_ipv4_multi_range_compat, 20 bytes) and SNAT
 * revision 1 / MASQUERADE, REDIRECT revision 0 on IPv6 (nf_nat_range, 40 bytes).
 * `iptables -t nat -A KUBE-SEP-X -p tcp -j DNAT --to-destination 10.244.1.5:8080`
 * `iptables -t nat -A POSTROUTING -j MASQUERADE --random-fully`
 */
import { cidr4, formatAddr, formatQuad, parseAddr, parseCidr4Into } from '../addr';
import type { IptFamily, IptRule } from '../types';
import { arg, getU16BE, getU32BE, getU32LE, opt, port, ParseProblem, putU16BE, putU32BE, putU32LE, VALID, type Codec, type ParsedOption, type Problems } from './codec';

export interface NatRangeFields {
  /** First address of the range (absent: keep the address, change ports only). */
  address?: string;
  /** Last address of the range (default: address). */
  addressMax?: string;
  port?: number;
  portMax?: number;
}
export interface DnatTarget extends NatRangeFields {
  type: 'DNAT';
  /**
   * Revision 2's shifted port range ("--to-destination 1.1.1.1:1000-2000/3000"): a packet to port
   * p is sent to port + (p - portBase). Needs port.
   */
  portBase?: number;
  random?: boolean;
  persistent?: boolean;
}
export interface SnatTarget extends NatRangeFields {
  type: 'SNAT';
  random?: boolean;
  fullyRandom?: boolean;
  persistent?: boolean;
}
export interface MasqueradeTarget {
  type: 'MASQUERADE';
  port?: number;
  portMax?: number;
  random?: boolean;
  fullyRandom?: boolean;
}
export interface RedirectTarget {
  type: 'REDIRECT';
  port?: number;
  portMax?: number;
  random?: boolean;
}

const MAP_IPS = 1, PROTO = 2, RANDOM = 4, PERSISTENT = 8, FULLY = 16, OFFSET = 32;

interface Range {
  flags: number;
  min: Buffer;
  max: Buffer;
  minPort: number;
  maxPort: number;
  /** range2's base_proto (with OFFSET), else 0. */
  base: number;
}

type Layout = 'compat' | 'range' | 'range2';
const SIZE: Record<Layout, number> = { compat: 20, range: 40, range2: 44 };

function writeRange(b: Buffer, layout: Layout, r: Range): void {
  if (layout === 'compat') {
    b.writeUInt32LE(1, 0);
    b.writeUInt32LE(r.flags, 4);
    r.min.copy(b, 8);
    r.max.copy(b, 12);
    b.writeUInt16BE(r.minPort, 16);
    b.writeUInt16BE(r.maxPort, 18);
    return;
  }
  b.writeUInt32LE(r.flags, 0);
  r.min.copy(b, 4);
  r.max.copy(b, 20);
  b.writeUInt16BE(r.minPort, 36);
  b.writeUInt16BE(r.maxPort, 38);
  if (layout === 'range2') b.writeUInt16BE(r.base, 40);
}
function readRange(b: Buffer, layout: Layout, family: IptFamily): Range | undefined {
  const len = family === 'ipv4' ? 4 : 16;
  if (layout === 'compat') {
    if (b.readUInt32LE(0) !== 1) return undefined;
    return { flags: b.readUInt32LE(4), min: b.subarray(8, 12), max: b.subarray(12, 16), minPort: b.readUInt16BE(16), maxPort: b.readUInt16BE(18), base: 0 };
  }
  const flags = b.readUInt32LE(0), base = layout === 'range2' ? b.readUInt16BE(40) : 0;
  // A base without its flag (or the flag with no ports) is nothing iptables writes: kept raw.
  if (base !== 0 && !(flags & OFFSET)) return undefined;
  if (flags & OFFSET && !(flags & PROTO)) return undefined;
  return { flags, min: b.subarray(4, 4 + len), max: b.subarray(20, 20 + len), minPort: b.readUInt16BE(36), maxPort: b.readUInt16BE(38), base };
}

function toRange(v: NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean; portBase?: number }, family: IptFamily): Range {
  const len = family === 'ipv4' ? 4 : 16;
  let flags = 0;
  let min: Buffer = Buffer.alloc(len), max: Buffer = Buffer.alloc(len);
  if (v.address) {
    flags |= MAP_IPS;
    min = parseAddr(v.address, family)!;
    max = v.addressMax ? parseAddr(v.addressMax, family)! : min;
  }
  let minPort = 0, maxPort = 0;
  if (v.port !== undefined) {
    flags |= PROTO;
    minPort = v.port;
    maxPort = v.portMax ?? v.port;
  }
  if (v.random) flags |= RANDOM;
  if (v.persistent) flags |= PERSISTENT;
  if (v.fullyRandom) flags |= FULLY;
  if (v.portBase !== undefined) flags |= OFFSET;
  return { flags, min, max, minPort, maxPort, base: v.portBase ?? 0 };
}
function fromRange(r: Range): NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean; portBase?: number } {
  const out: NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean; portBase?: number } = {};
  if (r.flags & MAP_IPS) {
    out.address = formatAddr(r.min);
    if (!r.min.equals(r.max)) out.addressMax = formatAddr(r.max);
  }
  if (r.flags & PROTO) {
    out.port = r.minPort;
    if (r.maxPort !== r.minPort) out.portMax = r.maxPort;
    if (r.flags & OFFSET) out.portBase = r.base;
  }
  if (r.flags & RANDOM) out.random = true;
  if (r.flags & PERSISTENT) out.persistent = true;
  if (r.flags & FULLY) out.fullyRandom = true;
  return out;
}

// IPv4 fast paths (kube-proxy writes one DNAT per endpoint): the same bytes and the same model as
// writeRange/readRange, without a Buffer per address.

/** An IPv4 address as a number, or -1 when it is not a plain dotted quad. */
function v4(s: string): number {
  return s.indexOf('/') < 0 && parseCidr4Into(s) ? cidr4.addr : -1;
}
function flagsOf(v: NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean }): number {
  return (v.address ? MAP_IPS : 0) | (v.port !== undefined ? PROTO : 0) | (v.random ? RANDOM : 0) | (v.persistent ? PERSISTENT : 0) | (v.fullyRandom ? FULLY : 0);
}
function encodeRangeAt(
  v: NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean }, b: Buffer, off: number, layout: Layout, family: IptFamily,
): void {
  let min = 0, max = 0;
  if (family === 'ipv4' && v.address) {
    min = v4(v.address);
    max = v.addressMax ? v4(v.addressMax) : min;
  }
  if (family !== 'ipv4' || min < 0 || max < 0 || (v as DnatTarget).portBase !== undefined) {
    writeRange(b.subarray(off, off + SIZE[layout]), layout, toRange(v, family));
    return;
  }
  const minPort = v.port ?? 0, maxPort = v.port === undefined ? 0 : v.portMax ?? v.port;
  if (layout === 'compat') {
    putU32LE(b, off, 1);
    putU32LE(b, off + 4, flagsOf(v));
    putU32BE(b, off + 8, min);
    putU32BE(b, off + 12, max);
    putU16BE(b, off + 16, minPort);
    putU16BE(b, off + 18, maxPort);
    return;
  }
  putU32LE(b, off, flagsOf(v));
  putU32BE(b, off + 4, min);
  putU32BE(b, off + 20, max);
  putU16BE(b, off + 36, minPort);
  putU16BE(b, off + 38, maxPort);
}
const quad = (n: number) => formatQuad(n);
/** readRange + fromRange for IPv4 in place; undefined where readRange declines. */
function decodeRange4At<T extends NatRangeFields & { random?: boolean; persistent?: boolean; fullyRandom?: boolean }>(
  b: Buffer, off: number, layout: Layout, out: T,
): T | undefined {
  let flags: number, min: number, max: number, minPort: number, maxPort: number;
  if (layout === 'compat') {
    if (getU32LE(b, off) !== 1) return undefined;
    flags = getU32LE(b, off + 4);
    min = getU32BE(b, off + 8);
    max = getU32BE(b, off + 12);
    minPort = getU16BE(b, off + 16);
    maxPort = getU16BE(b, off + 18);
  } else {
    if (layout === 'range2' && getU16BE(b, off + 40) !== 0) return undefined;
    flags = getU32LE(b, off);
    min = getU32BE(b, off + 4);
    max = getU32BE(b, off + 20);
    minPort = getU16BE(b, off + 36);
    maxPort = getU16BE(b, off + 38);
  }
  // Fields are added to the caller's object in fromRange's order (the model's key order).
  if (flags & MAP_IPS) {
    out.address = quad(min);
    if (min !== max) out.addressMax = quad(max);
  }
  if (flags & PROTO) {
    out.port = minPort;
    if (maxPort !== minPort) out.portMax = maxPort;
  }
  if (flags & RANDOM) out.random = true;
  if (flags & PERSISTENT) out.persistent = true;
  if (flags & FULLY) out.fullyRandom = true;
  return out;
}
function addrOk(s: string, family: IptFamily): boolean {
  return (family === 'ipv4' && typeof s === 'string' && v4(s) >= 0) || parseAddr(s, family) !== undefined;
}

/** sprint_range: addr[-addr][:port[-port]], IPv6 addresses in brackets when a port follows. */
function rangeText(v: NatRangeFields & { portBase?: number }, family: IptFamily): string {
  // IPv6 with ports: "[first-last]:ports" (the brackets hold the whole address range).
  const br = family === 'ipv6' && v.port !== undefined;
  const a = (s: string) => formatAddr(parseAddr(s, family)!);
  let s = '';
  if (v.address) {
    s += a(v.address);
    if (v.addressMax && !parseAddr(v.addressMax, family)!.equals(parseAddr(v.address, family)!)) s += `-${a(v.addressMax)}`;
    if (br) s = `[${s}]`;
  }
  if (v.port !== undefined) s += `:${v.port}${v.portMax !== undefined && v.portMax !== v.port ? `-${v.portMax}` : ''}${v.portBase !== undefined ? `/${v.portBase}` : ''}`;
  return s;
}
function parseRangeText(s: string, family: IptFamily): NatRangeFields & { portBase?: number } {
  const out: NatRangeFields & { portBase?: number } = {};
  let addr = s, ports: string | undefined;
  if (family === 'ipv6') {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
    if (m) {
      addr = m[1]!;
      ports = m[2];
    } else if (s.startsWith(':') && !s.startsWith('::')) {
      ports = s.slice(1);
      addr = '';
    }
  } else {
    const i = s.indexOf(':');
    if (i >= 0) {
      ports = s.slice(i + 1);
      addr = s.slice(0, i);
    }
  }
  if (addr) {
    const [a, z] = addr.split('-');
    out.address = a!;
    if (z !== undefined) out.addressMax = z;
  }
  if (ports !== undefined) {
    const [range, base] = ports.split('/');
    const [a, z] = range!.split('-').map(Number);
    if (!port(a) || (z !== undefined && !port(z))) throw new ParseProblem(`bad port range "${ports}"`);
    out.port = a;
    if (z !== undefined && z !== a) out.portMax = z;
    if (base !== undefined) {
      const n = Number(base);
      if (!port(n) || base === '') throw new ParseProblem(`bad port base "${base}"`);
      out.portBase = n;
    }
  }
  return out;
}

const PORT_PROTOS = ['tcp', 'udp', 'sctp', 'dccp', 'udplite', 6, 17, 132, 33, 136];
function validateRange(v: NatRangeFields, family: IptFamily, rule: IptRule, needAddress: boolean): Problems {
  const out: Array<readonly [string, string]> = [];
  if (needAddress && !v.address) out.push(['address', 'is required']);
  if (v.address !== undefined && !addrOk(v.address, family)) out.push(['address', `not an ${family} address`]);
  if (v.addressMax !== undefined) {
    const lo = v.address ? parseAddr(v.address, family) : undefined, hi = parseAddr(v.addressMax, family);
    if (!hi) out.push(['addressMax', `not an ${family} address`]);
    else if (!lo) out.push(['addressMax', 'needs address']);
    else if (Buffer.compare(lo, hi) > 0) out.push(['addressMax', 'is below address']);
  }
  const ports = validatePorts(v, rule);
  if (!out.length) return ports;
  out.push(...ports);
  return out;
}
function validatePorts(v: { port?: number; portMax?: number }, rule: IptRule): Problems {
  const out: Array<[string, string]> = [];
  if (v.port !== undefined && !port(v.port)) out.push(['port', 'must be 0-65535']);
  if (v.portMax !== undefined) {
    if (!port(v.portMax)) out.push(['portMax', 'must be 0-65535']);
    else if (v.port === undefined) out.push(['portMax', 'needs port']);
    else if (port(v.port) && v.portMax < v.port) out.push(['portMax', 'is below port']); // (a bad port is reported above)
  }
  if (v.port !== undefined && (!PORT_PROTOS.includes(rule.protocol as string | number) || rule.invert?.protocol))
    out.push(['port', 'needs the rule protocol to be tcp, udp, sctp or dccp']);
  return out.length ? out : VALID;
}
function flagsText(v: { random?: boolean; fullyRandom?: boolean; persistent?: boolean }): string {
  return `${v.random ? ' --random' : ''}${v.fullyRandom ? ' --random-fully' : ''}${v.persistent ? ' --persistent' : ''}`;
}
function portsText(v: { port?: number; portMax?: number }): string {
  if (v.port === undefined) return '';
  return ` --to-ports ${v.port}${v.portMax !== undefined && v.portMax !== v.port ? `-${v.portMax}` : ''}`;
}
function parsePorts(opts: ParsedOption[]): { port?: number; portMax?: number } {
  const o = opt(opts, 'to-ports');
  if (!o) return {};
  const [a, z] = arg(o).split('-').map(Number);
  if (!port(a) || (z !== undefined && !port(z))) throw new ParseProblem(`bad --to-ports "${arg(o)}"`);
  return z === undefined || z === a ? { port: a } : { port: a, portMax: z };
}
/**
 * v without its undefined and false fields, as a new object: `delete` would turn v into a
 * dictionary-mode object, whose every later property read (validate, encode: 10^5 DNAT targets in a
 * kube-proxy table) is a hash lookup.
 */
function clean<T extends object>(v: T): T {
  const out = {} as T;
  for (const k of Object.keys(v) as Array<keyof T>) if (v[k] !== undefined && v[k] !== false) out[k] = v[k];
  return out;
}
const v4layout = (family: IptFamily): Layout => (family === 'ipv4' ? 'compat' : 'range');

export const dnat: Codec<DnatTarget> = {
  kind: 'target',
  type: 'DNAT',
  name: 'DNAT',
  revision: () => 2,
  size: () => SIZE.range2,
  encode: (v, b, family) => writeRange(b, 'range2', toRange(v, family)),
  encodeAt: (v, b, off, family) => encodeRangeAt(v, b, off, 'range2', family),
  decodeAt(b, off, len, family, revision) {
    if (family !== 'ipv4' || revision !== 2) return dnat.decode(b.subarray(off, off + len), family, revision);
    // range2's flags are its first word: flags the model does not type leave the bytes raw.
    const flags = getU32LE(b, off);
    if (flags & OFFSET) return dnat.decode(b.subarray(off, off + len), family, revision);
    if (flags & ~(MAP_IPS | PROTO | RANDOM | PERSISTENT)) return undefined;
    // kube-proxy's form (one address, one port) as one literal: no property store grown per field.
    if (flags === (MAP_IPS | PROTO) && getU16BE(b, off + 40) === 0) {
      const min = getU32BE(b, off + 4), port = getU16BE(b, off + 36);
      if (min === getU32BE(b, off + 20) && port === getU16BE(b, off + 38)) return { type: 'DNAT', address: quad(min), port };
    }
    return decodeRange4At(b, off, 'range2', { type: 'DNAT' } as DnatTarget);
  },
  decode(b, family, revision) {
    const layout: Layout | undefined = revision === 2 ? 'range2' : revision === 1 ? 'range' : family === 'ipv4' && revision === 0 ? 'compat' : undefined;
    const r = layout && readRange(b, layout, family);
    return r && !(r.flags & ~(MAP_IPS | PROTO | RANDOM | PERSISTENT | OFFSET)) ? { type: 'DNAT', ...fromRange(r) } as DnatTarget : undefined;
  },
  validate(v, family, rule) {
    const p = validateRange(v, family, rule, false);
    if (v.portBase === undefined) return p;
    const out = [...p];
    if (!port(v.portBase)) out.push(['portBase', 'must be 0-65535']);
    else if (v.port === undefined) out.push(['portBase', 'needs port']);
    return out.length ? out : VALID;
  },
  save(v, family) {
    const r = rangeText(v, family);
    return `${r ? ` --to-destination ${r}` : ''}${flagsText({ ...(v.random ? { random: true } : {}), ...(v.persistent ? { persistent: true } : {}) })}`;
  },
  options: { 'to-destination': 1, random: 0, persistent: 0 },
  parse(opts, family) {
    const to = opt(opts, 'to-destination');
    return clean({ type: 'DNAT', ...(to ? parseRangeText(arg(to), family) : {}), random: !!opt(opts, 'random'), persistent: !!opt(opts, 'persistent') }) as DnatTarget;
  },
};

export const snat: Codec<SnatTarget> = {
  kind: 'target',
  type: 'SNAT',
  name: 'SNAT',
  revision: (family) => (family === 'ipv4' ? 0 : 1),
  size: (family) => SIZE[v4layout(family)],
  encode: (v, b, family) => writeRange(b, v4layout(family), toRange(v, family)),
  encodeAt: (v, b, off, family) => encodeRangeAt(v, b, off, v4layout(family), family),
  decode(b, family, revision) {
    const layout: Layout | undefined = revision === 2 ? 'range2' : revision === 1 ? 'range' : family === 'ipv4' ? 'compat' : undefined;
    const r = layout && readRange(b, layout, family);
    // (A shifted port range is DNAT's: SNAT with one stays raw.)
    return r && !(r.flags & OFFSET) ? ({ type: 'SNAT', ...fromRange(r) } as SnatTarget) : undefined;
  },
  validate: (v, family, rule) => validateRange(v, family, rule, true),
  save: (v, family) => ` --to-source ${rangeText(v, family)}${flagsText(v)}`,
  options: { 'to-source': 1, random: 0, 'random-fully': 0, persistent: 0 },
  parse(opts, family) {
    const to = opt(opts, 'to-source');
    if (!to) throw new ParseProblem('SNAT needs --to-source');
    return clean({
      type: 'SNAT', ...parseRangeText(arg(to), family), random: !!opt(opts, 'random'), fullyRandom: !!opt(opts, 'random-fully'), persistent: !!opt(opts, 'persistent'),
    }) as SnatTarget;
  },
};

export const masquerade: Codec<MasqueradeTarget> = {
  kind: 'target',
  type: 'MASQUERADE',
  name: 'MASQUERADE',
  revision: () => 0,
  size: (family) => SIZE[v4layout(family)],
  encode: (v, b, family) => writeRange(b, v4layout(family), toRange(v, family)),
  encodeAt: (v, b, off, family) => encodeRangeAt(v, b, off, v4layout(family), family),
  decode(b, family, revision) {
    const r = revision === 0 ? readRange(b, v4layout(family), family) : undefined;
    if (!r || r.flags & (MAP_IPS | PERSISTENT)) return undefined;
    const f = fromRange(r);
    return clean({ type: 'MASQUERADE', port: f.port, portMax: f.portMax, random: f.random, fullyRandom: f.fullyRandom }) as MasqueradeTarget;
  },
  validate: (v, _f, rule) => validatePorts(v, rule),
  save: (v) => `${portsText(v)}${flagsText({ random: v.random, fullyRandom: v.fullyRandom })}`,
  options: { 'to-ports': 1, random: 0, 'random-fully': 0 },
  parse: (opts) => clean({ type: 'MASQUERADE', ...parsePorts(opts), random: !!opt(opts, 'random'), fullyRandom: !!opt(opts, 'random-fully') }) as MasqueradeTarget,
};

export const redirect: Codec<RedirectTarget> = {
  kind: 'target',
  type: 'REDIRECT',
  name: 'REDIRECT',
  revision: () => 0,
  size: (family) => SIZE[v4layout(family)],
  encode: (v, b, family) => writeRange(b, v4layout(family), toRange(v, family)),
  decode(b, family, revision) {
    const r = revision === 0 ? readRange(b, v4layout(family), family) : undefined;
    if (!r || r.flags & (MAP_IPS | PERSISTENT | FULLY)) return undefined;
    const f = fromRange(r);
    return clean({ type: 'REDIRECT', port: f.port, portMax: f.portMax, random: f.random }) as RedirectTarget;
  },
  validate: (v, _f, rule) => validatePorts(v, rule),
  save: (v) => `${portsText(v)}${v.random ? ' --random' : ''}`,
  options: { 'to-ports': 1, random: 0 },
  parse: (opts) => clean({ type: 'REDIRECT', ...parsePorts(opts), random: !!opt(opts, 'random') }) as RedirectTarget,
};
