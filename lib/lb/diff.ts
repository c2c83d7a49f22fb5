/** Pure diff of two normalised states: which services and endpoints were added, removed or changed. */
import { endpointKey, serviceKey, type Endpoint, type Service, type State } from './state';

export interface WeightChange {
  address: string;
  port: number;
  from: number;
  to: number;
}

export interface ServiceChange {
  key: string;
  name: string;
  /** Service-level fields that changed (name, scheduler, persistence). */
  fields: string[];
  endpoints: { added: Endpoint[]; removed: Endpoint[]; reweighted: WeightChange[] };
}

export interface StateDiff {
  added: Service[];
  removed: Service[];
  updated: ServiceChange[];
  unchanged: number;
}

export function isEmptyDiff(d: StateDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.updated.length === 0;
}

function samePersistence(a: Service['persistence'], b: Service['persistence']): boolean {
  return (a?.timeout ?? 0) === (b?.timeout ?? 0);
}

/** Compares one service's two versions (same key); undefined when equal. */
export function diffService(from: Service, to: Service): ServiceChange | undefined {
  // The validation cache hands back the same object for an unchanged service.
  if (from === to) return undefined;
  const fields: string[] = [];
  if (from.name !== to.name) fields.push('name');
  if (from.scheduler !== to.scheduler) fields.push('scheduler');
  if (!samePersistence(from.persistence, to.persistence)) fields.push('persistence');
  // Fast path: endpoints are sorted canonically, so equal lists compare element by element.
  if (!fields.length && from.endpoints.length === to.endpoints.length) {
    let same = true;
    for (let i = 0; same && i < to.endpoints.length; i++) {
      const a = from.endpoints[i]!;
      const b = to.endpoints[i]!;
      same = a.address === b.address && a.port === b.port && a.weight === b.weight;
    }
    if (same) return undefined;
  }
  const old = new Map(from.endpoints.map((e) => [endpointKey(e), e]));
  const added: Endpoint[] = [];
  const reweighted: WeightChange[] = [];
  for (const e of to.endpoints) {
    const o = old.get(endpointKey(e));
    if (!o) added.push(e);
    else {
      old.delete(endpointKey(e));
      if (o.weight !== e.weight) reweighted.push({ address: e.address, port: e.port, from: o.weight, to: e.weight });
    }
  }
  const removed = [...old.values()];
  if (!fields.length && !added.length && !removed.length && !reweighted.length) return undefined;
  return { key: serviceKey(to), name: to.name, fields, endpoints: { added, removed, reweighted } };
}

export function diffStates(from: State, to: State): StateDiff {
  const d: StateDiff = { added: [], removed: [], updated: [], unchanged: 0 };
  // An unchanged service is the very same object in both (the validation cache hands it back), and
  // usually at the same place: those pairs need no key. At 10k services with one change, building
  // the key map of all of them was ~15 ms an apply.
  const a = from.services, b = to.services;
  const n = Math.min(a.length, b.length);
  let restFrom: Service[] = [], restTo: Service[] = [];
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) d.unchanged++;
    else {
      restFrom.push(a[i]!);
      restTo.push(b[i]!);
    }
  }
  for (let i = n; i < a.length; i++) restFrom.push(a[i]!);
  for (let i = n; i < b.length; i++) restTo.push(b[i]!);
  // The same objects in another order (iptables mode reads its services sorted by name, a caller's
  // order is its own): matched by identity before any key is made. Keys for 2 x 10^4 services out of
  // place were ~10 ms of an iptables no-op at 10k; a set of the objects is ~0.5 ms.
  if (restFrom.length && restTo.length) {
    const same = new Set(restFrom);
    const unmatched: Service[] = [];
    for (const s of restTo) {
      if (same.delete(s)) d.unchanged++;
      else unmatched.push(s);
    }
    if (unmatched.length < restTo.length) {
      restFrom = [...same];
      restTo = unmatched;
    }
  }
  const old = new Map(restFrom.map((s) => [serviceKey(s), s]));
  for (const s of restTo) {
    const k = serviceKey(s);
    const o = old.get(k);
    if (!o) {
      d.added.push(s);
      continue;
    }
    old.delete(k);
    const c = diffService(o, s);
    if (c) {
      d.updated.push(c);
      changed.set(c, s);
      previous.set(c, o);
    } else d.unchanged++;
  }
  d.removed = [...old.values()];
  return d;
}

/** The new and the old version of each changed service of a diff (for the backends: no key map or search of the whole state). */
const changed = new WeakMap<ServiceChange, Service>();
const previous = new WeakMap<ServiceChange, Service>();

/** The service an entry of StateDiff.updated describes, as it is in the diff's `to` state. */
export function changedService(c: ServiceChange): Service | undefined {
  return changed.get(c);
}

/** The same service as it is in the diff's `from` state (a search of `from` by key was ~10 ms at 10k). */
export function previousService(c: ServiceChange): Service | undefined {
  return previous.get(c);
}

/** One line per change, for the CLI and logs: "+ web tcp/10.0.0.1:80", "~ web: +10.1.0.4:80 w1". */
export function formatDiff(d: StateDiff): string[] {
  const lines: string[] = [];
  for (const s of d.added) lines.push(`+ service ${s.name} ${serviceKey(s)} ${s.scheduler} (${s.endpoints.length} endpoints)`);
  for (const s of d.removed) lines.push(`- service ${s.name} ${serviceKey(s)}`);
  for (const c of d.updated) {
    const parts: string[] = [...c.fields.map((f) => `${f} changed`)];
    for (const e of c.endpoints.added) parts.push(`+${endpointKey(e)} w${e.weight}`);
    for (const e of c.endpoints.removed) parts.push(`-${endpointKey(e)}`);
    for (const w of c.endpoints.reweighted) parts.push(`${endpointKey(w)} w${w.from}->w${w.to}`);
    lines.push(`~ service ${c.name} ${c.key}: ${parts.join(', ')}`);
  }
  return lines;
}
