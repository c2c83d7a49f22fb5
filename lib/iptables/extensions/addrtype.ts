/** -m addrtype: xt_addrtype_info_v1 (revision 1, 8 bytes). `iptables -m addrtype --dst-type LOCAL --limit-iface-in` */
import { arg, bitNames, isStringList, namesToBits, shown, type Codec } from './codec';

export type AddrType =
  | 'UNSPEC' | 'UNICAST' | 'LOCAL' | 'BROADCAST' | 'ANYCAST' | 'MULTICAST' | 'BLACKHOLE' | 'UNREACHABLE' | 'PROHIBIT' | 'THROW' | 'NAT' | 'XRESOLVE';
export interface AddrtypeMatch {
  type: 'addrtype';
  srcType?: AddrType[];
  dstType?: AddrType[];
  limitIfaceIn?: boolean;
  limitIfaceOut?: boolean;
  invert?: { srcType?: boolean; dstType?: boolean };
}

const TYPES: Array<[string, number]> = [
  'UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE',
].map((n, i) => [n, 1 << i]);

export const addrtype: Codec<AddrtypeMatch> = {
  kind: 'match',
  type: 'addrtype',
  name: 'addrtype',
  revision: () => 1,
  size: () => 8,
  encode(v, b) {
    b.writeUInt16LE(v.srcType ? namesToBits(v.srcType, TYPES, 'address type') : 0, 0);
    b.writeUInt16LE(v.dstType ? namesToBits(v.dstType, TYPES, 'address type') : 0, 2);
    const f = (v.invert?.srcType ? 1 : 0) | (v.invert?.dstType ? 2 : 0) | (v.limitIfaceIn ? 4 : 0) | (v.limitIfaceOut ? 8 : 0);
    b.writeUInt32LE(f, 4);
  },
  decode(b, _f, revision) {
    if (revision !== 1) return undefined;
    const src = b.readUInt16LE(0), dst = b.readUInt16LE(2), f = b.readUInt32LE(4);
    const v: AddrtypeMatch = { type: 'addrtype' };
    if (src) v.srcType = bitNames(src, TYPES) as AddrType[];
    if (dst) v.dstType = bitNames(dst, TYPES) as AddrType[];
    if (f & 4) v.limitIfaceIn = true;
    if (f & 8) v.limitIfaceOut = true;
    if (f & 3) v.invert = { ...(f & 1 ? { srcType: true } : {}), ...(f & 2 ? { dstType: true } : {}) };
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    for (const k of ['srcType', 'dstType'] as const) {
      const l = v[k];
      if (l === undefined) continue;
      if (!isStringList(l)) out.push([k, 'must be a list of address types']);
      else for (const t of l) if (!TYPES.some(([n]) => n === t)) out.push([k, `unknown address type ${shown(t)}`]);
    }
    if (v.limitIfaceIn && v.limitIfaceOut) out.push(['limitIfaceOut', 'cannot be combined with limitIfaceIn']);
    return out;
  },
  save(v) {
    let s = '';
    const bits = (l: AddrType[]) => bitNames(namesToBits(l, TYPES, 'address type'), TYPES).join(',');
    if (v.srcType?.length) s += `${v.invert?.srcType ? ' !' : ''} --src-type ${bits(v.srcType)}`;
    if (v.dstType?.length) s += `${v.invert?.dstType ? ' !' : ''} --dst-type ${bits(v.dstType)}`;
    if (v.limitIfaceIn) s += ' --limit-iface-in';
    if (v.limitIfaceOut) s += ' --limit-iface-out';
    return s;
  },
  options: { 'src-type': 1, 'dst-type': 1, 'limit-iface-in': 0, 'limit-iface-out': 0 },
  parse(opts) {
    const v: AddrtypeMatch = { type: 'addrtype' };
    const invert: NonNullable<AddrtypeMatch['invert']> = {};
    for (const o of opts) {
      if (o.name === 'limit-iface-in') v.limitIfaceIn = true;
      else if (o.name === 'limit-iface-out') v.limitIfaceOut = true;
      else {
        const k = o.name === 'src-type' ? 'srcType' : 'dstType';
        v[k] = arg(o).split(',').map((x) => x.toUpperCase()) as AddrType[];
        if (o.invert) invert[k] = true;
      }
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
