// Scrape benchmark for `kernlb run` (issue #21), against dist/ (run `bash scripts/setup.sh` first):
//   node bench/lb-scrape.mjs [--modes nftables,iptables] [--n 10000] [--endpoints 10] [--scrapes 5]
//                            [--health] [--out bench/lb-scrape.results.json]
// IPVS needs a kernel with IPVS: run it inside UML (slow syscalls: compare only within the guest),
//   bash scripts/uml-run.sh -- node bench/lb-scrape.mjs --modes ipvs
//
// Per mode, in a fresh network namespace: `kernlb run` (a real process) applies N services x E
// endpoints and serves /metrics; the bench then scrapes it `scrapes` times, one after the other, and
// reports per scrape the wall time of the HTTP request, the part of it spent reading the counters
// from the kernel (the daemon's own kernlb_status_read_seconds, i.e. LoadBalancer.status()), the
// size and number of series, and the process's RSS (VmRSS after the scrapes, VmHWM = its peak since
// it started, the first apply included). In the bench's own process it also times status() and
// renderStatusMetrics() alone, which is what the daemon adds on top of the mode's read.
// --health gives every service a tcp health check every 10 s (the endpoints do not exist: all
// checks fail and everything is drained, which the scrapes then read).
//
// Target (issue #21, 10k x 10): a scrape and status() <= 500 ms, the whole `kernlb run` process
// <= 150 MB RSS. The mode read paths (status()) are the lbnft and lbkern work; the daemon's part is
// the rendering and the process around it.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const kl = require('../dist/index.js');
const { LoadBalancer, renderStatusMetrics } = kl;

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const SCRAPES = Number(opt('scrapes', 5));
const health = args.includes('--health');
const modes = opt('modes', existsSync('/proc/net/ip_vs') ? 'ipvs' : 'nftables,iptables').split(',');
const out = opt('out', path.join(root, 'bench', 'lb-scrape.results.json'));

const vip = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const ep = (i, j) => `10.${200 + j}.${(i >> 8) & 255}.${i & 255}`;
function state(mode) {
  return {
    services: Array.from({ length: N }, (_, i) => ({
      name: `s${i}`, vip: vip(i + 1), port: 80, scheduler: mode === 'iptables' ? 'random' : 'rr',
      ...(health ? { healthCheck: { type: 'tcp', intervalMs: 10000, timeoutMs: 500 } } : {}),
      endpoints: Array.from({ length: E }, (_, j) => ({ address: ep(i + 1, j), port: 8080 })),
    })),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]`;
/** utime + stime of a process, ms (CPU time: on a loaded machine wall time is mostly waiting for a core). */
function procCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // (USER_HZ is 100 on Linux)
}
const cpuMs = (f) => async () => {
  const u = process.cpuUsage();
  const r = await f();
  const d = process.cpuUsage(u);
  return [r, (d.user + d.system) / 1000];
};
function procKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function startRun(file, mode, ns) {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'run', file, '--mode', mode, '--netns', ns, '--metrics', '127.0.0.1:0', '--resync-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const t0 = performance.now();
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = / metrics on (http:\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.once('exit', (c) => reject(new Error(`kernlb run exited ${c}:\n${log}`)));
  });
  return { child, url, startMs: performance.now() - t0, log: () => log };
}

const results = [];
for (const mode of modes) {
  const ns = `kl-scrape-${process.pid.toString(36)}-${mode}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-scrape-'));
  let run;
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const file = path.join(dir, 'state.json');
    writeFileSync(file, JSON.stringify(state(mode)));
    run = await startRun(file, mode, ns);
    const scrapes = [];
    const startRssMb = procKb(run.child.pid, 'VmRSS') / 1024;
    for (let k = 0; k < SCRAPES; k++) {
      const c0 = procCpuMs(run.child.pid);
      const t0 = performance.now();
      const text = await (await fetch(run.url)).text();
      const ms = performance.now() - t0;
      const cpu = procCpuMs(run.child.pid) - c0;
      const statusMs = Number(/^kernlb_status_read_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1]) * 1000;
      const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      scrapes.push({ ms, cpuMs: cpu, statusMs, bytes: text.length, series, rssKb: procKb(run.child.pid, 'VmRSS') });
    }
    const peakKb = procKb(run.child.pid, 'VmHWM');
    // the same read and rendering in this process: what the daemon adds on top of status()
    const lb = await LoadBalancer.open({ mode, netns: ns });
    const st = [], render = [], stCpu = [], renderCpu = [];
    let text = '';
    for (let k = 0; k < 3; k++) {
      let t = performance.now();
      const [s, c1] = await cpuMs(() => lb.status())();
      st.push(performance.now() - t);
      stCpu.push(c1);
      t = performance.now();
      const [x, c2] = await cpuMs(() => renderStatusMetrics(s))();
      text = x;
      render.push(performance.now() - t);
      renderCpu.push(c2);
    }
    await lb.close();
    const r = {
      mode, n: N, endpoints: E, health, startMs: run.startMs, scrapes,
      scrapeMs: scrapes.map((s) => s.ms), scrapeCpuMs: scrapes.map((s) => s.cpuMs), daemonStatusMs: scrapes.map((s) => s.statusMs),
      rssAfterStartMb: startRssMb, rssAfterMb: scrapes.at(-1).rssKb / 1024, peakRssMb: peakKb / 1024,
      inProcess: { statusMs: st, statusCpuMs: stCpu, renderMs: render, renderCpuMs: renderCpu, renderedBytes: text.length },
    };
    results.push(r);
    console.log(`${mode}: started (first apply) in ${(run.startMs / 1000).toFixed(1)} s; ${scrapes[0].series} series, ${(scrapes[0].bytes / 1e6).toFixed(1)} MB a scrape`);
  } finally {
    if (run) {
      run.child.kill('SIGTERM');
      await new Promise((r) => (run.child.exitCode !== null ? r() : run.child.once('exit', r)));
    }
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`\nkernlb run /metrics at ${N} services x ${E} endpoints${health ? ' (tcp health checks on every endpoint)' : ''}; ms as median [min-max] of ${SCRAPES} scrapes (loaded shared machine)`);
console.log('wall ms (CPU ms of the process): on a loaded machine the wall time is mostly waiting for a core');
console.log('| mode | scrape | of it status() | status() in-process | render in-process | RSS after start / after scrapes / peak MB | target |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.mode} | ${range(r.scrapeMs)} (cpu ${range(r.scrapeCpuMs)}) | ${range(r.daemonStatusMs)} | ${range(r.inProcess.statusMs)} (cpu ${range(r.inProcess.statusCpuMs)}) | ${range(r.inProcess.renderMs)} (cpu ${range(r.inProcess.renderCpuMs)}) | ${r.rssAfterStartMb.toFixed(0)} / ${r.rssAfterMb.toFixed(0)} / ${r.peakRssMb.toFixed(0)} | <= 500 ms, <= 150 MB |`);
}
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), kernel: execFileSync('uname', ['-r']).toString().trim(), results }, null, 2) + '\n');
console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
