/**
 * -j MARK: xt_mark_tginfo2 (revision 2, 8 bytes: mark, mask; new = (old & ~mask) ^ mark).
 * Every form is stored as mark/mask, and iptables-save prints --set-xmark, so that is what a read returns.
 * `iptables -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000` (= --or-mark 0x4000)
 */
import { arg, hex, parseNumber, parseValueMask, u32, ParseProblem, VALID, type Codec } from './codec';

export interface MarkTarget {
  type: 'MARK';
  /** set: mark=value with mask (default all bits); xset: raw xor-mark/mask; or/and/xor: bit operations. */
  op: 'set' | 'xset' | 'or' | 'and' | 'xor';
  value: number;
  mask?: number;
}

/** The kernel's (mark, mask) for a MARK target, as libxt_MARK computes it. */
export function markBits(v: MarkTarget): [number, number] {
  const m = v.mask ?? 0xffffffff;
  switch (v.op) {
    case 'set': return [v.value >>> 0, (v.value | m) >>> 0];
    case 'xset': return [v.value >>> 0, m >>> 0];
    case 'or': return [v.value >>> 0, v.value >>> 0];
    case 'and': return [0, ~v.value >>> 0];
    case 'xor': return [v.value >>> 0, 0];
  }
}

export const markTarget: Codec<MarkTarget> = {
  kind: 'target',
  type: 'MARK',
  name: 'MARK',
  revision: () => 2,
  size: () => 8,
  encode(v, b) {
    const [mark, mask] = markBits(v);
    b.writeUInt32LE(mark, 0);
    b.writeUInt32LE(mask, 4);
  },
  decodeAt: (b, off, _len, _f, revision) =>
    (revision === 2 ? { type: 'MARK', op: 'xset', value: b.readUInt32LE(off), mask: b.readUInt32LE(off + 4) } : undefined),
  encodeAt(v, b, off) {
    const [mark, mask] = markBits(v);
    b.writeUInt32LE(mark, off);
    b.writeUInt32LE(mask, off + 4);
  },
  decode: (b, _f, revision) => (revision === 2 ? { type: 'MARK', op: 'xset', value: b.readUInt32LE(0), mask: b.readUInt32LE(4) } : undefined),
  validate(v) {
    if (!['set', 'xset', 'or', 'and', 'xor'].includes(v.op)) return [['op', 'must be set, xset, or, and or xor']];
    if (!u32(v.value)) return [['value', 'must be a 32-bit unsigned integer']];
    if (v.mask !== undefined && (!u32(v.mask) || !['set', 'xset'].includes(v.op))) return [['mask', 'only with set/xset, a 32-bit unsigned integer']];
    return VALID;
  },
  save(v) {
    const [mark, mask] = markBits(v);
    return ` --set-xmark ${hex(mark)}/${hex(mask)}`;
  },
  options: { 'set-xmark': 1, 'set-mark': 1, 'or-mark': 1, 'and-mark': 1, 'xor-mark': 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('MARK needs --set-xmark, --set-mark, --or-mark, --and-mark or --xor-mark');
    const op = ({ 'set-xmark': 'xset', 'set-mark': 'set', 'or-mark': 'or', 'and-mark': 'and', 'xor-mark': 'xor' } as Record<string, MarkTarget['op']>)[o.name];
    if (!op) throw new ParseProblem(`unknown MARK option --${o.name}`);
    if (op === 'set' || op === 'xset') {
      const { value, mask } = parseValueMask(arg(o), 'mark');
      return { type: 'MARK', op, value, ...(mask !== undefined ? { mask } : {}) };
    }
    return { type: 'MARK', op, value: parseNumber(arg(o), 'mark') };
  },
};
