// The kernel's own share of a load-balancer change, beside kernlb's whole apply (issue #17's "where
// the kernel makes a target impossible, meet 1.2x of the kernel's cost"), and status() at scale
// (issue #21: <= 500 ms, process RSS <= 150 MB). Against dist/ (`npm run build:ts` first):
//   node bench/lb-kernel-bound.mjs --mode iptables [--n 10000] [--reps 3]      (host)
//   bash scripts/uml-run.sh -- node bench/lb-kernel-bound.mjs --mode ipvs      (IPVS: UML)
//   node --expose-gc bench/lb-kernel-bound.mjs --mode nftables [--n 10000] [--reps 15]  (host)
// nftables: the full apply and every single change kind via update() (endpoint replaced, added,
// removed, weight changed, service added), each beside the kernel's time for the batch kernlb sent
// (Transaction.kernelMs: that batch's sendmsg to its last ack, nothing else in between), with the
// ratio and issue #17's target (<= 1.5 s / <= 5 ms, or <= 1.2x the kernel where the kernel alone
// exceeds it). Three untimed updates first (a controller's update path is warm). The full apply's
// input is made before its timer (until session 12 its 10^5 objects were made inside it), and the
// time before its commit() is printed (validating, compiling and packing: kernlb's JavaScript).
// iptables: each single change via update() and apply(state), with the time its commit spent in
// IPT_SO_SET_REPLACE + SET_ADD_COUNTERS (CommitResult.kernelMs: the replace of that table alone).
// ipvs: the same change sent alone as one message through Ipvs.batch (no LoadBalancer around it).
// Medians of `reps` with [min-max]. Run on a loaded 2-core machine, numbers are noisy: repeat.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kl = require('../dist/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = 10;
const REPS = Number(opt('reps', 3));
const mode = opt('mode', 'iptables');
const sched = mode === 'iptables' ? 'random' : 'wrr';

const svc = (i, w = 1) => ({
  name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: sched,
  endpoints: Array.from({ length: E }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: j === 0 ? w : 1 })),
});
const state = (bump = -1, w = 1) => ({ services: Array.from({ length: N }, (_, i) => svc(i, i === bump ? w : 1)) });
const med = (a) => { const s = [...a].sort((x, y) => x - y); return `${s[s.length >> 1].toFixed(1)} ms [${s[0].toFixed(1)}-${s[s.length - 1].toFixed(1)}]`; };
const time = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };

// Every commit's kernel time (iptables), recorded as it settles.
const kernel = [];
const commit = kl.Iptables.prototype.commit;
kl.Iptables.prototype.commit = async function (...a) { const r = await commit.apply(this, a); kernel.push(r.kernelMs); return r; };
// (a change of a table the LoadBalancer committed is a splice of its chains: Iptables.commitChains)
const commitChains = kl.Iptables.prototype.commitChains;
kl.Iptables.prototype.commitChains = async function (...a) { const r = await commitChains.apply(this, a); if (r) kernel.push(r.kernelMs); return r; };

// Every nftables batch's kernel time (Transaction.kernelMs), recorded as it commits, and when its commit() was called.
const nftKernel = [], nftCommitAt = [];
const transaction = kl.Nftables.prototype.transaction;
kl.Nftables.prototype.transaction = function (...a) {
  const tx = transaction.apply(this, a);
  const c = tx.commit;
  tx.commit = async (...o) => { nftCommitAt.push(performance.now()); await c.apply(tx, o); nftKernel.push(tx.kernelMs); };
  return tx;
};
const medOf = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const mean = (a) => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(2);

// nftables mode: kernlb beside the kernel for the full apply and each single change.
async function nftBound(ns) {
  const lb = await kl.LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
  // (CPU time too: on a loaded machine the wall clock mostly measures the wait for a core; the process's
  // user time is kernlb's own work, its system time mostly the kernel's work on the batch, which runs
  // in the sending thread)
  const row = (what, wall, kern, cpu, target) => {
    const w = medOf(wall), k = medOf(kern);
    const bound = Math.max(target, 1.2 * k);
    console.log(`  ${what.padEnd(18)} kernlb ${med(wall)}  kernel ${med(kern)}  ratio ${(w / k).toFixed(2)}  target <= ${bound.toFixed(1)} ms (${1.2 * k > target ? '1.2x kernel' : `${target} ms`}): ${w <= bound ? 'met' : 'NOT met'};  CPU user ${mean(cpu.map((c) => c.user))} ms, sys ${mean(cpu.map((c) => c.system))} ms (means: the clock is tick-sampled)`);
  };
  const cpuTime = async (fn, out) => {
    const c = process.cpuUsage();
    const t = await time(fn);
    const d = process.cpuUsage(c);
    out.push({ user: d.user / 1000, system: d.system / 1000 });
    return t;
  };
  globalThis.gc?.();
  nftKernel.length = 0;
  const fullCpu = [];
  const input = state();
  nftCommitAt.length = 0;
  const started = performance.now();
  const full = await cpuTime(() => lb.apply(input), fullCpu);
  const fk = nftKernel.reduce((a, b) => a + b, 0);
  // (the JavaScript before the commit: validating the input, compiling and packing the batch; the rest
  // is the native encoding of the batch, the kernel, and what the LoadBalancer records after it)
  const before = nftCommitAt.length ? nftCommitAt[0] - started : NaN;
  console.log(`nftables N=${N} x ${E}, load average ${(await import('node:os')).loadavg()[0].toFixed(1)}: full apply ${(full / 1000).toFixed(2)} s, kernel ${(fk / 1000).toFixed(2)} s (the one batch), ratio ${(full / fk).toFixed(2)}; target <= 1.5 s, or 1.2x the kernel: ${(Math.max(1500, 1.2 * fk) / 1000).toFixed(2)} s: ${full <= Math.max(1500, 1.2 * fk) ? 'met' : 'NOT met'}; CPU user ${(fullCpu[0].user / 1000).toFixed(2)} s, sys ${(fullCpu[0].system / 1000).toFixed(2)} s; before the commit (validate, compile, pack) ${(before / 1000).toFixed(2)} s, commit to done ${((full - before) / 1000).toFixed(2)} s`);
  const other = (i, j) => `10.${250 + (j >> 8)}.${i >> 8 & 255}.${(i & 255) || 1}`;
  const kinds = {
    'endpoint replaced': (s, r) => ({ ...s, endpoints: s.endpoints.map((e, j) => (j === 3 ? { ...e, address: other(r + 1, 0) } : e)) }),
    'endpoint added': (s, r) => ({ ...s, endpoints: [...s.endpoints, { address: other(r + 1, 1), port: 9000, weight: 1 }] }),
    'endpoint removed': (s) => ({ ...s, endpoints: s.endpoints.slice(1) }),
    'weight changed': (s) => ({ ...s, endpoints: s.endpoints.map((e, j) => (j === 2 ? { ...e, weight: 3 } : e)) }),
    'service added': (s, r) => ({ ...svc(N + r), name: `new${r}` }),
  };
  for (let r = 0; r < 3; r++) await lb.update({ upsert: [kinds['endpoint replaced'](svc(r), 100 + r)] }).then(() => lb.update({ upsert: [svc(r)] }));
  for (const [kind, change] of Object.entries(kinds)) {
    const wall = [], kern = [], cpu = [];
    for (let r = 0; r < REPS; r++) {
      const i = (N >> 1) + r, before = svc(i), after = change(before, r);
      // (no gc() here: the collector's background sweeping would run inside the timed window)
      nftKernel.length = 0;
      wall.push(await cpuTime(() => lb.update({ upsert: [after] }), cpu));
      kern.push(nftKernel.reduce((a, b) => a + b, 0));
      await (kind === 'service added' ? lb.update({ remove: [after.name] }) : lb.update({ upsert: [before] }));
    }
    row(kind, wall, kern, cpu, 5);
  }
  await lb.close();
}

const ns = `klbound-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
try {
  if (mode === 'nftables') {
    await nftBound(ns);
    process.exitCode = 0;
  } else {
  const lb = await kl.LoadBalancer.open({ mode, netns: ns, removeOtherModes: false });
  const full = await time(() => lb.apply(state()));
  console.log(`${mode} N=${N} x ${E}: full apply ${(full / 1000).toFixed(2)} s`);
  const again = [];
  for (let r = 0; r < REPS; r++) { const s = state(); again.push(await time(() => lb.apply(s))); }
  console.log(`  same state again: apply(state) ${med(again)}`);
  const viaUpdate = [], viaApply = [], kUpdate = [], kApply = [];
  for (let r = 0; r < REPS; r++) {
    const i = (N >> 1) + r;
    kernel.length = 0;
    viaUpdate.push(await time(() => lb.update({ upsert: [svc(i, 7)] })));
    if (kernel.length) kUpdate.push(kernel.reduce((a, b) => a + b, 0));
    await lb.update({ upsert: [svc(i, 1)] });
    const s = state(i, 5);
    kernel.length = 0;
    viaApply.push(await time(() => lb.apply(s)));
    if (kernel.length) kApply.push(kernel.reduce((a, b) => a + b, 0));
    await lb.apply(state());
  }
  console.log(`  one weight changed: update() ${med(viaUpdate)}; apply(state) ${med(viaApply)}`);
  if (mode === 'iptables') {
    console.log(`    kernel (IPT_SO_SET_REPLACE + ADD_COUNTERS of the nat table): in update() ${med(kUpdate)}, in apply(state) ${med(kApply)}`);
    console.log(`    ratio to the kernel (target <= 1.2): update() ${(viaUpdate.sort((a, b) => a - b)[REPS >> 1] / kUpdate.sort((a, b) => a - b)[REPS >> 1]).toFixed(2)}, apply(state) ${(viaApply.sort((a, b) => a - b)[REPS >> 1] / kApply.sort((a, b) => a - b)[REPS >> 1]).toFixed(2)}`);
  } else {
    // The same message alone: one SET_DEST through the Ipvs handle, nothing around it.
    const ipvs = await kl.Ipvs.open({ netns: ns });
    const alone = [];
    for (let r = 0; r < REPS; r++) {
      const s = svc((N >> 1) + r);
      const e = s.endpoints[0];
      for (const w of [7, 1]) {
        const t = await time(() => ipvs.batch([{ op: 'updateDestination', service: { protocol: 'tcp', address: s.vip, port: 80 }, destination: { address: e.address, port: e.port, weight: w, forwarding: 'masq', upperThreshold: 0, lowerThreshold: 0 } }]));
        if (w === 7) alone.push(t);
      }
    }
    await ipvs.close();
    console.log(`    the same SET_DEST sent alone (Ipvs.batch): ${med(alone)}`);
  }
  const rss0 = process.memoryUsage().rss;
  const st = [];
  let maxRss = 0;
  for (let r = 0; r < REPS; r++) {
    st.push(await time(() => lb.status()));
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }
  console.log(`  status(): ${med(st)} (target <= 500 ms); process RSS ${(rss0 / 2 ** 20).toFixed(0)} MB before, ${(maxRss / 2 ** 20).toFixed(0)} MB at most after (target <= 150 MB)`);
  await lb.close();
  }
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
