// Where an ipvs-mode apply spends its time (issue #17), wall and process CPU side by side: UML on a
// loaded host stretches wall time by whatever else runs, CPU time much less. Against dist/ (run
// `npm run build:ts` first), inside UML:
//   bash scripts/uml-run.sh -- node --expose-gc bench/lb-ipvs-phases.mjs [--n 10000] [--endpoints 10] [--reps 7] [--settle 250] [--no-reference]
//   (add --cpu-prof --cpu-prof-dir=/tmp/prof to node for a profile of the whole run, or give the bench
//   --profile DIR for one .cpuprofile per repeated phase: DIR must be on the host's file system, which
//   is the guest's root)
// All namespaces and the reference's input are made before anything is timed, and the reference
// (`ipvsadm -R`) runs last: a fork of this process makes every page it writes afterwards take a
// copy-on-write fault (slow in UML), which would otherwise land in kernlb's figures.
// Phases, each on its own (fresh inputs, a fresh namespace where it writes):
//   read-once  the leanest JS loop over a fresh N x E input, reading each field once: the bound for
//              anything that looks at the whole input (apply(state) of a new input tree)
//   validate   validateState of N x E (the LoadBalancer does it on every apply: lbfast's part)
//   batch      Ipvs.batch of the full apply's operations, no LoadBalancer: the bound for the full apply
//   full       LoadBalancer.apply of N x E into an empty namespace
//   again      the same state again (a new input tree of the same content), its reps interleaved
//              with one change's (below), so that the two meet the same heap and host load
//   one change apply(state) of a fresh tree with one more weight changed than the state applied (1
//              SET_DEST each rep, checked), then the same kind of change split: lb.validate of the
//              fresh tree, and apply of the Services it returned; then one change after 7 endpoint
//              removals (the apply reads the 7 draining services back and deletes them)
//   update     one change through update(): weight changed (1 SET_DEST), endpoint added (1 NEW_DEST)
//   setdest    the same SET_DEST sent alone (Ipvs.batch of one op): the kernel's bound for one change
//   backend    the ipvs backend alone (IpvsBackend, no LoadBalancer: no validation, diff or record of
//              the layer) in its own namespace: full apply, the same state again (the same validated
//              services), one weight changed through apply(state) and through applyChanges (update())
//   reference  ipvsadm -R of the same services (last)
// The last lines set each #17 target beside its figure and its bound from the same boot (medians):
// full apply >= 10x ipvsadm -R; the same state again <= 20 ms (bound: read-once); one change <= 10 ms
// through update() and <= 20 ms through apply(state) (bound: the SET_DEST alone).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { LoadBalancer, Ipvs, validateState, compileIpvs, renderIpvsadm } = require('../dist/index.js');
const { IpvsBackend } = require('../dist/lb/modes/ipvs/backend.js');

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const REPS = Number(opt('reps', 7));
const PROFILE = opt('profile', undefined);
/** ms to wait after the forced gc() before each timed window (0: none, as before 2026-12-07 late). */
const SETTLE = Number(opt('settle', 250));

const vipOf = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const epAddr = (i, j) => `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`;
const svc = (i, w = 1, extra = 0) => ({
  name: `s${i}`, vip: vipOf(i), port: 80, scheduler: 'wrr',
  endpoints: Array.from({ length: E + extra }, (_, j) => ({ address: epAddr(i, j), port: 8000 + j, weight: j === 0 ? w : 1 })),
});
const specs = () => Array.from({ length: N }, (_, i) => svc(i));

const sh = (cmd, argv, input) => execFileSync(cmd, argv, { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'inherit'] });
const names = ['batch', 'lb', 'ref', 'be'].map((k) => `klph-${process.pid}-${k}`);
for (const n of names) {
  sh('ip', ['netns', 'add', n]);
  sh('ip', ['netns', 'exec', n, 'ip', 'link', 'set', 'lo', 'up']); // (IPVS refuses destinations while lo is down)
}
const ok = (r) => {
  if (r.failures.length) throw r.failures[0];
  return r;
};
const refInput = renderIpvsadm(compileIpvs(validateState({ services: specs() }, 'ipvs')));

/** Wall and process CPU (user + system) of fn, in ms; with --profile and `what`, its profile (the forced GC before it left out). */
async function measure(fn, what) {
  globalThis.gc?.();
  // The forced collection leaves work to V8's helper threads (sweeping a heap of several hundred MB),
  // and the guest has one CPU: a timed window that awaits the kernel (any change: the worker thread's
  // sendmsg) gave that CPU to them and took their time (a lone SET_DEST right after gc(): 17-41 ms in
  // 3 of 9 reps, at most 4 ms with a pause before, a loaded host). A controller's apply meets no such
  // forced collection, so the window starts once it settled.
  if (SETTLE) await new Promise((r) => setTimeout(r, SETTLE));
  if (session && what) await session.post('Profiler.start');
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  const r = await fn();
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  const cu = process.cpuUsage(c);
  if (session && what) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${PROFILE}/${what.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`, JSON.stringify(profile));
  }
  return { wall, cpu: (cu.user + cu.system) / 1000, r };
}
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const line = (what, m) => console.log(`${what.padEnd(34)} wall ${fmt(m.wall).padStart(9)}   cpu ${fmt(m.cpu).padStart(9)}`);
/** Median wall time of each repeated phase, by name (for the targets at the end). */
const med = {};
let session;
if (PROFILE) {
  mkdirSync(PROFILE, { recursive: true });
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
}
async function reps(what, make, run) {
  await interleaved([[what, make, run]]);
}
/**
 * Phases given as [what, make, run], repeated REPS times in turn (one rep of each, then the next):
 * two figures compared with each other (the no-op and one change) then meet the same heap and the
 * same moment of the host's load, not one phase's reps after the other's.
 */
async function interleaved(phases) {
  const w = phases.map(() => []), c = phases.map(() => []);
  for (let r = 0; r < REPS; r++) {
    for (const [k, [what, make, run]] of phases.entries()) {
      const input = make(r);
      const m = await measure(() => run(input), `${what}-${r}`);
      w[k].push(m.wall);
      c[k].push(m.cpu);
    }
  }
  for (const [k, [what]] of phases.entries()) {
    med[what] = median(w[k]);
    console.log(`${what.padEnd(34)} wall ${fmt(median(w[k])).padStart(9)} [${fmt(Math.min(...w[k]))}-${fmt(Math.max(...w[k]))}]   cpu ${fmt(median(c[k])).padStart(9)} [${fmt(Math.min(...c[k]))}-${fmt(Math.max(...c[k]))}]`);
  }
}

console.log(`ipvs mode phases, ${N} services x ${E} endpoints, settle ${SETTLE} ms, kernel ${require('node:os').release()}, load ${require('node:os').loadavg().map((x) => x.toFixed(1)).join(' ')}`);
let readOnce;
{
  const input = { services: specs() };
  // Every field read once, the strings' lengths summed so that nothing is optimised away.
  const m = await measure(() => {
    let x = 0;
    for (const s of input.services) {
      x += s.name.length + s.vip.length + s.port + s.scheduler.length;
      for (const e of s.endpoints) x += e.address.length + e.port + e.weight;
    }
    return x;
  });
  line('read-once loop over N x E (bound)', m);
  readOnce = m.wall;
}
line('validate (N x E, fresh input)', await measure(() => validateState({ services: specs() }, 'ipvs')));

{
  const ipvs = await Ipvs.open({ netns: names[0] });
  const ops = compileIpvs(validateState({ services: specs() }, 'ipvs')).map((s) => ({
    op: 'addService',
    service: { protocol: s.protocol, address: s.address, port: s.port, scheduler: s.scheduler, destinations: s.dests.map((d) => ({ address: d.address, port: d.port, weight: d.weight, forwarding: 'masq' })) },
  }));
  const b = await measure(async () => ok(await ipvs.batch(ops)));
  line('Ipvs.batch of the full apply', b);
  med.batch = b.wall;
  await reps('SET_DEST alone (Ipvs.batch)', (r) => [{ op: 'updateDestination', service: { protocol: 'tcp', address: vipOf(r), port: 80 }, destination: { address: epAddr(r, 0), port: 8000, weight: 7 + r, forwarding: 'masq' } }], async (ops1) => ok(await ipvs.batch(ops1)));
  await ipvs.close();
}

{
  const lb = await LoadBalancer.open({ mode: 'ipvs', netns: names[1], removeOtherModes: false });
  const first = { services: specs() };
  const full = await measure(() => lb.apply(first), 'LoadBalancer full apply');
  med.full = full.wall;
  line(`LoadBalancer full apply (${full.r.operations} ops)`, full);
  // One change through apply(state): each input is a fresh tree that differs from the state last
  // applied in one more service's weight (the earlier reps' changes kept), so each rep is exactly one
  // SET_DEST (checked). (This phase used to run after the update() phases and to revert each rep's
  // change: its first rep undid 14 update()s, 7 of them endpoint removals, the second re-read the 7
  // draining services, the others sent 2 messages; 2 of its 5 reps measured something else.)
  const weights = new Map();
  const changedTree = (i, w) => {
    if (i !== undefined) weights.set(i, w);
    return { services: Array.from({ length: N }, (_, k) => svc(k, weights.get(k) ?? 1)) };
  };
  const one = async (p) => {
    const s = await p;
    if (s.operations !== 1) throw new Error(`one change sent ${s.operations} operations`);
    return s;
  };
  // (interleaved with the no-op: the same state again, a fresh tree of the state last applied)
  await interleaved([
    ['same state again, apply(state)', () => changedTree(), async (st) => {
      const s = await lb.apply(st);
      if (s.operations !== 0) throw new Error(`the same state again sent ${s.operations} operations`);
      return s;
    }],
    ['weight changed, apply(state)', (r) => changedTree(Math.floor(N / 8) + r, 9), (st) => one(lb.apply(st))],
  ]);
  // The same kind of change split in two: the layer's validation of the fresh tree against its cache
  // (lb.validate, which apply(state) runs first), then apply(state) of the Services it returned (a
  // controller's fast path: the diff, the backend's plan and send, the records, the summary).
  {
    const wv = [], wa = [];
    for (let r = 0; r < REPS; r++) {
      const tree = changedTree(Math.floor(N / 8) + REPS + r, 9);
      const v = await measure(() => lb.validate(tree), `validate-one-change-${r}`);
      const a = await measure(() => one(lb.apply(v.r)), `apply-validated-one-change-${r}`);
      wv.push(v.wall);
      wa.push(a.wall);
    }
    med.validateOne = median(wv);
    med.applyValidated = median(wa);
    console.log(`${'  of it, validate (fresh tree)'.padEnd(34)} wall ${fmt(med.validateOne).padStart(9)} [${fmt(Math.min(...wv))}-${fmt(Math.max(...wv))}]`);
    console.log(`${'  of it, apply(validated Services)'.padEnd(34)} wall ${fmt(med.applyValidated).padStart(9)} [${fmt(Math.min(...wa))}-${fmt(Math.max(...wa))}]`);
  }
  // After endpoints were removed from D services (each drains: weight 0), the next apply reads
  // those services back (their connection counts decide the deletion) and deletes the idle ones:
  // one change plus D DEL_DESTs and the read. D = 7.
  {
    const D = 7;
    const w = [];
    for (let r = 0; r < REPS; r++) {
      const base = Math.floor(N / 16) + r * D;
      const st = changedTree(Math.floor(N / 8) + 2 * REPS + r, 9).services;
      for (let k = 0; k < D; k++) st[base + k] = { ...st[base + k], endpoints: st[base + k].endpoints.slice(1) };
      await lb.apply({ services: st }); // (untimed: the removals drain)
      const next = changedTree(Math.floor(N / 8) + 3 * REPS + r, 9).services;
      for (let k = 0; k < D; k++) next[base + k] = st[base + k];
      const m = await measure(async () => {
        const s = await lb.apply({ services: next });
        if (s.operations !== D + 1) throw new Error(`${s.operations} operations after ${D} drains (want ${D} deletions and the change)`);
        return s;
      }, `after-drains-${r}`);
      w.push(m.wall);
      // (the drained services go back to their full endpoint list, untimed)
      await lb.apply(changedTree(Math.floor(N / 8) + 3 * REPS + r, 9));
    }
    med.afterDrains = median(w);
    console.log(`${`one change after ${D} drains, apply`.padEnd(34)} wall ${fmt(med.afterDrains).padStart(9)} [${fmt(Math.min(...w))}-${fmt(Math.max(...w))}]`);
  }
  await reps('weight changed, update()', (r) => svc(N / 2 + r, 7), (s) => lb.update({ upsert: [s] }));
  await reps('endpoint added, update()', (r) => svc(N / 4 + r, 1, 1), (s) => lb.update({ upsert: [s] }));
  await lb.close();
}

{
  const be = new IpvsBackend(await Ipvs.open({ netns: names[3] }));
  const st = validateState({ services: specs() }, 'ipvs');
  const full = await measure(async () => be.apply(st, await be.read({ forApply: true }), { dryRun: false }));
  line(`backend full apply (${full.r.operations} ops)`, full);
  med.readOnce = readOnce;
  await reps('backend same state again', () => st, async (s) => be.apply(s, await be.read({ forApply: true }), { dryRun: false }));
  let cur = st;
  const changed = (r, w) => {
    const i = N / 3 + r;
    const after = validateState({ services: [svc(i, w)] }, 'ipvs').services[0];
    const services = cur.services.slice();
    const before = services[i];
    services[i] = after;
    cur = { services };
    return { before, after, desired: cur };
  };
  await reps('backend weight changed, apply', (r) => changed(r, 20 + r), async (c) => be.apply(c.desired, await be.read({ forApply: true }), { dryRun: false }));
  await reps('backend weight changed, applyChanges', (r) => changed(r, 40 + r), (c) => be.applyChanges([{ name: c.after.name, before: c.before, after: c.after }], c.desired, { dryRun: false }));
  await be.close();
}

if (!args.includes('--no-reference')) {
  const ref = await measure(() => sh('ip', ['netns', 'exec', names[2], 'ipvsadm', '-R'], refInput));
  line('ipvsadm -R of the same services', ref);
  console.log('(ipvsadm -R: cpu is this process only, not the child: compare its wall time)');
  med.ref = ref.wall;
}
const bound = med['SET_DEST alone (Ipvs.batch)'];
const row = (what, fig, target, b) => console.log(`${what.padEnd(34)} ${fig.padStart(10)}   target ${target.padEnd(12)} bound ${b}`);
console.log('\ntargets (#17), medians of this boot:');
if (med.ref) row('full apply vs ipvsadm -R', `${(med.ref / med.full).toFixed(1)}x`, '>= 10x', `Ipvs.batch alone ${(med.ref / med.batch).toFixed(1)}x`);
row('same state again, apply(state)', fmt(med['same state again, apply(state)']), '<= 20 ms', `read-once ${fmt(med.readOnce)}; backend alone ${fmt(med['backend same state again'])}`);
for (const k of ['weight changed, update()', 'endpoint added, update()'])
  row(k, fmt(med[k]), '<= 10 ms', `SET_DEST alone ${fmt(bound)}; backend alone ${fmt(med['backend weight changed, applyChanges'])}`);
row('weight changed, apply(state)', fmt(med['weight changed, apply(state)']), '<= 20 ms', `SET_DEST alone ${fmt(bound)}, read-once ${fmt(med.readOnce)}; backend alone ${fmt(med['backend weight changed, apply'])}`);
const oneBound = med.readOnce + bound;
console.log(`${''.padEnd(34)} ${''.padStart(10)}   or 1.2x the bound: ${fmt(1.2 * oneBound)} (read-once + SET_DEST alone ${fmt(oneBound)})`);
console.log(`${''.padEnd(34)} ${''.padStart(10)}   beyond the no-op: ${fmt(med['weight changed, apply(state)'] - med['same state again, apply(state)'])}; split: validate ${fmt(med.validateOne)} + apply(validated) ${fmt(med.applyValidated)}`);
for (const n of names) sh('ip', ['netns', 'del', n]);
