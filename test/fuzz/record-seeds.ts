/**
 * Records the fuzz harnesses' seed corpora from real kernel replies (test/fuzz/corpus/<harness>/).
 * Run as root: `npx vite-node test/fuzz/record-seeds.ts` (nftables, netlink errors, iptables, on the
 * host kernel), and for IPVS inside User-mode Linux:
 * `bash scripts/uml-run.sh -- npx vite-node test/fuzz/record-seeds.ts ipvs`.
 * Each seed is the exact bytes the kernel returned (a recv()'s worth of messages), with the small
 * prefix a harness reads first (see each harness). Seeds stay small: a handful of objects each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, type NativeHandle } from '../../lib/native';
import { createNetns, type TestNetns } from '../../lib/testing';

const root = join(__dirname, 'corpus');
function save(harness: string, name: string, bytes: Buffer): void {
  mkdirSync(join(root, harness), { recursive: true });
  writeFileSync(join(root, harness, `${name}.bin`), bytes);
  console.log(`${harness}/${name}.bin: ${bytes.length} bytes`);
}

/** nlmsghdr (seq/pid filled by the socket) + a family header, then attributes. */
function message(type: number, flags: number, family: Buffer, attrs: Buffer[] = []): Buffer {
  const body = Buffer.concat([family, ...attrs]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  return Buffer.concat([h, body]);
}
function attr(type: number, value: Buffer): Buffer {
  const a = Buffer.alloc((4 + value.length + 3) & ~3);
  a.writeUInt16LE(4 + value.length, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
}
const str = (s: string) => Buffer.from(`${s}\0`);
const nfgen = (family: number) => Buffer.from([family, 0, 0, 0]);
const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };

async function dump(h: NativeHandle, req: Buffer): Promise<Buffer> {
  return Buffer.concat((await native().netlink.request(h, req, 'dump')).messages);
}

const NFNL_SUBSYS_NFTABLES = 10;
const nftType = (cmd: number) => (NFNL_SUBSYS_NFTABLES << 8) | cmd;

async function recordNft(ns: TestNetns): Promise<void> {
  await ns.exec(['nft', '-f', '-'], {
    input: `
table inet seeds {
  counter hits { packets 3 bytes 120 }
  quota q { over 100 mbytes }
  limit l { rate 10/second }
  set backends {
    type ipv4_addr . inet_service
    flags interval
    elements = { 10.0.0.1-10.0.0.9 . 80, 10.1.0.0/16 . 443 }
  }
  map vips {
    type ipv4_addr . inet_service : verdict
    elements = { 192.0.2.1 . 80 : goto svc, 192.0.2.2 . 53 : drop }
  }
  map eps {
    typeof numgen inc mod 2 : ip daddr . tcp dport
    elements = { 0 : 10.0.0.1 . 8080, 1 : 10.0.0.2 . 8080 }
  }
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr . tcp dport vmap @vips comment "dispatch"
  }
  chain svc {
    counter name "hits"
    meta l4proto tcp dnat ip to numgen inc mod 2 map @eps
  }
  chain post {
    type nat hook postrouting priority srcnat;
    ct status dnat masquerade
    meta l4proto udp jhash ip saddr mod 4 seed 0x1 vmap { 0 : accept, 1 : drop }
  }
  chain filt {
    type filter hook forward priority 0;
    ip saddr . tcp dport @backends limit rate 5/second log prefix "x " counter accept
    ct state established,related accept
    reject with icmpx type admin-prohibited
  }
}`,
  });
  const h = await native().netlink.openHandle(12, ns.path, 5000, 0);
  try {
    const gen = Buffer.concat((await native().netlink.request(h, message(nftType(16), 0x5, nfgen(0)), 'get')).messages);
    save('nft_listing', 'gen', gen);
    const requests: [string, number, Buffer[]][] = [
      ['tables', 1, []], ['chains', 4, []], ['rules', 7, []], ['sets', 10, []], ['objects', 19, []],
    ];
    const all: Buffer[] = [gen];
    for (const [name, cmd, attrs] of requests) {
      const bytes = await dump(h, message(nftType(cmd), 0x301, nfgen(0), attrs));
      save('nft_listing', name, bytes);
      all.push(bytes);
    }
    for (const set of ['backends', 'vips', 'eps']) {
      const bytes = await dump(h, message(nftType(13), 0x301, nfgen(1 /* inet */), [attr(1, str('seeds')), attr(2, str(set))]));
      save('nft_listing', `elements-${set}`, bytes);
      all.push(bytes);
    }
    save('nft_listing', 'listing', Buffer.concat(all));
    // A refused request: GETTABLE of a missing table, answered by an NLMSG_ERROR carrying the bad
    // attribute's offset; its seq in front (netlink_replies reads a batch's first seq first).
    const r = await native().netlink.request(h, message(nftType(1), 0x5, nfgen(2), [attr(1, str('no-such-table'))]), 'exchange');
    const first = Buffer.alloc(4);
    first.writeUInt32LE(r.messages[0]!.readUInt32LE(8));
    save('netlink_replies', 'nft-error', Buffer.concat([first, ...r.messages]));
  } finally {
    h.close();
  }
  // The generic netlink controller's family reply (the family every genl subsystem resolves).
  const g = await native().netlink.openHandle(16, ns.path, 5000, 0);
  try {
    const fam = await dump(g, message(0x10, 0x301, Buffer.from([3, 1, 0, 0])));
    save('netlink_replies', 'genl-families', Buffer.concat([Buffer.alloc(4), fam]));
    const missing = await native().netlink.request(g, message(0x10, 0x5, Buffer.from([3, 1, 0, 0]), [attr(2, str('NO-SUCH'))]), 'exchange');
    save('netlink_replies', 'genl-enoent', Buffer.concat([Buffer.alloc(4), ...missing.messages]));
  } finally {
    g.close();
  }
}

async function recordIptables(ns: TestNetns): Promise<void> {
  for (const [v6, save4, tool] of [[false, 'ipv4', 'iptables-legacy-restore'], [true, 'ipv6', 'ip6tables-legacy-restore']] as const) {
    await ns.exec([tool], {
      input: `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SVC - [0:0]
:KUBE-SEP - [0:0]
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p tcp --dport 22 -m comment --comment "ssh" -j ACCEPT
-A FORWARD -j KUBE-SVC
-A KUBE-SVC -m statistic --mode random --probability 0.5 -j RETURN
-A KUBE-SVC -g KUBE-SEP
-A KUBE-SEP -j DROP
COMMIT
`,
    });
    const h = await native().netlink.openHandle(-1, ns.path, 5000, 0);
    try {
      const t = await native().iptables.getTable(h, v6, 'filter');
      const entries = t.block!.subarray(t.entriesOffset, t.entriesOffset + t.size);
      // The replace header libiptc's planner reads: name, valid_hooks, num_entries, size,
      // hook_entry[5], underflow[5], num_counters, counters pointer (96 bytes).
      const rep = Buffer.alloc(96);
      rep.write('filter', 0);
      rep.writeUInt32LE(t.validHooks, 32);
      rep.writeUInt32LE(t.numEntries, 36);
      rep.writeUInt32LE(t.size, 40);
      t.hookEntry.forEach((v, i) => rep.writeUInt32LE(v, 44 + 4 * i));
      t.underflow.forEach((v, i) => rep.writeUInt32LE(v, 64 + 4 * i));
      const fam = Buffer.from([v6 ? 1 : 0]);
      save('ipt_table', `filter-${save4}-replace`, Buffer.concat([fam, rep, entries]));
      save('ipt_table', `filter-${save4}-entries`, Buffer.concat([fam, entries]));
    } finally {
      h.close();
    }
  }
}

const GENL_ID_CTRL = 0x10;
async function recordIpvs(): Promise<void> {
  const ns = await createNetns('seed');
  try {
    await ns.exec(['ipvsadm', '-A', '-t', '10.0.0.1:80', '-s', 'rr']);
    await ns.exec(['ipvsadm', '-a', '-t', '10.0.0.1:80', '-r', '127.0.0.1:8080', '-m', '-w', '3']);
    await ns.exec(['ipvsadm', '-A', '-u', '[fd00::1]:53', '-s', 'wrr', '-p', '60']);
    await ns.exec(['ipvsadm', '-A', '-f', '7', '-s', 'sh', '-b', 'sh-port']);
    await ns.exec(['ipvsadm', '--start-daemon', 'master', '--mcast-interface', 'lo', '--syncid', '9']);
    const h = await native().netlink.openHandle(16, ns.path, 5000, 0);
    try {
      const fam = await native().netlink.resolveFamily(h, 'IPVS');
      const genl = (cmd: number) => Buffer.from([cmd, 1, 0, 0]);
      const services = await dump(h, message(fam.id, 0x301, genl(4)));
      const svcNest = attr(0x8001, Buffer.concat([attr(1, u16(2)), attr(2, u16(6)), attr(3, Buffer.from([10, 0, 0, 1, ...Array(12).fill(0)])), attr(4, Buffer.from([0, 80]))]));
      const dests = await dump(h, message(fam.id, 0x301, genl(8), [svcNest]));
      const daemons = await dump(h, message(fam.id, 0x301, genl(11)));
      const config = Buffer.concat((await native().netlink.request(h, message(fam.id, 0x5, genl(13)), 'get')).messages);
      const info = Buffer.concat((await native().netlink.request(h, message(fam.id, 0x5, genl(15)), 'get')).messages);
      // Harness prefix byte: 0 = a buffer of messages (see ipvs_replies.cc).
      save('ipvs_replies', 'services', Buffer.concat([Buffer.from([0]), services]));
      save('ipvs_replies', 'listing', Buffer.concat([Buffer.from([8]), services.subarray(0, services.readUInt32LE(0)), dests]));
      save('ipvs_replies', 'daemons-config-info', Buffer.concat([Buffer.from([0]), daemons, config, info]));
      const fams = await dump(h, message(GENL_ID_CTRL, 0x301, Buffer.from([3, 1, 0, 0])));
      save('netlink_replies', 'genl-families-uml', Buffer.concat([Buffer.alloc(4), fams]));
    } finally {
      h.close();
    }
  } finally {
    await ns.destroy();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('ipvs')) return recordIpvs();
  const ns = await createNetns('seed');
  try {
    await recordNft(ns);
    await recordIptables(ns);
  } finally {
    await ns.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
