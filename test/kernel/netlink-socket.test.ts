/** The netlink socket's guarantees, against the real kernel in a fresh namespace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, NetlinkHandle } from '../../lib';
import { NETLINK_GENERIC } from '../../lib/netlink/handle';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const NLMSG_NOOP = 1;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;

function header(len: number, type: number, flags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  return b;
}
/** NLMSG_NOOP: the kernel answers it only when NLM_F_ACK is set. */
const noop = (flags: number) => header(16, NLMSG_NOOP, flags);
/** CTRL_CMD_GETFAMILY with no attributes (what `genl ctrl list` sends as a dump). */
const getFamilies = () => Buffer.concat([header(20, GENL_ID_CTRL, NLM_F_REQUEST), Buffer.from([CTRL_CMD_GETFAMILY, 1, 0, 0])]);

describe.skipIf(skip !== undefined)(`netlink socket${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('klsock');
  });
  afterAll(async () => {
    await ns.destroy();
  });

  it('bounds an operation the kernel never answers with the timeout, and the handle keeps working', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns.name, timeoutMs: 300 });
    const started = Date.now();
    const err = (await h.request(noop(NLM_F_REQUEST), 'exchange').catch((e: unknown) => e)) as KernelError;
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('ETIMEDOUT');
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5000);
    expect(await h.resolveFamily('nlctrl')).toMatchObject({ id: 16 });
  });

  it('never lets concurrent callers on one handle swallow each other\'s replies', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns.name, timeoutMs: 200 });
    const work = [
      ...Array.from({ length: 30 }, () => h.resolveFamily('nlctrl').then((f) => f.id)),
      h.request(noop(NLM_F_REQUEST), 'exchange').then(() => 'answered', (e: KernelError) => e.code),
      ...Array.from({ length: 30 }, () => h.request(noop(NLM_F_REQUEST | NLM_F_ACK), 'exchange').then((r) => r.messages[0]!.readUInt16LE(4))),
    ];
    const out = await Promise.all(work);
    expect(out.slice(0, 30)).toEqual(Array(30).fill(16));
    expect(out[30]).toBe('ETIMEDOUT');
    expect(out.slice(31)).toEqual(Array(30).fill(2)); // NLMSG_ERROR carrying error 0: the ACK
  });

  it('reads a multi-part dump to its end', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns.name });
    const { messages } = await h.request(getFamilies(), 'dump');
    expect(messages.length).toBeGreaterThan(3);
    expect(messages.some((m) => m.includes(Buffer.from('nlctrl\0')))).toBe(true);
  });

  it('pipelines many ACKed messages and reports failures by index', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns.name });
    // 500 NOOPs with a GETFAMILY of an unknown family at index 123 and 400.
    const bad = () => {
      const name = Buffer.from('KERNLB_NOFAM\0\0\0\0');
      const attr = Buffer.alloc(4);
      attr.writeUInt16LE(4 + 13, 0);
      attr.writeUInt16LE(2, 2);
      return Buffer.concat([header(20 + 4 + 16, GENL_ID_CTRL, NLM_F_REQUEST), Buffer.from([CTRL_CMD_GETFAMILY, 1, 0, 0]), attr, name]);
    };
    const msgs = Array.from({ length: 500 }, (_, i) => (i === 123 || i === 400 ? bad() : noop(NLM_F_REQUEST)));
    const { failures } = await h.request(Buffer.concat(msgs), 'pipeline', 64);
    expect(failures.map((f) => [f.index, f.errno])).toEqual([
      [123, 2],
      [400, 2],
    ]);
  });

  it('reports lost replies (ENOBUFS) instead of dropping them silently', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: ns.name, receiveBufferBytes: 1024, timeoutMs: 2000 });
    const many = Buffer.concat(Array.from({ length: 4000 }, () => noop(NLM_F_REQUEST)));
    const err = (await h.request(many, 'pipeline', 4000).catch((e: unknown) => e)) as KernelError;
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('ENOBUFS');
    expect(err.message).toMatch(/replies were lost/);
  });
});
