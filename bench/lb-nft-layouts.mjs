// nftables mode: candidate layouts for 10k services x 10 endpoints, loaded into a fresh namespace by
// kernlb's own Nftables transaction (batch order and set references varied) and by `nft -f`, then the
// kernel-side cost of single changes on the loaded table. Run against dist/:
//   node bench/lb-nft-layouts.mjs [--n 10000] [--endpoints 10] [--layouts slotmap-grouped-name,...,shard-grouped-name] [--no-nft]
// shard-grouped-name is the layout the mode uses: slot maps shared by the services of one shard
// (FNV-1a of the name mod 1024), key `numgen . ip daddr . tcp dport`.
// Results are recorded in lib/lb/modes/nftables/README.md.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Nftables, nftStatements: st } = require('../dist/index.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1] : d);
const N = Number(opt('n', 10000));
const E = Number(opt('endpoints', 10));
const layouts = opt('layouts', 'slotmap-grouped-name,slotmap-grouped-id,slotmap-interleaved-name,slotmap-interleaved-id').split(',');
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
function base(tx) {
  tx.addTable({ family: 'inet', name: 'kernlb' });
  for (const chain of ['prerouting', 'output']) tx.addChain({ ...T, name: chain, base: { type: 'nat', hook: chain, priority: -100, policy: 'accept' } });
}
function dispatch(tx) {
  tx.addSet({ ...T, name: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
    elements: Array.from({ length: N }, (_, i) => ({ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-s${i}` } })) });
  for (const chain of ['prerouting', 'output']) tx.addRule({ ...T, chain, exprs: [st.match('meta nfproto', 'ipv4'), st.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'svc4')] });
}

// Sharded slot maps (compile.ts): ep-tcp4-K holds `slot . VIP . port : endpoint . port` of every service in shard K.
const SHARDS = 1024;
const fnv = (s) => { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0; return h; };
const shardOf = (i) => fnv(`s${i}`) % SHARDS;
const shardKey = (e = E) => [{ numgen: { mod: e, type: 'inc' } }, 'ip daddr', 'tcp dport'];
const shardTypeof = { key: shardKey(1024), data: ['ip daddr', 'tcp dport'] };
const shardElements = (i, e = E) => Array.from({ length: e }, (_, j) => ({ key: [j, vip(i), 80], data: [ep(i, j), 8000 + j], counter: { packets: 0, bytes: 0 }, ...(j === 0 ? { comment: 'w1' } : {}) }));
function shardMaps(n = N) {
  const byShard = new Map();
  for (let i = 0; i < n; i++) { const k = shardOf(i); if (!byShard.has(k)) byShard.set(k, []); byShard.get(k).push(i); }
  return [...byShard].map(([k, ids]) => ({ ...T, name: `ep-tcp4-${k}`, typeof: shardTypeof, exprs: [{ type: 'counter', packets: 0, bytes: 0 }], elements: ids.flatMap((i) => shardElements(i)) }));
}
function shardRule(i, e = E) {
  return { ...T, chain: `svc-s${i}`, comment: `service s${i} rr`, exprs: [st.match('meta l4proto', 'tcp'), st.dnatMap(shardKey(e), `ep-tcp4-${shardOf(i)}`, { family: 'ip', port: true })] };
}

function build(tx, layout) {
  const [kind, order, ref] = layout.split('-');
  base(tx);
  if (kind === 'shard') {
    for (const m of shardMaps()) tx.addSet(m);
    for (let i = 0; i < N; i++) tx.addChain({ ...T, name: `svc-s${i}` });
    dispatch(tx);
    for (let i = 0; i < N; i++) tx.addRule(shardRule(i));
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
  const out = ['add table inet kernlb', 'add chain inet kernlb prerouting { type nat hook prerouting priority -100; policy accept; }', 'add chain inet kernlb output { type nat hook output priority -100; policy accept; }'];
  const map = (i) => `add map inet kernlb ep-s${i} { typeof numgen inc mod ${E} : ip daddr . tcp dport; counter; elements = { ${Array.from({ length: E }, (_, j) => `${j} : ${ep(i, j)} . ${8000 + j}`).join(', ')} } }`;
  const chain = (i) => `add chain inet kernlb svc-s${i}`;
  const rule = (i) => `add rule inet kernlb svc-s${i} meta l4proto tcp dnat ip addr . port to numgen inc mod ${E} map @ep-s${i} comment "service s${i} rr"`;
  const disp = [`add map inet kernlb svc4 { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${Array.from({ length: N }, (_, i) => `${vip(i)} . tcp . 80 : goto svc-s${i}`).join(', ')} } }`,
    'add rule inet kernlb prerouting ip daddr . meta l4proto . th dport vmap @svc4', 'add rule inet kernlb output ip daddr . meta l4proto . th dport vmap @svc4'];
  if (order === 'shard') {
    for (const m of shardMaps()) out.push(`add map inet kernlb ${m.name} { typeof numgen inc mod 1024 . ip daddr . tcp dport : ip daddr . tcp dport; counter; elements = { ${m.elements.map((e) => `${e.key.join(' . ')} : ${e.data.join(' . ')}`).join(', ')} } }`);
    for (let i = 0; i < N; i++) out.push(chain(i));
    out.push(...disp);
    for (let i = 0; i < N; i++) out.push(`add rule inet kernlb svc-s${i} meta l4proto tcp dnat ip to numgen inc mod ${E} . ip daddr . tcp dport map @ep-tcp4-${shardOf(i)} comment "service s${i} rr"`);
  } else if (order === 'grouped') {
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

async function changes(nft, layout) {
  const k = Math.floor(N / 2);
  if (layout.startsWith('shard')) return shardChanges(nft, k);
  const ref = { ...T, set: `ep-s${k}`, typeof: epMap(k).typeof };
  const time = async (f) => { const r = []; for (let x = 0; x < 5; x++) { const tx = nft.transaction(); f(tx, x); const t = process.hrtime.bigint(); await tx.commit(); r.push(ms(t)); } r.sort((a, b) => a - b); return r[2]; };
  return {
    'element replaced': await time((tx, x) => tx.replaceElements(ref, [{ key: 1, data: [x % 2 ? ep(k, 1) : '10.250.0.1', 8001], counter: { packets: 0, bytes: 0 } }])),
    'rule replaced (flush + add)': await time((tx, x) => { tx.flushChain({ ...T, name: `svc-s${k}` }); tx.addRule(svcRule(k, x % 2 ? E : E - 1)); }),
    'counter rule added': await time((tx) => tx.addRule({ ...T, chain: `svc-s${k + 1}`, exprs: [st.counter()] })),
    'service added (map, chain, rule, goto element)': await time((tx, x) => {
      const i = N + x;
      tx.addSet(epMap(i)); tx.addChain({ ...T, name: `svc-s${i}` }); tx.addRule(svcRule(i));
      tx.addElements({ ...T, set: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' }, [{ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-s${i}` } }]);
    }),
  };
}

async function shardChanges(nft, k) {
  const ref = (i) => ({ ...T, set: `ep-tcp4-${shardOf(i)}`, typeof: shardTypeof });
  // (a new service whose shard map exists: at 10k services every shard has some)
  const used = new Set(Array.from({ length: N }, (_, i) => shardOf(i)));
  let next = N;
  const fresh = () => { while (!used.has(shardOf(next))) next++; return next++; };
  const time = async (f) => { const r = []; for (let x = 0; x < 5; x++) { const tx = nft.transaction(); f(tx, x); const t = process.hrtime.bigint(); await tx.commit(); r.push(ms(t)); } r.sort((a, b) => a - b); return r[2]; };
  return {
    'element replaced': await time((tx, x) => tx.replaceElements(ref(k), [{ key: [1, vip(k), 80], data: [x % 2 ? ep(k, 1) : '10.250.0.1', 8001], counter: { packets: 0, bytes: 0 } }])),
    'rule replaced (flush + add)': await time((tx, x) => { tx.flushChain({ ...T, name: `svc-s${k}` }); tx.addRule(shardRule(k, x % 2 ? E : E - 1)); }),
    'counter rule added': await time((tx) => tx.addRule({ ...T, chain: `svc-s${k + 1}`, exprs: [st.counter()] })),
    'service added (elements, chain, rule, goto element)': await time((tx) => {
      const i = fresh();
      tx.addElements(ref(i), shardElements(i)); tx.addChain({ ...T, name: `svc-s${i}` }); tx.addRule(shardRule(i));
      tx.addElements({ ...T, set: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' }, [{ key: [vip(i), 'tcp', 80], verdict: { verdict: 'goto', chain: `svc-s${i}` } }]);
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
    console.log(`${layout.padEnd(26)} kernlb full ${(full / 1000).toFixed(2)} s (${tx.size} items); single changes (median of 5, commit only): ${Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join('; ')}`);
  } finally {
    ns.del();
  }
}
if (!args.includes('--no-nft')) for (const order of layouts.some((l) => l.startsWith('shard')) ? ['grouped', 'shard'] : ['grouped', 'interleaved']) {
  const ns = netns();
  try {
    const s = script(order);
    const t = process.hrtime.bigint();
    sh('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], s);
    console.log(`nft -f slotmap-${order}: ${(ms(t) / 1000).toFixed(2)} s`);
  } finally {
    ns.del();
  }
}
