/**
 * status() from counters alone (issue #21: a scrape at 10k services x 10 endpoints). While the
 * ruleset generation is the one of kernlb's last commit (or of a full read that found no drift),
 * the table is exactly what that state compiles to: then the slot maps' element counters (one
 * native call, packed arrays: native/nft/counters.cc) plus the cached structure are the status a
 * full read would give, drift included (none). Anything else (another generation, a map with other
 * elements, a commit during the read) returns undefined and the caller reads the whole table.
 */
import type { Nftables } from '../../../nft';
import { compareAddress, parseAddress } from '../../address';
import type { Endpoint, Service, State } from '../../state';
import type { ServiceStatus } from '../../types';
import { compileService, NFT_TABLE } from './compile';
import type { NftCurrent } from './decode';

/** One service as a read gives it back, and where its slots' counters go. */
interface ServicePlan {
  model: Service;
  map: string;
  /** slot key -> index into model.endpoints */
  slotEp: Int32Array;
}

/** Per Service object (update() keeps the unchanged ones): compiled once, however many scrapes. */
const plans = new WeakMap<Service, ServicePlan>();

function byAddress(eps: Endpoint[]): Endpoint[] {
  const parsed = new Map(eps.map((e) => [e, parseAddress(e.address)!]));
  return eps.sort((a, b) => compareAddress(parsed.get(a)!, parsed.get(b)!) || a.port - b.port);
}

function planOf(s: Service): ServicePlan {
  let p = plans.get(s);
  if (p) return p;
  const c = compileService(s);
  // The model exactly as decodeNft rebuilds it: no healthCheck, endpoints by address then port.
  const endpoints = byAddress(s.endpoints.map(({ address, port, weight }) => ({ address, port, weight })));
  const model: Service = { name: s.name, protocol: s.protocol, family: s.family, vip: s.vip, port: s.port, scheduler: s.scheduler, endpoints };
  if (s.persistence) model.persistence = { timeout: s.persistence.timeout };
  const index = new Map(endpoints.map((e, i) => [`${e.address} ${e.port}`, i]));
  const slotEp = new Int32Array(c.elements.length).fill(-1);
  for (const el of c.elements) slotEp[el.key] = index.get(`${el.address} ${el.port}`)!;
  p = { model, map: c.map, slotEp };
  plans.set(s, p);
  return p;
}

interface StatusPlan {
  source: State;
  services: ServicePlan[];
  sets: string[];
  state: State;
}

export class NftStatusReader {
  #plan: StatusPlan | undefined;

  #planFor(state: State): StatusPlan {
    if (this.#plan?.source === state) return this.#plan;
    const services = state.services.map(planOf).sort((a, b) => (a.model.name < b.model.name ? -1 : a.model.name > b.model.name ? 1 : 0));
    this.#plan = { source: state, services, sets: services.map((p) => p.map), state: { services: services.map((p) => p.model) } };
    return this.#plan;
  }

  /**
   * The status of `record` (a table kernlb committed, or read without drift, at record.generation)
   * with fresh counters; undefined when the kernel is no longer provably that table.
   */
  async read(nft: Nftables, record: NftCurrent): Promise<NftCurrent | undefined> {
    const plan = this.#planFor(record.state);
    const c = await nft.setCounters('inet', NFT_TABLE, plan.sets);
    if (!c.same || c.generation !== record.generation) return undefined;
    const services: ServiceStatus[] = new Array(plan.services.length);
    let at = 0;
    for (let i = 0; i < plan.services.length; i++) {
      const { model, slotEp } = plan.services[i]!;
      const n = c.count[i]!;
      if (n !== slotEp.length) return undefined;
      const endpoints = model.endpoints.map(({ address, port, weight }) => ({ address, port, weight, counters: { connections: 0, packets: 0, bytes: 0 } }));
      for (let k = at; k < at + n; k++) {
        const key = c.keys[k]!;
        const ep = key < slotEp.length ? slotEp[key]! : -1;
        if (ep < 0) return undefined;
        const counters = endpoints[ep]!.counters;
        counters.connections += c.packets[k]!;
        counters.packets += c.packets[k]!;
        counters.bytes += c.bytes[k]!;
      }
      at += n;
      const svc: ServiceStatus = { name: model.name, protocol: model.protocol, family: model.family, vip: model.vip, port: model.port, scheduler: model.scheduler, endpoints };
      if (model.persistence) svc.persistence = model.persistence;
      services[i] = svc;
    }
    return { ...record, state: plan.state, services, draining: [], drift: [] };
  }
}
