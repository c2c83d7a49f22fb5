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
import type { BackendRead, DrainingEndpoint, EndpointStatus, ServiceStatus } from '../../types';
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
   * kernlb's services (tagged, address-based) of a packed listing as IpvsBackend.read() gives them:
   * sorted by key, endpoints by address then port, named after `names` (by service key) or their
   * identity. `draining` follows the kernel's destination order within each service.
   */
  read(l: NativeIpvsListing, names: ReadonlyMap<string, string>): IpvsStatusRead {
    const r = new Records(l.buffer, this.#v4);
    const u = r.u32, i32 = r.i32;
    const destBase = l.services * SvcWord.size;
    const entries = this.#entries;
    const gen = ++this.#reads;
    const found: { key: string; status: ServiceStatus; state: Service; draining: DrainingEndpoint[] | undefined }[] = [];
    const order: number[] = [];
    let dests = 0, met = 0;
    for (let i = 0; i < l.services; i++) {
      const w = i * SvcWord.size;
      const flags = u[w + SvcWord.flags]!;
      // Another client's services, fwmark ones included, are not kernlb's to report.
      if (u[w + SvcWord.fwmark] !== 0 || flags >>> 16 !== OWNER_TAG) continue;
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
      let e = entries.get(id);
      if (e === undefined) {
        const vip = r.address(af, w + SvcWord.addr);
        e = { key: `${protocol}/${v6 ? `[${vip}]` : vip}:${port}`, seen: 0, words: [], ports: [], texts: [], sorted: [], state: undefined };
        entries.set(id, e);
      }
      e.seen = gen;
      met++;
      const key = e.key;
      const vip = r.address(af, w + SvcWord.addr);
      const name = names.get(key) ?? `${protocol}-${vip.replace(/:/g, '_')}-${port}`;
      const family = v6 ? 'ipv6' : 'ipv4';
      const scheduler = l.strings[u[w + SvcWord.sched]!]!;
      const timeout = flags & SvcFlag.PERSISTENT ? u[w + SvcWord.timeout]! : -1;
      const n = u[w + SvcWord.destCount]!;
      dests += n;
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
      found.push({ key, status, state, draining });
    }
    // Services gone since are forgotten; so, now and then, the texts of addresses gone since.
    if (entries.size > met) for (const [id, e] of entries) if (e.seen !== gen) entries.delete(id);
    if (this.#v4.size > 2 * (dests + l.services) + 1024) this.#v4 = new Map();
    found.sort((a, b) => (a.key < b.key ? -1 : 1));
    const services: ServiceStatus[] = new Array<ServiceStatus>(found.length);
    const stateServices: Service[] = new Array<Service>(found.length);
    const draining: DrainingEndpoint[] = [];
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      services[i] = f.status;
      stateServices[i] = f.state;
      if (f.draining) draining.push(...f.draining);
    }
    return { state: { services: stateServices }, services, draining };
  }
}
