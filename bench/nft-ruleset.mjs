// nftables bulk commit, listing and one-element change: kernlb vs nft 1.0.6, fresh namespace each.
// Run as root after `npm run build:ts`:  node bench/nft-ruleset.mjs [--n 1000,10000] [--layouts kube,concat]
//   [--order kube|early] (kube layout: see `order` below)
// Layouts, N services x 10 endpoints:
//   kube   - kube-proxy's: a service vmap, one chain per service with `numgen random mod 10 vmap {..}`
//            (anonymous map), one chain per endpoint (masquerade mark + dnat);
//   concat - one table, one rule, one map `ip daddr . meta l4proto . th dport . numgen -> ip . port`.
// Each commit is measured as wall time and CPU (user/system) of the committing process: for kernlb our
// own process (the kernel's work happens inside its sendmsg), for nft the child via bash `time`.
import { execFileSync } from 'node:child_process';
import { writeFileSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Nftables, nftStatements: s } = require('../dist/index.js');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const Ns = arg('n', '1000,10000').split(',').map(Number);
const layouts = arg('layouts', 'concat,kube').split(',');
// kube: knftables' order (all chains, then all rules, then the service map's elements).
// early: the same ruleset, each service's chains, anonymous map and vmap rule together, the endpoint
// rules after them. The kernel walks its whole transaction list every time a rule binds an anonymous
// set (__nft_set_trans_bind), so binding while that list is short cuts the kernel's own time; both nft
// and kernlb get this order.
const order = arg('order', 'kube');
const EP = 10;

const ip = (base, k) => `${base}.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
const vip = (i) => ip('172', i + (16 << 16));
const epIp = (k) => ip('10', k);

function nsAdd() {
  const name = `klbench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  execFileSync('ip', ['netns', 'add', name]);
  return name;
}
const nsDel = (n) => execFileSync('ip', ['netns', 'del', n]);

/** Runs argv in the namespace under bash `time`; returns { wall, user, sys } seconds and stdout. */
function timed(ns, argv, input) {
  const file = `/tmp/klbench-${process.pid}.in`;
  if (input !== undefined) writeFileSync(file, input);
  const cmd = `TIMEFORMAT='%R %U %S'; { time ip netns exec ${ns} ${argv.join(' ')}${input !== undefined ? ` < ${file}` : ''} > /tmp/klbench-${process.pid}.out ; } 2>&1`;
  const out = execFileSync('bash', ['-c', cmd], { maxBuffer: 1 << 30 }).toString().trim().split('\n').pop();
  if (input !== undefined) unlinkSync(file);
  const [wall, user, sys] = out.split(' ').map(Number);
  return { wall, user, sys };
}

async function measure(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, user: c.user / 1e6, sys: c.system / 1e6, result: r };
}

// ---- layouts: nft text (flat commands, as kube-proxy's knftables writes them) and kernlb transaction
function kubeText(n) {
  const L = ['add table ip kp', 'add chain ip kp nat-prerouting { type nat hook prerouting priority dstnat; policy accept; }',
    'add chain ip kp services', 'add chain ip kp mark-for-masquerade',
    'add map ip kp service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }'];
  const chains = (i) => {
    L.push(`add chain ip kp svc-${i}`);
    for (let j = 0; j < EP; j++) L.push(`add chain ip kp ep-${i}-${j}`);
  };
  const svcRule = (i) => L.push(`add rule ip kp svc-${i} numgen random mod ${EP} vmap { ${Array.from({ length: EP }, (_, j) => `${j} : goto ep-${i}-${j}`).join(', ')} }`);
  const epRules = (i) => {
    for (let j = 0; j < EP; j++) {
      const e = epIp(i * EP + j);
      L.push(`add rule ip kp ep-${i}-${j} ip saddr ${e} jump mark-for-masquerade`, `add rule ip kp ep-${i}-${j} meta l4proto tcp dnat to ${e}:8080`);
    }
  };
  const fixedRules = () => L.push('add rule ip kp nat-prerouting jump services', 'add rule ip kp services ip daddr . meta l4proto . th dport vmap @service-ips',
    'add rule ip kp mark-for-masquerade meta mark set meta mark or 0x4000');
  if (order === 'early') {
    for (let i = 0; i < n; i++) { chains(i); svcRule(i); }
    fixedRules();
    for (let i = 0; i < n; i++) epRules(i);
  } else {
    for (let i = 0; i < n; i++) chains(i);
    fixedRules();
    for (let i = 0; i < n; i++) { svcRule(i); epRules(i); }
  }
  L.push(`add element ip kp service-ips { ${Array.from({ length: n }, (_, i) => `${vip(i)} . tcp . 80 : goto svc-${i}`).join(', ')} }`);
  return L.join('\n') + '\n';
}
function kubeTx(tx, n) {
  const T = { family: 'ip', table: 'kp' };
  tx.addTable({ family: 'ip', name: 'kp' });
  tx.addChain({ ...T, name: 'nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } });
  tx.addChain({ ...T, name: 'services' });
  tx.addChain({ ...T, name: 'mark-for-masquerade' });
  tx.addSet({ ...T, name: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' });
  const ng = { numgen: { mod: EP } };
  const chains = (i) => {
    tx.addChain({ ...T, name: `svc-${i}` });
    for (let j = 0; j < EP; j++) tx.addChain({ ...T, name: `ep-${i}-${j}` });
  };
  const svcRule = (i) => {
    const m = tx.addAnonymousSet({ ...T, typeof: { key: ng, data: 'verdict' }, elements: Array.from({ length: EP }, (_, j) => ({ key: j, verdict: { verdict: 'goto', chain: `ep-${i}-${j}` } })) });
    tx.addRule({ ...T, chain: `svc-${i}`, exprs: [s.vmap(ng, m.set, { setId: m.setId })] });
  };
  const epRules = (i) => {
    for (let j = 0; j < EP; j++) {
      const e = epIp(i * EP + j);
      tx.addRule({ ...T, chain: `ep-${i}-${j}`, exprs: [s.match('ip saddr', e), s.jump('mark-for-masquerade')] });
      tx.addRule({ ...T, chain: `ep-${i}-${j}`, exprs: [s.match('meta l4proto', 'tcp'), s.dnat({ addr: e, port: 8080 })] });
    }
  };
  const fixedRules = () => {
    tx.addRule({ ...T, chain: 'nat-prerouting', exprs: [s.jump('services')] });
    tx.addRule({ ...T, chain: 'services', exprs: [s.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'service-ips')] });
    tx.addRule({ ...T, chain: 'mark-for-masquerade', exprs: [s.markOr(0x4000)] });
  };
  if (order === 'early') {
    for (let i = 0; i < n; i++) { chains(i); svcRule(i); }
    fixedRules();
    for (let i = 0; i < n; i++) epRules(i);
  } else {
    for (let i = 0; i < n; i++) chains(i);
    fixedRules();
    for (let i = 0; i < n; i++) { svcRule(i); epRules(i); }
  }
  tx.addElements({ ...T, set: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' },
    Array.from({ length: n }, (_, i) => ({ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-${i}` } })));
}
const kubeOne = {
  nft: (n) => ['nft', 'add', 'element', 'ip', 'kp', 'service-ips', `'{ ${vip(n + 1)} . tcp . 80 : goto svc-0 }'`],
  tx: (tx, n) => tx.addElements({ family: 'ip', table: 'kp', set: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' },
    [{ key: [vip(n + 2), 'tcp', 80], verdict: { verdict: 'goto', chain: 'svc-0' } }]),
};

const KEY = ['ip daddr', 'meta l4proto', 'th dport', { numgen: { mod: EP } }];
function concatText(n) {
  const el = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < EP; j++) el.push(`${vip(i)} . tcp . 80 . ${j} : ${epIp(i * EP + j)} . 8080`);
  return ['add table ip lb', 'add chain ip lb pre { type nat hook prerouting priority dstnat; policy accept; }',
    `add map ip lb backends { typeof ip daddr . meta l4proto . th dport . numgen random mod ${EP} : ip daddr . th dport; size ${n * EP * 2}; }`,
    `add element ip lb backends { ${el.join(', ')} }`,
    `add rule ip lb pre meta l4proto tcp dnat to ip daddr . meta l4proto . th dport . numgen random mod ${EP} map @backends`].join('\n') + '\n';
}
const concatRef = { family: 'ip', table: 'lb', set: 'backends', typeof: { key: KEY, data: ['ip daddr', 'th dport'] } };
function concatTx(tx, n) {
  const T = { family: 'ip', table: 'lb' };
  tx.addTable({ family: 'ip', name: 'lb' });
  tx.addChain({ ...T, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } });
  const elements = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < EP; j++) elements.push({ key: [vip(i), 'tcp', 80, j], data: [epIp(i * EP + j), 8080] });
  tx.addSet({ ...T, name: 'backends', typeof: concatRef.typeof, size: n * EP * 2, elements });
  tx.addRule({ ...T, chain: 'pre', exprs: [s.match('meta l4proto', 'tcp'), s.dnatMap(KEY, 'backends', { port: true })] });
}
const concatOne = {
  nft: (n) => ['nft', 'add', 'element', 'ip', 'lb', 'backends', `'{ ${vip(n + 1)} . tcp . 80 . 0 : 10.9.9.9 . 8080 }'`],
  tx: (tx, n) => tx.addElements(concatRef, [{ key: [vip(n + 2), 'tcp', 80, 0], data: ['10.9.9.9', 8080] }]),
};

const LAYOUTS = { kube: { text: kubeText, tx: kubeTx, one: kubeOne }, concat: { text: concatText, tx: concatTx, one: concatOne } };
const f = (x) => x.toFixed(3);
const rows = [];

for (const layout of layouts) {
  for (const n of Ns) {
    const L = LAYOUTS[layout];
    const a = nsAdd(), b = nsAdd();
    try {
      const text = L.text(n);
      const nftCommit = timed(a, ['nft', '-f', '-'], text);
      const nft = await Nftables.open({ netns: b });
      const build = await measure(() => { const tx = nft.transaction(); L.tx(tx, n); return tx; });
      const commit = await measure(() => build.result.commit());
      const same = execFileSync('ip', ['netns', 'exec', a, 'nft', 'list', 'ruleset'], { maxBuffer: 1 << 30 }).equals(
        execFileSync('ip', ['netns', 'exec', b, 'nft', 'list', 'ruleset'], { maxBuffer: 1 << 30 }));
      const nftList = timed(a, ['nft', 'list', 'ruleset']);
      const list = await measure(() => nft.list());
      // one element, 20 times each (nft: process start, parse, cache, commit per change)
      const reps = 20;
      let nftOne = 0;
      for (let r = 0; r < 5; r++) nftOne += timed(a, L.one.nft(n + r)).wall;
      nftOne /= 5;
      const one = await measure(async () => {
        for (let r = 0; r < reps; r++) { const tx = nft.transaction(); L.one.tx(tx, n + 10 + r); await tx.commit(); }
      });
      await nft.close();
      const row = {
        layout: layout === 'kube' && order !== 'kube' ? `kube/${order}` : layout, n, identical: same,
        nft_f: `${f(nftCommit.wall)}s (sys ${f(nftCommit.sys)}s)`,
        kernlb_build: `${f(build.wall)}s`,
        kernlb_commit: `${f(commit.wall)}s (sys ${f(commit.sys)}s)`,
        'commit/nft': f(commit.wall / nftCommit.wall),
        '(build+commit)/nft': f((build.wall + commit.wall) / nftCommit.wall),
        'commit/kernel_sys': f(commit.wall / Math.max(commit.sys, 1e-6)),
        '(build+commit)/kernel_sys': f((build.wall + commit.wall) / Math.max(commit.sys, 1e-6)),
        nft_list: `${f(nftList.wall)}s`, kernlb_list: `${f(list.wall)}s`, 'list/nft': f(list.wall / nftList.wall),
        nft_add_element_ms: (nftOne * 1000).toFixed(1), kernlb_one_element_ms: ((one.wall / reps) * 1000).toFixed(3),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    } finally {
      nsDel(a);
      nsDel(b);
    }
  }
}
console.table(rows);
