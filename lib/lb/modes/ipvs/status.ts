/**
 * status() of ipvs mode straight from the packed listing (issue #21: a scrape at 10k services x 10
 * endpoints). The native listing (one service dump, one destination dump per service fanned out
 * over a socket pool: native/ipvs/packed.h, dest_fanout.cc) is the kernel's bound; what used to
 * cost was the model built on top of it: every service and destination decoded into the public
 * Ipvs objects (with their rate counters), then converted into the plan's and the status' objects,
 * endpoints sorted by parsing their addresses again. Here each record is read once into the one
 * object status() returns, addresses are made text once per distinct IPv4 word, and endpoints are
 * sorted on their raw bytes. The result is the full read's (IpvsBackend.read(): services, state,
 * draining), nothing taken on trust: IPVS has no generation to prove a record with.
 */
import { AF_INET6, SvcFlag } from '../../../ipvs/constants';
import { DestWord, PackedReader, SvcWord } from '../../../ipvs/packed';
import type { NativeIpvsListing } from '../../../native';
import type { Protocol, Service } from '../../state';
import type { BackendRead, DrainingEndpoint, EndpointStatus, PackedStatus, ServiceStatus } from '../../types';
import { MIN_DRAIN_STAMP, OWNER_TAG } from './compile';

const protoNames: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** Reads one listing's records: the listing's reader, and destinations sorted on their raw bytes. */
class Records extends PackedReader {
  /** Sort keys of IPv4 destinations (address bytes as a number, then the port), reused. */
  #keys = new Float64Array(64);

  /**
   * Sorts destination records (their word offsets, order[0..n)) as compareAddress() then port would:
   * a service's few destinations by insertion on numeric keys when all are IPv4 (a comparator
   * call per pair was most of the decode's time), by compareDests otherwise.
   */
  sortDests(order: number[], n: number): void {
    const u = this.u32, u8 = this.u8;
    if (this.#keys.length < n) this.#keys = new Float64Array(n * 2);
    const k = this.#keys;
    for (let j = 0; j < n; j++) {
      const dw = order[j]!;
      if (u[dw + DestWord.af] === AF_INET6) {
        order.sort((a, b) => this.compareDests(a, b));
        return;
      }
      const o = (dw + DestWord.addr) * 4;
      k[j] = (((u8[o]! << 24) | (u8[o + 1]! << 16) | (u8[o + 2]! << 8) | u8[o + 3]!) >>> 0) * 65536 + u[dw + DestWord.port]!;
    }
    for (let j = 1; j < n; j++) {
      const key = k[j]!, dw = order[j]!;
      let i = j - 1;
      for (; i >= 0 && k[i]! > key; i--) {
        k[i + 1] = k[i]!;
        order[i + 1] = order[i]!;
      }
      k[i + 1] = key;
      order[i + 1] = dw;
    }
  }

  /**
   * compareAddress() then port, on two destination records' words: IPv4 before IPv6, then the
   * address bytes (network order), then the port.
   */
  compareDests(a: number, b: number): number {
    const u = this.u32, u8 = this.u8;
    const fa = u[a + DestWord.af] === AF_INET6 ? 1 : 0, fb = u[b + DestWord.af] === AF_INET6 ? 1 : 0;
    if (fa !== fb) return fa - fb;
    const n = fa ? 16 : 4;
    for (let i = 0, oa = (a + DestWord.addr) * 4, ob = (b + DestWord.addr) * 4; i < n; i++) {
      const d = u8[oa + i]! - u8[ob + i]!;
      if (d) return d;
    }
    return u[a + DestWord.port]! - u[b + DestWord.port]!;
  }
}

/** What status() returns of a read: the full read's services, state and draining destinations. */
export type IpvsStatusRead = Required<Pick<BackendRead, 'state' | 'services' | 'draining'>>;

/** What the reader keeps of one service between reads. */
interface Entry {
  key: string;
  /** The read that last met it. */
  seen: number;
  /** Its destinations at that read, in the kernel's order (an IPv6 one's first word only: never reused): */
  words: number[];
  ports: number[];
  texts: string[];
  /** Their order sorted by address then port (indices into the above). */
  sorted: number[];
  /** The state's service last returned for it. */
  state: Service | undefined;
  /** readPacked(): the service as the kernel lists it (draining endpoints too, at weight 0), when the record's was not it. */
  packed: Service | undefined;
}

/**
 * Whether `s` is what the listing holds for a service (its entry `e`, n destination records from word
 * `first`): the same name, scheduler and persistence, and the same endpoints (address, port, weight)
 * in status() order. `draining`: whether destinations draining (weight 0, drain stamps) may be
 * among them (a model of the listing), or not (the applied state's: a draining one left it).
 */
function listsAll(r: Records, s: Service | undefined, name: string, scheduler: string, timeout: number, e: Entry, first: number, n: number, draining: boolean): boolean {
  if (s === undefined || s.name !== name || s.scheduler !== scheduler || (s.persistence?.timeout ?? -1) !== timeout || s.endpoints.length !== n) return false;
  const u = r.u32, i32 = r.i32;
  for (let j = 0; j < n; j++) {
    const k = e.sorted[j]!;
    const dw = first + k * DestWord.size;
    const ep = s.endpoints[j]!;
    const weight = i32[dw + DestWord.weight]!;
    if (ep.port !== u[dw + DestWord.port] || ep.weight !== weight || ep.address !== e.texts[k]) return false;
    const lth = u[dw + DestWord.lthresh]!;
    if (!draining && weight === 0 && u[dw + DestWord.uthresh] === lth && lth >= MIN_DRAIN_STAMP) return false;
  }
  return true;
}

const protoIds: Record<number, number> = { 6: 1, 17: 2, 132: 3 };

/**
 * Reads status() from packed listings. It keeps, between reads, per service: its key, the text of
 * its destinations' addresses and their sorted order, and the state's Service object, all reused
 * while the kernel lists the same destinations (same addresses and ports in the same order): a
 * steady scrape then builds only the status objects, with no string hashed, no address formatted and
 * no destinations sorted (those were most of the decode's time).
 */
export class IpvsStatusReader {
  #v4 = new Map<number, string>();
  /** By identity: protocol, port and IPv4 address as one number, or the key of an IPv6 service. */
  #entries = new Map<number | string, Entry>();
  #reads = 0;

  /**
   * The entry of service record `w` when it is kernlb's (tagged, address-based; else undefined),
   * marked as met by read `gen`, with its destinations' texts and sorted order brought up to date
   * (kept while the kernel lists the same IPv4 destinations in the same order). `order`: scratch.
   */
  #meet(r: Records, w: number, destBase: number, gen: number, order: number[]): Entry | undefined {
    const u = r.u32;
    const flags = u[w + SvcWord.flags]!;
    // Another client's services, fwmark ones included, are not kernlb's to report.
    if (u[w + SvcWord.fwmark] !== 0 || flags >>> 16 !== OWNER_TAG) return undefined;
    const af = u[w + SvcWord.af]!;
    const proto = u[w + SvcWord.protocol]!;
    const protocol = protoNames[proto] ?? 'tcp';
    const port = u[w + SvcWord.port]!;
    const v6 = af === AF_INET6;
    // (IPv4: 2 + 16 + 32 bits, exact in a double; its hash costs nothing, a fresh string's does)
    const pid = protoIds[proto];
    let id: number | string;
    if (!v6 && pid !== undefined) id = (pid * 65536 + port) * 4294967296 + u[w + SvcWord.addr]!;
    else id = `${protocol}/${v6 ? `[${r.address(af, w + SvcWord.addr)}]` : r.address(af, w + SvcWord.addr)}:${port}`;
    let e = this.#entries.get(id);
    if (e === undefined) {
      const vip = r.address(af, w + SvcWord.addr);
      e = { key: `${protocol}/${v6 ? `[${vip}]` : vip}:${port}`, seen: 0, words: [], ports: [], texts: [], sorted: [], state: undefined, packed: undefined };
      this.#entries.set(id, e);
    }
    e.seen = gen;
    const n = u[w + SvcWord.destCount]!;
    const first = destBase + u[w + SvcWord.firstDest]! * DestWord.size;
    // The same destinations as at the last read (IPv4, same order)? Then their texts and order stand.
    let same = e.words.length === n;
    for (let j = 0, dw = first; same && j < n; j++, dw += DestWord.size)
      same = u[dw + DestWord.af] !== AF_INET6 && u[dw + DestWord.addr] === e.words[j] && u[dw + DestWord.port] === e.ports[j];
    if (!same) {
      e.words = new Array<number>(n);
      e.ports = new Array<number>(n);
      e.texts = new Array<string>(n);
      order.length = n;
      for (let j = 0, dw = first; j < n; j++, dw += DestWord.size) {
        e.words[j] = u[dw + DestWord.addr]!;
        e.ports[j] = u[dw + DestWord.port]!;
        e.texts[j] = r.address(u[dw + DestWord.af]!, dw + DestWord.addr);
        order[j] = dw;
      }
      if (n > 1) r.sortDests(order, n);
      e.sorted = new Array<number>(n);
      for (let j = 0; j < n; j++) e.sorted[j] = (order[j]! - first) / DestWord.size;
    }
    return e;
  }

  /**
   * kernlb's services (tagged, address-based) of a packed listing as IpvsBackend.read() gives them:
   * sorted by key, endpoints by address then port, named after `names` (by service key) or their
   * identity. `draining` follows the kernel's destination order within each service.
   */
  read(l: NativeIpvsListing, names: ReadonlyMap<string, string>): IpvsStatusRead {
    const r = new Records(l.buffer, this.#v4);
    const u = r.u32, i32 = r.i32;
    const destBase = l.services * SvcWord.size;
    const gen = ++this.#reads;
    const found: { status: ServiceStatus; state: Service; draining: DrainingEndpoint[] | undefined }[] = [];
    const listed: Entry[] = [];
    const order: number[] = [];
    let dests = 0, met = 0;
    for (let i = 0; i < l.services; i++) {
      const w = i * SvcWord.size;
      const e = this.#meet(r, w, destBase, gen, order);
      if (e === undefined) continue;
      met++;
      listed.push(e);
      const flags = u[w + SvcWord.flags]!;
      const af = u[w + SvcWord.af]!;
      const protocol = protoNames[u[w + SvcWord.protocol]!] ?? 'tcp';
      const port = u[w + SvcWord.port]!;
      const v6 = af === AF_INET6;
      const key = e.key;
      const vip = r.address(af, w + SvcWord.addr);
      const name = names.get(key) ?? `${protocol}-${vip.replace(/:/g, '_')}-${port}`;
      const family = v6 ? 'ipv6' : 'ipv4';
      const scheduler = l.strings[u[w + SvcWord.sched]!]!;
      const timeout = flags & SvcFlag.PERSISTENT ? u[w + SvcWord.timeout]! : -1;
      const n = u[w + SvcWord.destCount]!;
      dests += n;
      const first = destBase + u[w + SvcWord.firstDest]! * DestWord.size;
      const texts = e.texts, sorted = e.sorted;
      let draining: DrainingEndpoint[] | undefined;
      // (kernel order: the full read lists draining destinations in it)
      for (let j = 0, dw = first; j < n; j++, dw += DestWord.size) {
        const lth = u[dw + DestWord.lthresh]!;
        if (i32[dw + DestWord.weight] === 0 && u[dw + DestWord.uthresh] === lth && lth >= MIN_DRAIN_STAMP)
          (draining ??= []).push({ service: key, address: texts[j]!, port: u[dw + DestWord.port]!, since: lth });
      }
      // The state's service of the last read while it matches (m: its endpoints matched so far).
      const prev = e.state;
      let kept: Service['endpoints'] | undefined;
      let keep = prev !== undefined && prev.name === name && prev.scheduler === scheduler && (prev.persistence?.timeout ?? -1) === timeout;
      let m = 0;
      const endpoints: EndpointStatus[] = new Array<EndpointStatus>(n);
      for (let j = 0; j < n; j++) {
        const k = sorted[j]!;
        const dw = first + k * DestWord.size;
        const address = texts[k]!;
        const dport = u[dw + DestWord.port]!;
        const weight = i32[dw + DestWord.weight]!;
        const s = dw + DestWord.stats;
        const ep: EndpointStatus = {
          address,
          port: dport,
          weight,
          counters: {
            connections: r.counter(s),
            packets: r.counter(s + 2) + r.counter(s + 4),
            bytes: r.counter(s + 6) + r.counter(s + 8),
            activeConnections: u[dw + DestWord.active]!,
            inactiveConnections: u[dw + DestWord.inact]!,
          },
        };
        endpoints[j] = ep;
        const lth = u[dw + DestWord.lthresh]!;
        if (weight === 0 && u[dw + DestWord.uthresh] === lth && lth >= MIN_DRAIN_STAMP) {
          ep.drainingSince = lth;
          continue;
        }
        if (keep) {
          const pe = prev!.endpoints[m];
          if (pe !== undefined && pe.address === address && pe.port === dport && pe.weight === weight) {
            m++;
            continue;
          }
          keep = false;
          kept = prev!.endpoints.slice(0, m);
        }
        (kept ??= []).push({ address, port: dport, weight });
      }
      if (keep && m !== prev!.endpoints.length) {
        keep = false;
        kept = prev!.endpoints.slice(0, m);
      }
      let state: Service;
      if (keep) state = prev!;
      else {
        const eps = kept ?? [];
        state = timeout >= 0
          ? { name, protocol, family, vip, port, scheduler, persistence: { timeout }, endpoints: eps }
          : { name, protocol, family, vip, port, scheduler, endpoints: eps };
        e.state = state;
      }
      const status: ServiceStatus = timeout >= 0
        ? { name, protocol, family, vip, port, scheduler, persistence: { timeout }, endpoints }
        : { name, protocol, family, vip, port, scheduler, endpoints };
      found.push({ status, state, draining });
    }
    this.#forget(gen, met, dests + l.services);
    const byKey = this.#orderByKey(listed);
    const services: ServiceStatus[] = new Array<ServiceStatus>(found.length);
    const stateServices: Service[] = new Array<Service>(found.length);
    const draining: DrainingEndpoint[] = [];
    for (let i = 0; i < found.length; i++) {
      const f = found[byKey[i]!]!;
      services[i] = f.status;
      stateServices[i] = f.state;
      if (f.draining) draining.push(...f.draining);
    }
    return { state: { services: stateServices }, services, draining };
  }

  /** Services not met by read `gen` are forgotten; so, now and then, the texts of addresses gone since (`records`: the listing's). */
  #forget(gen: number, met: number, records: number): void {
    const entries = this.#entries;
    if (entries.size > met) for (const [id, e] of entries) if (e.seen !== gen) entries.delete(id);
    if (this.#v4.size > 2 * records + 1024) this.#v4 = new Map();
  }

  /** The entries in the kernel's order at the last read, and their order by key. */
  #listed: Entry[] = [];
  #byKey = new Int32Array(0);

  /**
   * The order by key (indices into `listed`, a read's entries in the kernel's order): the last read's
   * again while the kernel lists the same services in the same order (its hash table's order stays
   * until services change), else sorted. The sort of 10k keys was a quarter of status()'s CPU.
   */
  #orderByKey(listed: Entry[]): Int32Array {
    const had = this.#listed;
    let same = had.length === listed.length;
    for (let i = 0; same && i < listed.length; i++) same = had[i] === listed[i];
    this.#listed = listed;
    if (same) return this.#byKey;
    const idx = Array.from(listed, (_, i) => i);
    idx.sort((a, b) => (listed[a]!.key < listed[b]!.key ? -1 : 1));
    return (this.#byKey = Int32Array.from(idx));
  }

  /**
   * status()'s services and counters packed (LoadBalancer.counters(), a scrape): the same services,
   * endpoints and values as read(), with no object per endpoint. A service is given as `applied`'s
   * (the apply record's Service, by key) when the kernel lists exactly its endpoints (same name,
   * scheduler, persistence; same addresses, ports and weights, none draining): a daemon's steady
   * scrape then builds no Service either. Otherwise it is the kernel's own, built once and kept while
   * the kernel lists the same (with its draining endpoints, at weight 0, as status() lists them).
   * So nothing is taken on trust: every field the services carry was compared with the listing.
   */
  readPacked(l: NativeIpvsListing, names: ReadonlyMap<string, string>, applied: ReadonlyMap<string, Service> | undefined): PackedStatus {
    const r = new Records(l.buffer, this.#v4);
    const u = r.u32, i32 = r.i32;
    const destBase = l.services * SvcWord.size;
    const gen = ++this.#reads;
    const order: number[] = [];
    // Pass 1, the kernel's order: each service's entry, its model, where its records are.
    const listed: Entry[] = [];
    const models: Service[] = [];
    const firsts: number[] = [];
    let total = 0;
    for (let i = 0; i < l.services; i++) {
      const w = i * SvcWord.size;
      const e = this.#meet(r, w, destBase, gen, order);
      if (e === undefined) continue;
      const first = destBase + u[w + SvcWord.firstDest]! * DestWord.size;
      const n = u[w + SvcWord.destCount]!;
      listed.push(e);
      firsts.push(first);
      total += n;
      const flags = u[w + SvcWord.flags]!;
      const af = u[w + SvcWord.af]!;
      const protocol = protoNames[u[w + SvcWord.protocol]!] ?? 'tcp';
      const port = u[w + SvcWord.port]!;
      const vip = r.address(af, w + SvcWord.addr);
      const name = names.get(e.key) ?? `${protocol}-${vip.replace(/:/g, '_')}-${port}`;
      const scheduler = l.strings[u[w + SvcWord.sched]!]!;
      const timeout = flags & SvcFlag.PERSISTENT ? u[w + SvcWord.timeout]! : -1;
      const rec = applied?.get(e.key);
      if (listsAll(r, rec, name, scheduler, timeout, e, first, n, false)) {
        models.push(rec!);
        e.packed = undefined;
        continue;
      }
      if (!listsAll(r, e.packed, name, scheduler, timeout, e, first, n, true)) {
        const endpoints: Service['endpoints'] = new Array<Service['endpoints'][number]>(n);
        for (let j = 0; j < n; j++) {
          const k = e.sorted[j]!;
          const dw = first + k * DestWord.size;
          endpoints[j] = { address: e.texts[k]!, port: u[dw + DestWord.port]!, weight: i32[dw + DestWord.weight]! };
        }
        const family = af === AF_INET6 ? 'ipv6' : 'ipv4';
        e.packed = timeout >= 0
          ? { name, protocol, family, vip, port, scheduler, persistence: { timeout }, endpoints }
          : { name, protocol, family, vip, port, scheduler, endpoints };
      }
      models.push(e.packed!);
    }
    this.#forget(gen, listed.length, total + l.services);
    // Pass 2, by key: the counters, each service's endpoints in their sorted order.
    const byKey = this.#orderByKey(listed);
    const services: Service[] = new Array<Service>(listed.length);
    const connections = new Float64Array(total), packets = new Float64Array(total), bytes = new Float64Array(total);
    const activeConnections = new Float64Array(total), inactiveConnections = new Float64Array(total);
    let o = 0;
    for (let i = 0; i < byKey.length; i++) {
      const x = byKey[i]!;
      const sorted = listed[x]!.sorted;
      const first = firsts[x]!;
      services[i] = models[x]!;
      for (let j = 0; j < sorted.length; j++, o++) {
        const dw = first + sorted[j]! * DestWord.size;
        const s = dw + DestWord.stats;
        connections[o] = r.counter(s);
        packets[o] = r.counter(s + 2) + r.counter(s + 4);
        bytes[o] = r.counter(s + 6) + r.counter(s + 8);
        activeConnections[o] = u[dw + DestWord.active]!;
        inactiveConnections[o] = u[dw + DestWord.inact]!;
      }
    }
    return { mode: 'ipvs', services, connections, packets, bytes, activeConnections, inactiveConnections };
  }
}
