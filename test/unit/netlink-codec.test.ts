/** The netlink core's encoder and decoder against golden bytes (no privileges needed). */
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native';

const nl = () => native().netlink;

describe('netlink codec', () => {
  it('encodes CTRL_CMD_GETFAMILY "IPVS" exactly (what `genl ctrl get name IPVS` sends)', () => {
    const bytes = nl().encodeGetFamily('IPVS', 1);
    // nlmsghdr: len 32, type GENL_ID_CTRL (0x10), flags REQUEST|ACK (0x5), seq 1, pid 0
    // genlmsghdr: cmd CTRL_CMD_GETFAMILY (3), version 1, reserved 0
    // nlattr: len 9, type CTRL_ATTR_FAMILY_NAME (2), "IPVS\0" + 3 bytes padding
    expect(bytes.toString('hex')).toBe(
      '20000000' + '1000' + '0500' + '01000000' + '00000000' + '030100' + '00' + '0900' + '0200' + '4950565300' + '000000',
    );
  });

  it('decodes its own message back (type, flags, seq, payload)', () => {
    const [m] = nl().decodeMessages(nl().encodeGetFamily('nlctrl', 77));
    expect(m).toMatchObject({ type: 0x10, flags: 5, seq: 77, pid: 0 });
    expect(m!.payload.subarray(0, 2)).toEqual(Buffer.from([3, 1]));
  });

  it('decodes an NLMSG_ERROR with extended-ack text and attribute offset', () => {
    // Built by hand the way the kernel sends it with NETLINK_EXT_ACK + NETLINK_CAP_ACK:
    // nlmsghdr(type=2 ERROR, flags=0x300 CAPPED|ACK_TLVS), nlmsgerr{error=-22, msg hdr of request seq 9},
    // then NLMSGERR_ATTR_MSG (1) "bad port" and NLMSGERR_ATTR_OFFS (2) = 24.
    const text = Buffer.from('bad port\0');
    const msgAttr = Buffer.alloc(4 + 12);
    msgAttr.writeUInt16LE(4 + text.length, 0);
    msgAttr.writeUInt16LE(1, 2);
    text.copy(msgAttr, 4);
    const offsAttr = Buffer.alloc(8);
    offsAttr.writeUInt16LE(8, 0);
    offsAttr.writeUInt16LE(2, 2);
    offsAttr.writeUInt32LE(24, 4);
    const body = Buffer.alloc(4 + 16);
    body.writeInt32LE(-22, 0);
    body.writeUInt32LE(40, 4); // original length
    body.writeUInt16LE(0x1a, 8); // original type
    body.writeUInt32LE(9, 12); // original seq
    const payload = Buffer.concat([body, msgAttr, offsAttr]);
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + payload.length, 0);
    hdr.writeUInt16LE(2, 4);
    hdr.writeUInt16LE(0x300, 6);
    hdr.writeUInt32LE(9, 8);
    const [m] = nl().decodeMessages(Buffer.concat([hdr, payload]));
    expect(m!.error).toEqual({ errno: 22, seq: 9, extack: 'bad port', attrOffset: 24 });
  });

  it('walks several messages in one buffer and stops at a truncated one', () => {
    const two = Buffer.concat([nl().encodeGetFamily('a', 1), nl().encodeGetFamily('bb', 2)]);
    expect(nl().decodeMessages(two).map((m) => m.seq)).toEqual([1, 2]);
    expect(nl().decodeMessages(two.subarray(0, two.length - 4)).map((m) => m.seq)).toEqual([1]);
  });
});
