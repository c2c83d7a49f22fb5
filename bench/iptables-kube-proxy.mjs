// kube-proxy's iptables layout, N services x 10 endpoints, each run in a fresh namespace:
//   commit: kernlb (parse + encode + one IPT_SO_SET_REPLACE) vs iptables-legacy-restore of the same text
//   read:   kernlb read() (decode to the typed model) vs iptables-legacy-save
// Run (root): npm run build:ts && node bench/iptables-kube-proxy.mjs [N ...]   (default 1000 10000)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { writeFileSync, rmSync } from 'node:fs';
import { kubeProxyLayout } from './iptables-layout.mjs';

const require = createRequire(import.meta.url);
const { Iptables, parseIptablesSave } = require('../dist/index.js');

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs a shell command in a namespace; returns wall ms and the children's user/sys seconds (bash `times`). */
function timed(ns, cmd) {
  const t0 = process.hrtime.bigint();
  const out = execFileSync('bash', ['-c', `ip netns exec ${ns} bash -c '${cmd}' ; times`], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = ms(t0);
  const lines = out.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1]);
  return { wall, user: Number(m[1]) * 60 + Number(m[2]), sys: Number(m[3]) * 60 + Number(m[4]) };
}

const saveHash = (ns) =>
  createHash('sha256').update(execFileSync('ip', ['netns', 'exec', ns, 'iptables-legacy-save', '-t', 'nat'], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n').filter((l) => !l.startsWith('#')).join('\n')).digest('hex');

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const REPS = Number(process.env.REPS ?? 3);
const best = (xs, k) => xs.reduce((m, x) => (x[k] < m[k] ? x : m));
const rows = [];

// Warm the JIT once (a long-lived controller is warm): a small table through parse, commit and read.
{
  const w = `klbench-w-${process.pid}`;
  execFileSync('ip', ['netns', 'add', w]);
  try {
    const ipt = await Iptables.open({ netns: w });
    for (let i = 0; i < 3; i++) {
      await ipt.commit(parseIptablesSave(kubeProxyLayout(300, 10))[0]);
      await ipt.read('nat');
    }
    await ipt.close();
  } finally {
    execFileSync('ip', ['netns', 'del', w]);
  }
}

for (const n of sizes.length ? sizes : [1000, 10000]) {
  const text = kubeProxyLayout(n, 10);
  const file = `/tmp/kernlb-bench-${process.pid}.txt`;
  writeFileSync(file, text);
  const tools = [], commits = [], saves = [], reads = [];
  let parseMs = 0, rules = 0;
  for (let rep = 0; rep < REPS; rep++) {
    const a = `klbench-a-${process.pid}`, b = `klbench-b-${process.pid}`;
    execFileSync('ip', ['netns', 'add', a]);
    execFileSync('ip', ['netns', 'add', b]);
    try {
      // iptables-legacy-restore, whole file (nat table): wall and the process's CPU (user + sys).
      const tool = timed(a, `iptables-legacy-restore < ${file}`);
      tools.push({ ...tool, cpu: tool.user + tool.sys });

      // kernlb from the typed model (what a controller holds): validate + encode + one replace.
      const ipt = await Iptables.open({ netns: b });
      let t0 = process.hrtime.bigint();
      const [table] = parseIptablesSave(text);
      parseMs = ms(t0);
      const cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      await ipt.commit(table);
      const wall = ms(t0);
      const cpu = process.cpuUsage(cpu0);
      commits.push({ wall, user: cpu.user / 1e6, sys: cpu.system / 1e6, cpu: (cpu.user + cpu.system) / 1e6 });
      if (rep === 0 && saveHash(a) !== saveHash(b)) throw new Error(`N=${n}: iptables-legacy-save differs between the tool's and kernlb's tables`);

      // Reads: iptables-legacy-save of the table vs kernlb read() into the typed model.
      const st = timed(a, 'iptables-legacy-save -t nat > /dev/null');
      saves.push({ ...st, cpu: st.user + st.sys });
      const rcpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      const back = await ipt.read('nat');
      const rwall = ms(t0);
      const rcpu = process.cpuUsage(rcpu0);
      reads.push({ wall: rwall, sys: rcpu.system / 1e6, cpu: (rcpu.user + rcpu.system) / 1e6 });
      rules = back.chains.reduce((s, c) => s + c.rules.length, 0);
      await ipt.close();
    } finally {
      execFileSync('ip', ['netns', 'del', a]);
      execFileSync('ip', ['netns', 'del', b]);
    }
  }
  rmSync(file, { force: true });
  const T = best(tools, 'wall'), C = best(commits, 'wall'), S = best(saves, 'wall'), R = best(reads, 'wall');
  // CPU columns come from the best-by-CPU run of each (independent of the wall-clock pick).
  const Tc = best(tools, 'cpu'), Cc = best(commits, 'cpu'), Sc = best(saves, 'cpu'), Rc = best(reads, 'cpu');
  rows.push({
    N: n, rules,
    'restore ms': Math.round(T.wall), 'restore cpu s': T.cpu.toFixed(2), 'restore sys s': T.sys.toFixed(2),
    'commit ms': Math.round(C.wall), 'commit cpu s': C.cpu.toFixed(2), 'commit sys s': C.sys.toFixed(2),
    'commit/restore': (C.wall / T.wall).toFixed(2), 'commit/kernel': (C.wall / 1000 / C.sys).toFixed(2),
    // The same ratios in CPU time (user + sys of the process): what a loaded box distorts least.
    'cpu commit/restore': (Cc.cpu / Tc.cpu).toFixed(2), 'cpu commit/kernel': (Cc.cpu / Cc.sys).toFixed(2),
    'parse ms': Math.round(parseMs),
    'save ms': Math.round(S.wall), 'read ms': Math.round(R.wall), 'read/save': (R.wall / S.wall).toFixed(2),
    'save cpu s': Sc.cpu.toFixed(2), 'read cpu s': Rc.cpu.toFixed(2), 'cpu read/save': (Rc.cpu / Sc.cpu).toFixed(2),
  });
}
console.log(`best of ${REPS} runs each; load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`);
// Transposed (one column per N): the rows are too wide for a terminal.
console.table(Object.fromEntries(Object.keys(rows[0]).map((k) => [k, Object.fromEntries(rows.map((r) => [`N=${r.N}`, r[k]]))])));
