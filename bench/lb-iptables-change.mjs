// iptables mode at scale (#17): one change against the kernel's own replace of the nat table, and
// the same state again with the backend's part apart from validation. Against dist/
// (`npm run build:ts` first), host kernel, in a scratch namespace:
//   node bench/lb-iptables-change.mjs [--n 10000] [--reps 5]
// Per change: wall time of the call, the kernel's time in IPT_SO_SET_REPLACE + ADD_COUNTERS
// (CommitResult.kernelMs of the same commit), their ratio (target <= 1.2), the process's user CPU
// (JS and the native digest of the blob; the kernel's replace is system time) and how the commit
// went (splice in place / splice with a copy / whole table). Medians of `reps` with [min-max].
// Taken on a shared 2-core machine the numbers are noisy: the ratio within one run is what counts.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kl = require('../dist/index.js');
const { IptablesBackend } = require('../dist/lb/modes/iptables/backend.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const REPS = Number(opt('reps', 5));
const E = 10;

const svc = (i, w = 1, extra = 0) => ({
  name: `s${i}`, vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, port: 80, scheduler: 'random',
  endpoints: Array.from({ length: E + extra }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`, port: 8000 + j, weight: j === 0 ? w : 1 })),
});
const state = () => ({ services: Array.from({ length: N }, (_, i) => svc(i)) });
const stats = (a) => { const s = [...a].sort((x, y) => x - y); return { med: s[s.length >> 1], min: s[0], max: s[s.length - 1] }; };
const fmt = (a, d = 1) => { const s = stats(a); return `${s.med.toFixed(d)} [${s.min.toFixed(d)}-${s.max.toFixed(d)}]`; };

// Every commit's kernel time and kind, as it settles.
let commits = [];
const commit = kl.Iptables.prototype.commit;
kl.Iptables.prototype.commit = async function (...a) { const r = await commit.apply(this, a); commits.push({ kernelMs: r.kernelMs, how: 'whole table' }); return r; };
const chains = kl.Iptables.prototype.commitChains;
kl.Iptables.prototype.commitChains = async function (...a) { const r = await chains.apply(this, a); if (r) commits.push({ kernelMs: r.kernelMs, how: r.inPlace ? 'splice in place' : r.within ? 'splice, moved within the kept blob' : 'splice, copied to a new blob' }); return r; };
// The backend's part of an apply (its read and its apply), apart from the LoadBalancer's validation.
let backendMs = 0;
for (const m of ['read', 'apply']) {
  const f = IptablesBackend.prototype[m];
  IptablesBackend.prototype[m] = async function (...a) { const t = performance.now(); try { return await f.apply(this, a); } finally { backendMs += performance.now() - t; } };
}

async function measure(fn) {
  commits = [];
  backendMs = 0;
  const c0 = process.cpuUsage(), t = performance.now();
  await fn();
  const wall = performance.now() - t, cpu = process.cpuUsage(c0);
  const kernelMs = commits.reduce((a, c) => a + c.kernelMs, 0);
  return { wall, backend: backendMs, kernelMs, user: cpu.user / 1000, sys: cpu.system / 1000, how: [...new Set(commits.map((c) => c.how))].join('+') || 'nothing sent' };
}

const ns = `kliptchg-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
try {
  const lb = await kl.LoadBalancer.open({ mode: 'iptables', netns: ns, removeOtherModes: false });
  const full = await measure(() => lb.apply(state()));
  console.log(`iptables N=${N} x ${E} (${N * 54} entries in nat): full apply ${(full.wall / 1000).toFixed(2)} s (kernel ${(full.kernelMs / 1000).toFixed(2)} s); load ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
  const cases = {
    'weight changed, update()': (r) => [() => lb.update({ upsert: [svc((N >> 1) + r, 7)] }), () => lb.update({ upsert: [svc((N >> 1) + r)] })],
    'weight changed, apply(state)': (r) => { const s = state(); s.services[(N >> 2) + r] = svc((N >> 2) + r, 5); return [() => lb.apply(s), () => lb.apply(state())]; },
    'endpoint added, update()': (r) => [() => lb.update({ upsert: [svc((N >> 3) + r, 1, 1)] }), () => lb.update({ upsert: [svc((N >> 3) + r)] })],
    'service added, update()': (r) => [() => lb.update({ upsert: [svc(N + r)] }), () => lb.update({ remove: [`s${N + r}`] })],
  };
  console.log('| change | wall ms | of it the backend (LoadBalancer\'s validation aside) | kernel ms | ratio wall / kernel (<= 1.2) | backend / kernel | user CPU ms | system CPU ms (the replace included) | commit |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, mk] of Object.entries(cases)) {
    const rows = [];
    for (let r = 0; r < REPS; r++) {
      const [change, undo] = mk(r);
      rows.push(await measure(change));
      await undo();
    }
    console.log(`| ${name} | ${fmt(rows.map((x) => x.wall))} | ${fmt(rows.map((x) => x.backend))} | ${fmt(rows.map((x) => x.kernelMs))} | ${fmt(rows.map((x) => x.wall / x.kernelMs), 2)} | ${fmt(rows.map((x) => x.backend / x.kernelMs), 2)} | ${fmt(rows.map((x) => x.user))} | ${fmt(rows.map((x) => x.sys))} | ${[...new Set(rows.map((x) => x.how))].join(', ')} |`);
  }
  // The same state again: a new (equal) input each time, validated by the LoadBalancer.
  const total = [], backend = [], validate = [];
  for (let r = 0; r < REPS; r++) {
    const s = state();
    let t = performance.now();
    kl.validateState(state());
    validate.push(performance.now() - t);
    const m = await measure(() => lb.apply(s));
    if (m.how !== 'nothing sent') throw new Error('the same state again sent something');
    total.push(m.wall);
    backend.push(m.backend);
  }
  console.log(`same state again, apply(state): ${fmt(total)} ms; of it the backend (read + apply: IPT_SO_GET_INFO per family and an identity diff) ${fmt(backend)} ms (target <= 20 ms); validating a new 10k x 10 input alone ${fmt(validate)} ms`);
  await lb.close();
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
