/**
 * -m ttl / -m hl: ipt_ttl_info / ip6t_hl_info (revision 0, 2 bytes: mode, value), and -j TTL / -j HL:
 * ipt_TTL_info / ip6t_HL_info (revision 0, 2 bytes: mode, value). ttl/TTL are IPv4's, hl/HL IPv6's.
 * `iptables -m ttl --ttl-lt 5`, `ip6tables -m hl ! --hl-eq 255`, `iptables -t mangle -j TTL --ttl-dec 1`
 */
import { arg, shown, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';

export type TtlOp = 'eq' | 'ne' | 'lt' | 'gt';
export interface TtlMatch {
  type: 'ttl';
  op: TtlOp;
  value: number;
}
export interface HlMatch {
  type: 'hl';
  op: TtlOp;
  value: number;
}
export type TtlAction = 'set' | 'inc' | 'dec';
export interface TtlTarget {
  type: 'TTL';
  action: TtlAction;
  value: number;
}
export interface HlTarget {
  type: 'HL';
  action: TtlAction;
  value: number;
}

const OPS: TtlOp[] = ['eq', 'ne', 'lt', 'gt'];
const ACTIONS: TtlAction[] = ['set', 'inc', 'dec'];
const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;

function matchCodec<T extends TtlMatch | HlMatch>(type: T['type'], family: 'ipv4' | 'ipv6'): Codec<T> {
  const p = type; // option prefix: --ttl-eq, --hl-eq
  return {
    kind: 'match',
    type,
    name: type,
    families: [family],
    revision: () => 0,
    size: () => 2,
    encode(v, b) {
      b[0] = OPS.indexOf(v.op);
      b[1] = v.value;
    },
    decode: (b) => (b[0]! > 3 ? undefined : ({ type, op: OPS[b[0]!]!, value: b[1]! } as T)),
    validate(v) {
      if (!OPS.includes(v.op)) return [['op', `must be one of ${OPS.join(', ')}, not ${shown(v.op)}`]];
      return byte(v.value) ? VALID : [['value', 'must be 0-255']];
    },
    // "ne" is printed as the inverted eq, as iptables does.
    save: (v) => (v.op === 'ne' ? ` ! --${p}-eq ${v.value}` : ` --${p}-${v.op} ${v.value}`),
    options: { [`${p}-eq`]: 1, [`${p}-lt`]: 1, [`${p}-gt`]: 1 },
    parse(opts: ParsedOption[]) {
      const o = opts[0];
      if (!o) throw new ParseProblem(`-m ${type} needs --${p}-eq, --${p}-lt or --${p}-gt`);
      const value = Number(arg(o));
      if (!byte(value)) throw new ParseProblem(`--${o.name} must be 0-255`);
      const op = o.name.slice(p.length + 1) as TtlOp;
      if (o.invert && op !== 'eq') throw new ParseProblem(`--${o.name} cannot be inverted`);
      return { type, op: o.invert ? 'ne' : op, value } as T;
    },
  };
}

function targetCodec<T extends TtlTarget | HlTarget>(type: T['type'], family: 'ipv4' | 'ipv6'): Codec<T> {
  const p = type.toLowerCase();
  return {
    kind: 'target',
    type,
    name: type,
    families: [family],
    revision: () => 0,
    size: () => 2,
    encode(v, b) {
      b[0] = ACTIONS.indexOf(v.action);
      b[1] = v.value;
    },
    decode: (b) => (b[0]! > 2 ? undefined : ({ type, action: ACTIONS[b[0]!]!, value: b[1]! } as T)),
    validate(v) {
      if (!ACTIONS.includes(v.action)) return [['action', `must be one of ${ACTIONS.join(', ')}, not ${shown(v.action)}`]];
      if (!byte(v.value)) return [['value', 'must be 0-255']];
      // The kernel refuses to add or subtract 0.
      return v.action !== 'set' && v.value === 0 ? [['value', `must be 1-255 to ${v.action}`]] : VALID;
    },
    save: (v) => ` --${p}-${v.action} ${v.value}`,
    options: { [`${p}-set`]: 1, [`${p}-inc`]: 1, [`${p}-dec`]: 1 },
    parse(opts: ParsedOption[]) {
      const o = opts[0];
      if (!o) throw new ParseProblem(`${type} needs --${p}-set, --${p}-inc or --${p}-dec`);
      const value = Number(arg(o));
      if (!byte(value)) throw new ParseProblem(`--${o.name} must be 0-255`);
      return { type, action: o.name.slice(p.length + 1) as TtlAction, value } as T;
    },
  };
}

export const ttl = matchCodec<TtlMatch>('ttl', 'ipv4');
export const hl = matchCodec<HlMatch>('hl', 'ipv6');
export const ttlTarget = targetCodec<TtlTarget>('TTL', 'ipv4');
export const hlTarget = targetCodec<HlTarget>('HL', 'ipv6');
