/**
 * The desired state: a JSON-friendly model of virtual services and their endpoints, validated and
 * normalised before any mode compiles it. Validation collects every problem and names the field
 * (`services[2].endpoints[0].port`) and the service at fault.
 */
import { ValidationError, ValidationErrors } from '../errors';
import { compareAddress, nonUnicastReason, parseAddress, type Family, type ParsedAddress } from './address';
import { validateHealthCheck, type HealthCheck, type HealthCheckSpec } from './health-check';
import { ALL_SCHEDULERS, MODES, persistenceProblem, protocolProblem, schedulerProblem, weightsProblem, type Mode, type SchedulerFor } from './schedulers';
import { ValidationCache, type CacheEntry } from './validation-cache';

export { ValidationCache };

export type Protocol = 'tcp' | 'udp' | 'sctp';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

/** What a user writes (JSON). Optional fields get defaults. */
export interface EndpointSpec {
  address: string;
  port: number;
  /** 0..65535, default 1. 0 = receives no new connections (kept, drained in IPVS). */
  weight?: number;
}

/**
 * One service as written. `M` narrows `scheduler` to what that mode can do (LoadBalancer<'iptables'>
 * takes DesiredState<'iptables'>); the default, every mode, takes any known scheduler name. Input
 * whose shape is not known at compile time (a file, JSON from elsewhere) goes through
 * validateState(input, mode), which takes `unknown` and returns a State that apply() takes.
 */
export interface ServiceSpec<M extends Mode = Mode> {
  /** Unique name: letters, digits, _ . - (1..48 chars). Used in chain names and comments. */
  name: string;
  /** Default tcp. */
  protocol?: Protocol;
  vip: string;
  /**
   * Optional, and only ever a check: the vip's family (ipv4/ipv6) decides. Accepted so that what
   * status() returns (normalised, with `family`) can be edited and applied again; a family that
   * disagrees with the vip is a ValidationError.
   */
  family?: Family;
  port: number;
  /** Default rr. See schedulers.ts for what each mode can do. */
  scheduler?: SchedulerFor<M>;
  /** Client affinity: the same client goes to the same endpoint for `timeout` seconds (IPVS only). */
  persistence?: { timeout: number };
  endpoints: EndpointSpec[];
  /** Probed by `kernlb run` / HealthMonitor; failed endpoints are drained (weight 0). Modes ignore it. */
  healthCheck?: HealthCheckSpec;
}

export interface DesiredState<M extends Mode = Mode> {
  services: ServiceSpec<M>[];
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
  /** Defaults filled; not part of what the kernel holds (the diff and the modes ignore it). */
  healthCheck?: HealthCheck;
}

export interface State {
  services: Service[];
}

/**
 * What LoadBalancer.apply/validate/diff take: specs, normalised Services, or a mix of both. The
 * Services validation returned (frozen) are the controller's fast path: passed back, each is taken
 * as is by identity, without comparing a field; a changed service goes in as a spec.
 */
export interface StateInput<M extends Mode = Mode> {
  services: (ServiceSpec<M> | Service)[];
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

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) of two short strings. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The allowed field a misspelled key most likely meant: close in spelling, or the same ignoring case. */
export function nearestField(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const f of allowed) {
    const d = f.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, f);
    if (d < bestD) [best, bestD] = [f, d];
  }
  // at most 2 edits, and fewer than half the key's letters: "nme" -> name, but "x" -> nothing
  return best !== undefined && bestD <= Math.min(2, Math.floor(key.length / 2)) ? best : undefined;
}

/** Every key of `obj` that is not allowed, named, with the nearest allowed one suggested. */
function checkKeys(c: Collector, obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (allowed.includes(k)) continue;
    const near = nearestField(k, allowed);
    c.add(`${path}.${k}`.replace(/^\./, ''), `unknown field ${JSON.stringify(k)}${near ? `: did you mean ${JSON.stringify(near)}?` : ''} (allowed: ${allowed.join(', ')})`);
  }
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

const SERVICE_KEYS = ['name', 'protocol', 'vip', 'family', 'port', 'scheduler', 'persistence', 'endpoints', 'healthCheck'];

function validateService(c: Collector, s: unknown, path: string, mode: Mode | undefined): Service | undefined {
  if (!isObject(s)) {
    c.add(path, 'must be an object { name, protocol?, vip, port, scheduler?, persistence?, endpoints, healthCheck? }', s);
    return undefined;
  }
  checkKeys(c, s, SERVICE_KEYS, path);
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
  if (s.family !== undefined) {
    if (s.family !== 'ipv4' && s.family !== 'ipv6') c.add(`${path}.family`, 'must be "ipv4" or "ipv6" (or left out: the vip decides)', s.family);
    else if (vip && vip.family !== s.family) c.add(`${path}.family`, `is ${s.family} but the vip ${vip.text} is ${vip.family} (leave family out: the vip decides)`, s.family);
  }
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
    // (a misspelled "timout" is named even though the missing timeout is reported too)
    if (isObject(p)) checkKeys(c, p, ['timeout'], `${path}.persistence`);
    if (!isObject(p) || !Number.isInteger(p.timeout) || (p.timeout as number) < 1 || (p.timeout as number) > MAX_PERSISTENCE_TIMEOUT) {
      c.add(`${path}.persistence.timeout`, `must be an integer number of seconds 1..${MAX_PERSISTENCE_TIMEOUT}`, isObject(p) ? p.timeout : p);
    } else {
      persistence = { timeout: p.timeout as number };
      const why = mode && persistenceProblem(mode);
      if (why) c.add(`${path}.persistence`, why, p);
    }
  }
  const healthCheck = s.healthCheck === undefined ? undefined : validateHealthCheck(s.healthCheck, `${path}.healthCheck`, (f, p, v) => c.add(f, p, v));
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
  const endpoints: Endpoint[] = [];
  for (const e of eps) endpoints.push(Object.freeze({ address: e.address, port: e.port, weight: e.weight }));
  const svc: Service = {
    name: s.name as string,
    protocol: protocol as Protocol,
    family: vip.family,
    vip: vip.text,
    port: s.port as number,
    scheduler: scheduler as string,
    endpoints: Object.freeze(endpoints) as Endpoint[],
  };
  if (persistence) svc.persistence = Object.freeze(persistence);
  if (healthCheck) svc.healthCheck = Object.freeze(healthCheck);
  // Frozen, all of it: the validation cache hands this very object back for an unchanged service,
  // and a caller passing it back in is trusted by identity (no comparison), which only holds if
  // nobody can change it in place.
  return Object.freeze(svc);
}

/**
 * Validates and normalises a desired state. With `mode`, also checks that the mode can do every
 * scheduler and option. Throws ValidationError (one problem) or ValidationErrors (several). With a
 * `cache` (a LoadBalancer's), services whose input reads the same as last time are not validated
 * again and come back as the same objects (see validation-cache.ts).
 */
export function validateState(input: unknown, mode?: Mode, cache?: ValidationCache): State {
  return validateStateWarnings(input, mode, cache).state;
}

/**
 * @internal validateState and, with a cache, the state's warnings (what stateWarnings gives, in the
 * same order), gathered during the pass: a service that hits the cache reads its entry's warning
 * instead of a lookup per service in the rr memo (~0.3 ms at 10k rr services). Without a cache,
 * `warnings` is undefined (call stateWarnings).
 */
export function validateStateWarnings(input: unknown, mode?: Mode, cache?: ValidationCache): { state: State; warnings: string[] | undefined } {
  if (cache && cache.mode !== mode) throw new Error('ValidationCache used with another mode');
  // (an unknown mode has no scheduler list: checking one would throw a TypeError)
  if (mode !== undefined && !MODES.includes(mode)) throw new ValidationError('mode', `must be one of ${MODES.join(', ')}`, mode);
  const c = new Collector();
  if (!isObject(input)) throw new ValidationError('state', 'must be an object { services: [...] }', input);
  checkKeys(c, input, ['services'], '');
  if (!Array.isArray(input.services)) {
    // with the unknown keys first: { "service": [...] } is a misspelling more often than a missing field
    c.add('services', input.services === undefined ? 'is missing (an array of services)' : 'must be an array', input.services);
    throw c.errors.length === 1 ? c.errors[0]! : new ValidationErrors(c.errors);
  }
  const list = input.services as unknown[];
  // Sized once (an unchanged 10k state allocated ~234 KB here, almost all of it this array's
  // growth: 3x its final size). An allocation inside apply() is when the collector moves the
  // caller's fresh input tree (its scavenges took 10-60 ms on a loaded machine), so an unchanged
  // state allocates the result and nothing else. (Above the size V8 keeps a preallocated array in
  // fast elements, it grows as before.)
  const services: Service[] = list.length <= PRESIZE_MAX ? new Array<Service>(list.length) : [];
  let count = 0;
  // The cross-service checks: the first valid service of each key and each name so far. A cached
  // service that came back (a hit) is registered by its entry's pass mark; only the services
  // validated in this pass (few, when a controller changed few) go in these maps.
  const mark = cache ? cache.begin() : 0;
  const newKeys = new Map<string, { index: number; name: string }>();
  const newNames = new Map<string, number>();
  const learned: CacheEntry[] = [];
  const warnings: string[] | undefined = cache ? [] : undefined;
  const duplicates = (i: number, svc: Service, k: string, firstKey: { index: number; name: string } | undefined, firstName: number | undefined) => {
    if (firstKey) c.add(`services[${i}]`, `service "${svc.name}": duplicate VIP:port:protocol ${k} (also services[${firstKey.index}] "${firstKey.name}")`, k);
    if (firstName !== undefined) c.add(`services[${i}].name`, `duplicate service name "${svc.name}" (also services[${firstName}])`, svc.name);
  };
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    const hit = cache?.lookup(s, i);
    if (hit) {
      const svc = hit.svc;
      // (the same entry met earlier in this pass: a duplicate of both its key and its name)
      const again = hit.seen === mark;
      let firstKey = again ? { index: hit.index, name: svc.name } : undefined;
      let firstName = again ? hit.index : undefined;
      // (a service validated earlier in this pass with this hit's key or name marked its entry: one
      // property read a hit instead of two map lookups once a service changed, which in the UML
      // guest made one change through apply(state) of 10k services cost ~20-40 ms over the no-op)
      if (hit.clash === mark) {
        if (newKeys.size) firstKey = earlier(firstKey, newKeys.get(hit.key));
        if (newNames.size) firstName = earlierIndex(firstName, newNames.get(svc.name));
      }
      if (firstKey || firstName !== undefined) duplicates(i, svc, hit.key, firstKey, firstName);
      if (!again) {
        hit.seen = mark;
        hit.index = i;
      }
      if (hit.warning !== null) warnings!.push(hit.warning);
      services[count++] = svc;
      continue;
    }
    if (!(i in list)) continue; // (a hole: skipped, as forEach did)
    const svc = validateService(c, s, `services[${i}]`, mode);
    if (!svc) continue;
    const k = serviceKey(svc);
    let firstKey = newKeys.get(k);
    let firstName = newNames.get(svc.name);
    if (cache) {
      const byKey = cache.withKey(k);
      if (byKey?.seen === mark) firstKey = earlier(firstKey, { index: byKey.index, name: byKey.svc.name });
      const byName = cache.withName(svc.name);
      if (byName?.seen === mark) firstName = earlierIndex(firstName, byName.index);
      // (the only entries a later hit of this pass can be that share this key or name: the cache
      // holds one entry per key and per name, and a hit is always the one it holds)
      if (byKey) byKey.clash = mark;
      if (byName) byName.clash = mark;
      const w = serviceWarning(svc);
      if (w !== null) warnings!.push(w);
      learned.push(cache.entry(s, svc, k, w, mark, i));
    }
    duplicates(i, svc, k, firstKey, firstName);
    if (!firstKey) newKeys.set(k, { index: i, name: svc.name });
    if (firstName === undefined) newNames.set(svc.name, i);
    services[count++] = svc;
  }
  // (invalid services and holes took no place: the preallocated tail goes)
  if (services.length !== count) services.length = count;
  // Name the service in every message: "services[2] (web).endpoints[0].port: ...".
  if (c.errors.length) {
    const names = list.map((s) => (isObject(s) && typeof s.name === 'string' ? s.name : undefined));
    const errs = c.errors.map((e) => {
      const m = /^services\[(\d+)\]/.exec(e.field);
      const n = m ? names[Number(m[1])] : undefined;
      return n && !e.problem.includes(`"${n}"`) ? new ValidationError(e.field, `(service "${n}") ${e.problem}`, e.value) : e;
    });
    throw errs.length === 1 ? errs[0]! : new ValidationErrors(errs);
  }
  if (cache) {
    for (const e of learned) cache.set(e);
    cache.retain(mark, services.length);
  }
  return { state: { services }, warnings };
}

/** The largest input whose result array is allocated at its final size up front. */
const PRESIZE_MAX = 50_000;

function earlier<T extends { index: number }>(a: T | undefined, b: T | undefined): T | undefined {
  return !a ? b : !b ? a : b.index < a.index ? b : a;
}

function earlierIndex(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * What a valid state asks that the kernel will not do as written, for ApplySummary.warnings: rr
 * gives every endpoint of weight > 0 the same share (as IPVS rr does), so weights other than 0 and
 * one common value are ignored.
 */
export function stateWarnings(state: State): string[] {
  const out: string[] = [];
  for (const s of state.services) {
    if (s.scheduler !== 'rr') continue;
    // (Service objects are never mutated, and an unchanged one comes back from the validation
    // cache as the same object: each is looked at once, not on every apply of 10k services)
    let w = rrWarnings.get(s);
    if (w === undefined) rrWarnings.set(s, (w = rrWarning(s)));
    if (w) out.push(w);
  }
  return out;
}
const rrWarnings = new WeakMap<Service, string | null>();

/** One service's entry in stateWarnings, null for none. */
function serviceWarning(s: Service): string | null {
  return s.scheduler === 'rr' ? rrWarning(s) : null;
}

function rrWarning(s: Service): string | null {
  const weights = [...new Set(s.endpoints.map((e) => e.weight).filter((w) => w > 0))];
  if (weights.length < 2) return null;
  return `service ${s.name}: scheduler rr ignores weights (${weights.sort((a, b) => a - b).join(', ')} given): every endpoint of weight > 0 gets the same share; use wrr or random to weight them`;
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
    if (cache) learned.push(hit ?? cache.entry(s, svc, k, serviceWarning(svc)));
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
