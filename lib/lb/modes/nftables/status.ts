/**
 * status() from counters alone (issue #21: a scrape at 10k services x 10 endpoints). While the
 * ruleset generation is the one of kernlb's last commit (or of a full read that found no drift),
 * the table is exactly what that state compiles to: then the shard maps' element counters (one
 * native call, packed arrays: native/nft/counters.cc) plus the cached structure are the status a
 * full read would give, drift included (none). Anything else (another generation, a map with other
 * elements, a commit during the read) returns undefined and the caller reads the whole table.
 */
import type { Nftables } from '../../../nft';
import { compareAddress, parseAddress } from '../../address';
import type { Endpoint, Service, State } from '../../state';
import type { PackedStatus, ServiceStatus } from '../../types';
import { compileService, NFT_TABLE } from './compile';
import { sortEndpoints, type NftCurrent } from './decode';

/** One service as a read gives it back, and where its slots' counters go. */
interface ServicePlan {
  model: Service;
  /** Its shard map (ep-<proto><4|6>-<k>), shared with other services. */
  map: string;
  /** The key bytes after the slot, as the kernel dumps them (VIP . port, each padded to 4 bytes), latin1. */
  rest: string;
  /** slot key -> index into model.endpoints */
  slotEp: number[];
}

/** Per Service object (update() keeps the unchanged ones): compiled once, however many scrapes. */
const plans = new WeakMap<Service, ServicePlan>();

/** `VIP . port` as a concatenated key holds it: the address, then the port big-endian in a 4-byte register. */
function restKey(vip: string, port: number): string {
  const a = parseAddress(vip)!.bytes;
  const b = Buffer.alloc(a.length + 4);
  a.copy(b);
  b.writeUInt16BE(port, a.length);
  return b.toString('latin1');
}

/** Whether the endpoints are in decodeNft's order (by address, then port): validateState sorts them so. */
function sorted(eps: readonly Endpoint[]): boolean {
  let prev = eps.length ? parseAddress(eps[0]!.address) : undefined;
  for (let i = 1; i < eps.length; i++) {
    const a = parseAddress(eps[i]!.address);
    if (!prev || !a) return false;
    const c = compareAddress(prev, a);
    if (c > 0 || (c === 0 && eps[i - 1]!.port > eps[i]!.port)) return false;
    prev = a;
  }
  return true;
}

function planOf(s: Service): ServicePlan {
  let p = plans.get(s);
  if (p) return p;
  const c = compileService(s);
  // The model exactly as decodeNft rebuilds it: no healthCheck, endpoints by address then port. A
  // validated service already is that (its endpoints sorted, each { address, port, weight }) unless
  // it has a health check: then only the service object is new (10^5 endpoint objects not copied).
  const endpoints = sorted(s.endpoints) ? s.endpoints : sortEndpoints(s.endpoints.map(({ address, port, weight }) => ({ address, port, weight })));
  let model: Service = s;
  if (s.healthCheck || endpoints !== s.endpoints || (s.persistence && Object.keys(s.persistence).length !== 1)) {
    model = { name: s.name, protocol: s.protocol, family: s.family, vip: s.vip, port: s.port, scheduler: s.scheduler, endpoints };
    if (s.persistence) model.persistence = { timeout: s.persistence.timeout };
  }
  // (a plain array of small integers: a typed array per service costs ~300 bytes more, 3 MB at 10k;
  // endpoints found by a scan, not a map of "address port" strings: the first scrape at 10k x 10
  // built 100k such strings and 10k maps to throw away; a map still for a large service: slots x endpoints)
  const slotEp: number[] = new Array<number>(c.elements.length).fill(-1);
  const index = endpoints.length > 32 ? new Map(endpoints.map((e, i) => [`${e.address} ${e.port}`, i])) : undefined;
  for (const el of c.elements) {
    slotEp[el.key] = index ? index.get(`${el.address} ${el.port}`)! : endpoints.findIndex((e) => e.port === el.port && e.address === el.address);
  }
  p = { model, map: c.map, rest: restKey(s.vip, s.port), slotEp };
  plans.set(s, p);
  return p;
}

interface StatusPlan {
  source: State;
  services: ServicePlan[];
  /** The shard maps to dump, and per map its services by key rest -> index into services. */
  sets: string[];
  bySet: Map<string, number>[];
  state: State;
  /** Where each service's endpoints start in the packed arrays (services' order), and their total at the end. */
  first: Int32Array;
}

export class NftStatusReader {
  #plan: StatusPlan | undefined;

  #planFor(state: State): StatusPlan {
    if (this.#plan?.source === state) return this.#plan;
    const services = state.services.map(planOf).sort((a, b) => (a.model.name < b.model.name ? -1 : a.model.name > b.model.name ? 1 : 0));
    const maps = new Map<string, Map<string, number>>();
    services.forEach((p, i) => {
      let m = maps.get(p.map);
      if (!m) maps.set(p.map, (m = new Map()));
      m.set(p.rest, i);
    });
    const sets = [...maps.keys()].sort();
    const first = new Int32Array(services.length + 1);
    services.forEach((p, i) => (first[i + 1] = first[i]! + p.model.endpoints.length));
    this.#plan = { source: state, services, sets, bySet: sets.map((n) => maps.get(n)!), state: { services: services.map((p) => p.model) }, first };
    return this.#plan;
  }

  /**
   * The counters of `record`'s endpoints (a table kernlb committed, or read without drift, at
   * record.generation), packed: no object per endpoint (a scrape at 10k x 10 builds none); undefined
   * when the kernel is no longer provably that table (then the caller reads it whole, and reports drift).
   */
  async readPacked(nft: Nftables, record: NftCurrent): Promise<PackedStatus | undefined> {
    const plan = this.#planFor(record.state);
    const c = await nft.setCounters('inet', NFT_TABLE, plan.sets);
    if (!c.same || c.generation !== record.generation) return undefined;
    const rest = Buffer.from(c.rest.buffer, c.rest.byteOffset, c.rest.byteLength);
    const total = plan.first[plan.services.length]!;
    // (nftables counts packets per slot element, and a DNAT slot sees the first packet of each connection: connections = packets)
    const packets = new Float64Array(total);
    const bytes = new Float64Array(total);
    const seen = new Uint32Array(plan.services.length);
    let at = 0;
    for (let i = 0; i < plan.sets.length; i++) {
      const owners = plan.bySet[i]!;
      const end = at + c.count[i]!;
      for (let k = at; k < end; k++) {
        const svc = owners.get(rest.toString('latin1', k ? c.restEnd[k - 1]! : 0, c.restEnd[k]!));
        if (svc === undefined) return undefined;
        const slotEp = plan.services[svc]!.slotEp;
        const key = c.keys[k]!;
        const ep = key < slotEp.length ? slotEp[key]! : -1;
        if (ep < 0) return undefined;
        seen[svc]!++;
        const j = plan.first[svc]! + ep;
        packets[j] += c.packets[k]!;
        bytes[j] += c.bytes[k]!;
      }
      at = end;
    }
    for (let i = 0; i < plan.services.length; i++) if (seen[i] !== plan.services[i]!.slotEp.length) return undefined;
    return { mode: 'nftables', services: plan.state.services, connections: packets, packets, bytes };
  }

  /**
   * The status of `record` (a table kernlb committed, or read without drift, at record.generation)
   * with fresh counters; undefined when the kernel is no longer provably that table (then the caller
   * reads it whole, and reports drift).
   */
  async read(nft: Nftables, record: NftCurrent): Promise<NftCurrent | undefined> {
    const p = await this.readPacked(nft, record);
    if (!p) return undefined;
    const plan = this.#planFor(record.state);
    const services: ServiceStatus[] = new Array(plan.services.length);
    // (status().state is the caller's to edit and apply, README's "read, edit, apply": copies, never
    // the plan's services, which are the LoadBalancer's own records)
    const state: Service[] = new Array(plan.services.length);
    for (let i = 0; i < plan.services.length; i++) {
      const { model } = plan.services[i]!;
      let j = plan.first[i]!;
      const endpoints = model.endpoints.map(({ address, port, weight }) => ({ address, port, weight, counters: { connections: p.connections[j]!, packets: p.packets[j]!, bytes: p.bytes[j++]! } }));
      const svc: ServiceStatus = { name: model.name, protocol: model.protocol, family: model.family, vip: model.vip, port: model.port, scheduler: model.scheduler, endpoints };
      const copy: Service = { name: model.name, protocol: model.protocol, family: model.family, vip: model.vip, port: model.port, scheduler: model.scheduler, endpoints: model.endpoints.map(({ address, port, weight }) => ({ address, port, weight })) };
      if (model.persistence) {
        svc.persistence = { timeout: model.persistence.timeout };
        copy.persistence = { timeout: model.persistence.timeout };
      }
      services[i] = svc;
      state[i] = copy;
    }
    return { ...record, state: { services: state }, services, draining: [], drift: [] };
  }
}
