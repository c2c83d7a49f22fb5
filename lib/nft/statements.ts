/**
 * The statement builder: common nft statements as the exact kernel expressions nft 1.0.6 emits for
 * them, so `nft list ruleset` prints them back as statements. Each function returns Expr[]; a rule is
 * the concatenation of statements (Rule.exprs accepts the nested arrays). Registers restart at 1 for
 * every statement, as in nft; concatenations use the 32-bit registers (field n of 4 bytes at
 * NFT_REG32_00 + n, shown by nft as reg 1, 9, 10, ...).
 *
 * Example (nft: `ip daddr . meta l4proto . th dport vmap @svc`):
 *   vmap(['ip daddr', 'meta l4proto', 'th dport'], 'svc')
 * Example (nft: `dnat to ip daddr . th dport . numgen random mod 4 map @backends`), a map
 * `typeof ip daddr . th dport . numgen : ip daddr . th dport` / key type ipv4_addr . inet_service . integer:
 *   dnatMap([ 'ip daddr', 'th dport', { numgen: { mod: 4 } } ], 'backends', { family: 'ip', port: true })
 */
import { ValidationError } from '../errors';
import {
  CMP_OP, CT_KEY, CT_STATE, DYNSET_OP, FAMILIES, HASH_TYPE, LOOKUP_F_INV, MAX_TIMEOUT_MS, META_KEY, NAT_FLAG, NAT_TYPE, NUMGEN_TYPE,
  OBJ_TYPE, PAYLOAD_BASE, VERDICTS, type CmpOpName, type CtStateName, type Family, type VerdictName,
} from './constants';
import { align4, DATATYPES, encodeHex, le32Hex, type Datatype, type ScalarValue } from './datatypes';
import type { Expr } from './model';
import { BYTEORDER, TYPEOF_EXPR, type TypeofDesc } from './udata';
import { isOwnKey, ownValue } from '../own-key';

interface FieldDef {
  load(dreg: number): Expr;
  type: Datatype;
  /** How nft names this field in set userdata (`typeof`), and its byteorder. */
  typeof?: TypeofDesc;
  byteorder?: number;
  /** Expressions nft adds before the first use of the field (the transport protocol dependency). */
  dependency?: Expr[];
}

const hex = (b: Buffer) => b.toString('hex');
const payload = (base: number, offset: number, len: number) => (dreg: number): Expr => ({ type: 'payload', dreg, base, offset, len });
const meta = (key: number) => (dreg: number): Expr => ({ type: 'meta', key, dreg });
const l4dep = (proto: number): Expr[] => [
  { type: 'meta', key: META_KEY.l4proto, dreg: 1 },
  { type: 'cmp', sreg: 1, op: CMP_OP.eq, data: proto.toString(16).padStart(2, '0') },
];
const U8: Datatype = { ...DATATYPES.inet_proto!, name: 'inet_proto' };
/** `meta nfproto`: nft's nf_proto type (ipv4 = NFPROTO_IPV4 2, ipv6 = NFPROTO_IPV6 10), not IP protocol names. */
const NFPROTO_NAMES: Record<string, number> = { ipv4: 2, ipv6: 10 };
const nfprotoNumber = (v: ScalarValue): number => (typeof v === 'string' ? NFPROTO_NAMES[v]! : (v as number));
const NF_PROTO: Datatype = {
  ...U8,
  name: 'nf_proto',
  check: (v) => (isOwnKey(NFPROTO_NAMES, v) || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) ? undefined : 'expected ipv4, ipv6 or a number 0..255'),
  write: (v, b, off) => void (b[off] = nfprotoNumber(v)),
  encode: (v) => Buffer.from([nfprotoNumber(v)]),
  decode: (b) => (b[0] === 2 ? 'ipv4' : b[0] === 10 ? 'ipv6' : b[0]!),
};

// nft's proto_desc ids and header template indexes, as recorded in `typeof` userdata
const DESC = { udp: 6, tcp: 8, th: 11, ip: 12, ip6: 13 } as const;
const pl = (desc: number, tmpl: number): TypeofDesc => ({ expr: TYPEOF_EXPR.payload, params: [desc, tmpl] });
const mt = (key: number): TypeofDesc => ({ expr: TYPEOF_EXPR.meta, params: [key] });
const BIG = BYTEORDER.big, HOST = BYTEORDER.host;

export const FIELDS = {
  'ip saddr': { load: payload(PAYLOAD_BASE.network, 12, 4), type: DATATYPES.ipv4_addr!, typeof: pl(DESC.ip, 11), byteorder: BIG },
  'ip daddr': { load: payload(PAYLOAD_BASE.network, 16, 4), type: DATATYPES.ipv4_addr!, typeof: pl(DESC.ip, 12), byteorder: BIG },
  'ip protocol': { load: payload(PAYLOAD_BASE.network, 9, 1), type: U8, typeof: pl(DESC.ip, 9), byteorder: BIG },
  'ip6 saddr': { load: payload(PAYLOAD_BASE.network, 8, 16), type: DATATYPES.ipv6_addr!, typeof: pl(DESC.ip6, 8), byteorder: BIG },
  'ip6 daddr': { load: payload(PAYLOAD_BASE.network, 24, 16), type: DATATYPES.ipv6_addr!, typeof: pl(DESC.ip6, 9), byteorder: BIG },
  'ip6 nexthdr': { load: payload(PAYLOAD_BASE.network, 6, 1), type: U8, typeof: pl(DESC.ip6, 6), byteorder: BIG },
  'tcp sport': { load: payload(PAYLOAD_BASE.transport, 0, 2), type: DATATYPES.inet_service!, dependency: l4dep(6), typeof: pl(DESC.tcp, 1), byteorder: BIG },
  'tcp dport': { load: payload(PAYLOAD_BASE.transport, 2, 2), type: DATATYPES.inet_service!, dependency: l4dep(6), typeof: pl(DESC.tcp, 2), byteorder: BIG },
  'udp sport': { load: payload(PAYLOAD_BASE.transport, 0, 2), type: DATATYPES.inet_service!, dependency: l4dep(17), typeof: pl(DESC.udp, 1), byteorder: BIG },
  'udp dport': { load: payload(PAYLOAD_BASE.transport, 2, 2), type: DATATYPES.inet_service!, dependency: l4dep(17), typeof: pl(DESC.udp, 2), byteorder: BIG },
  'th sport': { load: payload(PAYLOAD_BASE.transport, 0, 2), type: DATATYPES.inet_service!, typeof: pl(DESC.th, 1), byteorder: BIG },
  'th dport': { load: payload(PAYLOAD_BASE.transport, 2, 2), type: DATATYPES.inet_service!, typeof: pl(DESC.th, 2), byteorder: BIG },
  'meta l4proto': { load: meta(META_KEY.l4proto), type: U8, typeof: mt(META_KEY.l4proto), byteorder: HOST },
  'meta nfproto': { load: meta(META_KEY.nfproto), type: NF_PROTO, typeof: mt(META_KEY.nfproto), byteorder: HOST },
  'meta mark': { load: meta(META_KEY.mark), type: DATATYPES.mark!, typeof: mt(META_KEY.mark), byteorder: HOST },
  'meta iifname': { load: meta(META_KEY.iifname), type: DATATYPES.ifname!, typeof: mt(META_KEY.iifname), byteorder: HOST },
  'meta oifname': { load: meta(META_KEY.oifname), type: DATATYPES.ifname!, typeof: mt(META_KEY.oifname), byteorder: HOST },
  'ct mark': { load: (dreg: number): Expr => ({ type: 'ct', key: CT_KEY.mark, dreg }), type: DATATYPES.mark! },
} satisfies Record<string, FieldDef>;
export type FieldName = keyof typeof FIELDS;

// Bad arguments are ValidationErrors naming the argument, checked before a value is used: the
// builders are called with whatever a caller's JSON holds. Names are looked up as own properties
// ("constructor" is no field, verdict or state).
const hasOwn = Object.prototype.hasOwnProperty;
function oneOf<T extends object>(table: T, arg: string, v: unknown): keyof T {
  if (!isOwnKey(table, v)) throw new ValidationError(arg, `must be one of ${Object.keys(table).join(', ')}`, v);
  return v as keyof T;
}
function u32Arg(arg: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0xffffffff) throw new ValidationError(arg, `must be an integer ${min}..4294967295`, v);
  return v;
}
/** A set, chain or object name: left out, the kernel would say only EINVAL / EOPNOTSUPP. */
function nameArg(arg: string, v: unknown): string {
  if (typeof v !== 'string' || !v || v.length > 255 || v.includes('\0')) throw new ValidationError(arg, 'must be a non-empty name of at most 255 characters', v);
  return v;
}
/** An options argument: undefined (defaults) or an object. */
function optsOf<T>(arg: string, v: T | undefined): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object') throw new ValidationError(arg, 'must be an object', v);
  return v;
}

function field(name: FieldName): FieldDef {
  const f = ownValue(FIELDS as Record<string, FieldDef>, name);
  if (!f) throw new ValidationError('field', `unknown field; known: ${Object.keys(FIELDS).join(', ')}`, name);
  return f;
}
function value(f: FieldDef, name: string, v: ScalarValue): Buffer {
  const problem = f.type.check(v);
  if (problem) throw new ValidationError(name, problem, v);
  return f.type.encode(v);
}

/**
 * `<field> <op> <value>`; addresses accept a prefix ("10.0.0.0/8": nft loads only the prefix's
 * bytes when it is byte aligned, else masks with bitwise).
 */
export function match(name: FieldName, v: ScalarValue, op: CmpOpName = 'eq'): Expr[] {
  const f = field(name);
  oneOf(CMP_OP, 'op', op);
  const out: Expr[] = [...(f.dependency ?? [])];
  if (typeof v === 'string' && v.includes('/') && (f.type.name === 'ipv4_addr' || f.type.name === 'ipv6_addr')) {
    const [addr, lenStr, extra] = v.split('/') as [string, string, string?];
    const bits = lenStr === '' ? NaN : Number(lenStr);
    const total = f.type.len * 8;
    if (extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > total) throw new ValidationError(name, `bad prefix length in ${v}`, v);
    const bytes = value(f, name, addr);
    const load = f.load(1);
    if (bits % 8 === 0 && bits < total) {
      out.push({ ...load, len: bits / 8 }, { type: 'cmp', sreg: 1, op: CMP_OP[op], data: hex(bytes.subarray(0, bits / 8)) });
    } else if (bits === total) {
      out.push(load, { type: 'cmp', sreg: 1, op: CMP_OP[op], data: hex(bytes) });
    } else {
      const mask = Buffer.alloc(f.type.len);
      for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
      const masked = Buffer.from(bytes.map((b, i) => b & mask[i]!));
      out.push(load, { type: 'bitwise', sreg: 1, dreg: 1, len: f.type.len, mask: hex(mask), xor: hex(Buffer.alloc(f.type.len)) },
        { type: 'cmp', sreg: 1, op: CMP_OP[op], data: hex(masked) });
    }
    return out;
  }
  const problem = f.type.check(v);
  if (problem) throw new ValidationError(name, problem, v);
  out.push(f.load(1), { type: 'cmp', sreg: 1, op: CMP_OP[op], data: encodeHex(f.type, v) });
  return out;
}

/** `ct state established,related` */
export function ctState(states: CtStateName[], op: 'eq' | 'neq' = 'eq'): Expr[] {
  if (!Array.isArray(states) || !states.length) throw new ValidationError('ct state', 'must be a non-empty array of states', states);
  if (op !== 'eq' && op !== 'neq') throw new ValidationError('op', 'must be eq or neq', op);
  let bits = 0;
  for (const s of states) {
    if (!isOwnKey(CT_STATE, s)) throw new ValidationError('ct state', `unknown state; known: ${Object.keys(CT_STATE).join(', ')}`, s);
    bits |= CT_STATE[s];
  }
  const le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return hex(b); };
  return [
    { type: 'ct', key: CT_KEY.state, dreg: 1 },
    { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le(bits), xor: le(0) },
    { type: 'cmp', sreg: 1, op: op === 'eq' ? CMP_OP.neq : CMP_OP.eq, data: le(0) },
  ];
}

/** A source of a lookup key: a packet field, `numgen random mod N` or `jhash <field> mod N`. */
export type KeySource =
  | FieldName
  | { numgen: { mod: number; type?: 'random' | 'inc'; offset?: number } }
  | { jhash: { field: FieldName; mod: number; seed?: number; offset?: number } };

/** 32-bit register unit n as nft names it: every 4th is a 128-bit register. */
export const reg32 = (unit: number) => (unit % 4 === 0 ? 1 + unit / 4 : 8 + unit);

/** Checks a key source's shape and numbers (numgen / jhash parameters become kernel attributes and set userdata). */
function checkSource(s: unknown): KeySource {
  if (typeof s === 'string') {
    field(s as FieldName);
    return s as KeySource;
  }
  const o = s !== null && typeof s === 'object' ? (s as Record<string, unknown>) : undefined;
  const n = o && hasOwn.call(o, 'numgen') ? o.numgen : undefined;
  const h = o && hasOwn.call(o, 'jhash') ? o.jhash : undefined;
  if (n !== null && typeof n === 'object') {
    const g = n as Record<string, unknown>;
    u32Arg('numgen.mod', g.mod, 1);
    if (g.type !== undefined) oneOf(NUMGEN_TYPE, 'numgen.type', g.type);
    if (g.offset !== undefined) u32Arg('numgen.offset', g.offset);
    return s as KeySource;
  }
  if (h !== null && typeof h === 'object') {
    const g = h as Record<string, unknown>;
    field(g.field as FieldName);
    u32Arg('jhash.mod', g.mod, 1);
    if (g.seed !== undefined) u32Arg('jhash.seed', g.seed);
    if (g.offset !== undefined) u32Arg('jhash.offset', g.offset);
    return s as KeySource;
  }
  throw new ValidationError('key', 'must be a field name, { numgen: { mod } } or { jhash: { field, mod } }', s);
}

function sourceLen(s: KeySource): number {
  return typeof s === 'string' ? field(s).type.len : 4;
}

function loadSource(s: KeySource, dreg: number, scratch: number): Expr[] {
  if (typeof s === 'string') return [field(s).load(dreg)];
  if ('numgen' in s) {
    const n = s.numgen;
    return [{ type: 'numgen', dreg, modulus: n.mod, ngType: NUMGEN_TYPE[n.type ?? 'random'], offset: n.offset ?? 0 }];
  }
  const h = s.jhash;
  const f = field(h.field);
  const e: Expr = { type: 'hash', sreg: scratch, dreg, len: f.type.len, modulus: h.mod, seed: h.seed ?? 0, offset: h.offset ?? 0, hashType: HASH_TYPE.jenkins };
  if (!h.offset) delete e.offset;
  return [f.load(scratch), e];
}

/** Loads a (concatenated) key into registers starting at reg 1; returns the dependencies first. */
export function loadKey(sources: KeySource[]): Expr[] {
  if (!sources.length) throw new ValidationError('key', 'needs at least one field');
  for (const s of sources) checkSource(s);
  const deps: Expr[] = [];
  const seen = new Set<string>();
  for (const s of sources) {
    const d = typeof s === 'string' ? field(s).dependency : undefined;
    const k = JSON.stringify(d);
    if (d && !seen.has(k)) { seen.add(k); deps.push(...d); }
  }
  const loads: Expr[] = [];
  if (sources.length === 1) {
    loads.push(...loadSource(sources[0]!, 1, 2));
  } else {
    let unit = 0;
    for (const s of sources) {
      loads.push(...loadSource(s, reg32(unit), 2));
      unit += align4(sourceLen(s)) / 4;
    }
  }
  return [...deps, ...loads];
}

/** `<key> @set` (or `!= @set` with inverted). */
export function inSet(key: FieldName | KeySource[], set: string, options: { inverted?: boolean; setId?: number } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const e: Expr = { type: 'lookup', sreg: 1, set: nameArg('set', set) };
  if (opts.setId !== undefined) e.setId = opts.setId;
  if (opts.inverted) e.flags = LOOKUP_F_INV;
  return [...loadKey(Array.isArray(key) ? key : [key]), e];
}

/** `<key> vmap @set` */
export function vmap(key: KeySource | KeySource[], set: string, options: { setId?: number } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const e: Expr = { type: 'lookup', sreg: 1, dreg: 0, set: nameArg('set', set) };
  if (opts.setId !== undefined) e.setId = opts.setId;
  return [...loadKey(Array.isArray(key) ? key : [key]), e];
}

/** `<key> map @set` into register 1 (for a following statement that reads it). */
export function mapLookup(key: KeySource | KeySource[], set: string, options: { setId?: number } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const e: Expr = { type: 'lookup', sreg: 1, dreg: 1, set: nameArg('set', set) };
  if (opts.setId !== undefined) e.setId = opts.setId;
  return [...loadKey(Array.isArray(key) ? key : [key]), e];
}

export const verdict = (v: VerdictName, chain?: string): Expr[] => {
  oneOf(VERDICTS, 'verdict', v);
  if ((v === 'jump' || v === 'goto') !== (chain !== undefined)) throw new ValidationError('chain', v === 'jump' || v === 'goto' ? `is required to ${v}` : `is only for jump and goto`, chain);
  const e: Expr = { type: 'immediate', dreg: 0, verdict: VERDICTS[v] };
  if (chain !== undefined) e.chain = nameArg('chain', chain);
  return [e];
};
export const accept = () => verdict('accept');
export const drop = () => verdict('drop');
export const ret = () => verdict('return');
export const jump = (chain: string) => verdict('jump', chain);
export const goto = (chain: string) => verdict('goto', chain);

/** `counter` (anonymous, starts at zero) */
export const counter = (): Expr[] => [{ type: 'counter', packets: 0, bytes: 0 }];
/** `counter name "x"` (a named counter object) */
export const counterRef = (name: string): Expr[] => [{ type: 'objref', objType: OBJ_TYPE.counter, name: nameArg('name', name) }];
/** `quota name "x"` / `limit name "x"` */
export const objectRef = (type: 'counter' | 'quota' | 'limit', name: string): Expr[] => {
  if (type !== 'counter' && type !== 'quota' && type !== 'limit') throw new ValidationError('type', 'must be counter, quota or limit', type);
  return [{ type: 'objref', objType: OBJ_TYPE[type], name: nameArg('name', name) }];
};

/** A 32-bit mark or mask: checked, as `>>> 0` would turn a string into 0 and throw on a Symbol or BigInt. */
const le32 = (v: number, arg = 'mark') => le32Hex(u32Arg(arg, v));
const le32Ok = (v: number) => u32Arg('mark', v);

/** `meta mark set <value>` */
export const markSet = (v: number): Expr[] => [
  { type: 'immediate', dreg: 1, data: le32(v) },
  { type: 'meta', key: META_KEY.mark, sreg: 1 },
];
/** `meta mark set meta mark or <bits>` (kube-proxy's mark-for-masquerade) */
export const markOr = (bits: number): Expr[] => [
  { type: 'meta', key: META_KEY.mark, dreg: 1 },
  { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32Hex(~le32Ok(bits)), xor: le32(bits) },
  { type: 'meta', key: META_KEY.mark, sreg: 1 },
];
/** `meta mark set meta mark xor <bits>` */
export const markXor = (bits: number): Expr[] => [
  { type: 'meta', key: META_KEY.mark, dreg: 1 },
  { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(0xffffffff), xor: le32(bits) },
  { type: 'meta', key: META_KEY.mark, sreg: 1 },
];
/** `meta mark & <mask> == <value>` (or !=) */
export const markMasked = (mask: number, v: number, op: 'eq' | 'neq' = 'eq'): Expr[] => {
  if (op !== 'eq' && op !== 'neq') throw new ValidationError('op', 'must be eq or neq', op);
  return [
    { type: 'meta', key: META_KEY.mark, dreg: 1 },
    { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: le32(mask, 'mask'), xor: le32(0) },
    { type: 'cmp', sreg: 1, op: CMP_OP[op], data: le32(v) },
  ];
};

function natFamily(family: Family | undefined): number {
  const f = family ?? 'ip';
  if (f !== 'ip' && f !== 'ip6') throw new ValidationError('family', 'NAT addresses are ip or ip6', family);
  return FAMILIES[f];
}

export interface NatTarget {
  family?: 'ip' | 'ip6';
  addr?: string;
  port?: number;
  /** NF_NAT_RANGE_* flags beyond what addr/port imply (e.g. NAT_FLAG.protoRandomFully). */
  flags?: number;
}

function natTo(type: 'snat' | 'dnat', target: NatTarget): Expr[] {
  const t = optsOf('target', target);
  const fam = natFamily(t.family);
  const out: Expr[] = [];
  const e: Expr = { type: 'nat', natType: NAT_TYPE[type], family: fam };
  let flags = t.flags === undefined ? 0 : u32Arg('flags', t.flags);
  if (t.addr !== undefined) {
    const dt = fam === FAMILIES.ip ? DATATYPES.ipv4_addr! : DATATYPES.ipv6_addr!;
    const problem = dt.check(t.addr);
    if (problem) throw new ValidationError('addr', problem, t.addr);
    out.push({ type: 'immediate', dreg: 1, data: encodeHex(dt, t.addr) });
    e.regAddrMin = 1;
  }
  if (t.port !== undefined) {
    const problem = DATATYPES.inet_service!.check(t.port);
    if (problem) throw new ValidationError('port', problem, t.port);
    out.push({ type: 'immediate', dreg: 2, data: encodeHex(DATATYPES.inet_service!, t.port) });
    e.regProtoMin = 2;
    flags |= NAT_FLAG.protoSpecified;
  }
  // neither: the kernel's EINVAL
  if (t.addr === undefined && t.port === undefined) throw new ValidationError('target', 'needs addr or port (or both)', target);
  if (flags) e.flags = flags;
  return [...out, e];
}
/** `dnat to 10.0.0.1:80` (needs a transport protocol match before it when a port is given) */
export const dnat = (t: NatTarget) => natTo('dnat', t);
/** `snat to 192.0.2.1` */
export const snat = (t: NatTarget) => natTo('snat', t);

/**
 * `dnat to <key> map @set`: the map's data is the address (and, with port, `. inet_service`).
 * nft lets the kernel infer the range flags here, so none are sent.
 */
export function dnatMap(key: KeySource | KeySource[], set: string, options: { family?: 'ip' | 'ip6'; port?: boolean; setId?: number } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const fam = natFamily(opts.family);
  const e: Expr = { type: 'nat', natType: NAT_TYPE.dnat, family: fam, regAddrMin: 1 };
  if (opts.port) e.regProtoMin = reg32(align4(fam === FAMILIES.ip ? 4 : 16) / 4);
  return [...mapLookup(key, set, opts.setId !== undefined ? { setId: opts.setId } : {}), e];
}

/** `masquerade [random] [fully-random] [persistent]` */
export function masquerade(options: { random?: boolean; fullyRandom?: boolean; persistent?: boolean } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const flags = (opts.random ? NAT_FLAG.protoRandom : 0) | (opts.fullyRandom ? NAT_FLAG.protoRandomFully : 0) | (opts.persistent ? NAT_FLAG.persistent : 0);
  return [flags ? { type: 'masq', flags } : { type: 'masq' }];
}

/** `update @set { <key> }` / `add @set { <key> }` (dynamic sets, e.g. session affinity) */
export function updateSet(set: string, key: KeySource | KeySource[], options: { op?: 'add' | 'update' | 'delete'; timeout?: number } = {}): Expr[] {
  const opts = optsOf('opts', options);
  const e: Expr = { type: 'dynset', sregKey: 1, op: DYNSET_OP[oneOf(DYNSET_OP, 'op', opts.op ?? 'update')], set: nameArg('set', set) };
  if (opts.timeout !== undefined) {
    const t = opts.timeout;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TIMEOUT_MS) throw new ValidationError('timeout', `must be an integer 0..${MAX_TIMEOUT_MS} (ms)`, t);
    e.timeout = t;
  }
  return [...loadKey(Array.isArray(key) ? key : [key]), e];
}

/** `reject` (ICMP port unreachable for ip; use the raw expression for other kinds) */
export const reject = (): Expr[] => [{ type: 'reject', rejectType: 0, code: 3 }];

/** Datatype, byteorder and `typeof` description of a key source (for sets declared with typeof). */
export function describeSource(s: KeySource): { type: Datatype; byteorder: number; typeof?: TypeofDesc } {
  checkSource(s);
  if (typeof s === 'string') {
    const f = field(s);
    return { type: f.type, byteorder: f.byteorder ?? BIG, ...(f.typeof ? { typeof: f.typeof } : {}) };
  }
  if ('numgen' in s) {
    const n = s.numgen;
    return { type: DATATYPES.integer!, byteorder: HOST, typeof: { expr: TYPEOF_EXPR.numgen, params: [NUMGEN_TYPE[n.type ?? 'random'], n.mod, n.offset ?? 0] } };
  }
  const h = s.jhash;
  return { type: DATATYPES.integer!, byteorder: HOST, typeof: { expr: TYPEOF_EXPR.hash, params: [HASH_TYPE.jenkins, 0, h.mod, h.seed ?? 0, h.offset ?? 0] } };
}
