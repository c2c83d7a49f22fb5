// Traffic during updates at scale (issue #17), against dist/:
//   node bench/lb-traffic.mjs [--modes nftables,iptables] [--n 10000] [--endpoints 10] [--changes 100]
//        [--path update|apply|restore] [--idle SECONDS] [--gap MS] [--no-probe] [--json FILE]
// A client namespace, a balancer holding N services (two of them real: "web" on backends 1-3 and
// "steady" on backend 4; the rest point at addresses nobody answers), and clients opening new
// connections continuously to web (whose endpoints change) and to steady (unchanged). Reports the
// connect latency p50/p99 of an idle window and of the window of `changes` endpoint changes applied
// back to back, and every failed connection (target: zero).
// --path restore (iptables): each change is iptables-legacy-restore of the nat table kernlb wrote for
// that state (saved with iptables-legacy-save beforehand): the reference tool's replace of the same
// table under the same traffic.
// The probes (on unless --no-probe; need cc): bench/modes/connect.c opening connections to web one
// after another (500 us apart, 1 s timeout: the modes bench's client), with each failure's start and
// stage; bench/modes/wake.c, a SCHED_FIFO thread per CPU waking every 1 ms, whose lateness is the
// longest stretch the kernel held that CPU (this kernel does not preempt system calls); and the
// client namespace's SYN retransmissions (nstat). --gap MS pauses between changes: each change's
// longest CPU stall is then given beside the longest in the pause after it (the machine's own stalls,
// from whatever else runs on it). Run inside UML for ipvs:
//   bash scripts/uml-run.sh -- node bench/lb-traffic.mjs --modes ipvs
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { buildHelpers } from './modes/measure.mjs';

const require = createRequire(import.meta.url);
const { LoadBalancer } = require('../dist/index.js');
const { createTopology } = require('../dist/testing/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const CHANGES = Number(opt('changes', 100));
const PATH = opt('path', 'update');
const modes = opt('modes', 'nftables').split(',');
const probe = !args.includes('--no-probe');
const IDLE_MS = Number(opt('idle', 3)) * 1000;
const GAP_MS = Number(opt('gap', 0));
const bins = probe ? buildHelpers() : undefined;
const now = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC ns, as the C probes' clocks

const clientJs = `
const http = require('http');
const [url, concurrency] = [process.argv[1], Number(process.argv[2])];
let win = { sent: 0, failures: 0, errors: [], lat: [] };
function one() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint(); let c = -1;
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => { res.resume(); res.on('end', () => resolve({ ok: true, c })); res.on('error', (e) => resolve({ ok: false, e: String(e.message) })); });
    req.on('socket', (s) => s.on('connect', () => { c = Number(process.hrtime.bigint() - t0) / 1e6; }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, e: String(e.message) }));
  });
}
(async () => { await Promise.all(Array.from({ length: concurrency }, async () => { for (;;) { const r = await one(); win.sent++; if (!r.ok) { win.failures++; if (win.errors.length < 10) win.errors.push(r.e); } else if (r.c >= 0) win.lat.push(r.c); } })); })();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { for (const line of d.split('\\n')) { if (line === 'window') { const w = win; win = { sent: 0, failures: 0, errors: [], lat: [] }; const a = w.lat.sort((x, y) => x - y); const q = (p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : 0); process.stdout.write(JSON.stringify({ sent: w.sent, failures: w.failures, errors: w.errors, p50: q(0.5), p99: q(0.99), max: a.length ? a[a.length - 1] : 0 }) + '\\n'); } else if (line === 'stop') process.exit(0); } });
`;
function client(ns, url, concurrency) {
  const child = ns.spawn([process.execPath, '-e', clientJs, url, String(concurrency)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  const waiting = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(JSON.parse(l));
    }
  });
  return {
    window: () => new Promise((r) => { waiting.push(r); child.stdin.write('window\n'); }),
    stop: () => child.stdin.write('stop\n'),
  };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmtW = (w) => `p50 ${w.p50.toFixed(2)} ms p99 ${w.p99.toFixed(2)} ms max ${w.max.toFixed(0)} ms, ${w.sent} connections, ${w.failures} failed${w.errors.length ? ` (${w.errors.slice(0, 3).join('; ')})` : ''}`;

/** A C helper in a namespace (or here), stopped with SIGTERM; resolves its JSON. */
function cProbe(ns, argv, env = {}) {
  const opts = { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } };
  const child = ns ? ns.spawn(argv, opts) : require('node:child_process').spawn(argv[0], argv.slice(1), opts);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const started = new Promise((resolve) => child.stderr.on('data', (d) => String(d).includes('running') && resolve()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    started: Promise.race([started, sleep(20_000)]),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out);
    },
  };
}

/** SYN retransmissions and retransmission timeouts counted in a namespace (nstat's absolute counters). */
async function tcpCounters(ns) {
  const r = await ns.exec(['nstat', '-az', 'TcpExtTCPSynRetrans', 'TcpExtTCPTimeouts', 'TcpRetransSegs'], { allowFail: true });
  const out = {};
  for (const l of r.stdout.split('\n')) {
    const [k, v] = l.trim().split(/\s+/);
    if (/^Tcp/.test(k ?? '')) out[k] = Number(v);
  }
  return out;
}

/** The latest wakeup of the wake probe (ms) among those due in [from, to] (ns); 0 when none was over its threshold. */
function maxLate(wake, from, to) {
  let m = 0;
  for (const c of wake.cpus) for (const [at, late] of c.late) if (at >= from && at <= to && late > m) m = late;
  return m / 1e6;
}
const spread = (a) => {
  const x = [...a].sort((p, q) => p - q);
  return x.length ? `median ${x[x.length >> 1].toFixed(0)} ms, max ${x[x.length - 1].toFixed(0)} ms` : '-';
};

/** The probes' results for one window: the C client's connections and the CPUs' longest stalls. */
function probeSummary(conn, wake, changeSpans) {
  const a = [...conn.connect_ns].sort((x, y) => x - y);
  const q = (p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] / 1000 : 0);
  const inChange = (t) => changeSpans.some(([s, e]) => t >= s && t <= e + 1e9);
  return {
    connections: conn.ok + conn.failed,
    failed: conn.failed,
    failures: conn.failures,
    failedAt: conn.failed_at.map((f) => ({ stage: f.stage, errno: f.errno, tookMs: f.connect_ns / 1e6, duringChange: inChange(f.at_ns) })),
    slow: conn.slow_at.length,
    // Per change: the longest lateness (any CPU) of a wakeup due during it, and in the pause after it.
    stallInChangeMs: changeSpans.map(([s, e]) => maxLate(wake, s, e)),
    stallInPauseMs: GAP_MS ? changeSpans.map(([, e]) => maxLate(wake, e + 50e6, e + GAP_MS * 1e6 - 50e6)) : [],
    connectUs: { p50: q(0.5), p99: q(0.99), max: q(1) },
    cpuStallMs: wake.cpus.map((c) => ({ cpu: c.cpu, maxMs: c.max_ns / 1e6, over10ms: c.over10ms, over100ms: c.over100ms })),
    stalls: wake.cpus.flatMap((c) => c.late.map(([at, late]) => ({ cpu: c.cpu, at, lateMs: late / 1e6 }))),
  };
}
const fmtP = (p) =>
  `C client ${p.connections} connections, ${p.failed} failed${p.failedAt.length ? ` (${p.failedAt.map((f) => `${f.stage} ${f.tookMs.toFixed(0)} ms${f.duringChange ? ' in a change' : ''}`).join('; ')})` : ''}, connect p50 ${p.connectUs.p50.toFixed(0)} us p99 ${p.connectUs.p99.toFixed(0)} us max ${(p.connectUs.max / 1000).toFixed(1)} ms, ${p.slow} over 50 ms; ` +
  (p.stallInChangeMs.length ? `longest CPU stall in each change ${spread(p.stallInChangeMs)}${p.stallInPauseMs.length ? `, in the pause after it ${spread(p.stallInPauseMs)}` : ''}; ` : '') +
  `CPU stall max ${p.cpuStallMs.map((c) => `cpu${c.cpu} ${c.maxMs.toFixed(0)} ms (${c.over100ms} over 100 ms)`).join(', ')}`;

const results = { n: N, endpoints: E, changes: CHANGES, path: PATH, loadBefore: os.loadavg(), date: new Date().toISOString(), modes: [] };
console.log(`lb traffic during updates: N=${N} x ${E}, ${CHANGES} changes back to back through ${PATH === 'restore' ? 'iptables-legacy-restore' : `${PATH}()`}; load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPUs; target: zero failed connections`);
for (const mode of modes) {
  if (PATH === 'restore' && mode !== 'iptables') throw new Error('--path restore is the iptables reference (iptables-legacy-restore)');
  const topo = await createTopology({ backends: 4 });
  // (no /run/xtables.lock: it is one lock for the whole machine, and nothing else writes this namespace)
  const lb = await LoadBalancer.open({ mode, netns: topo.balancer.name, removeOtherModes: false, ...(mode === 'iptables' ? { iptables: { xtablesLock: false } } : {}) });
  const stops = [];
  try {
    const b = topo.backends;
    const scheduler = mode === 'iptables' ? 'random' : 'wrr';
    const web = (ws) => ({ name: 'web', vip: topo.vip4, port: 80, scheduler, endpoints: ws.map((w, i) => ({ address: b[i].ipv4, port: b[i].port, weight: w })).filter((e) => e.weight > 0) });
    const steady = { name: 'steady', vip: topo.vip4, port: 81, scheduler, endpoints: [{ address: b[3].ipv4, port: b[3].port, weight: 1 }] };
    const filler = Array.from({ length: N - 2 }, (_, i) => ({
      name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler,
      endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${210 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: 1 })),
    }));
    let ws = [1, 1, 0];
    const state = () => ({ services: [web(ws), steady, ...filler] });
    const cycle = [[1, 1, 1], [0, 1, 1], [2, 1, 1], [1, 0, 1], [1, 3, 1], [1, 1, 0]];
    // The reference tool's tables: what kernlb wrote for each state of the cycle, as iptables-legacy-save prints it.
    const saved = [];
    if (PATH === 'restore') {
      for (const c of cycle) {
        ws = c;
        await lb.apply(state());
        saved.push((await topo.balancer.exec(['iptables-legacy-save', '-t', 'nat'], { timeoutMs: 120_000 })).stdout);
      }
      ws = [1, 1, 0];
    }
    const t0 = Date.now();
    await lb.apply(state());
    console.log(`${mode}: full apply ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const cw = client(topo.client, `http://${topo.vip4}:80/`, 2);
    const cs = client(topo.client, `http://${topo.vip4}:81/`, 1);
    stops.push(() => cw.stop(), () => cs.stop());
    const startProbes = async () => {
      if (!probe) return undefined;
      const p = { conn: cProbe(topo.client, [bins.connect, 'latency', topo.vip4, '80', '0', '1000', '500'], { CONNECT_SEND: 'GET / HTTP/1.0\r\n\r\n' }), wake: cProbe(undefined, [bins.wake, '5000']) };
      await Promise.all([p.conn.started, p.wake.started]);
      return p;
    };
    const stopProbes = async (p, spans) => (p ? probeSummary(await p.conn.stop(), await p.wake.stop(), spans) : undefined);
    await sleep(1000);
    await cw.window();
    await cs.window();
    let probes = await startProbes();
    const tcpBefore = probe ? await tcpCounters(topo.client) : undefined;
    await sleep(IDLE_MS);
    const idle = [await cw.window(), await cs.window()];
    const idleProbe = await stopProbes(probes, []);
    const tcpIdle = probe ? await tcpCounters(topo.client) : undefined;
    probes = await startProbes();
    const times = [];
    const spans = [];
    for (let n = 0; n < CHANGES; n++) {
      ws = cycle[n % cycle.length];
      const t = now();
      // (its own lock file: iptables-legacy-restore holds /run/xtables.lock, one lock for the whole
      // machine, through its parse, tens of seconds on a loaded machine)
      if (PATH === 'restore') await topo.balancer.exec(['env', `XTABLES_LOCKFILE=${os.tmpdir()}/kernlb-traffic-${process.pid}.lock`, 'iptables-legacy-restore'], { input: saved[n % cycle.length], timeoutMs: 300_000 });
      else {
        const s = PATH === 'update' ? await lb.update({ upsert: [web(ws)] }) : await lb.apply(state());
        if (!s.changed) throw new Error(`change ${n} changed nothing`);
      }
      spans.push([t, now()]);
      times.push((now() - t) / 1e6);
      if (GAP_MS) await sleep(GAP_MS);
    }
    const during = [await cw.window(), await cs.window()];
    const duringProbe = await stopProbes(probes, spans);
    const tcpAfter = probe ? await tcpCounters(topo.client) : undefined;
    times.sort((x, y) => x - y);
    const diff = (a, b) => (a ? Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)])) : undefined);
    const r = { mode, path: PATH, idleMs: IDLE_MS, spans, changeMs: { median: times[times.length >> 1], max: times[times.length - 1], total: times.reduce((a, x) => a + x, 0) }, idle, during, idleProbe, duringProbe, tcpIdle: diff(tcpBefore, tcpIdle), tcpDuring: diff(tcpIdle, tcpAfter) };
    results.modes.push(r);
    console.log(`${mode}: ${CHANGES} changes in ${(r.changeMs.total / 1000).toFixed(2)} s (median ${r.changeMs.median.toFixed(1)} ms, max ${r.changeMs.max.toFixed(1)} ms)`);
    console.log(`${mode}: changing service  idle ${fmtW(idle[0])}; during changes ${fmtW(during[0])}`);
    console.log(`${mode}: unchanged service idle ${fmtW(idle[1])}; during changes ${fmtW(during[1])}`);
    if (probe) {
      console.log(`${mode}: probes idle:   ${fmtP(idleProbe)}; client TCP ${JSON.stringify(r.tcpIdle)}`);
      console.log(`${mode}: probes during: ${fmtP(duringProbe)}; client TCP ${JSON.stringify(r.tcpDuring)}`);
    }
  } finally {
    for (const s of stops) s();
    await lb.close();
    await topo.destroy();
  }
}
results.loadAfter = os.loadavg();
if (opt('json', undefined)) writeFileSync(opt('json'), JSON.stringify(results, null, 1) + '\n');
