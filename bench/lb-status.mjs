// status() at scale (issue #21: scrapes), against dist/ (run `bash scripts/setup.sh` first):
//   node --expose-gc bench/lb-status.mjs [--modes nftables,iptables] [--n 10000] [--endpoints 10] [--reps 3]
//        [--out bench/lb-status.results.json]
// IPVS needs a kernel with IPVS: run it inside UML (slow syscalls: compare only within one guest boot),
//   bash scripts/uml-run.sh -- node --expose-gc bench/lb-status.mjs --modes ipvs
// Per mode, in a fresh namespace, in this one process as `kernlb run` holds it:
//   applied  - the handle that applied N services x E endpoints calls status() once (the process's
//              first: cold), then `reps` times (what a daemon's scrape costs: the counters-only read
//              while the kernel is provably its commit);
//   fresh    - a new handle (a scraper that never applied): its first status() reads the whole table,
//              the next ones the counters only;
//   bound    - the kernel alone for the same counters: nftables, the native per-map element dumps
//              (Nftables.setCounters, no JS decode), and as many dumps of the table's first map
//              (the same dumps without the kernel's walk of the set list to find each map by name);
//              iptables, IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES as timed by the addon (getTable's kernelMs),
//              and every entry's counters of one decoded model through the JS walk (visitCounters,
//              the status path before) and the native one (entryCounters); ipvs, the native
//              listing alone (one service dump and a destination dump per service, fanned out over
//              64 sockets, packed into the reused buffer: native ipvs.listAll, no JS decode), and
//              Ipvs.listServices (that listing decoded into the public Service objects).
//   packed   - (nftables, ipvs) LoadBalancer.counters(): the same counters packed into arrays, no
//              object per endpoint (what a `kernlb run` scrape reads).
// Reported: wall ms and CPU ms of this process (all threads) as median [min-max]; after each phase
// RSS, V8 heap used and external memory (run with --expose-gc: also after a GC, i.e. what is kept
// rather than garbage not yet collected); the floor (this process holding the input state alone,
// before anything is opened); peak RSS (the apply included). Target (10k x 10): <= 500 ms, <= 150 MB.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { Ipvs, Iptables, LoadBalancer, Nftables, compileNft, validateState } = require('../dist/index.js');
const { native } = require('../dist/native.js');
const { openNativeHandle, NETLINK_GENERIC, NO_SOCKET } = require('../dist/netlink/handle.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const REPS = Number(opt('reps', 3));
const modes = opt('modes', 'nftables,iptables').split(',');
const out = opt('out', path.join(path.dirname(new URL(import.meta.url).pathname), 'lb-status.results.json'));
const sh = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
const mb = (b) => (b / 1e6).toFixed(0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** RSS, heap used, external (MB) now, and after a GC when the process was started with --expose-gc. */
function mem() {
  const m = process.memoryUsage();
  const r = { rssMb: m.rss / 1e6, heapUsedMb: m.heapUsed / 1e6, externalMb: m.external / 1e6 };
  if (global.gc) {
    // (twice: array buffers' memory is freed by a task the first collection schedules)
    global.gc();
    global.gc();
    const g = process.memoryUsage();
    Object.assign(r, { gc: { rssMb: g.rss / 1e6, heapUsedMb: g.heapUsed / 1e6, externalMb: g.external / 1e6 } });
  }
  return r;
}
const memText = (m) => `RSS ${mb(m.rssMb * 1e6)} / heap used ${mb(m.heapUsedMb * 1e6)} / external ${mb(m.externalMb * 1e6)} MB${m.gc ? ` (after a GC ${mb(m.gc.rssMb * 1e6)} / ${mb(m.gc.heapUsedMb * 1e6)} / ${mb(m.gc.externalMb * 1e6)})` : ''}`;
const range = (xs) => (xs.length ? `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]` : '-');

/** Wall and CPU ms of each of `reps` calls of f. */
async function timed(reps, f) {
  const wall = [], cpu = [];
  let last;
  for (let r = 0; r < reps; r++) {
    const u = process.cpuUsage();
    const t = performance.now();
    last = await f();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(u);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall, cpu, last };
}

function state(mode) {
  return {
    services: Array.from({ length: N }, (_, i) => ({
      name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: mode === 'iptables' ? 'random' : 'wrr',
      endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: 1 })),
    })),
  };
}

async function bound(mode, ns) {
  if (mode === 'nftables') {
    const nft = await Nftables.open({ netns: ns });
    try {
      // the shard maps the layout holds (ep-<proto><4|6>-<k>: one per shard with a service)
      const names = [...new Set(compileNft(validateState(state(mode), mode)).services.map((c) => c.map))].sort();
      const all = await timed(REPS, () => nft.setCounters('inet', 'kernlb', names));
      const first = await timed(REPS, () => nft.setCounters('inet', 'kernlb', names.map(() => names[0])));
      return { perMapDumps: all, sameMapDumps: first };
    } finally {
      await nft.close();
    }
  }
  if (mode === 'iptables') {
    const h = await openNativeHandle(NO_SOCKET, { netns: ns }, 'bench');
    const ipt = await Iptables.open({ netns: ns });
    try {
      const kernel = [];
      const t = await timed(REPS, async () => kernel.push((await native().iptables.getTable(h, false, 'nat')).kernelMs));
      // The same counters, both ways, of one decoded model (the read is not timed): every rule's
      // entry through the JS walk of the table read into the blob arena (Iptables.visitCounters,
      // the status path before), and the native walk of counters.cc (Iptables.entryCounters).
      const model = await ipt.read('nat');
      let n = 0;
      for (const c of model.chains) n += c.rules.length + 2;
      const all = Uint32Array.from({ length: n }, (_, i) => i);
      const js = await timed(REPS, () => ipt.visitCounters(model, () => undefined));
      const nat = await timed(REPS, () => ipt.entryCounters(model, all));
      return { getEntries: { wall: t.wall, cpu: t.cpu, kernelMs: kernel }, jsWalkAllEntries: js, nativeWalkAllEntries: nat };
    } finally {
      h.close();
      await ipt.close();
    }
  }
  if (mode === 'ipvs') {
    const h = await openNativeHandle(NETLINK_GENERIC, { netns: ns }, 'bench');
    const ipvs = await Ipvs.open({ netns: ns });
    try {
      await native().ipvs.open(h);
      let arena = null;
      const dumps = await timed(REPS, async () => (arena = (await native().ipvs.listAll(h, arena, 64)).buffer));
      const decoded = await timed(REPS, () => ipvs.listServices());
      return { nativeListing: dumps, listServices: decoded };
    } finally {
      h.close();
      await ipvs.close();
    }
  }
  return {};
}

console.log(`lb status benchmark: N=${N} x ${E}; load average ${loadavg()[0].toFixed(2)}; target <= 500 ms, RSS <= 150 MB`);
const results = [];
for (const mode of modes) {
  const ns = `klstatus-${process.pid}-${mode}`;
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  try {
    const input = state(mode);
    const floor = mem(); // (this process holding the input, nothing opened yet)
    let lb = await LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
    await lb.apply(input);
    const r = { mode, n: N, endpoints: E, loadavg: loadavg()[0], memory: { floor, afterApply: mem() } };
    r.rssAfterApplyMb = r.memory.afterApply.rssMb;
    // (its first call apart, as the fresh handle's: the process's first status() runs cold, in the
    // interpreter and with the apply's garbage still to collect, and was most of what made the
    // applying handle look several times slower than a fresh one measured after it, warm)
    r.appliedFirst = await timed(1, () => lb.status());
    r.appliedFirst.last = undefined;
    r.applied = await timed(REPS, () => lb.status());
    const st = r.applied.last;
    r.applied.last = undefined;
    r.memory.afterStatus = mem(); // (the last result still held: what a caller of status() has)
    r.rssAfterAppliedMb = r.memory.afterStatus.rssMb;
    if (mode === 'nftables' || mode === 'ipvs') {
      r.packed = await timed(REPS, () => lb.counters());
      if (!r.packed.last) throw new Error('counters(): undefined after an apply by the same handle');
      r.packed.last = undefined;
      r.memory.afterPacked = mem();
    }
    await lb.close();
    lb = await LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
    r.freshFirst = await timed(1, () => lb.status());
    r.fresh = await timed(REPS, () => lb.status());
    await lb.close();
    r.rssAfterFreshMb = process.memoryUsage().rss / 1e6;
    r.memory.afterFresh = mem();
    r.bound = await bound(mode, ns);
    r.peakRssMb = process.resourceUsage().maxRSS / 1e3;
    const eps = st.services.reduce((n, s) => n + s.endpoints.length, 0);
    console.log(`${mode}: ${st.services.length} services, ${eps} endpoints`);
    for (const [what, t] of [['applied handle, 1st', r.appliedFirst], ['applied handle, next', r.applied], ...(r.packed ? [['applied handle, counters()', r.packed]] : []), ['fresh handle, 1st', r.freshFirst], ['fresh handle, next', r.fresh], ...Object.entries(r.bound).map(([k, v]) => [`bound: ${k}`, v])])
      console.log(`  ${what.padEnd(26)} wall ${range(t.wall)} ms, cpu ${range(t.cpu)} ms${t.kernelMs ? `, in the getsockopts ${range(t.kernelMs)} ms` : ''}`);
    console.log(`  memory [target: RSS <= 150 MB]:`);
    for (const [what, m] of Object.entries(r.memory)) console.log(`    ${what.padEnd(12)} ${memText(m)}`);
    console.log(`  peak RSS ${mb(r.peakRssMb * 1e6)} MB (the apply's)`);
    for (const t of [r.appliedFirst, r.applied, r.packed, r.freshFirst, r.fresh]) if (t) delete t.last;
    for (const t of Object.values(r.bound)) delete t.last;
    results.push(r);
  } finally {
    sh('ip', ['netns', 'del', ns]);
  }
}
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), kernel: execFileSync('uname', ['-r']).toString().trim(), results }, null, 2) + '\n');
