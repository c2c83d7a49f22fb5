/**
 * -m realm: xt_realm_info (revision 0, 12 bytes: id, mask, invert). The routing realm of the
 * packet's route (IPv4 only). `iptables -m realm ! --realm 0x10/0xff`
 */
import { arg, hex, opt, parseValueMask, u32, ParseProblem, VALID, type Codec } from './codec';

export interface RealmMatch {
  type: 'realm';
  realm: number;
  /** Default 0xffffffff. */
  mask?: number;
  invert?: boolean;
}

const FULL = 0xffffffff;

export const realm: Codec<RealmMatch> = {
  kind: 'match',
  type: 'realm',
  name: 'realm',
  families: ['ipv4'],
  revision: () => 0,
  size: () => 12,
  encode(v, b) {
    b.writeUInt32LE(v.realm, 0);
    b.writeUInt32LE(v.mask ?? FULL, 4);
    b[8] = v.invert ? 1 : 0;
  },
  decode(b) {
    if (b[8]! > 1) return undefined;
    const mask = b.readUInt32LE(4);
    const v: RealmMatch = { type: 'realm', realm: b.readUInt32LE(0) };
    if (mask !== FULL) v.mask = mask;
    if (b[8]) v.invert = true;
    return v;
  },
  validate(v) {
    if (!u32(v.realm)) return [['realm', 'must be a 32-bit unsigned integer']];
    if (v.mask !== undefined && !u32(v.mask)) return [['mask', 'must be a 32-bit unsigned integer']];
    return VALID;
  },
  // With a full mask iptables prints a realm's name from /etc/iproute2/rt_realms; kernlb knows the one
  // name iproute2 ships there (0 "cosmos") and prints other realms as numbers.
  save: (v) => `${v.invert ? ' !' : ''} --realm ${v.mask === undefined || v.mask === FULL ? (v.realm === 0 ? 'cosmos' : hex(v.realm)) : `${hex(v.realm)}/${hex(v.mask)}`}`,
  options: { realm: 1 },
  parse(opts) {
    const o = opt(opts, 'realm');
    if (!o) throw new ParseProblem('-m realm needs --realm VALUE[/MASK]');
    // Of the names in /etc/iproute2/rt_realms, only iproute2's own ("cosmos") is known.
    const { value, mask } = arg(o) === 'cosmos' ? { value: 0, mask: undefined } : parseValueMask(arg(o), '--realm');
    const v: RealmMatch = { type: 'realm', realm: value };
    if (mask !== undefined && mask !== FULL) v.mask = mask;
    if (o.invert) v.invert = true;
    return v;
  },
};
