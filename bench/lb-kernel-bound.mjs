// The kernel's own share of a load-balancer change, beside kernlb's whole apply (issue #17's "where
// the kernel makes a target impossible, meet 1.2x of the kernel's cost"), and status() at scale
// (issue #21: <= 500 ms, process RSS <= 150 MB). Against dist/ (`npm run build:ts` first):
//   node bench/lb-kernel-bound.mjs --mode iptables [--n 10000] [--reps 3]      (host)
//   bash scripts/uml-run.sh -- node bench/lb-kernel-bound.mjs --mode ipvs      (IPVS: UML)
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

const ns = `klbound-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
try {
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
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
