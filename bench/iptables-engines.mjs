// The two commit engines against the reference tool, kube-proxy's layout, N services x 10 endpoints,
// each commit into a fresh namespace (and once more over the table it just wrote):
//   direct:  validate + encode + one IPT_SO_SET_REPLACE (+ IPT_SO_SET_ADD_COUNTERS)
//   libiptc: validate + encode + iptc_init, iptc_create_chain/iptc_append_entry per chain/rule, iptc_commit
//   restore: iptables-legacy-restore of the same table's iptables-save text (a process: parse + libiptc)
// and reads of the result: read() with each engine (to the typed model) vs iptables-legacy-save.
// Wall and CPU (user + sys) time, best of REPS (default 3). The model is built with the edit helpers
// (what a controller holds) before any clock starts.
// Run (root): npm run build:ts && node bench/iptables-engines.mjs [N ...]   (default 1000 10000)
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ms, toolShell } from './iptables-layout.mjs';

const require = createRequire(import.meta.url);
const { Iptables, iptEmptyTable, iptablesSave } = require('../dist/index.js');

/**
 * kube-proxy's nat table (the rules bench/iptables-kube-proxy.mjs writes as text), as a typed model.
 * Chains are plain model objects kept in a Map (iptAppendRule looks its chain up by a linear search:
 * fine for a controller's edits, quadratic for building 110k chains).
 */
function kubeProxyTable(n, e) {
  const t = iptEmptyTable('ipv4', 'nat');
  const byName = new Map(t.chains.map((c) => [c.name, c]));
  const chain = (name) => {
    const c = { name, rules: [] };
    t.chains.push(c);
    byName.set(name, c);
  };
  const add = (name, rule) => byName.get(name).rules.push(rule);
  const comment = (c) => ({ type: 'comment', comment: c });
  for (const c of ['KUBE-MARK-MASQ', 'KUBE-POSTROUTING', 'KUBE-SERVICES']) chain(c);
  add('PREROUTING', { matches: [comment('kubernetes service portals')], target: { type: 'jump', chain: 'KUBE-SERVICES' } });
  add('OUTPUT', { matches: [comment('kubernetes service portals')], target: { type: 'jump', chain: 'KUBE-SERVICES' } });
  add('POSTROUTING', { matches: [comment('kubernetes postrouting rules')], target: { type: 'jump', chain: 'KUBE-POSTROUTING' } });
  add('KUBE-MARK-MASQ', { target: { type: 'MARK', op: 'or', value: 0x4000 } });
  add('KUBE-POSTROUTING', { matches: [{ type: 'mark', mark: 0x4000, mask: 0x4000, invert: true }], target: { type: 'RETURN' } });
  add('KUBE-POSTROUTING', { target: { type: 'MARK', op: 'xset', value: 0x4000, mask: 0 } });
  add('KUBE-POSTROUTING', { matches: [comment('kubernetes service traffic requiring SNAT')], target: { type: 'MASQUERADE', fullyRandom: true } });
  for (let s = 0; s < n; s++) {
    const vip = `10.96.${(s >> 8) & 255}.${s & 255}`;
    const svc = `KUBE-SVC-${String(s).padStart(16, '0')}`;
    const name = `ns${s % 7}/svc-${s}:http`;
    chain(svc);
    add('KUBE-SERVICES', { destination: `${vip}/32`, protocol: 'tcp', matches: [comment(`${name} cluster IP`), { type: 'tcp', dport: 80 }], target: { type: 'jump', chain: svc } });
    add(svc, { source: '10.244.0.0/16', destination: `${vip}/32`, protocol: 'tcp', invert: { source: true }, matches: [comment(`${name} cluster IP`), { type: 'tcp', dport: 80 }], target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } });
    for (let i = 0; i < e; i++) {
      const ep = `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`;
      const sep = `KUBE-SEP-${String(s * e + i).padStart(16, '0')}`;
      chain(sep);
      const left = e - i;
      const stat = left > 1 ? [{ type: 'statistic', mode: 'random', probability: 1 / left }] : [];
      add(svc, { matches: [comment(`${name} -> ${ep}:8080`), ...stat], target: { type: 'jump', chain: sep } });
      add(sep, { source: `${ep}/32`, matches: [comment(name)], target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } });
      add(sep, { protocol: 'tcp', matches: [comment(name), { type: 'tcp' }], target: { type: 'DNAT', address: ep, port: 8080 } });
    }
  }
  return t;
}

// Every command goes through this shell, started now while this process is small (see toolShell).
const shell = toolShell();
const netns = (verb, name) => shell.run(`ip netns ${verb} ${name}`);

/** One commit from this process: wall ms and the process's CPU seconds (the worker thread included). */
async function timedCommit(ipt, table) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await ipt.commit(table);
  const wall = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

const saved = `/tmp/kernlb-bench-engines-save-${process.pid}.txt`;
async function saveHash(ns) {
  await shell.run(`nsenter --net=/run/netns/${ns} iptables-legacy-save -t nat > ${saved}`);
  return createHash('sha256').update(readFileSync(saved, 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n')).digest('hex');
}

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const REPS = Number(process.env.REPS ?? 3);
const bestOf = (xs, k) => xs.reduce((m, x) => (x[k] < m[k] ? x : m))[k];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const tag = process.pid;

// Warm the JIT (a long-lived controller is warm): a small table through both engines.
{
  const w = `klbench-w-${tag}`;
  await netns('add', w);
  try {
    const small = kubeProxyTable(300, 10);
    for (const engine of ['direct', 'libiptc']) {
      const ipt = await Iptables.open({ netns: w, engine });
      for (let i = 0; i < 3; i++) await ipt.commit(small);
      await ipt.close();
    }
  } finally {
    await netns('del', w);
  }
}

const rows = [];
const loads = [loadavg()];
for (const n of sizes.length ? sizes : [1000, 10000]) {
  const table = kubeProxyTable(n, 10);
  const rules = table.chains.reduce((s, c) => s + c.rules.length, 0);
  const file = `/tmp/kernlb-bench-engines-${tag}.txt`;
  writeFileSync(file, iptablesSave(table));
  const runs = { direct: [], libiptc: [], restore: [], 'direct again': [], 'libiptc again': [], 'read direct': [], 'read libiptc': [], save: [] };
  for (let rep = 0; rep < REPS; rep++) {
    const names = { direct: `klbench-d-${tag}`, libiptc: `klbench-l-${tag}`, restore: `klbench-r-${tag}` };
    for (const ns of Object.values(names)) await netns('add', ns);
    try {
      runs.restore.push(await shell.timed(names.restore, `iptables-legacy-restore < ${file}`));
      for (const engine of ['direct', 'libiptc']) {
        const ipt = await Iptables.open({ netns: names[engine], engine });
        runs[engine].push(await timedCommit(ipt, table));
        // Over the table it just wrote: libiptc first flushes and deletes every chain it read.
        runs[`${engine} again`].push(await timedCommit(ipt, table));
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        await ipt.read('nat');
        const wall = ms(t0);
        const cpu = process.cpuUsage(cpu0);
        runs[`read ${engine}`].push({ wall, cpu: (cpu.user + cpu.system) / 1e6 });
        await ipt.close();
      }
      runs.save.push(await shell.timed(names.restore, 'iptables-legacy-save -t nat > /dev/null'));
      if (rep === 0) {
        const h = await saveHash(names.restore);
        if ((await saveHash(names.direct)) !== h || (await saveHash(names.libiptc)) !== h) throw new Error(`N=${n}: iptables-legacy-save differs between the engines' and the tool's tables`);
      }
    } finally {
      for (const ns of Object.values(names)) await netns('del', ns);
    }
  }
  rmSync(file, { force: true });
  const row = { N: n, rules };
  for (const [k, xs] of Object.entries(runs)) {
    row[`${k} ms`] = Math.round(bestOf(xs, 'wall'));
    row[`${k} cpu s`] = bestOf(xs, 'cpu').toFixed(2);
  }
  const r = (a, b, k) => (bestOf(runs[a], k) / bestOf(runs[b], k)).toFixed(2);
  Object.assign(row, {
    'libiptc/direct wall': r('libiptc', 'direct', 'wall'), 'libiptc/direct cpu': r('libiptc', 'direct', 'cpu'),
    'direct/restore wall': r('direct', 'restore', 'wall'), 'direct/restore cpu': r('direct', 'restore', 'cpu'),
    'libiptc/restore wall': r('libiptc', 'restore', 'wall'), 'libiptc/restore cpu': r('libiptc', 'restore', 'cpu'),
    'again libiptc/direct wall': r('libiptc again', 'direct again', 'wall'), 'again libiptc/direct cpu': r('libiptc again', 'direct again', 'cpu'),
    'read libiptc/direct wall': r('read libiptc', 'read direct', 'wall'), 'read libiptc/direct cpu': r('read libiptc', 'read direct', 'cpu'),
    'read direct/save cpu': r('read direct', 'save', 'cpu'), 'read libiptc/save cpu': r('read libiptc', 'save', 'cpu'),
  });
  rows.push(row);
  loads.push(loadavg());
}
shell.close();
rmSync(saved, { force: true });
console.log(`best of ${REPS} runs each; load average (1/5/15 min) at start and after each N: ${loads.join(' | ')}`);
console.table(Object.fromEntries(Object.keys(rows[0]).map((k) => [k, Object.fromEntries(rows.map((r) => [`N=${r.N}`, r[k]]))])));
