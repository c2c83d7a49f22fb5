/**
 * -m tos: xt_tos_match_info (revision 1, 3 bytes: mask, value, invert) and -j TOS:
 * xt_tos_target_info (revision 1, 2 bytes: value, mask; the new TOS is (old & ~mask) ^ value).
 * iptables prints both as value/mask; --and-tos, --or-tos, --xor-tos and the RFC 1349 names are
 * read as their value/mask. `iptables -m tos --tos Minimize-Delay`, `iptables -t mangle -j TOS --set-tos 0x10/0x3f`
 */
import { arg, opt, parseNumber, ParseProblem, VALID, type Codec, type Problems } from './codec';

export interface TosMatch {
  type: 'tos';
  value: number;
  /** Default 0xff. */
  mask?: number;
  invert?: boolean;
}
export interface TosTarget {
  type: 'TOS';
  value: number;
  /** Default 0xff. */
  mask?: number;
}

/** RFC 1349 names: iptables matches and sets them under the mask 0x3f. */
const NAMES: Record<string, number> = { 'minimize-delay': 0x10, 'maximize-throughput': 0x08, 'maximize-reliability': 0x04, 'minimize-cost': 0x02, 'normal-service': 0x00 };
const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;

function check(v: { value: number; mask?: number }): Problems {
  if (!byte(v.value)) return [['value', 'must be 0-255']];
  if (v.mask !== undefined && !byte(v.mask)) return [['mask', 'must be 0-255']];
  return VALID;
}
/** "value[/mask]" or a name: the mask defaults to 0xff for a number and 0x3f for a name. */
function parseTos(s: string): { value: number; mask: number } {
  const named = NAMES[s.toLowerCase()];
  if (named !== undefined) return { value: named, mask: 0x3f };
  const [v, m] = s.split('/');
  const value = parseNumber(v, 'TOS'), mask = m === undefined ? 0xff : parseNumber(m, 'TOS mask');
  if (value > 255 || mask > 255) throw new ParseProblem(`bad TOS "${s}" (0-255)`);
  return { value, mask };
}

export const tos: Codec<TosMatch> = {
  kind: 'match',
  type: 'tos',
  name: 'tos',
  revision: () => 1,
  size: () => 3,
  encode(v, b) {
    b[0] = v.mask ?? 0xff;
    b[1] = v.value;
    b[2] = v.invert ? 1 : 0;
  },
  decode: (b, _f, rev) => (rev !== 1 || b[2]! > 1 ? undefined : { type: 'tos', value: b[1]!, mask: b[0]!, ...(b[2] ? { invert: true } : {}) }),
  validate: check,
  save: (v) => `${v.invert ? ' !' : ''} --tos ${hex2(v.value)}/${hex2(v.mask ?? 0xff)}`,
  options: { tos: 1 },
  parse(opts) {
    const o = opt(opts, 'tos');
    if (!o) throw new ParseProblem('-m tos needs --tos');
    return { type: 'tos', ...parseTos(arg(o)), ...(o.invert ? { invert: true } : {}) };
  },
};

export const tosTarget: Codec<TosTarget> = {
  kind: 'target',
  type: 'TOS',
  name: 'TOS',
  revision: () => 1,
  size: () => 2,
  encode(v, b) {
    b[0] = v.value;
    b[1] = v.mask ?? 0xff;
  },
  decode: (b, _f, rev) => (rev !== 1 ? undefined : { type: 'TOS', value: b[0]!, mask: b[1]! }),
  validate: check,
  save: (v) => ` --set-tos ${hex2(v.value)}/${hex2(v.mask ?? 0xff)}`,
  options: { 'set-tos': 1, 'and-tos': 1, 'or-tos': 1, 'xor-tos': 1 },
  parse(opts) {
    const num = (name: string) => {
      const o = opt(opts, name);
      if (!o) return undefined;
      const n = parseNumber(arg(o), 'TOS');
      if (n > 255) throw new ParseProblem(`--${name} must be 0-255`);
      return n;
    };
    const s = opt(opts, 'set-tos');
    if (s) return { type: 'TOS', ...parseTos(arg(s)) };
    const and = num('and-tos'), or = num('or-tos'), xor = num('xor-tos');
    // (old & ~mask) ^ value: AND x keeps x's bits, OR x sets them, XOR x flips them.
    if (and !== undefined) return { type: 'TOS', value: 0, mask: ~and & 0xff };
    if (or !== undefined) return { type: 'TOS', value: or, mask: or };
    if (xor !== undefined) return { type: 'TOS', value: xor, mask: 0 };
    throw new ParseProblem('TOS needs --set-tos, --and-tos, --or-tos or --xor-tos');
  },
};
