/**
 * The desired state: a JSON-friendly model of virtual services and their endpoints, validated and
 * normalised before any mode compiles it. Validation collects every problem and names the field
 * (`services[2].endpoints[0].port`) and the service at fault.
 */
import { ValidationError, ValidationErrors } from '../errors';
import { compareAddress, nonUnicastReason, parseAddress, type Family, type ParsedAddress } from './address';
import { ALL_SCHEDULERS, MODES, persistenceProblem, protocolProblem, schedulerProblem, weightsProblem, type Mode } from './schedulers';

export type Protocol = 'tcp' | 'udp' | 'sctp';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

/** What a user writes (JSON). Optional fields get defaults. */
export interface EndpointSpec {
  address: string;
  port: number;
  /** 0..65535, default 1. 0 = receives no new connections (kept, drained in IPVS). */
  weight?: number;
}

export interface ServiceSpec {
  /** Unique name: letters, digits, _ . - (1..48 chars). Used in chain names and comments. */
  name: string;
  /** Default tcp. */
  protocol?: Protocol;
  vip: string;
  port: number;
  /** Default rr. See schedulers.ts for what each mode can do. */
  scheduler?: string;
  /** Client affinity: the same client goes to the same endpoint for `timeout` seconds (IPVS only). */
  persistence?: { timeout: number };
  endpoints: EndpointSpec[];
}

export interface DesiredState {
  services: ServiceSpec[];
}

/** The normalised form every compiler takes: defaults filled, addresses canonical, endpoints sorted. */
export interface Endpoint {
  address: string;
  port: number;
  weight: number;
}

export interface Service {
  name: string;
  protocol: Protocol;
  family: Family;
  vip: string;
  port: number;
  scheduler: string;
  persistence?: { timeout: number };
  endpoints: Endpoint[];
}

export interface State {
  services: Service[];
}

export const MAX_WEIGHT = 65535;
export const MAX_PERSISTENCE_TIMEOUT = 31_536_000; // one year, in seconds
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;

/** Identity of a virtual service: the kernel matches on exactly this. */
export function serviceKey(s: { protocol: Protocol; vip: string; port: number }): string {
  return `${s.protocol}/${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}`;
}

export function endpointKey(e: { address: string; port: number }): string {
  return `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a value is, for a message (never throws: no conversion of the value itself). */
function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function isPort(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

class Collector {
  readonly errors: ValidationError[] = [];
  add(field: string, problem: string, value?: unknown): void {
    this.errors.push(new ValidationError(field, problem, value));
  }
}

function checkKeys(c: Collector, obj: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) c.add(`${path}.${k}`.replace(/^\./, ''), `unknown field (allowed: ${allowed.join(', ')})`);
}

function validAddress(c: Collector, v: unknown, field: string, what: string): ParsedAddress | undefined {
  const a = parseAddress(v);
  if (!a) {
    // JSON.stringify only a string: it throws on a BigInt and prints a Symbol as nothing
    c.add(field, typeof v === 'string' ? `${JSON.stringify(v)} is not an IPv4 or IPv6 address` : `must be an IPv4 or IPv6 address string (got ${describeType(v)})`, v);
    return undefined;
  }
  const bad = nonUnicastReason(a);
  if (bad) {
    c.add(field, `${a.text} ${bad}; a ${what} must be a unicast address`, v);
    return undefined;
  }
  return a;
}

function validateEndpoint(c: Collector, e: unknown, path: string, svcFamily: Family | undefined): (Endpoint & { parsed: ParsedAddress }) | undefined {
  if (!isObject(e)) {
    c.add(path, 'must be an object { address, port, weight? }', e);
    return undefined;
  }
  checkKeys(c, e, ['address', 'port', 'weight'], path);
  const a = validAddress(c, e.address, `${path}.address`, 'endpoint');
  if (a && svcFamily && a.family !== svcFamily)
    c.add(`${path}.address`, `${a.text} is ${a.family} but the service's vip is ${svcFamily} (masquerading/DNAT cannot change the family)`, e.address);
  if (!isPort(e.port)) c.add(`${path}.port`, 'must be an integer 1..65535', e.port);
  const weight = e.weight === undefined ? 1 : e.weight;
  if (!Number.isInteger(weight) || (weight as number) < 0 || (weight as number) > MAX_WEIGHT)
    c.add(`${path}.weight`, `must be an integer 0..${MAX_WEIGHT}`, e.weight);
  if (!a || !isPort(e.port) || !Number.isInteger(weight)) return undefined;
  // + 0 turns a weight of -0 into 0: the normalised form is what a cached validation returns
  return { address: a.text, port: e.port, weight: (weight as number) + 0, parsed: a };
}

function validateService(c: Collector, s: unknown, path: string, mode: Mode | undefined): Service | undefined {
  if (!isObject(s)) {
    c.add(path, 'must be an object { name, protocol?, vip, port, scheduler?, persistence?, endpoints }', s);
    return undefined;
  }
  checkKeys(c, s, ['name', 'protocol', 'vip', 'port', 'scheduler', 'persistence', 'endpoints'], path);
  const start = c.errors.length;
  if (typeof s.name !== 'string' || !NAME_RE.test(s.name))
    c.add(`${path}.name`, 'must be 1..48 characters: letters, digits, _ . - (starting with a letter or digit)', s.name);
  const protocol = s.protocol === undefined ? 'tcp' : s.protocol;
  if (!PROTOCOLS.includes(protocol as Protocol)) c.add(`${path}.protocol`, `must be one of ${PROTOCOLS.join(', ')}`, s.protocol);
  else if (mode) {
    const why = protocolProblem(mode, protocol as string);
    if (why) c.add(`${path}.protocol`, why, protocol);
  }
  const vip = validAddress(c, s.vip, `${path}.vip`, 'vip');
  if (!isPort(s.port)) c.add(`${path}.port`, 'must be an integer 1..65535', s.port);
  const scheduler = s.scheduler === undefined ? 'rr' : s.scheduler;
  if (typeof scheduler !== 'string' || !ALL_SCHEDULERS.includes(scheduler)) {
    c.add(`${path}.scheduler`, `unknown scheduler (known: ${ALL_SCHEDULERS.join(', ')})`, s.scheduler);
  } else if (mode) {
    const why = schedulerProblem(mode, scheduler);
    if (why) c.add(`${path}.scheduler`, why, scheduler);
  }
  let persistence: { timeout: number } | undefined;
  if (s.persistence !== undefined) {
    const p = s.persistence;
    if (!isObject(p) || !Number.isInteger(p.timeout) || (p.timeout as number) < 1 || (p.timeout as number) > MAX_PERSISTENCE_TIMEOUT) {
      c.add(`${path}.persistence.timeout`, `must be an integer number of seconds 1..${MAX_PERSISTENCE_TIMEOUT}`, isObject(p) ? p.timeout : p);
    } else {
      if (isObject(p)) checkKeys(c, p, ['timeout'], `${path}.persistence`);
      persistence = { timeout: p.timeout as number };
      const why = mode && persistenceProblem(mode);
      if (why) c.add(`${path}.persistence`, why, p);
    }
  }
  if (!Array.isArray(s.endpoints)) {
    c.add(`${path}.endpoints`, 'must be an array (may be empty)', s.endpoints);
    return undefined;
  }
  const eps: (Endpoint & { parsed: ParsedAddress })[] = [];
  const seen = new Map<string, number>();
  s.endpoints.forEach((e, i) => {
    const ep = validateEndpoint(c, e, `${path}.endpoints[${i}]`, vip?.family);
    if (!ep) return;
    const k = endpointKey(ep);
    const prev = seen.get(k);
    if (prev !== undefined) c.add(`${path}.endpoints[${i}]`, `duplicate endpoint ${k} (also endpoints[${prev}])`, e);
    else seen.set(k, i);
    eps.push(ep);
  });
  if (mode && c.errors.length === start && typeof scheduler === 'string') {
    const why = weightsProblem(mode, scheduler, eps.map((e) => e.weight));
    if (why) c.add(`${path}.endpoints`, why, s.endpoints.length);
  }
  if (c.errors.length > start || !vip) return undefined;
  eps.sort((a, b) => compareAddress(a.parsed, b.parsed) || a.port - b.port);
  const svc: Service = {
    name: s.name as string,
    protocol: protocol as Protocol,
    family: vip.family,
    vip: vip.text,
    port: s.port as number,
    scheduler: scheduler as string,
    endpoints: eps.map(({ address, port, weight }) => ({ address, port, weight })),
  };
  if (persistence) svc.persistence = persistence;
  return svc;
}

/**
 * Validates and normalises a desired state. With `mode`, also checks that the mode can do every
 * scheduler and option. Throws ValidationError (one problem) or ValidationErrors (several).
 */
/** Whether `input` is exactly the plain data `raw` (a validated input's copy): same keys, same values. */
function samePlain(input: unknown, raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return input === raw;
  if (typeof input !== 'object' || input === null) return false;
  if (Array.isArray(raw)) {
    if (!Array.isArray(input) || input.length !== raw.length) return false;
    for (let i = 0; i < raw.length; i++) if (!(i in input) || !samePlain(input[i], raw[i])) return false;
    return true;
  }
  if (Array.isArray(input)) return false;
  const proto = Object.getPrototypeOf(input) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  let n = 0;
  for (const k in raw) {
    const r = (raw as Record<string, unknown>)[k];
    if (!hasOwn.call(input, k)) return false;
    const v = (input as Record<string, unknown>)[k];
    // (Values are mostly strings and numbers: compared here, not in a call.)
    if (typeof r !== 'object' || r === null ? v !== r : !samePlain(v, r)) return false;
    n++;
  }
  // Extra keys in the input (even with an undefined value) are validation's business. Every key of
  // `raw` is an own key of `input`, and an object of this prototype inherits no enumerable key (an
  // Object.prototype given one makes every count differ: validation then decides), so counting
  // the input's keys is enough.
  for (const _ in input) if (--n < 0) return false;
  return n === 0;
}
const hasOwn = Object.prototype.hasOwnProperty;

interface CacheEntry {
  /** A private copy of the input that validated (the caller may mutate theirs). */
  raw: unknown;
  svc: Service;
  key: string;
}

/**
 * Normalised services of the last successful validation, by service name (one cache per
 * LoadBalancer: validation depends on the mode). A service whose input is exactly what validated
 * last time (compared field by field with a private copy) is not validated again and comes back as
 * the same Service object, which lets the diff and the per-service compile caches skip it by
 * identity: at 10k services an apply that changes one validates one. Service objects are never
 * mutated.
 */
export class ValidationCache {
  #byName = new Map<string, CacheEntry>();
  constructor(readonly mode: Mode | undefined) {}

  /** @internal validateState's lookup; undefined = validate this one. */
  lookup(input: unknown): CacheEntry | undefined {
    if (typeof input !== 'object' || input === null) return undefined;
    const name = (input as Record<string, unknown>).name;
    if (typeof name !== 'string') return undefined;
    const e = this.#byName.get(name);
    return e && samePlain(input, e.raw) ? e : undefined;
  }

  /** @internal Keeps exactly the services of the state that just validated. */
  replace(next: Map<string, CacheEntry>): void {
    this.#byName = next;
  }

  get size(): number {
    return this.#byName.size;
  }

  /** @internal validateServices' update: the services of one LoadBalancer.update, entry by entry. */
  set(entry: CacheEntry): void {
    this.#byName.set(entry.svc.name, entry);
  }

  /** @internal A service LoadBalancer.update removed, or renamed away from. */
  delete(name: string): void {
    this.#byName.delete(name);
  }
}

/** A private copy of a validated service input (JSON data: validation accepted it). */
function copyInput(s: unknown): unknown {
  return JSON.parse(JSON.stringify(s)) as unknown;
}

export function validateState(input: unknown, mode?: Mode, cache?: ValidationCache): State {
  if (cache && cache.mode !== mode) throw new Error('ValidationCache used with another mode');
  // (an unknown mode has no scheduler list: checking one would throw a TypeError)
  if (mode !== undefined && !MODES.includes(mode)) throw new ValidationError('mode', `must be one of ${MODES.join(', ')}`, mode);
  const next = cache ? new Map<string, CacheEntry>() : undefined;
  const c = new Collector();
  if (!isObject(input)) throw new ValidationError('state', 'must be an object { services: [...] }', input);
  checkKeys(c, input, ['services'], '');
  if (!Array.isArray(input.services)) throw new ValidationError('services', 'must be an array', input.services);
  const services: Service[] = [];
  const byKey = new Map<string, number>();
  const byName = new Map<string, number>();
  input.services.forEach((s, i) => {
    const hit = cache?.lookup(s);
    const path = `services[${i}]`;
    const svc = hit ? hit.svc : validateService(c, s, path, mode);
    if (!svc) return;
    const k = hit ? hit.key : serviceKey(svc);
    if (next) next.set(svc.name, hit ?? { raw: copyInput(s), svc, key: k });
    const dupKey = byKey.get(k);
    if (dupKey !== undefined) c.add(path, `service "${svc.name}": duplicate VIP:port:protocol ${k} (also services[${dupKey}] "${services.find((x) => serviceKey(x) === k)?.name}")`, k);
    else byKey.set(k, i);
    const dupName = byName.get(svc.name);
    if (dupName !== undefined) c.add(`${path}.name`, `duplicate service name "${svc.name}" (also services[${dupName}])`, svc.name);
    else byName.set(svc.name, i);
    services.push(svc);
  });
  // Name the service in every message: "services[2] (web).endpoints[0].port: ...".
  if (c.errors.length) {
    const names = input.services.map((s) => (isObject(s) && typeof s.name === 'string' ? s.name : undefined));
    const errs = c.errors.map((e) => {
      const m = /^services\[(\d+)\]/.exec(e.field);
      const n = m ? names[Number(m[1])] : undefined;
      return n && !e.problem.includes(`"${n}"`) ? new ValidationError(e.field, `(service "${n}") ${e.problem}`, e.value) : e;
    });
    throw errs.length === 1 ? errs[0]! : new ValidationErrors(errs);
  }
  if (cache && next) cache.replace(next);
  return { services };
}

/** Endpoints that receive new connections (weight > 0). */
export function activeEndpoints(s: Service): Endpoint[] {
  return s.endpoints.filter((e) => e.weight > 0);
}

/**
 * Validates a list of services on their own (LoadBalancer.update's upserts): fields are named
 * `${field}[i]...`, names and keys must be unique within the list, and the cache learns each one
 * (its other entries stay: the rest of the state is untouched). Whether a key collides with a
 * service outside the list is the caller's check (it knows the whole state).
 */
export function validateServices(input: unknown, mode: Mode, cache?: ValidationCache, field = 'upsert'): Service[] {
  if (cache && cache.mode !== mode) throw new Error('ValidationCache used with another mode');
  if (!Array.isArray(input)) throw new ValidationError(field, 'must be an array of services', input);
  const c = new Collector();
  const out: Service[] = [];
  const learned: CacheEntry[] = [];
  const byKey = new Map<string, number>();
  const byName = new Map<string, number>();
  input.forEach((s, i) => {
    const hit = cache?.lookup(s);
    const path = `${field}[${i}]`;
    const svc = hit ? hit.svc : validateService(c, s, path, mode);
    if (!svc) return;
    const k = hit ? hit.key : serviceKey(svc);
    const dupKey = byKey.get(k);
    if (dupKey !== undefined) c.add(path, `service "${svc.name}": duplicate VIP:port:protocol ${k} (also ${field}[${dupKey}])`, k);
    else byKey.set(k, i);
    const dupName = byName.get(svc.name);
    if (dupName !== undefined) c.add(`${path}.name`, `duplicate service name "${svc.name}" (also ${field}[${dupName}])`, svc.name);
    else byName.set(svc.name, i);
    learned.push(hit ?? { raw: copyInput(s), svc, key: k });
    out.push(svc);
  });
  if (c.errors.length) {
    const errs = c.errors.map((e) => {
      const s = input[Number(e.field.slice(field.length + 1, e.field.indexOf(']')))] as unknown;
      const n = isObject(s) && typeof s.name === 'string' ? s.name : undefined;
      return n && !e.problem.includes(`"${n}"`) ? new ValidationError(e.field, `(service "${n}") ${e.problem}`, e.value) : e;
    });
    throw errs.length === 1 ? errs[0]! : new ValidationErrors(errs);
  }
  if (cache) for (const e of learned) cache.set(e);
  return out;
}
