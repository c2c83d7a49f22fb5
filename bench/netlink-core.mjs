// Netlink core round trips from Node, in a fresh namespace.
// Run (root, after `bash scripts/setup.sh`): node bench/netlink-core.mjs
// Measures: one request/reply at a time through the promise API (JS -> libuv pool -> kernel -> JS),
// and pipelined ACKed messages (many per sendmsg), against the ~3.5 us per request/reply of plain C.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { NetlinkHandle } = require('../dist/index.js');
const NETLINK_GENERIC = 16;
const ns = `klbench-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
try {
  const h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns });
  const noopAck = () => {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(16, 0);
    b.writeUInt16LE(1, 4); // NLMSG_NOOP
    b.writeUInt16LE(1 | 4, 6); // REQUEST | ACK
    return b;
  };
  // warm up
  for (let i = 0; i < 200; i++) await h.resolveFamily('nlctrl');

  const n1 = 5000;
  let t = process.hrtime.bigint();
  for (let i = 0; i < n1; i++) await h.request(noopAck(), 'exchange');
  const seqUs = Number(process.hrtime.bigint() - t) / 1e3 / n1;

  const n2 = 20000;
  t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n2 }, () => h.request(noopAck(), 'exchange')));
  const concUs = Number(process.hrtime.bigint() - t) / 1e3 / n2;

  const n3 = 200000;
  const many = Buffer.concat(Array.from({ length: n3 }, noopAck));
  t = process.hrtime.bigint();
  const r = await h.request(many, 'pipeline', 1000);
  const pipeUs = Number(process.hrtime.bigint() - t) / 1e3 / n3;
  if (r.failures.length) throw new Error('unexpected failures');

  console.log(JSON.stringify({
    sequentialRequestUs: +seqUs.toFixed(2),
    concurrentRequestUs: +concUs.toFixed(2),
    pipelinedMessageUs: +pipeUs.toFixed(3),
  }, null, 2));
  await h.close();
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
