// Where a read() and a commit() of kube-proxy's nat table spend their time, phase by phase
// (native table I/O, digest, decode; validate, encode, replace). A development tool for the
// iptables codec: run (root) after npm run build:ts: node bench/iptables-phases.mjs [N] [reps]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { kubeProxyLayout, ms } from './iptables-layout.mjs';

const require = createRequire(import.meta.url);
const { Iptables, parseIptablesSave } = require('../dist/index.js');
const { native } = require('../dist/native.js');
const { decodeTable, encodeTable } = require('../dist/iptables/blob.js');
const { validateTable } = require('../dist/iptables/validate.js');
const { takeArena, takeBlob, releaseBlob } = require('../dist/iptables/arena.js');

const n = Number(process.argv[2] ?? 10000), reps = Number(process.argv[3] ?? 3);
const ns = `klphase-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
try {
  const ipt = await Iptables.open({ netns: ns });
  const [table] = parseIptablesSave(kubeProxyLayout(n, 10));
  await ipt.commit(table);
  for (let rep = 0; rep < reps; rep++) {
    const row = {};
    let t0 = process.hrtime.bigint();
    const scratch = takeArena();
    const raw = await ipt.run({ op: 'x' }, (hh) => native().iptables.getTable(hh, false, 'nat', scratch));
    row.getTable = ms(t0);
    row.getTableKernel = raw.kernelMs;
    const block = raw.block ?? scratch;
    t0 = process.hrtime.bigint();
    const t = decodeTable({ validHooks: raw.validHooks, hookEntry: raw.hookEntry, underflow: raw.underflow, entries: block.subarray(raw.entriesOffset, raw.entriesOffset + raw.size) }, 'ipv4', 'nat');
    row.decode = ms(t0);
    releaseBlob(block);
    t0 = process.hrtime.bigint();
    validateTable(t);
    row.validate = ms(t0);
    t0 = process.hrtime.bigint();
    const enc = encodeTable(t, 0b11011, takeBlob);
    row.encode = ms(t0);
    t0 = process.hrtime.bigint();
    await ipt.run({ op: 'y' }, (hh) => native().iptables.replaceTable(hh, false, 'nat', enc.blob, null, null));
    row.replace = ms(t0);
    releaseBlob(enc.blob);
    t0 = process.hrtime.bigint();
    await ipt.read('nat');
    row.read = ms(t0);
    t0 = process.hrtime.bigint();
    await ipt.commit(t);
    row.commit = ms(t0);
    console.log(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Math.round(v)])));
  }
  await ipt.close();
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
