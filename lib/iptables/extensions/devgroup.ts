/**
 * -m devgroup: xt_devgroup_info (revision 0, 20 bytes: flags, src_group, src_mask, dst_group,
 * dst_mask). The group of the input / output device (`ip link set dev X group N`).
 * `iptables -m devgroup --src-group 0x1 ! --dst-group 0x2/0xf`
 */
import { arg, hex, parseValueMask, u32, VALID, type Codec, type ParsedOption, type Problems } from './codec';

export interface DevgroupMatch {
  type: 'devgroup';
  /** Group of the input device: value, and mask (default 0xffffffff). */
  src?: { group: number; mask?: number };
  dst?: { group: number; mask?: number };
  invert?: { src?: boolean; dst?: boolean };
}

// XT_DEVGROUP_*: the match and invert bit of each side.
const SRC = 1, INV_SRC = 2, DST = 4, INV_DST = 8;
const FULL = 0xffffffff;

// iptables prints a group with a full mask by its name in /etc/iproute2/group; kernlb knows the one
// name iproute2 ships there (0 "default") and prints other groups as numbers.
const NAMES = new Map([[0, 'default']]);
const groupText = (g: { group: number; mask?: number }) => (g.mask === undefined || g.mask === FULL ? NAMES.get(g.group) ?? hex(g.group) : `${hex(g.group)}/${hex(g.mask)}`);

function checkSide(g: unknown, k: 'src' | 'dst'): Problems {
  if (g === undefined) return VALID;
  const s = g as { group?: unknown; mask?: unknown };
  if (!s || typeof s !== 'object' || !u32(s.group)) return [[`${k}.group`, 'must be a 32-bit unsigned integer']];
  if (s.mask !== undefined && !u32(s.mask)) return [[`${k}.mask`, 'must be a 32-bit unsigned integer']];
  return VALID;
}

export const devgroup: Codec<DevgroupMatch> = {
  kind: 'match',
  type: 'devgroup',
  name: 'devgroup',
  revision: () => 0,
  size: () => 20,
  encode(v, b) {
    let flags = 0;
    if (v.src) {
      flags |= SRC | (v.invert?.src ? INV_SRC : 0);
      b.writeUInt32LE(v.src.group, 4);
      b.writeUInt32LE(v.src.mask ?? FULL, 8);
    }
    if (v.dst) {
      flags |= DST | (v.invert?.dst ? INV_DST : 0);
      b.writeUInt32LE(v.dst.group, 12);
      b.writeUInt32LE(v.dst.mask ?? FULL, 16);
    }
    b.writeUInt32LE(flags, 0);
  },
  decode(b) {
    const flags = b.readUInt32LE(0);
    // Inversion without its side, or a side's fields set without its flag, would not print back.
    if (flags & ~15 || (flags & INV_SRC && !(flags & SRC)) || (flags & INV_DST && !(flags & DST))) return undefined;
    if ((!(flags & SRC) && (b.readUInt32LE(4) || b.readUInt32LE(8))) || (!(flags & DST) && (b.readUInt32LE(12) || b.readUInt32LE(16)))) return undefined;
    const v: DevgroupMatch = { type: 'devgroup' };
    const side = (o: number) => {
      const mask = b.readUInt32LE(o + 4);
      return mask === FULL ? { group: b.readUInt32LE(o) } : { group: b.readUInt32LE(o), mask };
    };
    if (flags & SRC) v.src = side(4);
    if (flags & DST) v.dst = side(12);
    if (flags & (INV_SRC | INV_DST)) v.invert = { ...(flags & INV_SRC ? { src: true } : {}), ...(flags & INV_DST ? { dst: true } : {}) };
    return v;
  },
  validate(v) {
    if (v.src === undefined && v.dst === undefined) return [['src', 'or dst is required']];
    const p = checkSide(v.src, 'src');
    return p.length ? p : checkSide(v.dst, 'dst');
  },
  save(v) {
    let s = '';
    if (v.src) s += `${v.invert?.src ? ' !' : ''} --src-group ${groupText(v.src)}`;
    if (v.dst) s += `${v.invert?.dst ? ' !' : ''} --dst-group ${groupText(v.dst)}`;
    return s;
  },
  options: { 'src-group': 1, 'dst-group': 1 },
  parse(opts: ParsedOption[]) {
    const v: DevgroupMatch = { type: 'devgroup' };
    const iv: NonNullable<DevgroupMatch['invert']> = {};
    for (const o of opts) {
      const k = o.name === 'src-group' ? 'src' : 'dst';
      // Of the names in /etc/iproute2/group, only iproute2's own ("default") is known.
      const { value, mask } = arg(o) === 'default' ? { value: 0, mask: undefined } : parseValueMask(arg(o), `--${o.name}`);
      v[k] = mask === undefined || mask === FULL ? { group: value } : { group: value, mask };
      if (o.invert) iv[k] = true;
    }
    if (Object.keys(iv).length) v.invert = iv;
    return v;
  },
};
