// How fast could a cold commit of kube-proxy's nat table be? Three walks of the same freshly parsed
// model (N services x 10 endpoints), each timed on a model it has never seen:
//   read:    every field of every rule read once, in the kernel's chain order, nothing written
//            (what any encoder pays to load 10^5-10^6 objects from memory);
//   bound:   an encoder written for this layout's rule shapes only (comment, tcp, statistic,
//            jumps, DNAT, inline and with the fewest checks that keep it exact), no generality:
//            a bound on what specialising kernlb's encoder could reach. Its bytes must equal
//            kernlb's, or the bench stops;
//   kernlb:  encodeValidTable, the validate-and-encode of every commit (generic codecs).
// Then the table is committed into a fresh namespace for the kernel's own time of the replace
// (CommitResult.kernelMs) and the commit's other costs, and the best commit/kernel ratio each
// encoder allows is printed.
// Run (root): npm run build:ts && node bench/iptables-encode-bound.mjs [N ...]   (default 1000 10000)
// Measured 2026-11-26 (load average ~1.3 on 2 cores, kernel 6.18), medians of 7, two runs:
//   N    read ms   bound ms   kernlb ms   kernel replace ms   commit/kernel   with the bound's encoding
//   1k   13-19     23-32      38-60       89-97               1.53-1.54       1.35-1.38
//   10k  117-129   289-334    432-452     922-1085            1.36-1.38       1.31
import { createRequire } from 'node:module';
import { ms, kubeProxyLayout, toolShell } from './iptables-layout.mjs';

const require = createRequire(import.meta.url);
const { Iptables, parseIptablesSave } = require('../dist/index.js');
const { encodeValidTable } = require('../dist/iptables/blob.js');
const { validateChains } = require('../dist/iptables/validate.js');
const { orderedChains, chainOrder, pinOrder } = require('../dist/iptables/chain-order.js');
const { JumpIndex, infoOf, matchInfo, targetInfo, writeError, writeStandard } = require('../dist/iptables/write.js');
const { parseCidr4Into, cidr4 } = require('../dist/iptables/addr.js');
const { takeRoom, releaseBlob } = require('../dist/iptables/arena.js');
const { IPV4: L, VERDICT, REPLACE_HEADER } = require('../dist/iptables/layout.js');

const u16le = (b, o, v) => { b[o] = v; b[o + 1] = v >>> 8; };
const u32le = (b, o, v) => { b[o] = v; b[o + 1] = v >>> 8; b[o + 2] = v >>> 16; b[o + 3] = v >>> 24; };
const u16be = (b, o, v) => { b[o] = v >>> 8; b[o + 1] = v; };
const u32be = (b, o, v) => { b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v; };
const COMMENT = infoOf(matchInfo.ipv4, 'm', 'comment', 'ipv4'), TCP = infoOf(matchInfo.ipv4, 'm', 'tcp', 'ipv4');
const STATISTIC = infoOf(matchInfo.ipv4, 'm', 'statistic', 'ipv4'), DNAT = infoOf(targetInfo.ipv4, 't', 'DNAT', 'ipv4');
const header = (b, off, info) => { const hb = info.headerBytes; for (let i = 0; i < hb.length; i += 2) b[off + hb[i]] = hb[i + 1]; };
const isPort = (p) => typeof p === 'number' && (p | 0) === p && p >= 0 && p <= 65535;
const unsupported = (what) => { throw new Error(`bound encoder: ${what} is outside kube-proxy's layout`); };
function ports(b, off, p) {
  if (p === undefined) return u16le(b, off + 2, 65535);
  if (!isPort(p)) unsupported('a port range');
  u16le(b, off, p);
  u16le(b, off + 2, p);
}
function addr(b, e, s, a, m) {
  if (typeof s !== 'string' || !parseCidr4Into(s)) unsupported(`address ${s}`);
  u32be(b, e + a, cidr4.addr);
  u32be(b, e + m, cidr4.mask);
}

/** The read floor: every field the encoder needs, loaded once (returned as a sum so none is skipped). */
function readAll(table) {
  let sum = 0;
  for (const c of orderedChains(table.chains)) {
    sum += c.name.length + (c.policy ? 1 : 0);
    for (const r of c.rules) {
      sum += (r.source?.length ?? 0) + (r.destination?.length ?? 0) + (r.protocol?.length ?? 0) + (r.invert?.source ? 1 : 0);
      sum += (r.inInterface ? 1 : 0) + (r.outInterface ? 1 : 0) + (r.fragment ? 1 : 0) + (r.counters ? 1 : 0);
      const ms = r.matches;
      if (ms) for (let k = 0; k < ms.length; k++) {
        const m = ms[k];
        sum += m.type.length;
        if (m.type === 'comment') sum += m.comment.charCodeAt(m.comment.length - 1);
        else if (m.type === 'tcp') sum += (m.dport ?? 0) + (m.sport ?? 0);
        else if (m.type === 'statistic') sum += m.probability;
      }
      const t = r.target;
      sum += t.type.length + (t.chain?.length ?? 0) + (t.address?.length ?? 0) + (t.port ?? 0);
    }
  }
  return sum;
}

/** The specialised encoder: the blob's entries (and the buffer to give back). */
function bound(table) {
  const index = validateChains(table, () => unsupported('an invalid chain'));
  pinOrder(table.chains);
  try {
    const order = chainOrder(table.chains), chains = orderedChains(table.chains);
    const jumps = new JumpIndex(table.chains, index);
    let rules = 0, frames = 1;
    for (const c of chains) {
      rules += c.rules.length;
      frames += c.policy !== undefined ? 1 : 2;
    }
    const startOf = new Int32Array(table.chains.length).fill(-1);
    const fix = new Int32Array(2 * rules);
    let nfix = 0;
    const blob = takeRoom(REPLACE_HEADER + frames * 176 + rules * 600);
    const b = blob.subarray(REPLACE_HEADER);
    let off = 0, zeroed = 0;
    for (let ci = 0; ci < chains.length; ci++) {
      const c = chains[ci], rs = c.rules;
      if (off + 1024 > zeroed) b.fill(0, zeroed, (zeroed = Math.min(b.length, off + 128 * 1024)));
      if (c.policy === undefined) off += writeError(b, off, L, c.name);
      startOf[order[ci]] = off;
      for (let i = 0; i < rs.length; i++) {
        const r = rs[i], e = off;
        if (off + 1024 > zeroed) b.fill(0, zeroed, (zeroed = Math.min(b.length, off + 128 * 1024)));
        if (r.source !== undefined) addr(b, e, r.source, L.src, L.smsk);
        if (r.destination !== undefined) addr(b, e, r.destination, L.dst, L.dmsk);
        if (r.inInterface !== undefined || r.outInterface !== undefined || r.fragment !== undefined || r.counters !== undefined) unsupported('a rule field');
        let proto = 0;
        if (r.protocol !== undefined) {
          if (r.protocol !== 'tcp') unsupported(`protocol ${r.protocol}`);
          u16le(b, e + L.proto, (proto = 6));
        }
        const iv = r.invert;
        if (iv !== undefined) {
          if (iv.destination || iv.protocol || iv.inInterface || iv.outInterface || iv.fragment) unsupported('an inversion');
          if (iv.source) {
            if (r.source === undefined) unsupported('an inversion without its field');
            b[e + L.invflags] = 0x08;
          }
        }
        let p = e + L.size;
        const ms = r.matches;
        if (ms !== undefined) for (let k = 0; k < ms.length; k++) {
          const m = ms[k], type = m.type;
          if (type === 'comment') {
            const s = m.comment;
            if (typeof s !== 'string' || s.length > 255) unsupported('a long comment');
            header(b, p, COMMENT);
            const q = p + 32;
            for (let j = 0; j < s.length; j++) {
              const ch = s.charCodeAt(j);
              if (ch === 0 || ch > 0x7f) unsupported('a non-ASCII comment');
              b[q + j] = ch;
            }
            p += COMMENT.size;
          } else if (type === 'tcp') {
            if (proto !== 6 || m.flags !== undefined || m.option !== undefined || m.invert !== undefined) unsupported('a tcp option');
            header(b, p, TCP);
            ports(b, p + 32, m.sport);
            ports(b, p + 36, m.dport);
            p += TCP.size;
          } else if (type === 'statistic') {
            const pr = m.probability;
            if (m.mode !== 'random' || m.invert !== undefined || typeof pr !== 'number' || !(pr >= 0 && pr <= 1)) unsupported('a statistic option');
            header(b, p, STATISTIC);
            const k2 = Math.min(Math.round(0x80000000 * pr), 0xffffffff) >>> 0;
            u32le(b, p + 36, k2);
            u32le(b, p + 44, k2);
            p += STATISTIC.size;
          } else unsupported(`match ${type}`);
        }
        const at = p, t = r.target, tt = t.type;
        if (tt === 'jump' || tt === 'goto') {
          const to = typeof t.chain === 'string' ? jumps.get(t.chain) : undefined;
          if (to === undefined) unsupported('an unknown chain');
          if (startOf[to] < 0) {
            fix[nfix++] = p + 32;
            fix[nfix++] = to;
          }
          p += writeStandard(b, p, startOf[to]);
          if (tt === 'goto') b[e + L.flags] |= L.fGoto;
        } else if (tt === 'DNAT') {
          const a = t.address, port = t.port;
          if (typeof a !== 'string' || a.includes('/') || !parseCidr4Into(a)) unsupported('a DNAT address');
          if (t.addressMax !== undefined || t.portMax !== undefined || t.random || t.persistent || t.fullyRandom) unsupported('a DNAT range');
          if (port !== undefined && (!isPort(port) || proto === 0)) unsupported('a DNAT port');
          header(b, p, DNAT);
          const o = p + 32;
          u32le(b, o, 1 | (port !== undefined ? 2 : 0));
          u32be(b, o + 4, cidr4.addr);
          u32be(b, o + 20, cidr4.addr);
          if (port !== undefined) {
            u16be(b, o + 36, port);
            u16be(b, o + 38, port);
          }
          p += DNAT.size;
        } else if (tt === 'ACCEPT' || tt === 'DROP' || tt === 'RETURN') p += writeStandard(b, p, VERDICT[tt]);
        else unsupported(`target ${tt}`);
        u16le(b, e + L.targetOffset, at - e);
        u16le(b, e + L.nextOffset, p - e);
        off = p;
      }
      writeStandard(b, off + L.size, c.policy !== undefined ? VERDICT[c.policy] : VERDICT.RETURN);
      u16le(b, off + L.targetOffset, L.size);
      u16le(b, off + L.nextOffset, L.size + 40);
      off += L.size + 40;
    }
    off += writeError(b, off, L, 'ERROR');
    for (let k = 0; k < nfix; k += 2) u32le(b, fix[k], startOf[fix[k + 1]]);
    return { blob, entries: b.subarray(0, off) };
  } finally {
    pinOrder(null);
  }
}

/**
 * A layout the bound cannot encode (kube-proxy's masquerade chains use mark, MARK and MASQUERADE)
 * is trimmed to what it can: the same rules everywhere else, and the same for all three walks.
 */
function trimmed(table) {
  for (const c of table.chains) if (c.name === 'KUBE-MARK-MASQ' || c.name === 'KUBE-POSTROUTING') c.rules = [];
  return table;
}
const fresh = (text) => trimmed(parseIptablesSave(text)[0]);
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const REPS = Number(process.env.REPS ?? 7);
const shell = toolShell();
const rows = [];
for (const n of process.argv.slice(2).map(Number).filter(Boolean).length ? process.argv.slice(2).map(Number) : [1000, 10000]) {
  const text = kubeProxyLayout(n, 10);
  // Warm: each walk compiled and optimized on this layout first (a long-lived controller is warm).
  for (let k = 0; k < 2; k++) {
    readAll(fresh(text));
    const bb = bound(fresh(text));
    releaseBlob(bb.blob);
    releaseBlob(encodeValidTable(fresh(text), 0, takeRoom, null, null, null, takeRoom).blob);
  }
  // Exactness first: the bound must write kernlb's bytes.
  {
    const ours = encodeValidTable(fresh(text), 0, takeRoom, null, null, null, takeRoom);
    const theirs = bound(fresh(text));
    const same = ours.blob.subarray(REPLACE_HEADER).equals(theirs.entries);
    releaseBlob(ours.blob);
    releaseBlob(theirs.blob);
    if (!same) throw new Error(`N=${n}: the bound encoder's bytes differ from kernlb's`);
  }
  const t = { read: [], bound: [], kernlb: [] };
  for (let rep = 0; rep < REPS; rep++) {
    // (Each walk gets a model parsed just before it, in turns that rotate: none inherits a warm cache.)
    const walks = ['read', 'bound', 'kernlb'];
    for (let k = 0; k < 3; k++) {
      const which = walks[(rep + k) % 3];
      const table = fresh(text);
      const t0 = process.hrtime.bigint();
      if (which === 'read') readAll(table);
      else if (which === 'bound') releaseBlob(bound(table).blob);
      else releaseBlob(encodeValidTable(table, 0, takeRoom, null, null, null, takeRoom).blob);
      t[which].push(ms(t0));
    }
  }
  // The kernel's time for the replace, and a commit's wall time, of the same table in a fresh namespace.
  const kernel = [], walls = [];
  for (let rep = 0; rep < 3; rep++) {
    const ns = `klbound-${process.pid}-${rep}`;
    await shell.run(`ip netns add ${ns}`);
    try {
      const ipt = await Iptables.open({ netns: ns });
      const table = fresh(text);
      const t0 = process.hrtime.bigint();
      const done = await ipt.commit(table);
      walls.push(ms(t0));
      kernel.push(done.kernelMs);
      await ipt.close();
    } finally {
      await shell.run(`ip netns del ${ns}`);
    }
  }
  const K = median(kernel), W = median(walls), E = median(t.kernlb), B = median(t.bound);
  // What a commit spends besides encoding and the replace (the native call, getinfo, settling).
  const rest = Math.max(0, W - K - E);
  const f = (x) => x.toFixed(1);
  rows.push({
    N: n, 'read ms': f(median(t.read)), 'bound ms': f(B), 'kernlb encode ms': f(E), 'kernlb/bound': (E / B).toFixed(2),
    'kernel replace ms': f(K), 'commit ms': f(W), 'commit/kernel': (W / K).toFixed(2), 'commit/kernel with the bound': ((K + B + rest) / K).toFixed(2),
  });
}
shell.close();
console.log(`medians of ${REPS} (kernel: of 3); load average ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.table(rows);
