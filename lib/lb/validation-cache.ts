/**
 * The memo behind apply(state)'s validation: a controller hands over a whole new object tree each
 * time, and at 10k services validating and normalising every service anew cost ~40 ms an apply.
 * Each service that validated is kept with a private copy of its raw input; a service of the next
 * input whose raw fields read the same (compared in place: no allocation, no normalisation) comes
 * back as the very same Service object, which lets the diff and the modes' per-service caches skip
 * it by identity. Only services whose input differs are validated.
 *
 * The cross-service checks (duplicate VIP:port:protocol, duplicate name) stay exact without a map
 * of the whole input: two cached entries never share a key or a name (set() evicts the older one),
 * so two unchanged services can only collide by being the same entry twice, seen by its pass mark;
 * every other collision involves a service that was validated, and those few are looked up.
 */
import type { Service } from './state';

/** A validated service's input, copied field by field (one shape, so the comparison's reads are monomorphic). */

interface RawService {
  name: unknown;
  protocol: unknown;
  vip: unknown;
  family: unknown;
  port: unknown;
  scheduler: unknown;
  /** JSON copies (rare, nested: compared generically). */
  persistence: unknown;
  healthCheck: unknown;
  /**
   * Each endpoint's address, port and weight in turn (3 slots an endpoint): one array instead of an
   * object per endpoint, so the comparison of 100k endpoints touches a third of the memory.
   */
  endpoints: unknown[];
}

/** @internal One validated service: its raw input, its normalised form and key, and the last pass that met it. */
export interface CacheEntry {
  raw: RawService;
  svc: Service;
  key: string;
  /** The validation pass that last met this entry in its input, and where (its first place there). */
  seen: number;
  index: number;
  /** No longer in the cache (a guess by position must not return it). */
  dropped: boolean;
  /** The service's warning for ApplySummary.warnings (stateWarnings), null for none: a hit reads it here. */
  warning: string | null;
  /**
   * The validation pass in which a service validated anew had this entry's key or name: only such an
   * entry, hit later in that pass, can be a duplicate of it (the pass looks the hit up in its maps of
   * new keys and names then, not for every hit once one service changed).
   */
  clash: number;
}

const hasOwn = Object.prototype.hasOwnProperty;

function plainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether `input` is exactly the plain data `raw` (a JSON copy): same own keys, same values. */
function samePlain(input: unknown, raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return input === raw;
  if (Array.isArray(raw)) {
    if (!Array.isArray(input) || input.length !== raw.length) return false;
    for (let i = 0; i < raw.length; i++) if (!(i in input) || !samePlain(input[i], raw[i])) return false;
    return true;
  }
  if (!plainObject(input)) return false;
  let n = 0;
  for (const k in raw) {
    if (!hasOwn.call(input, k) || !samePlain(input[k], (raw as Record<string, unknown>)[k])) return false;
    n++;
  }
  // every key of raw is an own key of input: counting input's keys finds an extra one
  for (const _ in input) if (--n < 0) return false;
  return n === 0;
}

/*
 * Why reading the same is enough: validation's verdict and result depend only on what it reads
 * (each allowed field, by property read) and on the names of the object's own enumerable keys (an
 * unknown one is an error). If every allowed field reads the same as in an input that validated,
 * and every key the input enumerates (own or inherited) is an allowed one, validating it again
 * would give the same Service and no error. Anything else (a hole, an extra key even with an
 * undefined value, an inherited enumerable key) is simply validated.
 */

/*
 * No prototype is checked (of services or endpoints; only persistence and healthCheck, compared as
 * JSON copies, are): validation reads fields by property read and keys with Object.keys, and for-in
 * sees every key Object.keys does (and the inherited enumerable ones too). An array is refused by
 * an isArray test, as validation refuses it. (Of the 100k endpoints of 10k services, a
 * getPrototypeOf each was ~0.25 us a service.)
 */
function sameEndpoint(e: unknown, r: unknown[], at: number): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as { address: unknown; port: unknown; weight: unknown };
  if (o.address !== r[at] || o.port !== r[at + 1] || o.weight !== r[at + 2] || Array.isArray(e)) return false;
  for (const k in e) if (k !== 'address' && k !== 'port' && k !== 'weight') return false;
  return true;
}

/** `s.name` is known to equal `r.name` (lookup found the entry by it). */
function sameService(s: Record<string, unknown>, r: RawService): boolean {
  if (s.vip !== r.vip || s.port !== r.port || s.protocol !== r.protocol || s.family !== r.family || s.scheduler !== r.scheduler) return false;
  if (r.persistence === undefined ? s.persistence !== undefined : !samePlain(s.persistence, r.persistence)) return false;
  if (r.healthCheck === undefined ? s.healthCheck !== undefined : !samePlain(s.healthCheck, r.healthCheck)) return false;
  for (const k in s) {
    switch (k) {
      case 'name': case 'protocol': case 'vip': case 'family': case 'port': case 'scheduler': case 'persistence': case 'endpoints': case 'healthCheck':
        continue;
      default:
        return false;
    }
  }
  const eps = s.endpoints;
  const reps = r.endpoints;
  if (!Array.isArray(eps) || eps.length * 3 !== reps.length) return false;
  for (let i = 0; i < eps.length; i++) if (!sameEndpoint(eps[i], reps, i * 3)) return false;
  return true;
}

const jsonCopy = (v: unknown): unknown => (v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as unknown));

function rawEndpoints(eps: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i] as Record<string, unknown> | undefined;
    // (a hole, which validation skips, is kept as what no input reads the same as: NaN !== NaN)
    if (i in eps && e) out.push(e.address, e.port, e.weight);
    else out.push(NaN, NaN, NaN);
  }
  return out;
}

/** A private copy of a service input that validated (the caller may mutate theirs afterwards). */
function rawService(s: Record<string, unknown>): RawService {
  return {
    name: s.name,
    protocol: s.protocol,
    vip: s.vip,
    family: s.family,
    port: s.port,
    scheduler: s.scheduler,
    persistence: jsonCopy(s.persistence),
    healthCheck: jsonCopy(s.healthCheck),
    endpoints: rawEndpoints(s.endpoints as unknown[]),
  };
}

/**
 * Normalised services of the last successful validation (one cache per LoadBalancer: validation
 * depends on the mode), by name and by key. Service objects are never mutated.
 */
export class ValidationCache {
  #byName = new Map<string, CacheEntry>();
  #byKey = new Map<string, CacheEntry>();
  #pass = 0;
  /** The entry last found at each place of an input: a controller's next input has most services at the same place. */
  #at: (CacheEntry | undefined)[] = [];
  constructor(readonly mode: import('./schedulers').Mode | undefined) {}

  /**
   * @internal The entry whose raw input `input` reads the same as; undefined = validate it.
   * `index`: its place in the input (the entry found at that place last time is tried first: a
   * string comparison instead of a hash lookup of 10k names).
   */
  lookup(input: unknown, index = -1): CacheEntry | undefined {
    const guess = index >= 0 ? this.#at[index] : undefined;
    // The fast path: the caller passed back the Service validation returned (frozen, so unchanged).
    if (guess !== undefined && guess.svc === input && !guess.dropped) return guess;
    // (no prototype check, as for endpoints: the reads and for-in's keys decide)
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
    const s = input as Record<string, unknown>;
    const name = s.name;
    if (typeof name !== 'string') return undefined;
    let e = guess;
    if (e === undefined || e.dropped || e.svc.name !== name) {
      e = this.#byName.get(name);
      if (e === undefined) return undefined;
      if (index >= 0) this.#at[index] = e;
    }
    return (e.svc as unknown) === input || sameService(s, e.raw) ? e : undefined;
  }

  /** @internal A new entry for a service input that just validated (not kept until learn()). */
  entry(input: unknown, svc: Service, key: string, warning: string | null, seen = 0, index = 0): CacheEntry {
    return { raw: rawService(input as Record<string, unknown>), svc, key, seen, index, dropped: false, warning, clash: 0 };
  }

  /** @internal Starts a validation pass; entries met in it are marked with the number returned. */
  begin(): number {
    return ++this.#pass;
  }

  /** @internal The entry holding VIP:port:protocol `key`, if any. */
  withKey(key: string): CacheEntry | undefined {
    return this.#byKey.get(key);
  }

  /** @internal The entry of service `name`, if any. */
  withName(name: string): CacheEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * @internal Keeps `entry`, evicting any entry of the same name or the same key (so no two entries
   * ever share either; the evicted service is simply validated when it comes again).
   */
  set(entry: CacheEntry): void {
    const byName = this.#byName.get(entry.svc.name);
    if (byName && byName !== entry) this.#drop(byName);
    const byKey = this.#byKey.get(entry.key);
    if (byKey && byKey !== entry) this.#drop(byKey);
    entry.dropped = false;
    this.#byName.set(entry.svc.name, entry);
    this.#byKey.set(entry.key, entry);
    // (learned by a whole state's validation: its place there is where the next input has it)
    if (entry.seen === this.#pass && entry.seen !== 0) this.#at[entry.index] = entry;
  }

  /** @internal After pass `mark` validated a state of `count` services: drops entries it did not have. */
  retain(mark: number, count: number): void {
    // (a state that shrank leaves no guesses holding entries of services it no longer has)
    if (this.#at.length > count) this.#at.length = count;
    // (every service of the state is an entry marked by the pass: only a removal leaves others)
    if (this.#byName.size === count) return;
    for (const e of this.#byName.values()) if (e.seen !== mark) this.#drop(e);
  }

  get size(): number {
    return this.#byName.size;
  }

  /** @internal A service LoadBalancer.update removed, or renamed away from. */
  delete(name: string): void {
    const e = this.#byName.get(name);
    if (e) this.#drop(e);
  }

  #drop(e: CacheEntry): void {
    e.dropped = true;
    if (this.#byName.get(e.svc.name) === e) this.#byName.delete(e.svc.name);
    if (this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }
}
