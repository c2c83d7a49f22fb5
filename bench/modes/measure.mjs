// The kernel side of bench/modes.mjs: the topology, each mode's rules at N services, and the
// measurements of one (mode, N) row. Runs as root on the host or inside the UML guest.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { endpointsForChange, kernelCpuPerConnection, kernelNs, median, parseProcStat, perSecond, summarize } from './stats.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const kl = require(path.join(root, 'dist/index.js'));
const kt = require(path.join(root, 'dist/testing/index.js'));
// (not part of the public surface: how iptables mode names a service's chain, to place the measured
// service last in KERNLB-SERVICES, which is sorted by chain name)
const { svcChainName } = require(path.join(root, 'dist/lb/modes/iptables/compile.js'));

export const ENDPOINTS = 10;
const SERVICE_PORT_BASE = 80;
const BACKEND_PORT = 8080;

/** The modes a row can be: kernlb's three and kube-proxy's own layouts as reference rows. */
export const KERNLB_MODES = ['iptables', 'nftables', 'ipvs'];
export const REFERENCE_MODES = { 'kube-iptables': 'kube-proxy iptables', 'kube-nftables': 'kube-proxy nftables' };

/** Compiles the C client, server and CPU-stall probe into build/bench-modes/ with the system cc when missing or older than their source. */
export function buildHelpers() {
  const out = path.join(root, 'build', 'bench-modes');
  mkdirSync(out, { recursive: true });
  const bins = {};
  for (const name of ['connect', 'server', 'wake']) {
    const src = path.join(root, 'bench', 'modes', `${name}.c`);
    const bin = path.join(out, name);
    if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', bin, src], { stdio: 'inherit' });
    bins[name] = bin;
  }
  return bins;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procStat = () => parseProcStat(readFileSync('/proc/stat', 'utf8'));

// With --rt (the default) the client and the servers run SCHED_FIFO: on a machine busy with other work,
// the scheduler would otherwise put other processes between a SYN and its SYN-ACK, and the spread of
// the samples would be theirs. They block in system calls (never spin), so they cannot starve it.
let rtPrefix = [];
export function useRealtime(on) {
  rtPrefix = on ? ['chrt', '-f', '50'] : [];
}

/** Runs the C client in the client namespace and parses its JSON. */
async function client(topo, bins, argv, timeoutMs = 600_000) {
  const r = await topo.client.exec([...rtPrefix, bins.connect, ...argv.map(String)], { timeoutMs });
  return JSON.parse(r.stdout);
}

function startServer(ns, bin, port) {
  const child = ns.spawn([...rtPrefix, bin, String(port)]);
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
}

// A Node net.connect loop on the same path, only to show why the C client is needed (its floor).
const nodeLoop = `
const net = require('net');
const [host, port, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const out = [];
function one() {
  const t0 = process.hrtime.bigint();
  const s = net.connect({ host, port });
  s.once('data', () => { out.push(Number(process.hrtime.bigint() - t0)); s.resetAndDestroy(); out.length < count ? one() : console.log(JSON.stringify(out)); });
  s.on('error', () => { s.destroy(); one(); });
}
one();
`;

/** The C client's floors: to a server in its own namespace (loopback) and to a backend through the balancer's routing with no rules (path). */
export async function measureFloor(topo, bins, params) {
  const lat = async (host, port) => summarize((await client(topo, bins, ['latency', host, port, params.samples])).connect_ns);
  return { loopback: await lat('127.0.0.1', BACKEND_PORT + 1), path: await lat(topo.backends[0].ipv4, BACKEND_PORT) };
}

/** The topology (client, balancer, ten backends running the C server) and the client floors. */
export async function setUp(bins, params) {
  const topo = await kt.createTopology({ backends: ENDPOINTS, servers: false, port: BACKEND_PORT });
  try {
    await Promise.all(topo.backends.map((b) => startServer(b.ns, bins.server, BACKEND_PORT)));
    // A guest kernel loads x_tables' nat tables on first use by iptables-legacy (kernlb does not load
    // modules): done here so that iptables mode finds them.
    if (process.env.KERNLB_IN_UML) for (const cmd of ['iptables-legacy', 'ip6tables-legacy']) await topo.balancer.exec([cmd, '-w', '-t', 'nat', '-S'], { allowFail: true });
    await topo.client.sysctl('net.ipv4.ip_local_port_range', '1024 65535');
    await startServer(topo.client, bins.server, BACKEND_PORT + 1);
    await client(topo, bins, ['latency', topo.backends[0].ipv4, BACKEND_PORT, params.warmup]);
    const floor = await measureFloor(topo, bins, params);
    const r = await topo.client.exec([process.execPath, '-e', nodeLoop, topo.backends[0].ipv4, String(BACKEND_PORT), String(Math.min(params.samples, 2000))], { timeoutMs: 120_000 });
    floor.node = summarize(JSON.parse(r.stdout));
    return { topo, floor };
  } catch (e) {
    await topo.destroy();
    throw e;
  }
}

/** The measured service's port: one whose iptables chain name sorts after those of all others (see fillerVips). */
function targetPort(vip) {
  let best = SERVICE_PORT_BASE;
  let bestName = '';
  for (let p = SERVICE_PORT_BASE; p < SERVICE_PORT_BASE + 4000; p++) {
    const name = svcChainName({ protocol: 'tcp', vip, port: p });
    if (name > bestName) [best, bestName] = [p, name];
  }
  return { port: best, chain: bestName };
}

/** n-1 filler VIPs (10.100.0.0/14 on), skipping any whose chain would sort after the measured service's. */
function fillerVips(count, port, lastChain) {
  const out = [];
  for (let i = 0; out.length < count; i++) {
    const vip = `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    if (svcChainName({ protocol: 'tcp', vip, port }) < lastChain) out.push(vip);
  }
  return out;
}

/** One row's rules: apply(endpoints?) for kernlb modes, and where the measured service is. */
async function install(mode, n, topo) {
  const target = targetPort(topo.vip4);
  const real = topo.backends.map((b) => ({ address: b.ipv4, port: BACKEND_PORT }));
  const vips = fillerVips(n - 1, target.port, target.chain);
  const fake = (s, j) => ({ address: `10.${150 + j}.${(s >> 8) & 255}.${(s & 255) | 1}`, port: 8000 + j });
  const ns = topo.balancer;
  if (mode === 'kube-iptables' || mode === 'kube-nftables') {
    const layoutOpts = {
      port: target.port,
      vip: (s) => (s === n - 1 ? topo.vip4 : vips[s]),
      endpoint: (s, j) => (s === n - 1 ? real[j] : fake(s, j)),
    };
    const text = mode === 'kube-iptables' ? kt.kubeProxyIptablesText(n, ENDPOINTS, layoutOpts) : kt.kubeProxyNftablesText(n, ENDPOINTS, layoutOpts);
    const t0 = performance.now();
    if (mode === 'kube-iptables') await ns.exec(['iptables-legacy-restore', '-w'], { input: text, timeoutMs: 900_000 });
    else await ns.exec(['nft', '-f', '-'], { input: text, timeoutMs: 900_000 });
    const applyMs = performance.now() - t0;
    const remove = async () => {
      if (mode === 'kube-iptables') await ns.exec(['iptables-legacy-restore', '-w'], { input: '*nat\nCOMMIT\n', timeoutMs: 300_000 });
      else await ns.exec(['nft', 'delete', 'table', 'ip', 'kube-proxy'], { timeoutMs: 300_000 });
    };
    return { port: target.port, applyMs, remove, tool: mode === 'kube-iptables' ? 'iptables-legacy-restore' : 'nft -f' };
  }
  const scheduler = 'rr';
  const services = vips.map((vip, s) => ({
    name: `s${String(s).padStart(6, '0')}`, protocol: 'tcp', vip, port: target.port, scheduler,
    endpoints: Array.from({ length: ENDPOINTS }, (_, j) => fake(s, j)),
  }));
  const measured = (endpoints) => ({ name: 'measured', protocol: 'tcp', vip: topo.vip4, port: target.port, scheduler, endpoints });
  const stateWith = (endpoints) => ({ services: [...services, measured(endpoints)] });
  if (mode === 'iptables') {
    // The claim under test is about the service matched last: check that it is.
    const plan = kl.compileIptables(kl.validateState(stateWith(real), 'iptables')).ipv4;
    const rules = plan.chains.find((c) => c.name === 'KERNLB-SERVICES').rules;
    if (rules.at(-1).destination !== `${topo.vip4}/32`) throw new Error('the measured service is not the last rule of KERNLB-SERVICES');
  }
  // iptables' /run/xtables.lock is one lock for every namespace of the machine: on a machine where
  // others run iptables too, waiting for it would be measured as kernlb's apply time. Nothing else
  // writes this private namespace's tables, so the bench goes without it.
  const lb = await kl.LoadBalancer.open({ mode, netns: ns.name, ...(mode === 'iptables' ? { iptables: { xtablesLock: false } } : {}) });
  const t0 = performance.now();
  await lb.apply(stateWith(real));
  const applyMs = performance.now() - t0;
  return {
    port: target.port,
    applyMs,
    lb,
    real,
    apply: (endpoints) => lb.apply(stateWith(endpoints)),
    // LoadBalancer.update (issue #17: only the named services are sent), where this build has it
    update: typeof lb.update === 'function' ? (endpoints) => lb.update({ upsert: [measured(endpoints)] }) : undefined,
    remove: async () => {
      try {
        await lb.clear();
      } finally {
        await lb.close();
      }
    },
  };
}

/** Kernel time per second on this machine with nothing of ours running (the /proc/stat baseline). */
async function idleKernel(ms) {
  const a = procStat();
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const b = procStat();
  return { ns: kernelNs(a, b), wallNs: Number(process.hrtime.bigint() - t0) };
}

/** Measures one (mode, N) row; never throws (a failed row says why). */
export async function measureRow(mode, n, env, params, log) {
  const { topo, bins } = env;
  const row = { mode: REFERENCE_MODES[mode] ?? mode, n };
  let inst;
  try {
    inst = await install(mode, n, topo);
    row.applyMs = inst.applyMs;
    if (inst.tool) row.applyTool = inst.tool;
    log(`${row.mode} N=${n}: applied in ${inst.applyMs.toFixed(0)} ms`);
    const vip = topo.vip4;
    let made = 0;
    const check = await client(topo, bins, ['latency', vip, inst.port, 50]);
    if (check.ok !== 50) throw new Error(`the measured service does not answer (${JSON.stringify(check.failures)})`);
    made += check.ok;
    made += (await client(topo, bins, ['latency', vip, inst.port, params.warmup])).ok;
    const lat = await client(topo, bins, ['latency', vip, inst.port, params.samples]);
    made += lat.ok;
    row.connect = summarize(lat.connect_ns);
    row.firstByte = summarize(lat.first_byte_ns);
    row.connectFailed = lat.failed;

    const idle = await idleKernel(params.idleMs);
    const a = procStat();
    const rate = await client(topo, bins, ['rate', vip, inst.port, params.rateCount, params.concurrency]);
    const b = procStat();
    made += rate.ok;
    row.rate = { perSec: perSecond(rate.ok, rate.wall_ns), failed: rate.failed, concurrency: params.concurrency };
    row.cpu = {
      procStatUs: kernelCpuPerConnection({ runKernelNs: kernelNs(a, b), runWallNs: rate.wall_ns, idleKernelNs: idle.ns, idleWallNs: idle.wallNs, connections: rate.ok }) / 1000,
      clientSysUs: rate.stime_ns / rate.ok / 1000,
      clientUserUs: rate.utime_ns / rate.ok / 1000,
    };
    const req = await client(topo, bins, ['requests', vip, inst.port, params.requestSeconds, params.requestSize]);
    made += req.failed ? 0 : 1;
    row.established = { perSec: perSecond(req.ok, req.wall_ns), failed: req.failed };
    log(`${row.mode} N=${n}: connect p50 ${row.connect.p50.toFixed(1)} us, ${row.rate.perSec.toFixed(0)} conn/s, ${row.established.perSec.toFixed(0)} req/s`);

    if (inst.lb && params.updates !== false) {
      // Monitoring before the updates: a re-added endpoint's counters start again from zero.
      const times = [];
      let st;
      for (let i = 0; i < params.statusRuns; i++) {
        const t0 = performance.now();
        st = await inst.lb.status();
        times.push(performance.now() - t0);
      }
      const svc = st.services.find((s) => s.name === 'measured');
      const counted = svc ? svc.endpoints.reduce((sum, e) => sum + (e.counters?.connections ?? 0), 0) : 0;
      row.monitoring = { counters: counted > 0, counted, made, statusMs: median(times) };

      const timeChanges = async (change, count) => {
        const times = [];
        for (let i = 0; i < count; i++) {
          const t0 = performance.now();
          await change(endpointsForChange(inst.real, i));
          times.push(performance.now() - t0);
        }
        return times;
      };
      const idleTimes = await timeChanges(inst.apply, params.idleChanges);
      const idleUpdateTimes = inst.update ? await timeChanges(inst.update, params.idleChanges) : [];
      const change = inst.update ?? inst.apply;
      // The load is paced (a connection every ~loadGapUs plus its own time): a client that connects
      // back to back at real-time priority would take a whole CPU from the apply it runs beside.
      const load = topo.client.spawn([...rtPrefix, bins.connect, 'latency', vip, String(inst.port), '0', '1000', String(params.loadGapUs)]);
      let out = '';
      load.stdout.on('data', (d) => (out += d));
      const exited = new Promise((r) => load.once('exit', r));
      // Changes start once the load has made its first connection (starting it takes a while in the guest).
      await new Promise((resolve) => {
        const t = setTimeout(resolve, 20_000);
        load.stderr.on('data', (d) => {
          if (String(d).includes('running')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      await sleep(200);
      // 100 changes, or as many as fit in the time budget where one change takes seconds (an even
      // number, so the service ends as it began).
      const applyTimes = [];
      const until = performance.now() + params.changesBudgetMs;
      for (let i = 0; i < params.changes && (i % 2 === 1 || performance.now() < until); i++) {
        const t0 = performance.now();
        await change(endpointsForChange(inst.real, i));
        applyTimes.push(performance.now() - t0);
      }
      await sleep(300);
      load.kill('SIGTERM');
      await exited;
      const r = JSON.parse(out);
      row.update = {
        changeMs: median(idleTimes),
        // (the first change after status() can include a full read: status() leaves no record to trust)
        changeTimesMs: idleTimes,
        updateMs: idleUpdateTimes.length ? median(idleUpdateTimes) : undefined,
        updateTimesMs: idleUpdateTimes,
        underLoad: {
          via: inst.update ? 'update()' : 'apply(state)',
          changes: applyTimes.length,
          applyP50Ms: median(applyTimes),
          applyMaxMs: Math.max(...applyTimes),
          connections: r.ok + r.failed,
          failed: r.failed,
          failures: r.failures,
          // each failure's stage (connect or the greeting's read) and how long it waited, and how many
          // connections took over 50 ms (bench/lb-traffic.mjs lays these beside each change's CPU stall)
          failedAt: r.failed_at?.map((f) => ({ stage: f.stage, errno: f.errno, waitedMs: f.connect_ns / 1e6 })),
          over50ms: r.slow_at?.length,
          connect: summarize(r.connect_ns),
        },
      };
      log(`${row.mode} N=${n}: one change ${row.update.changeMs.toFixed(1)} ms (update() ${row.update.updateMs?.toFixed(1) ?? '-'} ms); under load ${r.ok + r.failed} connections, ${r.failed} failed`);
    }
  } catch (e) {
    row.error = String(e?.message ?? e).split('\n')[0].slice(0, 300);
    log(`${row.mode} N=${n}: failed: ${row.error}`);
  } finally {
    if (inst) await inst.remove().catch((e) => log(`${row.mode} N=${n}: cleanup failed: ${e.message}`));
  }
  return row;
}

export function loadAverage() {
  return os.loadavg().map((v) => v.toFixed(2)).join(' ');
}
