// Traffic during updates at scale (issue #17), against dist/:
//   node bench/lb-traffic.mjs [--modes nftables] [--n 10000] [--endpoints 10] [--changes 100] [--path update|apply]
// A client namespace, a balancer holding N services (two of them real: "web" on backends 1-3 and
// "steady" on backend 4; the rest point at addresses nobody answers), and clients opening new
// connections continuously to web (whose endpoints change) and to steady (unchanged). Reports the
// connect latency p50/p99 of an idle window and of the window of `changes` endpoint changes applied
// back to back, and every failed connection (target: zero).
import { createRequire } from 'node:module';

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

// The client: continuous connections, latency per window ("window" on stdin -> one JSON line).
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
process.stdin.on('data', (d) => { for (const line of d.split('\\n')) { if (line === 'window') { const w = win; win = { sent: 0, failures: 0, errors: [], lat: [] }; const a = w.lat.sort((x, y) => x - y); const q = (p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : 0); process.stdout.write(JSON.stringify({ sent: w.sent, failures: w.failures, errors: w.errors, p50: q(0.5), p99: q(0.99) }) + '\\n'); } else if (line === 'stop') process.exit(0); } });
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
const fmtW = (w) => `p50 ${w.p50.toFixed(2)} ms p99 ${w.p99.toFixed(2)} ms, ${w.sent} connections, ${w.failures} failed${w.errors.length ? ` (${w.errors.slice(0, 3).join('; ')})` : ''}`;

console.log(`lb traffic during updates: N=${N} x ${E}, ${CHANGES} changes back to back through ${PATH}(); load average ${(await import('node:os')).loadavg()[0].toFixed(2)}; target: zero failed connections`);
for (const mode of modes) {
  const topo = await createTopology({ backends: 4 });
  const lb = await LoadBalancer.open({ mode, netns: topo.balancer.name, removeOtherModes: false });
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
    const t0 = Date.now();
    await lb.apply(state());
    console.log(`${mode}: full apply ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const cw = client(topo.client, `http://${topo.vip4}:80/`, 2);
    const cs = client(topo.client, `http://${topo.vip4}:81/`, 1);
    await sleep(1000);
    await cw.window();
    await cs.window();
    await sleep(3000);
    const idle = [await cw.window(), await cs.window()];
    const times = [];
    const cycle = [[1, 1, 1], [0, 1, 1], [2, 1, 1], [1, 0, 1], [1, 3, 1], [1, 1, 0]];
    for (let n = 0; n < CHANGES; n++) {
      ws = cycle[n % cycle.length];
      const t = process.hrtime.bigint();
      const s = PATH === 'update' ? await lb.update({ upsert: [web(ws)] }) : await lb.apply(state());
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (!s.changed) throw new Error(`change ${n} changed nothing`);
    }
    const during = [await cw.window(), await cs.window()];
    times.sort((x, y) => x - y);
    console.log(`${mode}: ${CHANGES} changes in ${(times.reduce((a, x) => a + x, 0) / 1000).toFixed(2)} s (median ${times[times.length >> 1].toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms)`);
    console.log(`${mode}: changing service  idle ${fmtW(idle[0])}; during changes ${fmtW(during[0])}`);
    console.log(`${mode}: unchanged service idle ${fmtW(idle[1])}; during changes ${fmtW(during[1])}`);
    cw.stop();
    cs.stop();
  } finally {
    await lb.close();
    await topo.destroy();
  }
}
