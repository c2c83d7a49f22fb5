/**
 * Walking a buffer of netlink messages never reads past it. Regression for what the fuzzer found
 * (test/fuzz/netlink_replies.cc): NLMSG_NEXT on a size_t length wrapped around after a last message
 * whose length is not a multiple of 4, and NLMSG_OK then read a "message" beyond the buffer.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native';

/** A message header: len, type, flags, seq, pid (host order). */
function header(len: number, type: number, seq: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt32LE(seq, 8);
  return b;
}

describe('netlink message walk', () => {
  it('stops at the end of a buffer whose last message length is not 4-aligned (nothing read beyond it)', () => {
    // 21 bytes of a message (len 21: header + 5 payload bytes), then, past the 21 bytes handed over
    // but inside the same memory, what would look like a second message at the aligned offset 24.
    const mem = Buffer.alloc(48);
    header(21, 0x30, 1).copy(mem, 0);
    header(24, 0x31, 2).copy(mem, 24);
    const msgs = native().netlink.decodeMessages(mem.subarray(0, 21));
    expect(msgs.map((m) => m.type)).toEqual([0x30]);
    expect(msgs[0]!.payload.length).toBe(5);
  });

  it('the IPVS reply decoder walks the same way', () => {
    const mem = Buffer.alloc(48);
    header(21, 0x30, 1).copy(mem, 0);
    header(24, 0x31, 2).copy(mem, 24);
    expect(native().ipvs.decode(mem.subarray(0, 21))).toHaveLength(1);
  });

  it('ends the walk at a length shorter than a header or longer than the rest', () => {
    const mem = Buffer.concat([header(16, 0x30, 1), header(8, 0x31, 2), header(16, 0x32, 3)]);
    expect(native().netlink.decodeMessages(mem).map((m) => m.type)).toEqual([0x30]);
    const long = Buffer.concat([header(16, 0x30, 1), header(4096, 0x31, 2)]);
    expect(native().netlink.decodeMessages(long).map((m) => m.type)).toEqual([0x30]);
  });
});

describe('generic netlink family replies', () => {
  it('a controller reply shorter than its genl header decodes as no family (regression: fuzz netlink_replies)', () => {
    // type GENL_ID_CTRL (0x10), header only: the attribute length used to wrap around to ~2^64, and
    // the walk read on past the message, here into a CTRL_ATTR_FAMILY_ID (1) placed beyond it.
    const mem = Buffer.alloc(48);
    header(16, 0x10, 1).copy(mem, 0);
    mem.writeUInt16LE(6, 20);
    mem.writeUInt16LE(1, 22);
    mem.writeUInt16LE(0x1234, 24);
    const [m] = native().netlink.decodeMessages(mem.subarray(0, 16));
    expect(m!.family).toEqual({ id: 0, version: 0, hdrsize: 0, maxattr: 0 });
    const [m2] = native().netlink.decodeMessages(Buffer.concat([header(18, 0x10, 1), Buffer.from([3, 1, 0, 0])]).subarray(0, 18));
    expect(m2!.family?.id).toBe(0);
  });
});

/** An NLMSG_ERROR (flags ACK_TLVS, plus CAPPED unless `echo` is given) carrying "bad port" as extack. */
function errorReply(error: number, echo?: Buffer): Buffer {
  const text = Buffer.from('bad port\0');
  const msgAttr = Buffer.alloc(4 + 12);
  msgAttr.writeUInt16LE(4 + text.length, 0);
  msgAttr.writeUInt16LE(1, 2); // NLMSGERR_ATTR_MSG
  text.copy(msgAttr, 4);
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(error, 0);
  const request = echo ?? header(16, 0x1a, 9);
  request.copy(body, 4, 0, 16);
  // The kernel appends the echoed payload padded to 4 bytes (nlmsg_append).
  const echoed = echo ? Buffer.alloc((echo.length - 16 + 3) & ~3) : Buffer.alloc(0);
  if (echo) echo.copy(echoed, 0, 16);
  const payload = Buffer.concat([body, echoed, msgAttr]);
  const hdr = header(16 + payload.length, 2, 9);
  hdr.writeUInt16LE(echo ? 0x200 : 0x300, 6);
  return Buffer.concat([hdr, payload]);
}

describe('NLMSG_ERROR replies', () => {
  it('finds the extended ack after an echoed request whose length is not 4-aligned (regression: fuzz netlink_replies)', () => {
    const request = Buffer.concat([header(21, 0x1a, 9), Buffer.from([1, 2, 3, 4, 5])]);
    const [m] = native().netlink.decodeMessages(errorReply(-22, request));
    expect(m!.error).toMatchObject({ errno: 22, seq: 9, extack: 'bad port' });
  });

  it('an error code that is no negative errno reads as EBADMSG, not as a negated INT_MIN (regression: fuzz netlink_replies)', () => {
    expect(native().netlink.decodeMessages(errorReply(-2147483648))[0]!.error?.errno).toBe(74);
    expect(native().netlink.decodeMessages(errorReply(5))[0]!.error?.errno).toBe(74);
    expect(native().netlink.decodeMessages(errorReply(-1))[0]!.error).toMatchObject({ errno: 1, extack: 'bad port' });
  });
});
