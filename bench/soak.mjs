// Leak and soak run, against dist/ (run `bash scripts/setup.sh` first), as root:
//   node --expose-gc bench/soak.mjs [--quick] [--cycles N] [--minutes M] [--only netlink,nftables,iptables,ipvs,gc,lb]
// 1. Per subsystem, N cycles (default 10^5; --quick 2000) of open a handle in a fresh network
//    namespace, use it (nftables: list + a one-element commit; iptables: read + commit of the filter
//    table; netlink: resolve a genl family; IPVS: list + add/delete a service, only where the kernel
//    has IPVS, e.g. inside scripts/uml-run.sh), close. Sampled 20 times: open fds, RSS, V8 external
//    memory, and libuv's active handles/requests (process.getActiveResourcesInfo()).
// 2. gc: handles opened and dropped without close(), then garbage-collected: their sockets must go.
// 3. lb: a LoadBalancer (nftables mode) applying a changed state (endpoints added, removed,
//    re-weighted; services added and removed) back to back for M minutes (default 10; --quick 0.25),
//    sampled every 10 s.
// Fails (exit 1) when fds or active resources end above where they started (after a GC), or RSS
// keeps growing (last sample more than 64 MiB above the sample at 25% of the run).
//
// Measured 2026-12-07, kernel 6.18, node 20, on 2 cores shared with seven other busy sessions (load
// average ~20: timings are loose; the memory and fd curves are what count). Samples after a GC:
//   nftables, 10^5 x (open, list one table, commit table + set + element, close), 0.91 ms a cycle:
//     cycle     0: fds 20, RSS 57.8 MiB, external 2.5 MiB, libuv handles 0
//     cycle 25000: fds 20, RSS 79.2 MiB, external 5.8 MiB, libuv handles 0
//     cycle 50000: fds 20, RSS 77.2 MiB, external 9.9 MiB, libuv handles 0
//     cycle 75000: fds 20, RSS 72.2 MiB, external 9.3 MiB, libuv handles 0
//     cycle  10^5: fds 20, RSS 79.9 MiB, external 9.5 MiB, libuv handles 0
//   gc: 400 handles (200 nftables, 200 generic netlink) dropped without close(): fds 20 -> 820 while
//     referenced -> 20 after a GC (the native handle's finalizer closes socket and namespace fd).
//   lb: nftables LoadBalancer, 50-56 services x 2-6 endpoints changing every apply, 10 min, 17753
//     applies: fds 22 throughout (20 once closed), RSS 97.0 MiB at 10 s, 115.7 at 60 s, 116.1 at
//     120 s, 117.8 at 180 s, 117.0 at 300 s, 127.3 at 420 s, 114.9 at 480 s, 113.8 at 600 s;
//     external 2.4-5.4 MiB (no trend); libuv handles 0 throughout.
//   netlink, 10^5 x (open a generic netlink handle, resolve a family, close), 0.19 ms a cycle:
//     fds 20 throughout; RSS 55.7, 59.8, 59.9, 63.5, 64.3 MiB at 0, 25k, 50k, 75k, 10^5; external
//     1.9 MiB throughout; libuv handles 0.
//   iptables, 10^4 x (open, read the filter table, commit it back, close), 7.25 ms a cycle (10^5
//     would take 12 min here): fds 20 throughout; RSS 55.6, 70.4, 76.6, 78.4, 68.6 MiB at 0, 2.5k,
//     5k, 7.5k, 10k; external 2.1-5.6 MiB; libuv handles 0.
//   ipvs, inside UML (kernel 6.1; `bash scripts/uml-run.sh -- node --expose-gc bench/soak.mjs
//     --cycles 1000 --only ipvs,gc`), 10^3 x (open, list, add + delete a service, close), 10.9 ms a
//     cycle (UML syscalls are slow): fds 19 throughout; RSS 53.1 -> 54.7 MiB; external 1.9 MiB;
//     libuv handles: the 2 TTYs of the guest console only; gc there: fds 19 -> 819 -> 19.
import { readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kl = require('../dist/index.js');
const { Nftables, Iptables, Ipvs, NetlinkHandle, LoadBalancer, iptEmptyTable } = kl;

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const quick = args.includes('--quick');
const cycles = Number(opt('cycles', quick ? 2000 : 100000));
const minutes = Number(opt('minutes', quick ? 0.25 : 10));
const hasIpvs = existsSync('/proc/net/ip_vs');
const only = opt('only', `netlink,nftables,iptables,${hasIpvs ? 'ipvs,' : ''}gc,lb`).split(',');
const gc = globalThis.gc ?? (() => {});

// (Printed first: the first write to a piped stdout/stderr opens libuv pipe handles and an fd, which
// would otherwise count as growth in the first subsystem's figures.)
console.log(`soak: ${cycles} cycles per subsystem, load balancer for ${minutes} min, node ${process.version}`);
console.error('soak: samples are taken after a GC');
if (!globalThis.gc) console.error('soak: run with --expose-gc for exact fd and memory figures');
const sh = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
const nsName = `klsoak-${process.pid}`;
sh('ip', ['netns', 'add', nsName]);
sh('ip', ['netns', 'exec', nsName, 'ip', 'link', 'set', 'lo', 'up']);
process.on('exit', () => { try { sh('ip', ['netns', 'del', nsName]); } catch {} });

const fds = () => readdirSync('/proc/self/fd').length;
const mib = (b) => (b / 1048576).toFixed(1);
async function sample() {
  gc();
  await new Promise((r) => setImmediate(r));
  const m = process.memoryUsage();
  return { fds: fds(), rss: m.rss, external: m.external, heap: m.heapUsed, active: process.getActiveResourcesInfo().length };
}
const line = (label, s) => `${label.padEnd(10)} fds ${String(s.fds).padStart(4)}  rss ${mib(s.rss).padStart(7)} MiB  external ${mib(s.external).padStart(6)} MiB  heap ${mib(s.heap).padStart(6)} MiB  active ${s.active}`;

const failures = [];
const underAsan = /asan/.test(process.env.LD_PRELOAD ?? '');
if (underAsan) console.log('soak: under AddressSanitizer: RSS is reported, not judged (its quarantine holds freed memory)');
function judge(name, samples) {
  const first = samples[0], last = samples[samples.length - 1], quarter = samples[Math.floor(samples.length / 4)];
  if (last.fds > first.fds) failures.push(`${name}: fds ${first.fds} -> ${last.fds}`);
  if (last.active > first.active) failures.push(`${name}: active libuv resources ${first.active} -> ${last.active}`);
  // (Under AddressSanitizer freed memory sits in its quarantine, ~256 MiB: RSS says nothing there.)
  if (!underAsan && last.rss - quarter.rss > 64 * 1048576) failures.push(`${name}: RSS grew ${mib(quarter.rss)} -> ${mib(last.rss)} MiB after the first quarter`);
}

const netns = { netns: nsName };
const uses = {
  async netlink() {
    const h = await NetlinkHandle.open(16, netns);
    await h.resolveFamily('nlctrl');
    await h.close();
  },
  async nftables(i) {
    const h = await Nftables.open(netns);
    await h.list({ family: 'inet', table: 'soak' });
    const tx = h.transaction();
    tx.addTable({ family: 'inet', name: 'soak' });
    tx.addSet({ family: 'inet', table: 'soak', name: 's', key: 'ipv4_addr' });
    tx.addElements({ family: 'inet', table: 'soak', set: 's', key: 'ipv4_addr' }, [{ key: `10.0.0.${i % 16}` }]);
    await tx.commit();
    await h.close();
  },
  async iptables() {
    // (The xtables lock is host-wide: other users of this machine's iptables would stall the soak.)
    const h = await Iptables.open({ ...netns, xtablesLock: false });
    const t = await h.read('filter');
    await h.commit(t);
    await h.close();
  },
  async ipvs(i) {
    const h = await Ipvs.open(netns);
    await h.listServices();
    const svc = { protocol: 'tcp', address: '10.0.0.1', port: 1 + (i % 1000), scheduler: 'rr' };
    await h.addService(svc);
    await h.deleteService(svc);
    await h.close();
  },
};

const results = {};
for (const name of only.filter((n) => uses[n])) {
  // Warm-up: one-time state (the addon's worker pool, the caller's namespace fd kept for leaving a
  // namespace) is not a leak; the baseline is taken after it.
  for (let i = 0; i < 10; i++) await uses[name](i);
  const samples = [await sample()];
  console.log(`${name}: ${cycles} x open / use / close`);
  console.log(`  ${line('start', samples[0])} (${process.getActiveResourcesInfo().join(', ')})`);
  const t0 = Date.now();
  for (let i = 0; i < cycles; i++) {
    await uses[name](i);
    if ((i + 1) % Math.ceil(cycles / 20) === 0) {
      const s = await sample();
      samples.push(s);
      if (samples.length % 5 === 1 || i + 1 === cycles) console.log(`  ${line(String(i + 1), s)}`);
    }
  }
  const per = ((Date.now() - t0) / cycles).toFixed(2);
  console.log(`  ${per} ms per cycle`);
  judge(name, samples);
  results[name] = { per, samples };
}

if (only.includes('gc')) {
  // Handles dropped without close(): the native handle's finalizer releases socket and namespace fd.
  const before = await sample();
  for (let i = 0; i < 200; i++) await Nftables.open(netns);
  for (let i = 0; i < 200; i++) await NetlinkHandle.open(16, netns);
  const open = fds();
  let after = await sample();
  for (let k = 0; k < 20 && after.fds > before.fds; k++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await sample();
  }
  console.log(`gc: 400 handles dropped without close(): fds ${before.fds} -> ${open} while referenced -> ${after.fds} after GC`);
  if (after.fds > before.fds) failures.push(`gc: ${after.fds - before.fds} fds still open after 400 dropped handles were collected`);
  results.gc = { before: before.fds, open, after: after.fds };
}

if (only.includes('lb')) {
  const lb = await LoadBalancer.open({ mode: 'nftables', netns: nsName, removeOtherModes: false });
  const state = (round) => ({
    services: Array.from({ length: 50 + (round % 7) }, (_, i) => ({
      name: `s${i}`, protocol: 'tcp', vip: `10.96.${i >> 8}.${i & 255}`, port: 80, scheduler: 'wrr',
      endpoints: Array.from({ length: 2 + ((round + i) % 5) }, (_, j) => ({ address: `10.244.${i & 255}.${j + 1}`, port: 8080, weight: 1 + ((round * 7 + j) % 9) })),
    })),
  });
  const end = Date.now() + minutes * 60000;
  const samples = [await sample()];
  console.log(`lb: nftables LoadBalancer applying changes for ${minutes} min`);
  console.log(`  ${line('0 s', samples[0])}`);
  let round = 0;
  let next = Date.now() + 10000;
  const t0 = Date.now();
  while (Date.now() < end) {
    await lb.apply(state(round++));
    if (Date.now() >= next) {
      next += 10000;
      const s = await sample();
      samples.push(s);
      console.log(`  ${line(`${Math.round((Date.now() - t0) / 1000)} s`, s)}  applies ${round}`);
    }
  }
  await lb.close();
  samples.push(await sample());
  console.log(`  ${line('closed', samples[samples.length - 1])}  applies ${round}`);
  judge('lb', samples);
  results.lb = { applies: round, samples };
}

console.log(failures.length ? `soak: FAILED\n  ${failures.join('\n  ')}` : 'soak: passed');
process.exitCode = failures.length ? 1 : 0;
