/**
 * -m mark and -m connmark: xt_mark_mtinfo1 / xt_connmark_mtinfo1 (revision 1, 12 bytes: mark, mask, invert).
 * `iptables -m mark --mark 0x4000/0x4000`, `iptables -m connmark ! --mark 0x2/0xff`
 */
import { arg, hex, parseValueMask, u32, ParseProblem, VALID, type Codec } from './codec';

export interface MarkMatch {
  type: 'mark';
  mark: number;
  /** Default 0xffffffff. */
  mask?: number;
  invert?: boolean;
}
export interface ConnmarkMatch {
  type: 'connmark';
  mark: number;
  mask?: number;
  invert?: boolean;
}

function codec<T extends MarkMatch | ConnmarkMatch>(type: T['type']): Codec<T> {
  return {
    kind: 'match',
    type,
    name: type,
    revision: () => 1,
    size: () => 12,
    encode(v, b) {
      b.writeUInt32LE(v.mark >>> 0, 0);
      b.writeUInt32LE((v.mask ?? 0xffffffff) >>> 0, 4);
      b[8] = v.invert ? 1 : 0;
    },
    decodeAt(b, off, _len, _f, revision) {
      if (revision !== 1) return undefined;
      const v = { type, mark: b.readUInt32LE(off) } as T;
      const mask = b.readUInt32LE(off + 4);
      if (mask !== 0xffffffff) v.mask = mask;
      if (b[off + 8]) v.invert = true;
      return v;
    },
    decode(b, _f, revision) {
      if (revision !== 1) return undefined;
      const mask = b.readUInt32LE(4);
      return { type, mark: b.readUInt32LE(0), ...(mask !== 0xffffffff ? { mask } : {}), ...(b[8] ? { invert: true } : {}) } as T;
    },
    validate(v) {
      if (!u32(v.mark)) return [['mark', 'must be a 32-bit unsigned integer']];
      if (v.mask !== undefined && !u32(v.mask)) return [['mask', 'must be a 32-bit unsigned integer']];
      return VALID;
    },
    save(v) {
      const m = v.mask ?? 0xffffffff;
      return `${v.invert ? ' !' : ''} --mark ${hex(v.mark)}${m !== 0xffffffff ? `/${hex(m)}` : ''}`;
    },
    options: { mark: 1 },
    parse(opts) {
      const o = opts[0];
      if (!o) throw new ParseProblem(`-m ${type} needs --mark`);
      const { value, mask } = parseValueMask(arg(o), 'mark');
      return { type, mark: value, ...(mask !== undefined && mask !== 0xffffffff ? { mask } : {}), ...(o.invert ? { invert: true } : {}) } as T;
    },
  };
}

export const mark = codec<MarkMatch>('mark');
export const connmark = codec<ConnmarkMatch>('connmark');
