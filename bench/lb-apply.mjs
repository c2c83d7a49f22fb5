// Load-balancer apply benchmark, against dist/ (run `npm run build:ts` first):
//   node bench/lb-apply.mjs [--modes nftables,iptables,ipvs] [--n 10000] [--endpoints 10] [--runs 1]
// Per mode, in a fresh network namespace each time: kernlb apply of N services x E endpoints, then a
// one-endpoint change at N, versus the reference tool doing the same work (nft -f, iptables-legacy-restore,
// ipvsadm -R; for the change: nft -f of the changed chain, iptables-legacy-restore --noflush of the
// changed chains, ipvsadm -e). IPVS needs a kernel with IPVS (run this inside scripts/uml-run.sh).
// Measured 2026-11-26, 10k x 10, nftables (kernel 6.18, nft 1.0.6, load average ~1), four runs: full apply
// 2.49-3.04 s vs nft -f 3.72-4.11 s (1.28-1.52x; before its rules were packed without expression objects:
// 3.8-4.6 s, 0.76-1.00x); one-endpoint change 96-128 ms vs 93-124 ms (level); the same state again 28-51 ms.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kl = require('../dist/index.js');
const { LoadBalancer, compileNft, renderNft, compileIptables, renderIptables, compileIpvs, renderIpvsadm, validateState } = kl;

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const modes = opt('modes', existsSync('/proc/net/ip_vs') ? 'ipvs' : 'nftables,iptables').split(',');

function state(n, e, bump = -1) {
  return {
    services: Array.from({ length: n }, (_, i) => ({
      name: `s${i}`,
      vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      port: 80,
      scheduler: modes.length && currentMode === 'iptables' ? 'random' : 'wrr',
      endpoints: Array.from({ length: e }, (_, j) => ({ address: `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`.replace(/\.0$/, '.1'), port: 8000 + j, weight: i === bump && j === 0 ? 7 : 1 })),
    })),
  };
}
let currentMode = '';

const sh = (cmd, argv, input) => execFileSync(cmd, argv, { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'inherit'] });
let nsCount = 0;
function netns() {
  const name = `klbench-${process.pid}-${nsCount++}`;
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return { name, del: () => sh('ip', ['netns', 'del', name]) };
}
function timed(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}
async function timedAsync(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function kernlbRun(mode) {
  const ns = netns();
  try {
    const lb = await LoadBalancer.open({ mode, netns: ns.name, removeOtherModes: false });
    // Inputs are built before the clock starts (a fresh object tree each time, as a controller would
    // hand over): building 10k x 10 objects in the benchmark is not kernlb's cost.
    const first = state(N, E);
    const [full, s1] = await timedAsync(() => lb.apply(first));
    // No-op and one-endpoint change: median of 3 (the change flips one endpoint's weight back and forth).
    const agains = [];
    for (let i = 0; i < 3; i++) {
      const input = state(N, E);
      agains.push((await timedAsync(() => lb.apply(input)))[0]);
    }
    const changes = [];
    let s2;
    for (let i = 0; i < 3; i++) {
      const input = state(N, E, i % 2 === 0 ? Math.floor(N / 2) : -1);
      const [t, s] = await timedAsync(() => lb.apply(input));
      if (s.lines.length !== 1) throw new Error(`expected one change, got ${s.lines.length}`);
      changes.push(t);
      s2 ??= s;
    }
    const median = (a) => [...a].sort((x, y) => x - y)[1];
    const again = median(agains);
    const change = median(changes);
    await lb.close();
    return { full, again, change, ops: s1.operations, changeOps: s2.operations };
  } finally {
    ns.del();
  }
}

function referenceRun(mode) {
  const ns = netns();
  const ex = (cmd, argv, input) => sh('ip', ['netns', 'exec', ns.name, cmd, ...argv], input);
  try {
    const st = validateState(state(N, E), mode);
    const st2 = validateState(state(N, E, Math.floor(N / 2)), mode);
    if (mode === 'nftables') {
      const [full] = timed(() => ex('nft', ['-f', '-'], renderNft(compileNft(st))));
      const c = compileNft(st2).services.find((s) => s.chain === `svc-s${Math.floor(N / 2)}`);
      const body = renderNft({ ...compileNft(st2), services: [c] }).split('\n');
      const rules = body.slice(body.findIndex((l) => l.includes(`chain ${c.chain} {`)) + 1, body.lastIndexOf('\t}')).map((l) => `add rule inet kernlb ${c.chain} ${l.trim()}`);
      const script = `flush chain inet kernlb ${c.chain}\n${rules.join('\n')}\n`;
      const [change] = timed(() => ex('nft', ['-f', '-'], script));
      return { full, change, tool: 'nft -f' };
    }
    if (mode === 'iptables') {
      const p1 = compileIptables(st);
      const [full] = timed(() => ex('iptables-legacy-restore', [], renderIptables(p1.ipv4)));
      const p2 = compileIptables(st2);
      const key = st2.services[Math.floor(N / 2)];
      const names = p2.ipv4.serviceChains.get(`tcp/${key.vip}:${key.port}`);
      const lines = ['*nat', ...names.map((n) => `:${n} - [0:0]`)];
      for (const c of p2.ipv4.chains.filter((c) => names.includes(c.name))) for (const r of c.rules) lines.push(kl.renderIptables({ ...p2.ipv4, hooks: [], chains: [{ ...c, rules: [r] }] }).split('\n').find((l) => l.startsWith('-A')));
      lines.push('COMMIT', '');
      const [change] = timed(() => ex('iptables-legacy-restore', ['--noflush'], lines.join('\n')));
      return { full, change, tool: 'iptables-legacy-restore' };
    }
    const [full] = timed(() => ex('ipvsadm', ['-R'], renderIpvsadm(compileIpvs(st))));
    const s = st2.services[Math.floor(N / 2)];
    const e = s.endpoints.find((x) => x.weight === 7);
    const [change] = timed(() => ex('ipvsadm', ['-e', '-t', `${s.vip}:${s.port}`, '-r', `${e.address}:${e.port}`, '-m', '-w', '7']));
    return { full, change, tool: 'ipvsadm -R / -e' };
  } finally {
    ns.del();
  }
}

console.log(`lb apply benchmark: N=${N} services x ${E} endpoints`);
for (const mode of modes) {
  currentMode = mode;
  const k = await kernlbRun(mode);
  const r = referenceRun(mode);
  console.log(`${mode.padEnd(9)} full apply: kernlb ${fmt(k.full)} (${k.ops} ops) vs ${r.tool} ${fmt(r.full)}  ratio ${(r.full / k.full).toFixed(2)}x`);
  console.log(`${''.padEnd(9)} same state again: kernlb ${fmt(k.again)} (no-op)`);
  console.log(`${''.padEnd(9)} one-endpoint change: kernlb ${fmt(k.change)} (${k.changeOps} ops) vs ${r.tool} ${fmt(r.change)}  ratio ${(r.change / k.change).toFixed(2)}x`);
}
