/**
 * -m dscp: xt_dscp_info (revision 0, 2 bytes: dscp, invert) and -j DSCP: xt_DSCP_info (revision 0,
 * 1 byte). iptables prints the value in hex; --dscp-class names are read as their value.
 * `iptables -m dscp --dscp-class EF`, `iptables -t mangle -j DSCP --set-dscp 0x2e`
 */
import { arg, opt, parseNumber, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';

export interface DscpMatch {
  type: 'dscp';
  /** 0-63 */
  dscp: number;
  invert?: boolean;
}
export interface DscpTarget {
  type: 'DSCP';
  dscp: number;
}

/** DiffServ class names (RFC 2474, 2597, 3246) and their code points. */
const CLASSES: Record<string, number> = {
  BE: 0, EF: 46,
  ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [`CS${i}`, i << 3])),
  ...Object.fromEntries([1, 2, 3, 4].flatMap((c) => [1, 2, 3].map((d) => [`AF${c}${d}`, (c << 3) | (d << 1)]))),
};

const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
const valid = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 63;

/** The value of --dscp N / --dscp-class NAME (or --set-dscp / --set-dscp-class). */
function dscpOf(opts: ParsedOption[], num: string, cls: string): { value: number; invert: boolean } | undefined {
  const n = opt(opts, num), c = opt(opts, cls);
  if (n) {
    const value = parseNumber(arg(n), 'DSCP');
    if (!valid(value)) throw new ParseProblem(`--${num} must be 0-63`);
    return { value, invert: n.invert };
  }
  if (c) {
    const value = CLASSES[arg(c).toUpperCase()];
    if (value === undefined) throw new ParseProblem(`unknown DSCP class "${arg(c)}"`);
    return { value, invert: c.invert };
  }
  return undefined;
}

export const dscp: Codec<DscpMatch> = {
  kind: 'match',
  type: 'dscp',
  name: 'dscp',
  revision: () => 0,
  size: () => 2,
  encode(v, b) {
    b[0] = v.dscp;
    b[1] = v.invert ? 1 : 0;
  },
  decode: (b) => (b[0]! > 63 || b[1]! > 1 ? undefined : { type: 'dscp', dscp: b[0]!, ...(b[1] ? { invert: true } : {}) }),
  validate: (v) => (valid(v.dscp) ? VALID : [['dscp', 'must be 0-63']]),
  save: (v) => `${v.invert ? ' !' : ''} --dscp ${hex2(v.dscp)}`,
  options: { dscp: 1, 'dscp-class': 1 },
  parse(opts) {
    const d = dscpOf(opts, 'dscp', 'dscp-class');
    if (!d) throw new ParseProblem('-m dscp needs --dscp or --dscp-class');
    return { type: 'dscp', dscp: d.value, ...(d.invert ? { invert: true } : {}) };
  },
};

export const dscpTarget: Codec<DscpTarget> = {
  kind: 'target',
  type: 'DSCP',
  name: 'DSCP',
  revision: () => 0,
  size: () => 1,
  encode: (v, b) => void (b[0] = v.dscp),
  decode: (b) => (b[0]! > 63 ? undefined : { type: 'DSCP', dscp: b[0]! }),
  validate: (v) => (valid(v.dscp) ? VALID : [['dscp', 'must be 0-63']]),
  save: (v) => ` --set-dscp ${hex2(v.dscp)}`,
  options: { 'set-dscp': 1, 'set-dscp-class': 1 },
  parse(opts) {
    const d = dscpOf(opts, 'set-dscp', 'set-dscp-class');
    if (!d) throw new ParseProblem('DSCP needs --set-dscp or --set-dscp-class');
    return { type: 'DSCP', dscp: d.value };
  },
};
