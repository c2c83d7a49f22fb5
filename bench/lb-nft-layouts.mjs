// nftables mode: candidate layouts for 10k services x 10 endpoints, loaded into a fresh namespace by
// kernlb's own Nftables transaction (batch order and set references varied) and by `nft -f`, then the
// kernel-side cost of single changes on the loaded table. Run against dist/:
//   node bench/lb-nft-layouts.mjs [--n 10000] [--endpoints 10] [--layouts slotmap-grouped-name,sharded-grouped-name,...]
//        [--shard 10] [--nft grouped,sharded,shared | --no-nft]
// Each figure is the whole commit() and, in parentheses, the kernel's share of it (Transaction.kernelMs:
// the batch's sendmsg to its last ack).
// Layouts: slotmap = one named map ep-NAME per service (the mode before its shards); shared = one map per family
// and protocol keyed `ip daddr . tcp dport . numgen inc mod R` (VIP . port . slot), each service's
// rule picking its slot with its own numgen (so rr stays exact per service) from the shared map:
// 10k named sets become one, which is what the kernel spends its time on (its set lookup by name is a
// walk of the table's set list: quadratic over a batch that creates and names 10k sets).
// Results are recorded in lib/lb/modes/nftables/README.md.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Nftables, nftStatements: st } = require('../dist/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const layouts = opt('layouts', 'slotmap-grouped-name,sharded-grouped-name,shared-grouped-name').split(',');
const T = { family: 'inet', table: 'kernlb' };

const sh = (cmd, argv, input) => execFileSync(cmd, argv, { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'inherit'] });
let nsCount = 0;
function netns() {
  const name = `klnft-${process.pid}-${nsCount++}`;
  sh('ip', ['netns', 'add', name]);
  return { name, del: () => sh('ip', ['netns', 'del', name]) };
}
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const vip = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const ep = (i, j) => `10.${200 + (j >> 4)}.${(i >> 8) & 255}.${((i & 255) ^ j) || 1}`;

function epMap(i, e = E, id) {
  return {
    ...T, name: `ep-s${i}`, ...(id !== undefined ? { id } : {}),
    typeof: { key: { numgen: { mod: e, type: 'inc' } }, data: ['ip daddr', 'th dport'] },
    exprs: [{ type: 'counter', packets: 0, bytes: 0 }],
    elements: Array.from({ length: e }, (_, j) => ({ key: j, data: [ep(i, j), 8000 + j], counter: { packets: 0, bytes: 0 }, ...(j === 0 ? { comment: `ep ${ep(i, j)}:${8000 + j} w1` } : {}) })),
  };
}
function svcRule(i, e = E, setId) {
  return { ...T, chain: `svc-s${i}`, comment: `service s${i} rr`, exprs: [st.dnatMap({ numgen: { mod: e, type: 'inc' } }, `ep-s${i}`, { family: 'ip', port: true, ...(setId !== undefined ? { setId } : {}) })] };
}
// The shared layout: one map for every service's slots (VIP . port . slot -> endpoint); sharded: the
// same keys spread over maps of --shard services each (fewer named sets than slot maps, fewer elements
// per binding than one shared map).
const SHARD = Number(opt('shard', 10));
let sharded = false;
const epSet = (i) => (sharded ? `ep4tcp-${Math.floor((i % N) / SHARD)}` : 'ep4tcp'); // (a service added later joins an existing shard)
const TYPEOF_SHARED = { key: ['ip daddr', 'tcp dport', { numgen: { mod: E, type: 'inc' } }], data: ['ip daddr', 'tcp dport'] };
const sharedRef = (i) => ({ ...T, set: epSet(i), typeof: TYPEOF_SHARED });
const sharedElements = (i, e = E) => Array.from({ length: e }, (_, j) => ({ key: [vip(i), 80, j], data: [ep(i, j), 8000 + j], counter: { packets: 0, bytes: 0 }, ...(j === 0 ? { comment: `ep ${ep(i, j)}:${8000 + j} w1` } : {}) }));
function sharedRule(i, e = E) {
  return { ...T, chain: `svc-s${i}`, comment: `service s${i} rr`, exprs: [...st.match('meta nfproto', 'ipv4'), ...st.match('meta l4proto', 'tcp'), ...st.dnatMap(['ip daddr', 'tcp dport', { numgen: { mod: e, type: 'inc' } }], epSet(i), { family: 'ip', port: true })] };
}

function base(tx) {
  tx.addTable({ family: 'inet', name: 'kernlb' });
  for (const chain of ['prerouting', 'output']) tx.addChain({ ...T, name: chain, base: { type: 'nat', hook: chain, priority: -100, policy: 'accept' } });
}
function dispatch(tx) {
  tx.addSet({ ...T, name: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
    elements: Array.from({ length: N }, (_, i) => ({ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-s${i}` } })) });
  for (const chain of ['prerouting', 'output']) tx.addRule({ ...T, chain, exprs: [st.match('meta nfproto', 'ipv4'), st.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'svc4')] });
}

function build(tx, layout) {
  const [kind, order, ref] = layout.split('-');
  base(tx);
  sharded = kind === 'sharded';
  if (kind === 'shared' || kind === 'sharded') {
    for (let i = 0; i < N; i++) tx.addChain({ ...T, name: `svc-s${i}` });
    dispatch(tx);
    const maps = new Map();
    for (let i = 0; i < N; i++) {
      if (!maps.has(epSet(i))) maps.set(epSet(i), []);
      maps.get(epSet(i)).push(...sharedElements(i));
    }
    for (const [name, elements] of maps) tx.addSet({ ...T, name, typeof: TYPEOF_SHARED, exprs: [{ type: 'counter', packets: 0, bytes: 0 }], elements });
    for (let i = 0; i < N; i++) tx.addRule(sharedRule(i));
    return;
  }
  let id = 1000;
  if (order === 'grouped') {
    const ids = [];
    for (let i = 0; i < N; i++) { ids.push(id); tx.addSet(epMap(i, E, ref === 'id' ? id++ : undefined)); }
    for (let i = 0; i < N; i++) tx.addChain({ ...T, name: `svc-s${i}` });
    dispatch(tx);
    for (let i = 0; i < N; i++) tx.addRule(svcRule(i, E, ref === 'id' ? ids[i] : undefined));
  } else {
    for (let i = 0; i < N; i++) {
      const sid = ref === 'id' ? id++ : undefined;
      tx.addSet(epMap(i, E, sid));
      tx.addChain({ ...T, name: `svc-s${i}` });
      tx.addRule(svcRule(i, E, sid));
    }
    dispatch(tx);
  }
}

function script(order) {
  if (order === 'shared' || order === 'sharded') {
    sharded = order === 'sharded';
    const out = ['add table inet kernlb', 'add chain inet kernlb prerouting { type nat hook prerouting priority -100; policy accept; }', 'add chain inet kernlb output { type nat hook output priority -100; policy accept; }'];
    for (let i = 0; i < N; i++) out.push(`add chain inet kernlb svc-s${i}`);
    out.push(`add map inet kernlb svc4 { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${Array.from({ length: N }, (_, i) => `${vip(i)} . tcp . 80 : goto svc-s${i}`).join(', ')} } }`,
      'add rule inet kernlb prerouting ip daddr . meta l4proto . th dport vmap @svc4', 'add rule inet kernlb output ip daddr . meta l4proto . th dport vmap @svc4');
    const maps = new Map();
    for (let i = 0; i < N; i++) maps.set(epSet(i), [...(maps.get(epSet(i)) ?? []), ...Array.from({ length: E }, (_, j) => `${vip(i)} . 80 . ${j} : ${ep(i, j)} . ${8000 + j}`)]);
    for (const [name, els] of maps) out.push(`add map inet kernlb ${name} { typeof ip daddr . tcp dport . numgen inc mod ${E} : ip daddr . tcp dport; counter; elements = { ${els.join(', ')} } }`);
    for (let i = 0; i < N; i++) out.push(`add rule inet kernlb svc-s${i} meta l4proto tcp dnat ip addr . port to ip daddr . tcp dport . numgen inc mod ${E} map @${epSet(i)} comment "service s${i} rr"`);
    return out.join('\n') + '\n';
  }
  const out = ['add table inet kernlb', 'add chain inet kernlb prerouting { type nat hook prerouting priority -100; policy accept; }', 'add chain inet kernlb output { type nat hook output priority -100; policy accept; }'];
  const map = (i) => `add map inet kernlb ep-s${i} { typeof numgen inc mod ${E} : ip daddr . tcp dport; counter; elements = { ${Array.from({ length: E }, (_, j) => `${j} : ${ep(i, j)} . ${8000 + j}`).join(', ')} } }`;
  const chain = (i) => `add chain inet kernlb svc-s${i}`;
  const rule = (i) => `add rule inet kernlb svc-s${i} meta l4proto tcp dnat ip addr . port to numgen inc mod ${E} map @ep-s${i} comment "service s${i} rr"`;
  const disp = [`add map inet kernlb svc4 { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${Array.from({ length: N }, (_, i) => `${vip(i)} . tcp . 80 : goto svc-s${i}`).join(', ')} } }`,
    'add rule inet kernlb prerouting ip daddr . meta l4proto . th dport vmap @svc4', 'add rule inet kernlb output ip daddr . meta l4proto . th dport vmap @svc4'];
  if (order === 'grouped') {
    for (let i = 0; i < N; i++) out.push(map(i));
    for (let i = 0; i < N; i++) out.push(chain(i));
    out.push(...disp);
    for (let i = 0; i < N; i++) out.push(rule(i));
  } else {
    for (let i = 0; i < N; i++) out.push(map(i), chain(i), rule(i));
    out.push(...disp);
  }
  return out.join('\n') + '\n';
}

// Each single change: median of 5 commits, whole commit() and the kernel's share (tx.kernelMs).
async function changes(nft, layout) {
  const k = Math.floor(N / 2);
  const shared = layout.startsWith('shared') || layout.startsWith('sharded');
  const ref = shared ? sharedRef(k) : { ...T, set: `ep-s${k}`, typeof: epMap(k).typeof };
  const time = async (f) => {
    const r = [], kr = [];
    for (let x = 0; x < 5; x++) { const tx = nft.transaction(); f(tx, x); const t = process.hrtime.bigint(); await tx.commit(); r.push(ms(t)); kr.push(tx.kernelMs); }
    const m = (a) => a.sort((p, q) => p - q)[2];
    return `${m(r).toFixed(2)} ms (kernel ${m(kr).toFixed(2)})`;
  };
  const goto = (i) => tx => tx.addElements({ ...T, set: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' }, [{ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-s${i}` } }]);
  return {
    'element replaced': await time((tx, x) => tx.replaceElements(ref, [{ key: shared ? [vip(k), 80, 1] : 1, data: [x % 2 ? ep(k, 1) : '10.250.0.1', 8001], counter: { packets: 0, bytes: 0 } }])),
    // R changes: slot maps recreate the service's map and rule; the shared map takes the new slot and the rule is replaced
    'R changed (endpoint added)': await time((tx, x) => {
      const e = x % 2 ? E : E + 1;
      tx.flushChain({ ...T, name: `svc-s${k}` });
      if (shared) {
        if (e > E) tx.addElements(ref, [sharedElements(k, e)[E]]);
        else tx.deleteElements(ref, [{ key: [vip(k), 80, E] }]);
        tx.addRule(sharedRule(k, e));
      } else {
        tx.deleteSet({ ...T, name: `ep-s${k}` });
        tx.addSet(epMap(k, e));
        tx.addRule(svcRule(k, e));
      }
    }),
    'service added (chain, map or elements, rule, goto element)': await time((tx, x) => {
      const i = N + x;
      tx.addChain({ ...T, name: `svc-s${i}` });
      if (shared) { tx.addElements(sharedRef(i), sharedElements(i)); tx.addRule(sharedRule(i)); } else { tx.addSet(epMap(i)); tx.addRule(svcRule(i)); }
      goto(i)(tx);
    }),
  };
}

console.log(`nftables layouts: N=${N} x ${E}; load average ${(await import('node:os')).loadavg()[0].toFixed(2)}`);
for (const layout of layouts) {
  const ns = netns();
  try {
    const nft = await Nftables.open({ netns: ns.name });
    const tx = nft.transaction();
    build(tx, layout);
    const t = process.hrtime.bigint();
    await tx.commit();
    const full = ms(t);
    const c = await changes(nft, layout);
    await nft.close();
    console.log(`${layout.padEnd(26)} kernlb full ${(full / 1000).toFixed(2)} s (kernel ${(tx.kernelMs / 1000).toFixed(2)} s, ${tx.size} items); single changes: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  } finally {
    ns.del();
  }
}
if (!args.includes('--no-nft')) for (const order of opt('nft', 'grouped,sharded').split(',')) {
  const ns = netns();
  try {
    const s = script(order);
    const t = process.hrtime.bigint();
    sh('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], s);
    console.log(`nft -f ${order === 'grouped' ? 'slotmap-grouped' : `${order}-grouped`}: ${(ms(t) / 1000).toFixed(2)} s`);
  } finally {
    ns.del();
  }
}
