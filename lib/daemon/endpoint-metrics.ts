/**
 * The per-endpoint and per-service series in Prometheus' text format (0.0.4), written straight from
 * a status() read and the health monitor into one growing buffer. At 10k services x 10 endpoints
 * that is ~100k series per metric, ~20 MB a scrape: each endpoint's label set is built once per
 * scrape and reused by every metric, nothing goes through label objects (prom-client hashes and
 * escapes every label set of every series on every scrape), and no array of 200k line strings is
 * kept to be joined into a second 20 MB string (the CPU time is the same either way, 160-250 ms at
 * 10k x 10 on a loaded 2-core machine; the buffer is for the process's memory). The
 * daemon's own counters and the process metrics stay in prom-client's registry.
 */
import type { LbStatus } from '../lb/types';
import { endpointKey } from '../lb/state';
import type { HealthMonitor } from './health-monitor';

/** Appends text to one buffer, doubling it when full. */
export class MetricsWriter {
  #buf = Buffer.allocUnsafe(1 << 16);
  #o = 0;

  write(s: string): void {
    // (UTF-8 takes at most 3 bytes per UTF-16 unit)
    if (this.#o + s.length * 3 > this.#buf.length) this.#grow(s.length * 3);
    this.#o += this.#buf.write(s, this.#o);
  }

  #grow(need: number): void {
    let n = this.#buf.length * 2;
    while (n < this.#o + need) n *= 2;
    const b = Buffer.allocUnsafe(n);
    this.#buf.copy(b, 0, 0, this.#o);
    this.#buf = b;
  }

  /** What was written (a view: valid until the next write). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#o);
  }

  toString(): string {
    return this.#buf.toString('utf8', 0, this.#o);
  }
}

const NEEDS_ESCAPE = /[\\"\n]/;
function label(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function header(w: MetricsWriter, name: string, type: 'counter' | 'gauge', help: string): void {
  w.write(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
}

/** One metric over every endpoint of `statuses`: `value` of each, with the label sets built once. */
function endpointFamily(
  w: MetricsWriter, labels: string[], statuses: LbStatus[], name: string, type: 'counter' | 'gauge', help: string,
  value: (e: LbStatus['services'][number]['endpoints'][number]) => number, only?: (st: LbStatus) => boolean,
): void {
  let k = 0;
  let headed = false;
  for (const st of statuses) {
    const skip = only !== undefined && !only(st);
    for (const s of st.services) {
      if (skip) {
        k += s.endpoints.length;
        continue;
      }
      for (const e of s.endpoints) {
        if (!headed) {
          header(w, name, type, help);
          headed = true;
        }
        w.write(`${name}${labels[k++]!}${value(e)}\n`);
      }
    }
  }
}

/**
 * Counters and weights the kernel holds (what `kernlb status --prometheus` prints): per endpoint new
 * connections (IPVS also packets, bytes and connection counts) and weight; per service the endpoints
 * and those with a weight above 0. Several modes of one namespace share each metric's HELP and TYPE.
 */
export function writeStatusMetrics(w: MetricsWriter, statuses: LbStatus[], cache?: LabelCache): void {
  const labels: string[] = [];
  for (const st of statuses) {
    const mode = label(st.mode);
    for (const s of st.services) {
      const hit = cache?.get(st.mode, s);
      if (hit) {
        for (const l of hit) labels.push(l);
        continue;
      }
      const svc = label(s.name);
      const mine: string[] = [];
      for (const e of s.endpoints) mine.push(`{service="${svc}",endpoint="${endpointKey(e)}",mode="${mode}"} `);
      cache?.set(st.mode, s, mine);
      for (const l of mine) labels.push(l);
    }
  }
  const ipvs = (st: LbStatus) => st.mode === 'ipvs';
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_connections_total', 'counter', 'New connections sent to the endpoint (nftables/iptables: hits of its DNAT rule; IPVS: connections scheduled to it).', (e) => e.counters.connections);
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_weight', 'gauge', 'Weight the kernel holds for the endpoint (0: drained, no new connections).', (e) => e.weight);
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_packets_total', 'counter', 'Packets to and from the endpoint (IPVS).', (e) => e.counters.packets, ipvs);
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_bytes_total', 'counter', 'Bytes to and from the endpoint (IPVS).', (e) => e.counters.bytes, ipvs);
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_active_connections', 'gauge', 'Established connections to the endpoint (IPVS).', (e) => e.counters.activeConnections ?? 0, ipvs);
  endpointFamily(w, labels, statuses, 'kernlb_endpoint_inactive_connections', 'gauge', 'Other connections to the endpoint (IPVS).', (e) => e.counters.inactiveConnections ?? 0, ipvs);
  if (!statuses.some((st) => st.services.length)) return;
  header(w, 'kernlb_service_endpoints', 'gauge', 'Endpoints the kernel holds for the service.');
  for (const st of statuses) for (const s of st.services) w.write(`kernlb_service_endpoints{service="${label(s.name)}",mode="${label(st.mode)}"} ${s.endpoints.length}\n`);
  header(w, 'kernlb_service_endpoints_active', 'gauge', 'Endpoints of the service with a weight above 0 (receiving new connections).');
  for (const st of statuses) {
    for (const s of st.services) {
      let n = 0;
      for (const e of s.endpoints) if (e.weight > 0) n++;
      w.write(`kernlb_service_endpoints_active{service="${label(s.name)}",mode="${label(st.mode)}"} ${n}\n`);
    }
  }
}

/**
 * The label sets of each service's endpoints from the last scrape, kept while the service's
 * endpoints are the same addresses and ports (checked field by field each scrape: cheaper than
 * building the strings again). Entries of services not seen in a scrape are dropped by the next.
 */
export class LabelCache {
  #byService = new Map<string, { addrs: string[]; ports: number[]; labels: string[]; seen: number }>();
  #scrape = 0;

  /** Call once per scrape, before its get/set calls: forgets the services the previous scrape did not see. */
  next(): void {
    const prev = this.#scrape++;
    for (const [k, v] of this.#byService) if (v.seen < prev) this.#byService.delete(k);
  }

  get(mode: string, s: { name: string; endpoints: { address: string; port: number }[] }): string[] | undefined {
    const c = this.#byService.get(`${mode}/${s.name}`);
    if (!c || c.labels.length !== s.endpoints.length) return undefined;
    for (let i = 0; i < c.labels.length; i++) {
      const e = s.endpoints[i]!;
      if (e.address !== c.addrs[i] || e.port !== c.ports[i]) return undefined;
    }
    c.seen = this.#scrape;
    return c.labels;
  }

  set(mode: string, s: { name: string; endpoints: { address: string; port: number }[] }, labels: string[]): void {
    this.#byService.set(`${mode}/${s.name}`, { addrs: s.endpoints.map((e) => e.address), ports: s.endpoints.map((e) => e.port), labels, seen: this.#scrape });
  }
}

/** writeStatusMetrics as a string. */
export function renderStatusMetrics(statuses: LbStatus | LbStatus[]): string {
  const w = new MetricsWriter();
  writeStatusMetrics(w, Array.isArray(statuses) ? statuses : [statuses]);
  return w.toString();
}

/** Health of every checked endpoint: up (1/0), the last check's duration; per service the endpoints up and checked. */
export function writeHealthMetrics(w: MetricsWriter, mode: string, health: HealthMonitor, services: Iterable<string>): void {
  const m = label(mode);
  const checked: [string, ReadonlyMap<string, { endpoint: string; healthy: boolean; last?: { durationMs: number } }>][] = [];
  for (const name of services) {
    const eps = health.service(name);
    if (eps && eps.size) checked.push([label(name), eps]);
  }
  if (!checked.length) return;
  header(w, 'kernlb_endpoint_up', 'gauge', 'Health-check verdict for the endpoint: 1 up, 0 down (drained).');
  for (const [svc, eps] of checked) for (const e of eps.values()) w.write(`kernlb_endpoint_up{service="${svc}",endpoint="${e.endpoint}",mode="${m}"} ${e.healthy ? 1 : 0}\n`);
  header(w, 'kernlb_endpoint_check_duration_seconds', 'gauge', 'Duration of the endpoint\'s last health check.');
  for (const [svc, eps] of checked) {
    for (const e of eps.values()) if (e.last) w.write(`kernlb_endpoint_check_duration_seconds{service="${svc}",endpoint="${e.endpoint}",mode="${m}"} ${(e.last.durationMs / 1000).toFixed(6)}\n`);
  }
  header(w, 'kernlb_service_endpoints_up', 'gauge', 'Endpoints of the service its health checks find up.');
  for (const [svc, eps] of checked) {
    let n = 0;
    for (const e of eps.values()) if (e.healthy) n++;
    w.write(`kernlb_service_endpoints_up{service="${svc}",mode="${m}"} ${n}\n`);
  }
  header(w, 'kernlb_service_endpoints_checked', 'gauge', 'Endpoints of the service under health checks.');
  for (const [svc, eps] of checked) w.write(`kernlb_service_endpoints_checked{service="${svc}",mode="${m}"} ${eps.size}\n`);
}
