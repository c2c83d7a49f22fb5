/** -m physdev: xt_physdev_info (revision 0, 66 bytes). `iptables -m physdev --physdev-in veth0 --physdev-is-bridged` */
import { arg, decodeIface, encodeIface, readCString, validIface, type Codec } from './codec';

export interface PhysdevMatch {
  type: 'physdev';
  in?: string;
  out?: string;
  isIn?: boolean;
  isOut?: boolean;
  isBridged?: boolean;
  invert?: { in?: boolean; out?: boolean; isIn?: boolean; isOut?: boolean; isBridged?: boolean };
}

const BIT = { in: 1, out: 2, isBridged: 4, isIn: 8, isOut: 16 } as const;

export const physdev: Codec<PhysdevMatch> = {
  kind: 'match',
  type: 'physdev',
  name: 'physdev',
  revision: () => 0,
  size: () => 66,
  encode(v, b) {
    let bits = 0, inv = 0;
    for (const k of Object.keys(BIT) as Array<keyof typeof BIT>) {
      if (!v[k]) continue;
      bits |= BIT[k];
      if (v.invert?.[k]) inv |= BIT[k];
    }
    if (v.in) encodeIface(b, 0, 16, v.in);
    if (v.out) encodeIface(b, 32, 48, v.out);
    b[64] = inv;
    b[65] = bits;
  },
  decode(b) {
    const bits = b[65]!, inv = b[64]!;
    const v: PhysdevMatch = { type: 'physdev' };
    const invert: NonNullable<PhysdevMatch['invert']> = {};
    if (bits & BIT.in) v.in = decodeIface(b, 0, 16) ?? readCString(b, 0, 16);
    if (bits & BIT.out) v.out = decodeIface(b, 32, 48) ?? readCString(b, 32, 16);
    if (bits & BIT.isIn) v.isIn = true;
    if (bits & BIT.isOut) v.isOut = true;
    if (bits & BIT.isBridged) v.isBridged = true;
    for (const k of Object.keys(BIT) as Array<keyof typeof BIT>) if (bits & inv & BIT[k]) invert[k] = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.in !== undefined && !validIface(v.in)) out.push(['in', 'must be an interface name (1-15 characters)']);
    if (v.out !== undefined && !validIface(v.out)) out.push(['out', 'must be an interface name (1-15 characters)']);
    if (!v.in && !v.out && !v.isIn && !v.isOut && !v.isBridged) out.push(['', 'needs at least one condition']);
    return out;
  },
  save(v) {
    const bang = (k: keyof typeof BIT) => (v.invert?.[k] ? ' !' : '');
    let s = '';
    if (v.isIn) s += `${bang('isIn')} --physdev-is-in`;
    if (v.in) s += `${bang('in')} --physdev-in ${v.in}`;
    if (v.isOut) s += `${bang('isOut')} --physdev-is-out`;
    if (v.out) s += `${bang('out')} --physdev-out ${v.out}`;
    if (v.isBridged) s += `${bang('isBridged')} --physdev-is-bridged`;
    return s;
  },
  options: { 'physdev-in': 1, 'physdev-out': 1, 'physdev-is-in': 0, 'physdev-is-out': 0, 'physdev-is-bridged': 0 },
  parse(opts) {
    const v: PhysdevMatch = { type: 'physdev' };
    const invert: NonNullable<PhysdevMatch['invert']> = {};
    const key = { 'physdev-in': 'in', 'physdev-out': 'out', 'physdev-is-in': 'isIn', 'physdev-is-out': 'isOut', 'physdev-is-bridged': 'isBridged' } as const;
    for (const o of opts) {
      const k = key[o.name as keyof typeof key];
      if (k === 'in' || k === 'out') v[k] = arg(o);
      else v[k] = true;
      if (o.invert) invert[k] = true;
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
