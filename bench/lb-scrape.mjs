// Scrape benchmark for `kernlb run` (issue #21), against dist/ (run `bash scripts/setup.sh` first):
//   node bench/lb-scrape.mjs [--modes nftables,iptables] [--n 10000] [--endpoints 10] [--scrapes 5]
//                            [--health] [--variants default,tuned]
//                            [--interval S] [--client curl|fetch] [--out bench/lb-scrape.results.json]
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
// --client: what scrapes. curl (the default when installed: a C client, in the cost class of
// Prometheus' own) times the transfer with its time_total and the bench reads the file it wrote;
// fetch is Node's fetch().text() in the bench's process. In the one-CPU UML guest the client's
// own cost is most of a scrape's wall time with fetch: 56 MB from a node server that writes a
// pre-rendered body took fetch().text() 8.7-9.7 s, node:http 4.2-4.8 s and curl 0.43-0.53 s there
// (session 15); on the host it was 90-160 ms of a 10k x 10 scrape (nftables 415 -> 328 ms,
// iptables 783 -> 624 ms, separate runs on the idle host).
// --interval: seconds between scrapes (default 0: back to back; Prometheus' is 15-30 s, in which V8's
// memory reducer collects what a scrape left).
// Memory: per scrape the minor page faults of the daemon, the process's RSS (VmRSS) and its V8 heap used and external memory (prom-client's
// nodejs_heap_size_used_bytes and nodejs_external_memory_bytes in the scrape itself, taken as it ends);
// the peak RSS of the start (first apply) and, reset after it (/proc/PID/clear_refs), of the scrapes.
// The floor: a node process that loaded kernlb and holds the parsed state file (after a GC), and
// node alone. --variants tuned runs `kernlb run` again with the settings session 12's help documented
// for a large state (NODE_OPTIONS=--max-semi-space-size=2, MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=131072,
// MALLOC_TRIM_THRESHOLD_=131072): V8's young generation 4 MB instead of 32 MB, and glibc handing freed
// large blocks back to the system instead of keeping them in its arenas. Since session 13 `kernlb run`
// sets the malloc ones itself (mallopt, unless the variables are set) and keeps the young generation
// at 2 MB unless node has a semi-space flag (lib/daemon/process-memory.ts), so `default` is what a user
// gets without any setting, and `tuned` the same with a 4 MB young generation.
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
const variants = opt('variants', 'default,tuned').split(',');
const INTERVAL = Number(opt('interval', 0));
/** What `kernlb run --help` documents for a large state (see the header). */
const TUNED = { NODE_OPTIONS: '--max-semi-space-size=2', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };
const modes = opt('modes', existsSync('/proc/net/ip_vs') ? 'ipvs' : 'nftables,iptables').split(',');
const out = opt('out', path.join(root, 'bench', 'lb-scrape.results.json'));
const hasCurl = (() => { try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const CLIENT = opt('client', hasCurl ? 'curl' : 'fetch');
if (CLIENT !== 'curl' && CLIENT !== 'fetch') throw new Error('--client must be curl or fetch');
/** One scrape: [wall ms of the transfer, the text]. */
async function scrape(url, dir) {
  if (CLIENT === 'fetch') {
    const t0 = performance.now();
    const text = await (await fetch(url)).text();
    return [performance.now() - t0, text];
  }
  const file = path.join(dir, 'scrape.txt');
  // (asynchronously: the bench's process must not block while the daemon runs)
  const w = await new Promise((resolve, reject) => {
    const c = spawn('curl', ['-sS', '--fail', '-o', file, '-w', '%{time_total}', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '', e = '';
    c.stdout.on('data', (d) => (o += d));
    c.stderr.on('data', (d) => (e += d));
    c.once('exit', (code) => (code === 0 ? resolve(Number(o) * 1000) : reject(new Error(`curl ${url}: ${code} ${e}`))));
  });
  return [w, readFileSync(file, 'latin1')];
}

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
/** A process's /proc/PID/stat fields after its name (the state is [0]), read once. */
function procStat(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return st.slice(st.lastIndexOf(')') + 2).split(' ');
}
/** utime + stime of a process, ms (CPU time: on a loaded machine wall time is mostly waiting for a core). */
function procCpuMs(pid) {
  const f = procStat(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // (USER_HZ is 100 on Linux)
}
const cpuMs = (f) => async () => {
  const u = process.cpuUsage();
  const r = await f();
  const d = process.cpuUsage(u);
  return [r, (d.user + d.system) / 1000];
};
/** Minor page faults of a process so far (each costs ~80 us in the UML guest, ~1 us on a host). */
function procMinflt(pid) {
  return Number(procStat(pid)[7]);
}
function procKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** RSS of node alone and of node holding kernlb and the parsed state file (after a GC): what no change to kernlb's code can go below. */
function floor(file) {
  const probe = (code) => JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', code], { encoding: 'utf8' }));
  const report = 'global.gc(); global.gc(); const m = process.memoryUsage(); console.log(JSON.stringify({ rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20 }));';
  return {
    node: probe(report),
    nodeKernlbState: probe(`require(${JSON.stringify(path.join(root, 'dist', 'index.js'))}); globalThis.s = JSON.parse(require('fs').readFileSync(${JSON.stringify(file)}, 'utf8')); ${report}`),
  };
}

async function startRun(file, mode, ns, env = {}) {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'run', file, '--mode', mode, '--netns', ns, '--metrics', '127.0.0.1:0', '--resync-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
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
const metric = (text, name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20;
for (const mode of modes) {
  for (const variant of variants) {
    const ns = `kl-scrape-${process.pid.toString(36)}-${mode}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-scrape-'));
    let run;
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const file = path.join(dir, 'state.json');
      writeFileSync(file, JSON.stringify(state(mode)));
      const fl = floor(file);
      run = await startRun(file, mode, ns, variant === 'tuned' ? TUNED : {});
      const scrapes = [];
      const startRssMb = procKb(run.child.pid, 'VmRSS') / 1024;
      const startCpuMs = procCpuMs(run.child.pid);
      const startPeakMb = procKb(run.child.pid, 'VmHWM') / 1024;
      writeFileSync(`/proc/${run.child.pid}/clear_refs`, '5'); // (resets VmHWM: the scrapes' own peak from here)
      for (let k = 0; k < SCRAPES; k++) {
        if (k && INTERVAL) await new Promise((r) => setTimeout(r, INTERVAL * 1000));
        const c0 = procCpuMs(run.child.pid), f0 = procMinflt(run.child.pid);
        const [ms, text] = await scrape(run.url, dir);
        const cpu = procCpuMs(run.child.pid) - c0, minflt = procMinflt(run.child.pid) - f0;
        const statusMs = Number(/^kernlb_status_read_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1]) * 1000;
        const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
        scrapes.push({
          ms, cpuMs: cpu, minflt, statusMs, bytes: text.length, series, rssKb: procKb(run.child.pid, 'VmRSS'),
          heapUsedMb: metric(text, 'nodejs_heap_size_used_bytes'), externalMb: metric(text, 'nodejs_external_memory_bytes'),
        });
      }
      const scrapePeakMb = procKb(run.child.pid, 'VmHWM') / 1024;
      let inProcess;
      if (variant === variants[0]) {
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
        inProcess = { statusMs: st, statusCpuMs: stCpu, renderMs: render, renderCpuMs: renderCpu, renderedBytes: text.length };
      }
      const r = {
        mode, variant, client: CLIENT, intervalS: INTERVAL, env: variant === 'tuned' ? TUNED : {}, n: N, endpoints: E, health, startMs: run.startMs, startCpuMs, scrapes, floor: fl,
        scrapeMs: scrapes.map((s) => s.ms), scrapeCpuMs: scrapes.map((s) => s.cpuMs), daemonStatusMs: scrapes.map((s) => s.statusMs),
        rssAfterStartMb: startRssMb, startPeakRssMb: startPeakMb, rssAfterMb: scrapes.at(-1).rssKb / 1024, scrapePeakRssMb: scrapePeakMb,
        ...(inProcess ? { inProcess } : {}),
      };
      results.push(r);
      console.log(`${mode} (${variant}): started (first apply) in ${(run.startMs / 1000).toFixed(1)} s (CPU ${(startCpuMs / 1000).toFixed(1)} s); ${scrapes[0].series} series, ${(scrapes[0].bytes / 1e6).toFixed(1)} MB a scrape`);
      console.log(`  floor: node alone ${fl.node.rssMb.toFixed(0)} MB RSS; node + kernlb + the parsed state ${fl.nodeKernlbState.rssMb.toFixed(0)} MB RSS (heap used ${fl.nodeKernlbState.heapUsedMb.toFixed(0)} MB)`);
      console.log(`  RSS after start ${startRssMb.toFixed(0)} MB (peak ${startPeakMb.toFixed(0)}); per scrape RSS / heap used / external MB: ${scrapes.map((s) => `${(s.rssKb / 1024).toFixed(0)}/${s.heapUsedMb.toFixed(0)}/${s.externalMb.toFixed(0)}`).join(', ')}; peak during the scrapes ${scrapePeakMb.toFixed(0)} MB [target 150]; minor page faults per scrape ${scrapes.map((s) => s.minflt).join(', ')}`);
    } finally {
      if (run) {
        run.child.kill('SIGTERM');
        await new Promise((r) => (run.child.exitCode !== null ? r() : run.child.once('exit', r)));
      }
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

console.log(`\nkernlb run /metrics at ${N} services x ${E} endpoints${health ? ' (tcp health checks on every endpoint)' : ''}, scraped by ${CLIENT}; ms as median [min-max] of ${SCRAPES} scrapes`);
console.log('wall ms (CPU ms of the process): on a loaded machine the wall time is mostly waiting for a core');
console.log('| mode (settings) | scrape | of it status() | status() in-process | render in-process | RSS after start (peak) / after scrapes / peak during scrapes MB | heap used / external after the last scrape MB | target |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const ip = r.inProcess;
  console.log(`| ${r.mode} (${r.variant}) | ${range(r.scrapeMs)} (cpu ${range(r.scrapeCpuMs)}) | ${range(r.daemonStatusMs)} | ${ip ? `${range(ip.statusMs)} (cpu ${range(ip.statusCpuMs)})` : '-'} | ${ip ? `${range(ip.renderMs)} (cpu ${range(ip.renderCpuMs)})` : '-'} | ${r.rssAfterStartMb.toFixed(0)} (${r.startPeakRssMb.toFixed(0)}) / ${r.rssAfterMb.toFixed(0)} / ${r.scrapePeakRssMb.toFixed(0)} | ${r.scrapes.at(-1).heapUsedMb.toFixed(0)} / ${r.scrapes.at(-1).externalMb.toFixed(0)} | <= 500 ms, <= 150 MB |`);
}
const f0 = results[0]?.floor;
if (f0) console.log(`floor: node alone ${f0.node.rssMb.toFixed(0)} MB RSS; node + kernlb + the parsed state file ${f0.nodeKernlbState.rssMb.toFixed(0)} MB RSS`);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), kernel: execFileSync('uname', ['-r']).toString().trim(), results }, null, 2) + '\n');
console.log(`\nresults: ${path.relative(process.cwd(), out)}`);
