/**
 * -m connlabel: xt_connlabel_mtinfo (revision 0, 4 bytes: bit, options). Labels are numbers here:
 * names come from /etc/xtables/connlabel.conf, which kernlb does not read (iptables prints the
 * number, quoted, when the file has no name for it). `iptables -m connlabel --label 1 --set`
 */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface ConnlabelMatch {
  type: 'connlabel';
  /** The label's bit, 0-127. */
  label: number;
  /** Set the label on the connection (then match). */
  set?: boolean;
  invert?: boolean;
}

const INVERT = 1, SET = 2;
const bit = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 127;

export const connlabel: Codec<ConnlabelMatch> = {
  kind: 'match',
  type: 'connlabel',
  name: 'connlabel',
  revision: () => 0,
  size: () => 4,
  encode(v, b) {
    b.writeUInt16LE(v.label, 0);
    b.writeUInt16LE((v.invert ? INVERT : 0) | (v.set ? SET : 0), 2);
  },
  decode(b) {
    const o = b.readUInt16LE(2), label = b.readUInt16LE(0);
    if (o & ~3 || !bit(label)) return undefined;
    return { type: 'connlabel', label, ...(o & SET ? { set: true } : {}), ...(o & INVERT ? { invert: true } : {}) };
  },
  validate: (v) => (bit(v.label) ? VALID : [['label', 'must be a label bit 0-127 (names from connlabel.conf are not read)']]),
  save: (v) => `${v.invert ? ' !' : ''} --label "${v.label}"${v.set ? ' --set' : ''}`,
  options: { label: 1, set: 0 },
  parse(opts) {
    const o = opt(opts, 'label');
    const n = o && /^\d+$/.test(arg(o)) ? Number(arg(o)) : NaN;
    if (!o || !bit(n)) throw new ParseProblem('-m connlabel needs --label 0-127 (a number: connlabel.conf names are not read)');
    return { type: 'connlabel', label: n, ...(opt(opts, 'set') ? { set: true } : {}), ...(o.invert ? { invert: true } : {}) };
  },
};
