// kube-proxy's iptables layout, N services x 10 endpoints, each run in a fresh namespace:
//   commit:   kernlb (validate + encode + one IPT_SO_SET_REPLACE) of a freshly parsed model vs
//             iptables-legacy-restore of the same text, and vs the kernel's own time for the replace
//             (the SET_REPLACE syscall itself, timed in native code: CommitResult.kernelMs)
//   recommit: the same table object committed again after 1% of its rules changed in place (a
//             controller's sync loop), plain and with expectUnchanged (whose check reads the table);
//             and with frozen rules (iptFreezeRules), where a change replaces rule objects and a
//             commit copies unchanged chains and rules from the blob it committed last; and that
//             with expectUnchanged and counters carried over at the swap (lb's iptables mode)
//   read:     kernlb read() (decode to the typed model) vs iptables-legacy-save
// Run (root): npm run build:ts && node bench/iptables-kube-proxy.mjs [N ...]   (default 1000 10000)
// Measured 2026-11-26 (after the one-pass encoder), best of 3, load average 1.1-2.0 on 2 cores (kernel 6.18, iptables 1.8.9), two runs:
//   N    rules  commit vs restore           commit / kernel  1% recommit / kernel: plain, eU, frozen, frozen eU+carry  read vs save (wall, CPU)
//   1k   32k    100-139 vs 257-262 ms (0.38-0.54)  1.49-1.73  1.68-1.71, 1.68-2.14, 1.15, 1.65-1.84                   68-81 vs 94-112 ms: 0.72-0.73, 0.73-0.74
//   10k  320k   1.40-1.52 vs 5.80-6.56 s (0.21-0.26)  1.51-1.56  1.41-1.48, 1.57-1.78, 1.13-1.14, 1.80-1.87          843-875 vs 1166-1205 ms: 0.70-0.75, 0.79-0.83
// (The kernel's time for the same table varies by +-30% between runs: compare ratios of one run, and several runs.)
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { kubeProxyLayout, ms, toolShell } from './iptables-layout.mjs';

const require = createRequire(import.meta.url);
const { Iptables, parseIptablesSave, iptablesSave, iptFreezeRules, iptFreezeRule } = require('../dist/index.js');


// Every command goes through this shell, started now while this process is small (see toolShell).
const shell = toolShell();
const saved = `/tmp/kernlb-bench-save-${process.pid}.txt`;
const toolSave = async (ns) => {
  await shell.run(`nsenter --net=/run/netns/${ns} iptables-legacy-save -t nat > ${saved}`);
  return readFileSync(saved, 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
};
const saveHash = async (ns) => createHash('sha256').update(await toolSave(ns)).digest('hex');
const netns = (verb, name) => shell.run(`ip netns ${verb} ${name}`);

/** Changes 1% of the rules in place: every 32nd DNAT endpoint (1% of all rules) moves to another port (and back on the next call). */
function changeOnePercent(table, round) {
  let i = 0, changed = 0;
  for (const c of table.chains) for (const r of c.rules) {
    if (r.target?.type !== 'DNAT') continue;
    if (i++ % 32 === round % 32) {
      r.target.port = r.target.port === 8080 ? 8081 : 8080;
      changed++;
    }
  }
  return changed;
}
/** changeOnePercent for frozen rules: the changed DNAT rules are replaced by frozen copies. */
function changeOnePercentFrozen(table, round) {
  let i = 0;
  for (const c of table.chains) {
    const rules = c.rules;
    for (let k = 0; k < rules.length; k++) {
      const r = rules[k];
      if (r.target?.type !== 'DNAT') continue;
      if (i++ % 32 === round % 32) rules[k] = iptFreezeRule({ ...r, target: { ...r.target, port: r.target.port === 8080 ? 8081 : 8080 } });
    }
  }
}
const cpuOf = (c0) => {
  const c = process.cpuUsage(c0);
  return { user: c.user / 1e6, sys: c.system / 1e6, cpu: (c.user + c.system) / 1e6 };
};

function frozenColumns(frozen, f2) {
  const F = best(frozen, 'wall'), Fc = best(frozen, 'cpu');
  // Per run its own ratio: the kernel's time for the same table varies by +-30% between runs.
  const ratios = frozen.map((x) => x.wall / x.kernel).sort((a, b) => a - b);
  return {
    'frozen recommit ms': Math.round(F.wall), 'frozen recommit kernel ms': Math.round(F.kernel), 'frozen recommit/kernel': f2(F.wall / F.kernel),
    'frozen recommit/kernel (median run)': f2(ratios[ratios.length >> 1]), 'cpu frozen recommit/kernel': f2((Fc.cpu * 1000) / Fc.kernel),
  };
}
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const REPS = Number(process.env.REPS ?? 3);
const best = (xs, k) => xs.reduce((m, x) => (x[k] < m[k] ? x : m));
const rows = [];

// Warm the JIT once (a long-lived controller is warm): a small table through parse, commit and read.
{
  const w = `klbench-w-${process.pid}`;
  await netns('add', w);
  try {
    const ipt = await Iptables.open({ netns: w });
    for (let i = 0; i < 3; i++) {
      await ipt.commit(parseIptablesSave(kubeProxyLayout(300, 10))[0]);
      await ipt.read('nat');
    }
    await ipt.close();
  } finally {
    await netns('del', w);
  }
}

for (const n of sizes.length ? sizes : [1000, 10000]) {
  const text = kubeProxyLayout(n, 10);
  const file = `/tmp/kernlb-bench-${process.pid}.txt`;
  writeFileSync(file, text);
  const tools = [], commits = [], saves = [], reads = [], recommits = [], casCommits = [], frozen = [], frozenCas = [];
  let parseMs = 0, rules = 0, changed = 0;
  for (let rep = 0; rep < REPS; rep++) {
    const a = `klbench-a-${process.pid}`, b = `klbench-b-${process.pid}`;
    await netns('add', a);
    await netns('add', b);
    try {
      // iptables-legacy-restore, whole file (nat table): wall and the process's CPU (user + sys).
      const tool = await shell.timed(a, `iptables-legacy-restore < ${file}`);
      tools.push({ ...tool, cpu: tool.user + tool.sys });

      // kernlb from the typed model (what a controller holds): validate + encode + one replace.
      const ipt = await Iptables.open({ netns: b });
      let t0 = process.hrtime.bigint();
      const [table] = parseIptablesSave(text);
      parseMs = ms(t0);
      let cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      const done = await ipt.commit(table);
      // (Builds before CommitResult resolve to undefined: kernel time NaN there.)
      commits.push({ wall: ms(t0), ...cpuOf(cpu0), kernel: done?.kernelMs ?? NaN });
      if (rep === 0 && (await saveHash(a)) !== (await saveHash(b))) throw new Error(`N=${n}: iptables-legacy-save differs between the tool's and kernlb's tables`);

      // Reads: iptables-legacy-save of the table vs kernlb read() into the typed model.
      const st = await shell.timed(a, 'iptables-legacy-save -t nat > /dev/null');
      saves.push({ ...st, cpu: st.user + st.sys });
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      const back = await ipt.read('nat');
      reads.push({ wall: ms(t0), ...cpuOf(cpu0) });
      rules = back.chains.reduce((s, c) => s + c.rules.length, 0);

      // The sync loop: the same model, 1% of its rules changed in place, committed again.
      changed = changeOnePercent(table, 2 * rep);
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      let again = await ipt.commit(table);
      recommits.push({ wall: ms(t0), ...cpuOf(cpu0), kernel: again?.kernelMs ?? NaN });
      if (rep === 0 && (await toolSave(b)).trimEnd() !== iptablesSave(table).trimEnd()) throw new Error(`N=${n}: the recommitted table differs from the model`);
      changeOnePercent(table, 2 * rep + 1);
      table.readState = again ? { numEntries: again.numEntries, digest: again.digest } : (await ipt.read('nat')).readState;
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      again = await ipt.commit(table, { expectUnchanged: true });
      casCommits.push({ wall: ms(t0), ...cpuOf(cpu0), kernel: again?.kernelMs ?? NaN });

      // The same loop over frozen rules (iptFreezeRules): a change replaces rule objects, and a
      // commit copies the encoded entries of the rules it saw before. The first commit after the
      // freeze fills the cache; the next ones are the steady state.
      const f0 = { done: null };
      if (iptFreezeRules) {
        iptFreezeRules(table);
        // Two untimed commits: the first fills the caches, the second takes the blob that the
        // double buffering (the last commit's blob is kept until the next has copied from it) then
        // hands back and forth; a long-running controller is in that state.
        for (let k = 0; k < 2; k++) {
          changeOnePercentFrozen(table, 5 * rep + k);
          await ipt.commit(table);
        }
        for (let k = 2; k < 5; k++) {
          changeOnePercentFrozen(table, 5 * rep + k);
          cpu0 = process.cpuUsage();
          t0 = process.hrtime.bigint();
          const f = await ipt.commit(table);
          frozen.push({ wall: ms(t0), ...cpuOf(cpu0), kernel: f.kernelMs });
          f0.done = f;
        }
        if (rep === 0 && (await toolSave(b)).trimEnd() !== iptablesSave(table).trimEnd()) throw new Error(`N=${n}: the frozen recommit differs from the model`);
        // The same with the compare-and-swap and counters carried over at the swap (what the lb's
        // iptables mode commits): the check reads the whole table, the carry maps old entries.
        let state = f0.done;
        for (let k = 5; k < 8; k++) {
          changeOnePercentFrozen(table, 5 * rep + k);
          table.readState = { numEntries: state.numEntries, digest: state.digest };
          cpu0 = process.cpuUsage();
          t0 = process.hrtime.bigint();
          state = await ipt.commit(table, { expectUnchanged: true, counters: 'carry' });
          frozenCas.push({ wall: ms(t0), ...cpuOf(cpu0), kernel: state.kernelMs, carried: state.carried });
        }
      }
      await ipt.close();
    } finally {
      await netns('del', a);
      await netns('del', b);
    }
  }
  rmSync(file, { force: true });
  const T = best(tools, 'wall'), C = best(commits, 'wall'), S = best(saves, 'wall'), R = best(reads, 'wall');
  const RC = best(recommits, 'wall'), CAS = best(casCommits, 'wall');
  // CPU columns come from the best-by-CPU run of each (independent of the wall-clock pick).
  const Tc = best(tools, 'cpu'), Cc = best(commits, 'cpu'), Sc = best(saves, 'cpu'), Rc = best(reads, 'cpu'), RCc = best(recommits, 'cpu');
  const f2 = (x) => x.toFixed(2);
  rows.push({
    N: n, rules,
    'restore ms': Math.round(T.wall), 'restore cpu s': f2(T.cpu), 'restore sys s': f2(T.sys),
    'commit ms': Math.round(C.wall), 'commit kernel ms': Math.round(C.kernel), 'commit cpu s': f2(C.cpu), 'commit sys s': f2(C.sys),
    'commit/restore': f2(C.wall / T.wall),
    // The kernel's own time: the SET_REPLACE syscall (native CLOCK_MONOTONIC); the process's sys time
    // (the old denominator) also counts page faults and other work, so it is kept only for reference.
    'commit/kernel': f2(C.wall / C.kernel), 'commit/sys (old)': f2(C.wall / 1000 / C.sys),
    // The same ratios in CPU time (user + sys of the process): what a loaded box distorts least.
    'cpu commit/restore': f2(Cc.cpu / Tc.cpu), 'cpu commit/kernel': f2((Cc.cpu * 1000) / Cc.kernel),
    'parse ms': Math.round(parseMs),
    'save ms': Math.round(S.wall), 'read ms': Math.round(R.wall), 'read/save': f2(R.wall / S.wall),
    'save cpu s': f2(Sc.cpu), 'read cpu s': f2(Rc.cpu), 'cpu read/save': f2(Rc.cpu / Sc.cpu),
    'recommit: rules changed': changed,
    'recommit ms': Math.round(RC.wall), 'recommit kernel ms': Math.round(RC.kernel), 'recommit/kernel': f2(RC.wall / RC.kernel),
    'cpu recommit/kernel': f2((RCc.cpu * 1000) / RCc.kernel),
    'recommit expectUnchanged ms': Math.round(CAS.wall), 'recommit eU/kernel': f2(CAS.wall / CAS.kernel),
    ...(frozen.length ? frozenColumns(frozen, f2) : {}),
    ...(frozenCas.length ? {
      'frozen eU+carry ms': Math.round(best(frozenCas, 'wall').wall), 'frozen eU+carry/kernel': f2(best(frozenCas, 'wall').wall / best(frozenCas, 'wall').kernel),
      'frozen eU+carry entries carried': best(frozenCas, 'wall').carried,
    } : {}),
  });
}
shell.close();
rmSync(saved, { force: true });
console.log(`best of ${REPS} runs each; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
// Transposed (one column per N): the rows are too wide for a terminal.
console.table(Object.fromEntries(Object.keys(rows[0]).map((k) => [k, Object.fromEntries(rows.map((r) => [`N=${r.N}`, r[k]]))])));
