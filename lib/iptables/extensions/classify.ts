/** -j CLASSIFY: xt_classify_target_info (revision 0, 4 bytes: the tc class as major << 16 | minor). `iptables -t mangle -j CLASSIFY --set-class 1:10` */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface ClassifyTarget {
  type: 'CLASSIFY';
  /** The tc class major:minor, each 0-0xffff (tc writes them in hex: "1:10" is major 1, minor 0x10). */
  major: number;
  minor: number;
}

const u16 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
const hex4 = (n: number) => n.toString(16).padStart(4, '0');

export const classify: Codec<ClassifyTarget> = {
  kind: 'target',
  type: 'CLASSIFY',
  name: 'CLASSIFY',
  revision: () => 0,
  size: () => 4,
  encode: (v, b) => b.writeUInt32LE(((v.major << 16) | v.minor) >>> 0, 0),
  decode(b) {
    const p = b.readUInt32LE(0);
    return { type: 'CLASSIFY', major: p >>> 16, minor: p & 0xffff };
  },
  validate(v) {
    if (!u16(v.major)) return [['major', 'must be 0-0xffff']];
    return u16(v.minor) ? VALID : [['minor', 'must be 0-0xffff']];
  },
  save: (v) => ` --set-class ${hex4(v.major)}:${hex4(v.minor)}`,
  options: { 'set-class': 1 },
  parse(opts) {
    const o = opt(opts, 'set-class');
    const m = o && /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(arg(o));
    if (!m) throw new ParseProblem('CLASSIFY needs --set-class MAJOR:MINOR (hex)');
    return { type: 'CLASSIFY', major: parseInt(m[1]!, 16), minor: parseInt(m[2]!, 16) };
  },
};
