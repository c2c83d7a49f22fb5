/**
 * -j CONNMARK: xt_connmark_tginfo2 (revision 2, 15 bytes: ctmark, ctmask, nfmask, shift dir/bits, mode).
 * `iptables -j CONNMARK --save-mark`, `--restore-mark --nfmask 0xff --ctmask 0xff`, `--set-xmark 0x1/0xff`
 */
import { arg, hex, opt, parseNumber, parseValueMask, u32, ParseProblem, type Codec, type ParsedOption } from './codec';
import { isOwnKey } from '../../own-key';

/** Revision 2's shift of the mark before it is stored (--left-shift-mark / --right-shift-mark N). */
export interface ConnmarkShift {
  direction: 'left' | 'right';
  /** 0-31 (0: a direction without a shift, which iptables-save does not print). */
  bits: number;
}
export type ConnmarkTarget =
  | { type: 'CONNMARK'; mode: 'set'; ctmark: number; ctmask?: number; shift?: ConnmarkShift }
  | { type: 'CONNMARK'; mode: 'save' | 'restore'; nfmask?: number; ctmask?: number; shift?: ConnmarkShift };

const MODE = { set: 0, save: 1, restore: 2 } as const;
const ALL = 0xffffffff;

export const connmarkTarget: Codec<ConnmarkTarget> = {
  kind: 'target',
  type: 'CONNMARK',
  name: 'CONNMARK',
  revision: () => 2,
  size: () => 15,
  encode(v, b) {
    b.writeUInt32LE(v.mode === 'set' ? v.ctmark >>> 0 : 0, 0);
    b.writeUInt32LE((v.ctmask ?? ALL) >>> 0, 4);
    b.writeUInt32LE(v.mode === 'set' ? ALL : (v.nfmask ?? ALL) >>> 0, 8);
    if (v.shift) {
      b[12] = v.shift.direction === 'right' ? 1 : 0;
      b[13] = v.shift.bits;
    }
    b[14] = MODE[v.mode];
  },
  decode(b, _f, revision) {
    if (revision !== 2 || b[12]! > 1 || b[13]! > 31) return undefined;
    const ctmark = b.readUInt32LE(0), ctmask = b.readUInt32LE(4), nfmask = b.readUInt32LE(8);
    let v: ConnmarkTarget | undefined;
    if (b[14] === 0 && nfmask === ALL) v = { type: 'CONNMARK', mode: 'set', ctmark, ctmask };
    else if ((b[14] === 1 || b[14] === 2) && ctmark === 0) v = { type: 'CONNMARK', mode: b[14] === 1 ? 'save' : 'restore', nfmask, ctmask };
    if (v && (b[12] || b[13])) v.shift = { direction: b[12] ? 'right' : 'left', bits: b[13]! };
    return v;
  },
  validate(v) {
    if (!isOwnKey(MODE, v.mode)) return [['mode', 'must be set, save or restore']];
    if (v.mode === 'set' && !u32(v.ctmark)) return [['ctmark', 'must be a 32-bit unsigned integer']];
    if (v.ctmask !== undefined && !u32(v.ctmask)) return [['ctmask', 'must be a 32-bit unsigned integer']];
    if (v.mode !== 'set' && v.nfmask !== undefined && !u32(v.nfmask)) return [['nfmask', 'must be a 32-bit unsigned integer']];
    const sh = v.shift;
    if (sh !== undefined) {
      if (!sh || typeof sh !== 'object' || (sh.direction !== 'left' && sh.direction !== 'right')) return [['shift.direction', 'must be "left" or "right"']];
      if (!Number.isInteger(sh.bits) || sh.bits < 0 || sh.bits > 31) return [['shift.bits', 'must be 0-31']];
    }
    return [];
  },
  save(v) {
    const sh = v.shift?.bits ? ` --${v.shift.direction}-shift-mark ${v.shift.bits}` : '';
    if (v.mode === 'set') return ` --set-xmark ${hex(v.ctmark)}/${hex(v.ctmask ?? ALL)}${sh}`;
    return ` --${v.mode}-mark --nfmask ${hex(v.nfmask ?? ALL)} --ctmask ${hex(v.ctmask ?? ALL)}${sh}`;
  },
  options: { 'set-xmark': 1, 'set-mark': 1, 'save-mark': 0, 'restore-mark': 0, nfmask: 1, ctmask: 1, mask: 1, 'left-shift-mark': 1, 'right-shift-mark': 1 },
  parse(opts) {
    const v = parseModes(opts);
    const sh = opt(opts, 'left-shift-mark') ?? opt(opts, 'right-shift-mark');
    if (sh) {
      const bits = parseNumber(arg(sh), 'shift');
      if (bits > 31) throw new ParseProblem(`bad --${sh.name} "${arg(sh)}" (0-31)`);
      v.shift = { direction: sh.name === 'left-shift-mark' ? 'left' : 'right', bits };
    }
    return v;
  },
};

function parseModes(opts: ParsedOption[]): ConnmarkTarget {
  const x = opt(opts, 'set-xmark') ?? opt(opts, 'set-mark');
  if (x) {
    const { value, mask } = parseValueMask(arg(x), 'mark');
    // --set-mark v/m sets ctmask = v | m like libxt_CONNMARK.
    const ctmask = x.name === 'set-mark' ? ((value | (mask ?? ALL)) >>> 0) : mask ?? ALL;
    return { type: 'CONNMARK', mode: 'set', ctmark: value, ctmask };
  }
  const mode = opt(opts, 'save-mark') ? 'save' : opt(opts, 'restore-mark') ? 'restore' : undefined;
  if (!mode) throw new ParseProblem('CONNMARK needs --set-xmark, --save-mark or --restore-mark');
  const m = opt(opts, 'mask'), nf = opt(opts, 'nfmask'), ct = opt(opts, 'ctmask');
  const both = m ? parseNumber(arg(m), 'mask') : undefined;
  return { type: 'CONNMARK', mode, nfmask: nf ? parseNumber(arg(nf), 'nfmask') : both ?? ALL, ctmask: ct ? parseNumber(arg(ct), 'ctmask') : both ?? ALL };
}
