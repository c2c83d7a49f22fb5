// The JS part of ipvs mode's status() at scale, on any kernel (no IPVS needed), against dist/:
//   node --expose-gc bench/lb-ipvs-status-decode.mjs [--n 10000] [--endpoints 10] [--reps 9]
// A packed listing as native ipvs.listAll writes it (native/ipvs/packed.h: tagged services, IPv4,
// counters set) is decoded the two ways IpvsBackend can: the full read (Ipvs.listServices' Service
// objects, converted into the plan's and the status' objects: read(), status() before) and the
// status reader (lib/lb/modes/ipvs/status.ts: the status objects straight from the records). The
// kernel's part (the dumps) is bench/lb-status.mjs --modes ipvs, in UML. Then the packed read of a
// scrape (readCounters: status.ts readPacked, no object per endpoint), without an apply record (its
// services built once, then kept) and with one (the backend applied the same state: the record's
// Services given as they are). Reported: CPU ms of this
// process (all threads, the collector's included) and wall ms per decode, median [min-max], and the
// heap after the decodes.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { SvcWord, DestWord, servicesFromListing } = require('../dist/ipvs/packed.js');
const { IpvsBackend } = require('../dist/lb/modes/ipvs/backend.js');
const { validateState } = require('../dist/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const REPS = Number(opt('reps', 9));

function listing() {
  const buf = new ArrayBuffer((N * SvcWord.size + N * E * DestWord.size) * 4);
  const u = new Uint32Array(buf), u8 = new Uint8Array(buf);
  for (let i = 0; i < N; i++) {
    const w = i * SvcWord.size;
    Object.assign(u, { [w + SvcWord.af]: 2, [w + SvcWord.protocol]: 6, [w + SvcWord.port]: 80, [w + SvcWord.flags]: ((0x6b6c << 16) | 2) >>> 0, [w + SvcWord.sched]: 1, [w + SvcWord.firstDest]: i * E, [w + SvcWord.destCount]: E });
    u8.set([10, 100 + (i >> 16), (i >> 8) & 255, i & 255], (w + SvcWord.addr) * 4);
    for (let j = 0; j < E; j++) {
      const d = N * SvcWord.size + (i * E + j) * DestWord.size;
      Object.assign(u, { [d + DestWord.af]: 2, [d + DestWord.port]: 8000 + j, [d + DestWord.weight]: 1, [d + DestWord.stats]: i + j, [d + DestWord.stats + 2]: 7 * j, [d + DestWord.stats + 4]: 5 * j, [d + DestWord.stats + 6]: 600 * j, [d + DestWord.stats + 8]: 400 * j });
      // (the kernel lists a service's destinations newest first: here in descending address order)
      u8.set([10, 200 + (j >> 4), (i >> 8) & 255, ((i & 255) ^ (E - 1 - j)) || 1], (d + DestWord.addr) * 4);
    }
  }
  return { buffer: buf, services: N, strings: ['', 'wrr'] };
}

const l = listing();
// The handle's two listing calls over the same records (no kernel).
const fake = { listServices: async () => servicesFromListing(l), decodeListing: async (f) => f(l), batch: async (ops) => ({ applied: ops.length, failures: [] }) };
/** The state the listing holds (what an apply of it leaves as the record). */
const state = validateState({
  services: Array.from({ length: N }, (_, i) => ({
    name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: 'wrr',
    endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ (E - 1 - j)) || 1}`, port: 8000 + j, weight: 1 })),
  })),
}, 'ipvs');
async function applied() {
  const b = new IpvsBackend(fake);
  const cur = await b.read();
  b.adoptNames(state, cur);
  const r = await b.apply(state, cur, { dryRun: false });
  if (r.operations) throw new Error(`the record's state differs from the listing: ${r.operations} operations planned`);
  return b;
}
/** The collector's pauses: each decode's share (those that started inside its window) is reported. */
const pauses = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) pauses.push([e.startTime, e.duration]); }).observe({ entryTypes: ['gc'] });
const gcIn = (t0, t1) => pauses.reduce((n, [t, d]) => (t >= t0 && t < t1 ? n + d : n), 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]`;
console.log(`ipvs status() decode: ${N} services x ${E} endpoints, load average ${loadavg()[0].toFixed(2)} (2 cores shared)`);
const rows = [
  ['full read (status() before)', (b) => b.read()],
  ['status reader', (b) => b.status()],
  ['status reader, apply record', (b) => b.status(), applied],
  ['packed, no record', (b) => b.readCounters()],
  ['packed, apply record', (b) => b.readCounters(), applied],
];
for (const [what, make, open] of rows) {
  const b = open ? await open() : new IpvsBackend(fake);
  const cpu = [], wall = [], gc = [];
  let st;
  for (let k = 0; k < REPS; k++) {
    st = undefined;
    global.gc?.();
    const c0 = process.cpuUsage(), t0 = performance.now();
    st = await make(b);
    const t1 = performance.now();
    wall.push(t1 - t0);
    await new Promise((res) => setTimeout(res, 5)); // (the window's pause entries are delivered)
    gc.push(gcIn(t0, t1));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const eps = st.services.reduce((n, s) => n + s.endpoints.length, 0);
  if (st.connections && st.services[0] !== (await b.readCounters()).services[0]) console.log('  (note: the services were built again)');
  global.gc?.();
  console.log(`  ${what.padEnd(28)} cpu ${range(cpu)} ms, wall ${range(wall)} ms, collector ${range(gc)} ms (${st.services.length} services, ${eps} endpoints); heap after ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
}
