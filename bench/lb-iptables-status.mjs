// iptables mode's status() and memory at scale (#21), against dist/ (`npm run build:ts` first), host
// kernel, in a scratch namespace:
//   node --expose-gc bench/lb-iptables-status.mjs [--n 10000] [--reps 5]
// After an apply of N services x 10 endpoints by a LoadBalancer (what `kernlb run` holds):
//   memory  - process.memoryUsage() after the apply (rss, JS heap, arrayBuffers: the kept blob), and
//             the peak RSS during each status() (sampled every 5 ms);
//   status  - wall and CPU of status(), and of it the native counters read (Iptables.entryCounters:
//             wall, and the kernel's IPT_SO_GET_INFO + GET_ENTRIES as the addon times them);
//   bound   - the kernel alone: IPT_SO_GET_INFO + GET_ENTRIES of the same table, as timed inside each
//             status() call (the read over the kept blob), and into a fresh block (getTable's kernelMs);
//             and the native read status() makes, alone (over a buffer already in memory, with its
//             digest): wall and CPU, against status()'s;
// status() / its own getsockopts is the figure against the 1.2x target. Medians [min-max] of `reps`. Taken on a
// shared 2-core machine, wall times carry waits for a core: compare within one run.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';

const require = createRequire(import.meta.url);
const { LoadBalancer, Iptables } = require('../dist/index.js');
const { native } = require('../dist/native.js');
const { openNativeHandle, NO_SOCKET } = require('../dist/netlink/handle.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const REPS = Number(opt('reps', 5));
const E = 10;
const svc = (i) => ({
  name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: 'random',
  endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: 1 })),
});
const MB = (b) => (b / 1e6).toFixed(0);
const fmt = (a, d = 0) => { const s = [...a].sort((x, y) => x - y); return `${s[s.length >> 1].toFixed(d)} [${s[0].toFixed(d)}-${s[s.length - 1].toFixed(d)}]`; };
const mem = () => { global.gc?.(); const m = process.memoryUsage(); return { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers }; };
const show = (what, m) => console.log(`  ${what.padEnd(24)} RSS ${MB(m.rss)} MB, JS heap ${MB(m.heap)} MB, array buffers ${MB(m.buffers)} MB`);

const ns = `kliptst-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
try {
  console.log(`iptables status() and memory: N=${N} x ${E}; load average ${loadavg()[0].toFixed(2)}; targets: status <= 1.2x the kernel's read, RSS <= 150 MB`);
  show('start', mem());
  const state = { services: Array.from({ length: N }, (_, i) => svc(i)) };
  show('input state built', mem());
  const lb = await LoadBalancer.open({ mode: 'iptables', netns: ns, removeOtherModes: false });
  await lb.apply(state);
  show('after apply', mem());
  // The native counters read inside status(), timed apart.
  const inner = [];
  const ec = Iptables.prototype.entryCounters;
  let nativeRead;
  const rc = native().iptables.readCounters;
  native().iptables.readCounters = async (...a) => { const r = await rc(...a); nativeRead = r; return r; };
  Iptables.prototype.entryCounters = async function (...a) { const t = performance.now(); try { return await ec.apply(this, a); } finally { inner.push({ ms: performance.now() - t, kernelMs: nativeRead?.kernelMs ?? NaN, over: nativeRead?.over }); } };
  const wall = [], cpu = [], peak = [];
  for (let r = 0; r < REPS; r++) {
    let p = 0;
    const iv = setInterval(() => { p = Math.max(p, process.memoryUsage.rss()); }, 5);
    const c = process.cpuUsage(), t = performance.now();
    await lb.status();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
    clearInterval(iv);
    peak.push(Math.max(p, process.memoryUsage.rss()) / 1e6);
  }
  native().iptables.readCounters = rc;
  Iptables.prototype.entryCounters = ec;
  const v4 = inner.filter((x) => x.over !== undefined);
  show('after status()', mem());
  console.log(`  peak RSS during status()  ${fmt(peak)} MB`);
  console.log(`  status()                  wall ${fmt(wall)} ms, CPU ${fmt(cpu)} ms`);
  console.log(`    of it entryCounters     wall ${fmt(v4.map((x) => x.ms))} ms, in the getsockopts ${fmt(v4.map((x) => x.kernelMs))} ms (read over the kept blob: ${v4.every((x) => x.over)})`);
  // The kernel alone: the same table read by the addon into a fresh block.
  const h = await openNativeHandle(NO_SOCKET, { netns: ns }, 'bench');
  const fresh = [], size = [];
  for (let r = 0; r < REPS; r++) {
    const a = await native().iptables.getTable(h, false, 'nat');
    fresh.push(a.kernelMs);
    size.push(a.size);
  }
  // The native read status() makes, alone: over a buffer of the table's size already in memory
  // (GET_INFO + GET_ENTRIES, the digest, one entry's counters), wall, CPU and the getsockopts.
  const scratch = Buffer.alloc(96 + size[0], 1);
  const alone = { wall: [], cpu: [], kernel: [] };
  for (let r = 0; r < REPS; r++) {
    const c = process.cpuUsage(), t = performance.now();
    const x = await native().iptables.readCounters(h, false, 'nat', Uint32Array.of(0), scratch);
    alone.wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    alone.cpu.push((d.user + d.system) / 1000);
    alone.kernel.push(x.kernelMs);
  }
  console.log(`  bound: the native read alone over a kept buffer: wall ${fmt(alone.wall)} ms, CPU ${fmt(alone.cpu)} ms, in the getsockopts ${fmt(alone.kernel)} ms`);
  h.close();
  await lb.close();
  console.log(`  bound: GET_INFO+GET_ENTRIES of ${MB(size[0])} MB into a fresh block ${fmt(fresh)} ms`);
  const ratio = wall.map((w, i) => w / v4[i].kernelMs);
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(`  status() / the native read alone: wall ${(med(wall) / med(alone.wall)).toFixed(2)}, CPU ${(med(cpu) / med(alone.cpu)).toFixed(2)}`);
  console.log(`  status() / its own getsockopts: ${fmt(ratio, 2)}; against the fresh-block read's median ${(wall.sort((a, b) => a - b)[wall.length >> 1] / fresh.sort((a, b) => a - b)[fresh.length >> 1]).toFixed(2)}`);
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
