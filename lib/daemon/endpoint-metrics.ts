/**
 * The per-endpoint and per-service series in Prometheus' text format (0.0.4), written straight from
 * a status() read and the health monitor into a list of fixed-size chunks. At 10k services x 10
 * endpoints that is ~100k series per metric, ~20 MB a scrape, and the process must stay within
 * 150 MB (issue #21), so:
 * - no string per series: names, label values and numbers are copied into the chunk byte by byte
 *   (ASCII, which names, addresses and modes are; anything else goes through Buffer.write);
 * - each endpoint's label set is written once per scrape into one label arena (kept for the next
 *   scrape, ~55 bytes an endpoint) and copied from there for every metric: no label strings are
 *   kept between scrapes (the label cache before this held 100k cons strings, 31 MB at 10k x 10);
 * - chunks instead of one doubling buffer: the output is never copied to grow (a 32 MB buffer plus
 *   the 16 MB it was copied from, before), and the HTTP server writes the chunks as they are.
 * The daemon's own counters and the process metrics stay in prom-client's registry (it builds a
 * label object and hashes it per series: fine for tens of series, not for 10^5).
 */
import { constants as zc, crc32, deflateRawSync } from 'node:zlib';
import type { EndpointStatus, LbStatus, PackedStatus } from '../lb/types';
import type { HealthMonitor } from './health-monitor';

/** Chunk size: small enough that the last chunk's unused part does not matter, large enough for few chunks. */
const CHUNK = 1 << 18;
const EMPTY = Buffer.alloc(0);

/** Copies `s` into `b` at `o` if it is all ASCII (the caller made room): the new offset, or -1 (then nothing is said to be written). */
function asciiInto(b: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    b[o++] = c;
  }
  return o;
}

/** Copies `s` into `b` at `o` (ASCII by a loop, else as UTF-8; the caller made room): the new offset. */
function text(b: Buffer, o: number, s: string): number {
  const r = asciiInto(b, o, s);
  return r >= 0 ? r : o + b.write(s, o);
}

/**
 * Appends text to a list of CHUNK-sized buffers, taken from `pool` while it has some: the chunks
 * are malloc'ed outside V8's heap and freed only when a major GC finds them, so a daemon that
 * allocated ~80 new ones per scrape held several scrapes' worth (RSS +50 MB at 10k x 10); it gives
 * them back to its pool once the response is sent.
 */
export class MetricsWriter {
  #done: Buffer[] = [];
  #buf: Buffer;
  #o = 0;
  #total = 0;
  /** Chunks to fill before allocating new ones (a daemon's, from its previous scrapes). */
  readonly #pool: Buffer[] | undefined;
  /** Every chunk this writer filled, whole (what goes back to the pool). */
  readonly owned: Buffer[] = [];
  /** gzip: the CRC-32 and length of the text so far, and whether the stream was ended. */
  readonly #gzip: boolean;
  #crc = 0;
  #size = 0;
  #ended = false;
  /**
   * Streaming: each filled chunk goes to the sink (a view, and the whole chunk to give back to the
   * pool once it is sent, when it is one of the pool's size) instead of being kept; `#flushed` says
   * one went since takeFlushed() last asked (statusMetricsPieces yields then, so that its consumer
   * can wait for the socket).
   */
  readonly #sink: ((view: Buffer, whole: Buffer | undefined) => void) | undefined;
  #flushed = false;

  /**
   * `gzip`: the chunks are one gzip stream (Content-Encoding: gzip, what Prometheus asks for): each
   * filled chunk is compressed (level 1, ~2 ms per 256 KiB) and written into again, so the text
   * (~20 MB at 10k x 10) is never held, only its ~1.8 MB compressed. One stream, not a gzip member
   * per chunk: curl reads only a response's first member.
   */
  constructor(pool?: Buffer[], opts: { gzip?: boolean; sink?: (view: Buffer, whole: Buffer | undefined) => void } = {}) {
    this.#pool = pool;
    this.#gzip = opts.gzip === true;
    if (opts.sink && this.#gzip) throw new Error('internal: a streaming MetricsWriter writes plain text');
    this.#sink = opts.sink;
    this.#buf = this.#chunk(CHUNK);
    // (the gzip header: deflate, no name, no time, unknown OS)
    if (this.#gzip) {
      this.#done.push(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]));
      this.#total = 10;
    }
  }

  /** gzip: compresses the chunk's text as deflate blocks ending on a byte boundary (a sync flush), so the next chunk's blocks follow them in the same stream. */
  #deflate(): void {
    const text = this.#buf.subarray(0, this.#o);
    const z = deflateRawSync(text, { level: 1, finishFlush: zc.Z_SYNC_FLUSH });
    this.#done.push(z);
    this.#total += z.length;
    this.#crc = crc32(text, this.#crc);
    this.#size += this.#o;
  }

  #chunk(n: number): Buffer {
    const b = n <= CHUNK && this.#pool?.length ? this.#pool.pop()! : Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
    if (b.length === CHUNK) this.owned.push(b);
    return b;
  }

  /** Room for `n` more bytes in the current chunk (a new chunk when it has less). */
  #room(n: number): void {
    if (this.#o + n <= this.#buf.length) return;
    if (this.#ended) throw new Error('internal: MetricsWriter written after its gzip stream ended');
    if (this.#gzip) {
      this.#deflate();
      if (n > this.#buf.length) this.#buf = this.#chunk(n);
    } else if (this.#sink) {
      this.#send();
      this.#buf = this.#chunk(n);
      return;
    } else {
      this.#done.push(this.#buf.subarray(0, this.#o));
      this.#total += this.#o;
      this.#buf = this.#chunk(n);
    }
    this.#o = 0;
  }

  /** Streaming: the current chunk to the sink (taken out of `owned`: its consumer gives it back to the pool once sent). */
  #send(): void {
    const whole = this.#buf, view = whole.subarray(0, this.#o);
    this.#total += this.#o;
    this.#o = 0;
    const i = this.owned.lastIndexOf(whole);
    if (i >= 0) this.owned.splice(i, 1);
    this.#buf = EMPTY;
    this.#flushed = true;
    if (view.length) this.#sink!(view, whole.length === CHUNK ? whole : undefined);
    else if (whole.length === CHUNK) this.#pool?.push(whole);
  }

  /** Streaming: whether a chunk went to the sink since the last call. */
  takeFlushed(): boolean {
    const f = this.#flushed;
    this.#flushed = false;
    return f;
  }

  /** Streaming: sends the rest (the writer takes no more writes after it). */
  end(): void {
    if (!this.#sink) throw new Error('internal: end() is for a streaming MetricsWriter');
    if (this.#buf !== EMPTY) this.#send();
  }

  /** Any text. */
  write(s: string): void {
    // (UTF-8 takes at most 3 bytes per UTF-16 unit)
    this.#room(s.length * 3);
    this.#o += this.#buf.write(s, this.#o);
  }

  /** Text that is ASCII in the common case (names, addresses): copied without a native call. */
  ascii(s: string): void {
    this.#room(s.length);
    const o = asciiInto(this.#buf, this.#o, s);
    if (o >= 0) this.#o = o;
    else this.write(s);
  }

  /** A counter or gauge value: whole numbers as digits without a string, others as JavaScript prints them. */
  number(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) return this.ascii(String(v));
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    this.#room(digits);
    const b = this.#buf;
    for (let o = this.#o + digits - 1; o >= this.#o; o--) {
      const q = Math.floor(v / 10);
      b[o] = 0x30 + (v - q * 10);
      v = q;
    }
    this.#o += digits;
  }

  /** Bytes from `src` [start, end). */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#room(n);
    const b = this.#buf;
    let o = this.#o;
    for (let i = start; i < end; i++) b[o++] = src[i]!;
    this.#o = o;
  }

  /** Bytes written so far (gzip: compressed, once chunks() ended the stream). */
  get length(): number {
    return this.#gzip ? this.#total : this.#total + this.#o;
  }

  /** What was written, as the chunks hold it (views: valid until the next write). gzip: ends the stream (no writes after it). */
  chunks(): Buffer[] {
    if (this.#gzip) {
      if (!this.#ended) {
        this.#deflate();
        this.#o = 0;
        const end = deflateRawSync(Buffer.alloc(0)); // (the final, empty block)
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(this.#crc >>> 0, 0);
        trailer.writeUInt32LE(this.#size >>> 0, 4);
        this.#done.push(end, trailer);
        this.#total += end.length + 8;
        this.#ended = true;
      }
      return [...this.#done];
    }
    return this.#o ? [...this.#done, this.#buf.subarray(0, this.#o)] : [...this.#done];
  }

  /** What was written, in one buffer (a copy when there is more than one chunk). */
  bytes(): Buffer {
    const c = this.chunks();
    return c.length === 1 ? c[0]! : Buffer.concat(c, this.length);
  }

  /** The text (not for a gzip writer: its bytes are compressed). */
  toString(): string {
    return this.bytes().toString('utf8');
  }
}

const NEEDS_ESCAPE = /[\\"\n]/;
function label(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function header(w: MetricsWriter, name: string, type: 'counter' | 'gauge', help: string): void {
  w.write(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
}

/**
 * Every endpoint's label set of one scrape, `{service="S",endpoint="A:P",mode="M"} `, back to back in
 * one buffer kept for the next scrape (it only grows: ~5.5 MB at 10k x 10), with their end offsets.
 * Written once per scrape and copied for each metric.
 */
export class LabelArena {
  #buf = Buffer.allocUnsafeSlow(1 << 12);
  #ends = new Uint32Array(1 << 8);
  #o = 0;
  #n = 0;

  /** Forgets the previous scrape's labels and makes room for `bytes` of `count` new ones (one allocation, not doublings). */
  reset(bytes = 0, count = 0): void {
    this.#o = 0;
    this.#n = 0;
    if (bytes > this.#buf.length) this.#buf = Buffer.allocUnsafeSlow(bytes + (bytes >> 4));
    if (count > this.#ends.length) this.#ends = new Uint32Array(count + (count >> 4));
  }

  /** Appends one endpoint's label set; its index is the count before. */
  add(svc: string, address: string, port: number, mode: string): void {
    const six = address.includes(':');
    // (every part is ASCII but the service name and mode, which label() escaped and may be UTF-8)
    const need = 40 + 3 * (svc.length + mode.length) + address.length + 8;
    if (this.#o + need > this.#buf.length) {
      const b = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#o + need));
      this.#buf.copy(b, 0, 0, this.#o);
      this.#buf = b;
    }
    if (this.#n === this.#ends.length) {
      const e = new Uint32Array(this.#ends.length * 2);
      e.set(this.#ends);
      this.#ends = e;
    }
    const b = this.#buf;
    let o = text(b, this.#o, '{service="');
    o = text(b, o, svc);
    o = text(b, o, '",endpoint="');
    if (six) b[o++] = 0x5b; // [
    o = text(b, o, address);
    if (six) b[o++] = 0x5d; // ]
    b[o++] = 0x3a; // :
    o = text(b, o, String(port));
    o = text(b, o, '",mode="');
    o = text(b, o, mode);
    o = text(b, o, '"} ');
    this.#o = o;
    this.#ends[this.#n++] = o;
  }

  /** Writes label set `i` to `w`. */
  writeTo(w: MetricsWriter, i: number): void {
    w.copy(this.#buf, i ? this.#ends[i - 1]! : 0, this.#ends[i]!);
  }

  /** Bytes the arena holds (its capacity). */
  get capacity(): number {
    return this.#buf.length + this.#ends.byteLength;
  }
}

/** A read to render: status()'s objects, or its counters packed (LoadBalancer.counters()). */
export type StatusSource = LbStatus | PackedStatus;

const isPacked = (st: StatusSource): st is PackedStatus => 'connections' in st;

/** One endpoint's value: `e` is the endpoint (with counters when st is an LbStatus), `k` its index in st's packed arrays. */
type EndpointValue = (st: StatusSource, e: StatusSource['services'][number]['endpoints'][number], k: number) => number;

/** A counter of status()'s objects or of the packed arrays. */
function counter(field: 'connections' | 'packets' | 'bytes'): EndpointValue {
  return (st, e, k) => (isPacked(st) ? st[field][k]! : (e as EndpointStatus).counters[field]);
}

/**
 * One metric over every endpoint of `statuses`: `value` of each, with the label sets of `labels`.
 * Yields after a service whose lines filled a chunk of a streaming writer (statusMetricsPieces).
 */
function* endpointFamily(
  w: MetricsWriter, labels: LabelArena, statuses: StatusSource[], name: string, type: 'counter' | 'gauge', help: string,
  value: EndpointValue, only?: (st: StatusSource) => boolean,
): Generator<void, void, void> {
  let k = 0;
  let headed = false;
  for (const st of statuses) {
    const skip = only !== undefined && !only(st);
    let j = 0;
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
        w.ascii(name);
        labels.writeTo(w, k++);
        w.number(value(st, e, j++));
        w.ascii('\n');
      }
      if (w.takeFlushed()) yield;
    }
  }
}

/**
 * Counters and weights the kernel holds (what `kernlb status --prometheus` prints): per endpoint new
 * connections (IPVS also packets, bytes and connection counts) and weight; per service the endpoints
 * and those with a weight above 0. Several modes of one namespace share each metric's HELP and TYPE.
 * `labels`: an arena to reuse across scrapes (the daemon keeps one), else a new one.
 */
export function writeStatusMetrics(w: MetricsWriter, statuses: StatusSource[], labels = new LabelArena()): void {
  for (const _ of statusMetricsPieces(w, statuses, labels));
}

/**
 * writeStatusMetrics in pieces: with a streaming writer (MetricsWriter's `sink`) it yields each time
 * a chunk went to the sink, at a service's end, so that the consumer can wait until the socket takes
 * more before the next piece is rendered: a scrape then holds a few chunks instead of its whole text
 * (56 MB for IPVS at 10k x 10). Without a sink it never yields.
 */
export function* statusMetricsPieces(w: MetricsWriter, statuses: StatusSource[], labels: LabelArena): Generator<void, void, void> {
  // (the arena's size first, an upper bound: 33 bytes of syntax, ':', brackets, at most 5 port digits, the address and the names)
  let bytes = 0, count = 0;
  for (const st of statuses) {
    const m = Buffer.byteLength(label(st.mode));
    for (const s of st.services) {
      const per = 40 + Buffer.byteLength(label(s.name)) + m + 7;
      for (const e of s.endpoints) bytes += per + e.address.length;
      count += s.endpoints.length;
    }
  }
  labels.reset(bytes, count);
  for (const st of statuses) {
    const mode = label(st.mode);
    for (const s of st.services) {
      const svc = label(s.name);
      for (const e of s.endpoints) labels.add(svc, e.address, e.port, mode);
    }
  }
  const ipvs = (st: StatusSource) => st.mode === 'ipvs';
  const ipvsCount = (f: 'activeConnections' | 'inactiveConnections'): EndpointValue => (st, e, k) => (isPacked(st) ? (st[f]?.[k] ?? 0) : ((e as EndpointStatus).counters[f] ?? 0));
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_connections_total', 'counter', 'New connections sent to the endpoint (nftables/iptables: hits of its DNAT rule; IPVS: connections scheduled to it).', counter('connections'));
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_weight', 'gauge', 'Weight the kernel holds for the endpoint (0: drained, no new connections).', (_st, e) => e.weight);
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_packets_total', 'counter', 'Packets to and from the endpoint (IPVS).', counter('packets'), ipvs);
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_bytes_total', 'counter', 'Bytes to and from the endpoint (IPVS).', counter('bytes'), ipvs);
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_active_connections', 'gauge', 'Established connections to the endpoint (IPVS).', ipvsCount('activeConnections'), ipvs);
  yield* endpointFamily(w, labels, statuses, 'kernlb_endpoint_inactive_connections', 'gauge', 'Other connections to the endpoint (IPVS).', ipvsCount('inactiveConnections'), ipvs);
  if (!statuses.some((st) => st.services.length)) return;
  header(w, 'kernlb_service_endpoints', 'gauge', 'Endpoints the kernel holds for the service.');
  for (const st of statuses) {
    const mode = label(st.mode);
    for (const s of st.services) {
      serviceLine(w, 'kernlb_service_endpoints', label(s.name), mode, s.endpoints.length);
      if (w.takeFlushed()) yield;
    }
  }
  header(w, 'kernlb_service_endpoints_active', 'gauge', 'Endpoints of the service with a weight above 0 (receiving new connections).');
  for (const st of statuses) {
    const mode = label(st.mode);
    for (const s of st.services) {
      let n = 0;
      for (const e of s.endpoints) if (e.weight > 0) n++;
      serviceLine(w, 'kernlb_service_endpoints_active', label(s.name), mode, n);
      if (w.takeFlushed()) yield;
    }
  }
}

/** `NAME{service="S",mode="M"} V` */
function serviceLine(w: MetricsWriter, name: string, svc: string, mode: string, v: number): void {
  w.ascii(name);
  w.ascii('{service="');
  w.ascii(svc);
  w.ascii('",mode="');
  w.ascii(mode);
  w.ascii('"} ');
  w.number(v);
  w.ascii('\n');
}

/** writeStatusMetrics as a string. */
export function renderStatusMetrics(statuses: StatusSource | StatusSource[]): string {
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
