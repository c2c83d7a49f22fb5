/**
 * Model -> native items, validating everything first. Every problem becomes a ValidationError with
 * the path of the field at fault (e.g. "items[3].elements[12].key[1]"); nothing reaches the kernel
 * while one remains.
 */
import { ValidationError } from '../errors';
import type { NativeNftChain, NativeNftElem, NativeNftObject, NativeNftRule, NativeNftSet, NativeNftTable } from '../native';
import {
  BYTEORDER, CHAIN_FLAG_BASE, DATA_VERDICT, FAMILIES, HOOKS, LIMIT_TYPE, MAX_TIMEOUT_MS, OBJ_TYPE, SET_FLAG, SET_FLAG_NAMES, VERDICTS,
  type SetFlagName,
} from './constants';
import { DATATYPES, encodeKey, keyBytes, keyTypeOf, writeKey, type Datatype, type ScalarValue } from './datatypes';
import { parsePriority } from './priority';
import { PACK, PACKED_CHAIN, PACKED_KIND, PACKED_RULE, PACKED_TAG, type PackWriter } from './pack';
import type { Chain, Element, Expr, NamedObject, NftSet, Rule, Table, TypeSpec } from './model';
import { describeSource, type KeySource } from './statements';
import { commentUdata, setUdata, UDATA, type SetUdataSpec, type TypeofDesc } from './udata';
import { isOwnKey, ownValue } from '../own-key';

export class Problems {
  readonly list: ValidationError[] = [];
  add(field: string, problem: string, value?: unknown): void {
    this.list.push(new ValidationError(field, problem, value));
  }
}

// Validators take the item's path and the field separately: the full path string is only built for
// an error (bulk transactions validate millions of fields).
const at = (path: string, field: string) => (field ? `${path}.${field}` : path);
// Lookups by a caller's string are of own properties: "constructor" is no family, hook or verdict.
/** The input is an object (a transaction call's argument, an element...); else a problem at `path`. */
export function isObject(p: Problems, path: string, v: unknown, what = 'must be an object'): boolean {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return true;
  p.add(path, what, v);
  return false;
}
function name(p: Problems, path: string, field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 255 || v.includes('\0'))
    p.add(at(path, field), 'must be a non-empty name of at most 255 characters', v);
  return v as string;
}
/** A name (table, chain, set...) as the kernel takes it; for callers outside this module. */
export const validName = (p: Problems, path: string, field: string, v: unknown): string => name(p, path, field, v);
function family(p: Problems, path: string, field: string, v: unknown): number {
  const n = ownValue(FAMILIES as Record<string, number>, v);
  if (n === undefined) {
    p.add(at(path, field), `must be one of ${Object.keys(FAMILIES).join(', ')}`, v);
    return 0;
  }
  return n;
}
// After a problem these return 0, not the value: the caller still writes it (to a packed record that
// is then dropped), and a string or BigInt would throw there (e.g. BigInt('x') in PackWriter.u64).
function uint(p: Problems, path: string, field: string, v: unknown, max = 0xffffffff): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    p.add(at(path, field), `must be an integer 0..${max}`, v);
    return 0;
  }
  return v;
}
const HEX_RE = /^(?:[0-9a-f]{2})*$/;
function hex(p: Problems, path: string, field: string, v: unknown, maxBytes = 65000): string {
  // at least one byte: libnftnl aborts the process (an assertion) on attribute data of length 0
  if (typeof v !== 'string' || !v || !HEX_RE.test(v) || v.length / 2 > maxBytes) {
    p.add(at(path, field), `must be lowercase hex of 1..${maxBytes} bytes`, v);
    return ''; // not String(v): a Symbol or a null-prototype object has no string form
  }
  return v;
}
function userdata(p: Problems, path: string, raw: unknown, comment: unknown, type: number): string | undefined {
  if (raw !== undefined) return hex(p, path, 'userdata', raw, 255);
  if (comment === undefined) return undefined;
  if (typeof comment !== 'string' || Buffer.byteLength(comment) > 252) {
    p.add(`${path}.comment`, 'must be a string of at most 252 bytes', comment);
    return undefined;
  }
  return commentUdata(comment, type);
}

/**
 * The attributes native/nft (expr_specs.cc) gives each expression kind, and their kernel widths: a
 * value native cannot take (a number wider than its attribute, bytes where a string belongs, an
 * expression kind it does not know) is refused here, naming the field, instead of failing in native
 * code or being truncated there. Attributes an expression kind does not have are refused too (native
 * would drop them silently).
 */
const U8 = 1, U16 = 2, U32 = 3, U64 = 4, STR = 5, DATA = 6, NESTED = 7;
type AttrKinds = ReadonlyMap<string, number>;
const EXPR_ATTRS: Record<string, Record<string, number>> = {
  payload: { dreg: U32, base: U32, offset: U32, len: U32, sreg: U32, csumType: U32, csumOffset: U32, csumFlags: U32 },
  meta: { key: U32, dreg: U32, sreg: U32 },
  cmp: { sreg: U32, op: U32, data: DATA },
  range: { sreg: U32, op: U32, from: DATA, to: DATA },
  immediate: { dreg: U32, data: DATA, verdict: U32, chain: STR, chainId: U32 },
  counter: { packets: U64, bytes: U64 },
  bitwise: { sreg: U32, dreg: U32, len: U32, mask: DATA, xor: DATA, op: U32, data: DATA },
  byteorder: { dreg: U32, sreg: U32, op: U32, len: U32, size: U32 },
  lookup: { sreg: U32, dreg: U32, set: STR, setId: U32, flags: U32 },
  dynset: { sregKey: U32, sregData: U32, op: U32, timeout: U64, set: STR, setId: U32, flags: U32, exprs: NESTED },
  ct: { dreg: U32, key: U32, dir: U8, sreg: U32 },
  nat: { natType: U32, family: U32, regAddrMin: U32, regAddrMax: U32, regProtoMin: U32, regProtoMax: U32, flags: U32 },
  masq: { flags: U32, regProtoMin: U32, regProtoMax: U32 },
  redir: { regProtoMin: U32, regProtoMax: U32, flags: U32 },
  numgen: { dreg: U32, modulus: U32, ngType: U32, offset: U32 },
  hash: { sreg: U32, dreg: U32, len: U32, modulus: U32, seed: U32, offset: U32, hashType: U32 },
  limit: { rate: U64, unit: U64, burst: U32, limitType: U32, flags: U32 },
  log: { prefix: STR, group: U16, snaplen: U32, qthreshold: U16, level: U32, flags: U32 },
  reject: { rejectType: U32, code: U8 },
  fib: { dreg: U32, result: U32, flags: U32 },
  quota: { bytes: U64, flags: U32, consumed: U64 },
  objref: { objType: U32, name: STR, sreg: U32, set: STR, setId: U32 },
  exthdr: { dreg: U32, exthdrType: U8, offset: U32, len: U32, flags: U32, op: U32, sreg: U32 },
  connlimit: { count: U32, flags: U32 },
  queue: { num: U16, total: U16, flags: U16, sregQnum: U32 },
  rt: { key: U32, dreg: U32 },
  socket: { key: U32, dreg: U32, level: U32 },
  fwd: { sregDev: U32, sregAddr: U32, nfproto: U32 },
  dup: { sregAddr: U32, sregDev: U32 },
  tproxy: { family: U32, regAddr: U32, regPort: U32 },
  last: { msecs: U64, set: U32 },
  match: { name: STR, rev: U32, info: DATA },
  target: { name: STR, rev: U32, info: DATA },
  flow_offload: { name: STR },
  notrack: {},
  synproxy: { mss: U16, wscale: U8, flags: U32 },
  osf: { dreg: U32, ttl: U8, flags: U32 },
  xfrm: { dreg: U32, key: U32, dir: U8, spnum: U32 },
  tunnel: { key: U32, dreg: U32 },
};
/**
 * EXPR_ATTRS as Maps: a Map lookup by a string is one hash probe, where an own-key check and a read
 * of a 35-key object were two dictionary lookups (twice per attribute of 10^5-10^6 expressions).
 */
const EXPR_KINDS: ReadonlyMap<string, AttrKinds> = new Map(Object.entries(EXPR_ATTRS).map(([type, attrs]) => [type, new Map(Object.entries(attrs))]));

/** The attribute table of a known expression kind, or undefined (after adding the problem). */
function exprKinds(p: Problems, path: string, i: number, e: unknown): AttrKinds | undefined {
  const type = e && typeof e === 'object' ? (e as Expr).type : undefined;
  if (typeof type !== 'string' || !type) {
    p.add(`${path}[${i}].type`, 'must name an expression', e);
    return undefined;
  }
  // own properties only: "constructor" is not an expression
  const kinds = EXPR_KINDS.get(type);
  if (kinds === undefined) p.add(`${path}[${i}].type`, `unknown expression; known: ${Object.keys(EXPR_ATTRS).join(', ')}`, type);
  return kinds;
}
/** The most bytes of an expression's data attribute (NFT_DATA_VALUE_MAXLEN). */
const MAX_DATA = 64;
/** Checks one attribute against its kind; returns the kind (0 when the attribute is unknown). */
function checkAttr(p: Problems, path: string, i: number, kinds: AttrKinds, k: string, v: unknown): number {
  const kind = kinds.get(k) ?? 0;
  if (kind === 0) p.add(`${path}[${i}].${k}`, 'is not an attribute of this kind of expression', v);
  else if (kind === DATA) hex(p, `${path}[${i}]`, k, v, MAX_DATA);
  else if (kind === STR) {
    if (typeof v !== 'string' || v.length > 255 || v.includes('\0')) p.add(`${path}[${i}].${k}`, 'must be a string of at most 255 characters', v);
  } else if (kind === NESTED) {
    // validated by the caller (checkExprs / packExprs)
  } else if (typeof v !== 'number' || !Number.isInteger(v)) p.add(`${path}[${i}].${k}`, 'must be an integer', v);
  // native takes 32-bit attributes as uint32 or as an int32 bit pattern (verdict codes, priorities)
  else if (kind === U32 ? v < -0x80000000 || v > 0xffffffff : kind === U64 ? v < 0 || v >= 2 ** 64 : v < 0 || v > (kind === U8 ? 0xff : 0xffff))
    p.add(`${path}[${i}].${k}`, kind === U32 ? 'must be a 32-bit integer' : kind === U64 ? 'must be an integer 0..2**64-1' : `must be an integer 0..${kind === U8 ? 255 : 65535}`, v);
  return kind;
}

export function flattenExprs(exprs: (Expr | Expr[])[]): Expr[] {
  const out: Expr[] = [];
  for (const x of exprs) {
    if (Array.isArray(x)) for (const y of x) out.push(y);
    else out.push(x);
  }
  return out;
}

export function checkExprs(p: Problems, path: string, exprs: unknown): Expr[] {
  if (!Array.isArray(exprs)) {
    p.add(path, 'must be an array of expressions', exprs);
    return [];
  }
  const flat = flattenExprs(exprs as (Expr | Expr[])[]);
  for (let i = 0; i < flat.length; i++) {
    const e = flat[i]!;
    const kinds = exprKinds(p, path, i, e);
    if (!kinds) continue;
    for (const k in e) {
      const v = e[k];
      if (k === 'type' || v === undefined) continue;
      if (checkAttr(p, path, i, kinds, k, v) === NESTED) checkExprs(p, `${path}[${i}].exprs`, v);
    }
  }
  return flat;
}

/**
 * Validates expressions exactly as checkExprs does (same problems, same flat indexes in the paths)
 * and writes them to a packed record (pack.ts), flattening nested arrays on the way.
 */
function packExprs(p: Problems, path: string, exprs: unknown, w: PackWriter): void {
  if (!Array.isArray(exprs)) {
    p.add(path, 'must be an array of expressions', exprs);
    w.u16(0);
    return;
  }
  const countAt = w.off;
  w.u16(0);
  let n = 0;
  for (let j = 0; j < exprs.length; j++) {
    const x = exprs[j] as Expr | Expr[];
    if (Array.isArray(x)) for (let k = 0; k < x.length; k++) packExpr(p, path, n++, x[k]!, w);
    else packExpr(p, path, n++, x, w);
  }
  if (n > 0xffff) p.add(path, 'must hold at most 65535 expressions', n);
  w.buf.writeUInt16LE(n & 0xffff, countAt);
}

function packExpr(p: Problems, path: string, i: number, e: Expr, w: PackWriter): void {
  const kinds = exprKinds(p, path, i, e);
  if (!kinds) return; // the record is dropped
  w.ascii8(e.type);
  const countAt = w.off;
  w.u8(0);
  let n = 0;
  for (const k in e) {
    const v = e[k];
    if (k === 'type' || v === undefined) continue;
    n++;
    // (Data is checked as it is written: checkAttr's check of it, done again by the writer, was a
    // regular expression and a native hex decode per attribute.)
    const kind = kinds.get(k) === DATA ? DATA : checkAttr(p, path, i, kinds, k, v);
    if (kind === 0) return; // the record is dropped
    w.ascii8(k);
    if (kind === NESTED) {
      w.u8(PACKED_TAG.exprs);
      packExprs(p, `${path}[${i}].exprs`, v, w);
    } else if (kind === DATA) {
      w.u8(PACKED_TAG.data);
      if (!w.hex8Checked(v, MAX_DATA)) {
        hex(p, `${path}[${i}]`, k, v, MAX_DATA); // (the problem, as checkAttr words it)
        w.u8(0); // (the record is dropped; the other attributes are still checked)
      }
    } else if (kind === STR) {
      w.u8(PACKED_TAG.string);
      w.str16(v as string);
    } else w.tagNum(typeof v === 'number' ? v : 0);
  }
  if (n > 255) p.add(`${path}[${i}]`, 'has too many attributes', e);
  w.buf[countAt] = n & 255;
}

/** At most `max` characters, each ASCII (so as many bytes in UTF-8). */
function isShortAscii(s: string, max: number): boolean {
  if (s.length > max) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** encodeRule's validation, written as one packed record (pack.ts) instead of an object. */
export function packRule(p: Problems, path: string, r: Rule, op: number, w: PackWriter): void {
  w.u8(PACKED_KIND.rule);
  w.u8(op);
  w.u8(family(p, path, 'family', r.family));
  w.str16(name(p, path, 'table', r.table));
  w.str16(name(p, path, 'chain', r.chain));
  // A comment alone (the usual userdata) in ASCII is written straight from its string (commentTlv16),
  // without a Buffer and hex text in between; anything else goes through userdata() as the object
  // path does, and first (its problems come in the object path's order).
  const comment = r.userdata === undefined ? r.comment : undefined;
  const direct = typeof comment === 'string' && isShortAscii(comment, 252);
  const ud = direct ? undefined : userdata(p, path, r.userdata, r.comment, UDATA.ruleComment);
  let mask = PACKED_RULE.exprs;
  if (r.handle !== undefined) mask |= PACKED_RULE.handle;
  if (r.position !== undefined) mask |= PACKED_RULE.position;
  if (direct || ud !== undefined) mask |= PACKED_RULE.userdata;
  w.u16(mask);
  if (mask & PACKED_RULE.handle) w.f64(uint(p, path, 'handle', r.handle, Number.MAX_SAFE_INTEGER));
  if (mask & PACKED_RULE.position) w.f64(uint(p, path, 'position', r.position, Number.MAX_SAFE_INTEGER));
  if (direct) w.commentTlv16(UDATA.ruleComment, comment);
  else if (ud !== undefined) w.hex16(ud);
  packExprs(p, `${path}.exprs`, r.exprs, w);
}

/** encodeChain's validation, written as one packed record (pack.ts) instead of an object. */
export function packChain(p: Problems, path: string, c: Chain, op: number, w: PackWriter): void {
  if (c.base === undefined && c.flags === undefined && c.comment === undefined && c.userdata === undefined && c.handle === undefined) {
    // a regular chain (the bulk of a kube-proxy ruleset): no intermediate object
    const fam = family(p, path, 'family', c.family);
    const table = name(p, path, 'table', c.table);
    const chain = name(p, path, 'name', c.name);
    if (p.list.length) return;
    w.u8(PACKED_KIND.chain);
    w.u8(op);
    w.u8(fam);
    w.str16(table);
    w.str16(chain);
    w.u16(0);
    return;
  }
  const n = encodeChain(p, path, c);
  if (p.list.length) return; // the caller drops the record
  w.u8(PACKED_KIND.chain);
  w.u8(op);
  w.u8(n.family);
  w.str16(n.table);
  w.str16(n.name);
  let mask = 0;
  if (n.handle !== undefined) mask |= PACKED_CHAIN.handle;
  if (n.hook !== undefined) mask |= PACKED_CHAIN.hook;
  if (n.policy !== undefined) mask |= PACKED_CHAIN.policy;
  if (n.device !== undefined) mask |= PACKED_CHAIN.device;
  if (n.devices !== undefined) mask |= PACKED_CHAIN.devices;
  if (n.flags !== undefined) mask |= PACKED_CHAIN.flags;
  if (n.userdata !== undefined) mask |= PACKED_CHAIN.userdata;
  w.u16(mask);
  if (mask & PACKED_CHAIN.handle) w.f64(n.handle!);
  if (mask & PACKED_CHAIN.hook) {
    w.u32(n.hook!);
    w.i32(n.priority ?? 0);
    w.str16(n.type ?? '');
  }
  if (mask & PACKED_CHAIN.policy) w.u32(n.policy!);
  if (mask & PACKED_CHAIN.device) w.str16(n.device!);
  if (mask & PACKED_CHAIN.devices) {
    w.u16(n.devices!.length);
    for (const d of n.devices!) w.str16(d);
  }
  if (mask & PACKED_CHAIN.flags) w.u32(n.flags!);
  if (mask & PACKED_CHAIN.userdata) w.hex16(n.userdata!);
}

export function encodeTable(p: Problems, path: string, t: Table): NativeNftTable {
  const out: NativeNftTable = { family: family(p, path, 'family', t.family), name: name(p, path, 'name', t.name) };
  // nft always sends the flags (0 included); so does kernlb, for byte-identical messages
  out.flags = t.flags !== undefined ? uint(p, path, 'flags', t.flags, 7) : 0;
  const ud = userdata(p, path, t.userdata, t.comment, UDATA.tableComment);
  if (ud !== undefined) out.userdata = ud;
  if (t.handle !== undefined) out.handle = uint(p, path, 'handle', t.handle, Number.MAX_SAFE_INTEGER);
  return out;
}

export function encodeChain(p: Problems, path: string, c: Chain): NativeNftChain {
  const fam = family(p, path, 'family', c.family);
  const out: NativeNftChain = { family: fam, table: name(p, path, 'table', c.table), name: name(p, path, 'name', c.name) };
  if (c.base !== undefined && c.base !== null && isObject(p, `${path}.base`, c.base, 'must be an object (type, hook, priority)')) {
    const b = c.base;
    const hooks: Record<string, number> = fam ? HOOKS[c.family] : {};
    const hookOk = isOwnKey(hooks, b.hook);
    if (!hookOk) p.add(`${path}.base.hook`, `must be one of ${Object.keys(hooks).join(', ')} for family ${String(fam ? c.family : '?')}`, b.hook);
    if (!['filter', 'nat', 'route'].includes(b.type)) p.add(`${path}.base.type`, 'must be filter, nat or route', b.type);
    out.hook = hookOk ? hooks[b.hook]! : 0;
    out.type = b.type;
    const prio = parsePriority(c.family, String(b.hook), b.priority);
    if (typeof prio === 'number') out.priority = prio;
    else {
      p.add(`${path}.base.priority`, prio.problem, b.priority);
      out.priority = 0;
    }
    if (b.policy !== undefined) {
      if (b.policy !== 'accept' && b.policy !== 'drop') p.add(`${path}.base.policy`, 'must be accept or drop', b.policy);
      out.policy = b.policy === 'drop' ? 0 : 1;
    }
    if (b.device !== undefined) out.device = name(p, path, 'base.device', b.device);
    if (b.devices !== undefined) {
      if (!Array.isArray(b.devices)) p.add(`${path}.base.devices`, 'must be an array of device names', b.devices);
      else out.devices = b.devices.map((d, i) => name(p, path, `base.devices[${i}]`, d));
    }
  }
  if (c.flags !== undefined) {
    const f = uint(p, path, 'flags', c.flags, 0xff) & ~CHAIN_FLAG_BASE;
    if (f) out.flags = f;
  }
  const ud = userdata(p, path, c.userdata, c.comment, UDATA.chainComment);
  if (ud !== undefined) out.userdata = ud;
  if (c.handle !== undefined) out.handle = uint(p, path, 'handle', c.handle, Number.MAX_SAFE_INTEGER);
  return out;
}

export function encodeRule(p: Problems, path: string, r: Rule): NativeNftRule {
  const out: NativeNftRule = {
    family: family(p, path, 'family', r.family),
    table: name(p, path, 'table', r.table),
    chain: name(p, path, 'chain', r.chain),
    exprs: checkExprs(p, `${path}.exprs`, r.exprs),
  };
  const ud = userdata(p, path, r.userdata, r.comment, UDATA.ruleComment);
  if (ud !== undefined) out.userdata = ud;
  if (r.handle !== undefined) out.handle = uint(p, path, 'handle', r.handle, Number.MAX_SAFE_INTEGER);
  if (r.position !== undefined) out.position = uint(p, path, 'position', r.position, Number.MAX_SAFE_INTEGER);
  return out;
}

/** Resolved key/data layout of a set: what element encoding needs. */
export interface SetLayout {
  key?: Datatype[];
  keyType: number;
  keyLen: number;
  data?: Datatype[] | 'verdict';
  dataType?: number;
  dataLen?: number;
  concat?: number[];
}

export function resolveType(p: Problems, path: string, t: TypeSpec): { fields?: Datatype[]; type: number; len: number; concat?: number[] } {
  if (t !== null && typeof t === 'object' && !Array.isArray(t)) {
    return { type: uint(p, path, 'id', t.id), len: uint(p, path, 'len', t.len, 64) };
  }
  const names = Array.isArray(t) ? t : [t];
  if (!names.length) p.add(path, 'must name at least one datatype', t);
  const fields: Datatype[] = [];
  names.forEach((n, i) => {
    const d = ownValue(DATATYPES, n);
    if (!d) p.add(Array.isArray(t) ? `${path}[${i}]` : path, `unknown datatype; known: ${Object.keys(DATATYPES).join(', ')} (or give { id, len })`, n);
    else fields.push(d);
  });
  if (fields.length !== names.length || !fields.length) return { type: 0, len: 0 };
  return { fields, ...keyLayout(p, path, fields) };
}

/** keyTypeOf, refusing keys longer than the kernel's 64-byte registers hold (NFT_DATA_VALUE_MAXLEN). */
function keyLayout(p: Problems, path: string, fields: Datatype[]): ReturnType<typeof keyTypeOf> {
  const k = keyTypeOf(fields);
  if (k.len > 64) p.add(path, `is ${k.len} bytes: at most 64`, fields.map((f) => f.name));
  return k;
}

function typeofLayout(p: Problems, path: string, src: KeySource | KeySource[]): { fields: Datatype[]; type: number; len: number; concat?: number[]; descs?: TypeofDesc[]; byteorder: number } {
  const list = Array.isArray(src) ? src : [src];
  const described = list.map((x, i) => {
    try {
      return describeSource(x);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e; // a bug, not bad input: not to be passed off as one
      p.add(Array.isArray(src) ? `${path}[${i}]` : path, e.message, x);
      return undefined;
    }
  });
  if (!described.length) p.add(path, 'must name at least one key source', src);
  if (described.some((d) => !d) || !described.length) return { fields: [], type: 0, len: 0, byteorder: 0 };
  const ds = described as NonNullable<(typeof described)[number]>[];
  const fields = ds.map((d) => d.type);
  const descs = ds.every((d) => d.typeof) ? ds.map((d) => d.typeof!) : undefined;
  return { fields, ...keyLayout(p, path, fields), ...(descs ? { descs } : {}), byteorder: ds.length === 1 ? ds[0]!.byteorder : BYTEORDER.invalid };
}

/** The userdata nft writes for this set: byteorders, typeof descriptions, comment. */
function nftSetUdata(s: NftSet, layout: SetLayout, p: Problems, path: string): string {
  const spec: SetUdataSpec = { keyByteorder: BYTEORDER.invalid };
  if (s.typeof) {
    const k = typeofLayout(p, `${path}.typeof.key`, s.typeof.key);
    spec.keyByteorder = k.byteorder;
    if (k.descs) spec.keyTypeof = k.descs;
    if (s.typeof.data === 'verdict') {
      spec.dataByteorder = BYTEORDER.invalid;
      spec.dataTypeof = 'verdict';
    } else if (s.typeof.data !== undefined) {
      const d = typeofLayout(p, `${path}.typeof.data`, s.typeof.data);
      spec.dataByteorder = d.byteorder;
      if (d.descs) spec.dataTypeof = d.descs;
    }
  } else {
    const order = (f?: Datatype[]) => (f && f.length === 1 ? f[0]!.byteorder : BYTEORDER.invalid);
    spec.keyByteorder = order(layout.key);
    if (layout.key && layout.key.length > 1) spec.keyTypeof = 'concat';
    if (layout.data === 'verdict') spec.dataByteorder = BYTEORDER.invalid;
    else if (layout.data) {
      spec.dataByteorder = order(layout.data);
      if (layout.data.length > 1) spec.dataTypeof = 'concat';
    }
  }
  if (s.comment !== undefined) {
    if (typeof s.comment !== 'string' || Buffer.byteLength(s.comment) > 128) p.add(`${path}.comment`, 'must be a string of at most 128 bytes', s.comment);
    else spec.comment = s.comment;
  }
  return setUdata(spec);
}

export function setLayout(p: Problems, path: string, s: Pick<NftSet, 'key' | 'data' | 'typeof'>): SetLayout {
  if (s.typeof !== undefined && !isObject(p, `${path}.typeof`, s.typeof, 'must be an object { key, data? }')) return { keyType: 0, keyLen: 0 };
  if (s.typeof && s.key === undefined) {
    const k = typeofLayout(p, `${path}.typeof.key`, s.typeof.key);
    const out: SetLayout = { key: k.fields, keyType: k.type, keyLen: k.len };
    if (k.concat) out.concat = k.concat;
    const d = s.typeof.data;
    if (d === 'verdict') Object.assign(out, { data: 'verdict', dataType: DATA_VERDICT, dataLen: 16 });
    else if (d !== undefined) {
      const dl = typeofLayout(p, `${path}.typeof.data`, d);
      Object.assign(out, { data: dl.fields, dataType: dl.type, dataLen: dl.len });
    }
    return out;
  }
  if (s.key === undefined) {
    p.add(`${path}.key`, 'is required (or give typeof)');
    return { keyType: 0, keyLen: 0 };
  }
  const k = resolveType(p, `${path}.key`, s.key);
  const out: SetLayout = { keyType: k.type, keyLen: k.len };
  if (k.fields) out.key = k.fields;
  if (k.concat) out.concat = k.concat;
  if (s.data === 'verdict') {
    out.data = 'verdict';
    out.dataType = DATA_VERDICT;
    out.dataLen = 16; // sizeof(struct nft_verdict); the kernel ignores it for verdict maps
  } else if (s.data !== undefined) {
    const d = resolveType(p, `${path}.data`, s.data);
    if (d.fields) out.data = d.fields;
    out.dataType = d.type;
    out.dataLen = d.len;
  }
  return out;
}

/**
 * Layout and nft userdata of a set type, memoized by the type's description: a kube-proxy ruleset
 * declares one anonymous map per service, all of one type, and resolving it (datatypes, typeof
 * descriptions, userdata TLVs) cost more than the map's elements. Only problem-free results are
 * kept; sets with a comment are not memoized (their userdata is their own).
 */
const typeMemo = new Map<string, { layout: SetLayout; udata: string }>();
function setTypeOf(p: Problems, path: string, s: NftSet): { layout: SetLayout; udata: string } {
  let key: string | undefined;
  if (s.comment === undefined && s.userdata === undefined) {
    try {
      key = JSON.stringify([s.key, s.data, s.typeof]);
    } catch {
      key = undefined; // e.g. a cycle: the checks below report what is wrong
    }
    const hit = key !== undefined ? typeMemo.get(key) : undefined;
    if (hit) return hit;
  }
  const before = p.list.length;
  const layout = setLayout(p, path, s);
  const udata = s.userdata !== undefined ? '' : nftSetUdata(s, layout, p, path);
  const out = { layout, udata };
  if (key !== undefined && p.list.length === before) {
    if (typeMemo.size >= 256) typeMemo.clear();
    typeMemo.set(key, out);
  }
  return out;
}

export function encodeSet(p: Problems, path: string, s: NftSet, id: number): { set: NativeNftSet; layout: SetLayout } {
  const { layout, udata } = setTypeOf(p, path, s);
  let flags = 0;
  if (s.flags !== undefined && !Array.isArray(s.flags)) p.add(`${path}.flags`, 'must be an array of set flags', s.flags);
  for (const [i, f] of (Array.isArray(s.flags) ? s.flags : []).entries()) {
    const n = (isOwnKey(SET_FLAG_NAMES, f) ? SET_FLAG_NAMES[f] : f) as SetFlagName;
    if (!isOwnKey(SET_FLAG, n)) p.add(`${path}.flags[${i}]`, `unknown set flag; known: ${[...Object.keys(SET_FLAG), 'dynamic'].join(', ')}`, f);
    else flags |= SET_FLAG[n];
  }
  if (s.data !== undefined || (s.typeof?.data !== undefined)) flags |= SET_FLAG.map;
  if (s.objectType !== undefined) flags |= SET_FLAG.object;
  if (layout.key && layout.key.length > 1 && flags & SET_FLAG.interval) flags |= SET_FLAG.concat;
  const set: NativeNftSet = {
    family: family(p, path, 'family', s.family),
    table: name(p, path, 'table', s.table),
    name: name(p, path, 'name', s.name),
    id: s.id !== undefined ? uint(p, path, 'id', s.id) : id,
    flags,
    keyType: layout.keyType,
    keyLen: layout.keyLen,
  };
  if (layout.dataType !== undefined) {
    set.dataType = layout.dataType;
    set.dataLen = layout.dataLen!;
  }
  if (s.objectType !== undefined) {
    if (!isOwnKey(OBJ_TYPE, s.objectType)) p.add(`${path}.objectType`, `must be one of ${Object.keys(OBJ_TYPE).join(', ')}`, s.objectType);
    else set.objType = OBJ_TYPE[s.objectType];
  }
  if (s.timeout !== undefined) set.timeout = uint(p, path, 'timeout', s.timeout, MAX_TIMEOUT_MS);
  if (s.gcInterval !== undefined) set.gcInterval = uint(p, path, 'gcInterval', s.gcInterval);
  // the kernel's EINVAL otherwise
  if ((s.timeout !== undefined || s.gcInterval !== undefined) && !(flags & SET_FLAG.timeout)) p.add(`${path}.flags`, 'must include timeout for a set with a timeout or gcInterval', s.flags);
  if (s.size !== undefined) set.size = uint(p, path, 'size', s.size);
  if (s.policy !== undefined) {
    if (s.policy !== 'performance' && s.policy !== 'memory') p.add(`${path}.policy`, 'must be performance or memory', s.policy);
    set.policy = s.policy === 'memory' ? 1 : 0;
  }
  const concat = s.concat ?? (flags & SET_FLAG.interval ? layout.concat : undefined);
  // native holds at most 16 field lengths (NFT_REG32_COUNT)
  if (concat !== undefined && (!Array.isArray(concat) || concat.length > 16)) p.add(`${path}.concat`, 'must be an array of at most 16 field lengths', concat);
  else if (concat) set.concat = concat.map((n, i) => uint(p, path, `concat[${i}]`, n, 64));
  if (s.exprs) set.exprs = checkExprs(p, `${path}.exprs`, s.exprs);
  if (s.userdata !== undefined) set.userdata = hex(p, path, 'userdata', s.userdata, 255);
  else set.userdata = udata;
  if (s.handle !== undefined) set.handle = uint(p, path, 'handle', s.handle, Number.MAX_SAFE_INTEGER);
  return { set, layout };
}

function typedValue(p: Problems, path: string, fields: Datatype[] | undefined, v: unknown): string {
  if (!fields) {
    p.add(path, 'the set\'s type is not one kernlb encodes: give the raw bytes as *Hex', v);
    return '';
  }
  const vals = fields.length > 1 ? v : Array.isArray(v) ? v : [v];
  if (!Array.isArray(vals) || vals.length !== fields.length) {
    p.add(path, `must be ${fields.length} values (${fields.map((f) => f.name).join(' . ')})`, v);
    return '';
  }
  let ok = true;
  fields.forEach((f, i) => {
    const problem = f.check(vals[i]);
    if (problem) {
      ok = false;
      p.add(fields.length > 1 ? `${path}[${i}]` : path, `${problem} (${f.name})`, vals[i]);
    }
  });
  return ok ? encodeKey(fields, vals as ScalarValue[]).toString('hex') : '';
}

export function encodeElement(p: Problems, path: string, layout: SetLayout, e: Element): NativeNftElem {
  const out: NativeNftElem = {};
  if (!isObject(p, path, e)) return out;
  if (e.keyHex !== undefined) out.key = hex(p, path, 'keyHex', e.keyHex, 64);
  else if (e.key !== undefined) out.key = typedValue(p, `${path}.key`, layout.key, e.key);
  else if (!isCatchAll(e)) p.add(`${path}.key`, 'is required (but in a catch-all element, flags 2)');
  if (e.keyEndHex !== undefined) out.keyEnd = hex(p, path, 'keyEndHex', e.keyEndHex, 64);
  else if (e.keyEnd !== undefined) out.keyEnd = typedValue(p, `${path}.keyEnd`, layout.key, e.keyEnd);
  if (e.verdict) {
    const v = e.verdict;
    out.verdict = verdictCode(p, path, v);
    if (v.verdict === 'jump' || v.verdict === 'goto') out.chain = name(p, path, 'verdict.chain', v.chain);
  } else if (e.dataHex !== undefined) out.data = hex(p, path, 'dataHex', e.dataHex, 64);
  else if (e.data !== undefined) out.data = typedValue(p, `${path}.data`, Array.isArray(layout.data) ? layout.data : undefined, e.data);
  if (e.object !== undefined) out.objref = name(p, path, 'object', e.object);
  if (e.timeout !== undefined) out.timeout = uint(p, path, 'timeout', e.timeout, MAX_TIMEOUT_MS);
  if (e.expiration !== undefined) out.expiration = uint(p, path, 'expiration', e.expiration, MAX_TIMEOUT_MS);
  if (e.flags !== undefined) out.flags = uint(p, path, 'flags', e.flags);
  const exprs: Expr[] = [];
  if (e.counter && isObject(p, `${path}.counter`, e.counter)) exprs.push({ type: 'counter', packets: uint(p, path, 'counter.packets', e.counter.packets, Number.MAX_SAFE_INTEGER), bytes: uint(p, path, 'counter.bytes', e.counter.bytes, Number.MAX_SAFE_INTEGER) });
  if (e.exprs) exprs.push(...checkExprs(p, `${path}.exprs`, e.exprs));
  if (exprs.length) out.exprs = exprs;
  const ud = userdata(p, path, e.userdata, e.comment, UDATA.elemComment);
  if (ud !== undefined) out.userdata = ud;
  return out;
}

/** NFT_SET_ELEM_INTERVAL_END: the end of a range, which carries no data even in a map. */
const ELEM_INTERVAL_END = 0x1;
/** NFT_SET_ELEM_CATCHALL: the element `*`, which has no key. */
const ELEM_CATCHALL = 0x2;
const elemFlags = (e: Element) => (typeof e.flags === 'number' ? e.flags : 0);
const isCatchAll = (e: Element) => (elemFlags(e) & ELEM_CATCHALL) !== 0;

/** What is known of a set, for checkElements; undefined fields are not known (a set of an earlier transaction). */
export interface SetTraits {
  map?: 'data' | 'verdict' | 'object';
  timeout?: boolean;
  interval?: boolean;
}
/**
 * What the kernel refuses with a bare EINVAL, checked against what is known of the set: a map element
 * without its data (add / create), a timeout in a set without the timeout flag, an interval end in
 * a set without the interval flag. One pass of property reads per element.
 */
export function checkElements(p: Problems, path: string, elements: Element[], t: SetTraits, add: boolean): void {
  const data = add && t.map === 'data', verdict = add && t.map === 'verdict', object = add && t.map === 'object';
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i]!;
    if (e === null || typeof e !== 'object') continue; // refused by the encoder
    if (elemFlags(e) & ELEM_INTERVAL_END) {
      if (t.interval === false) p.add(`${path}[${i}]`, 'is an interval end: needs a set with the interval flag', e);
      continue;
    }
    if (data && e.data === undefined && e.dataHex === undefined) p.add(`${path}[${i}].data`, 'is required in a map', e.data);
    if (verdict && !e.verdict) p.add(`${path}[${i}].verdict`, 'is required in a verdict map', e.verdict);
    if (object && e.object === undefined) p.add(`${path}[${i}].object`, 'is required in an object map', e.object);
    if (t.timeout === false && e.timeout !== undefined) p.add(`${path}[${i}].timeout`, 'needs a set with the timeout flag', e.timeout);
    if (t.interval === false && (e.keyEnd !== undefined || e.keyEndHex !== undefined))
      p.add(`${path}[${i}]`, 'is an interval end: needs a set with the interval flag', e);
  }
}

/** Element fields the packed path carries; anything else (other per-element expressions) uses objects. */
export function packable(e: Element): boolean {
  // not an object: packElement says so
  return !e || typeof e !== 'object' || !e.exprs || e.exprs.length === 0;
}

/** The kernel code of an element's verdict ({ verdict, chain }); 0 after a problem. */
function verdictCode(p: Problems, path: string, v: unknown): number {
  const name = v !== null && typeof v === 'object' ? (v as { verdict?: unknown }).verdict : undefined;
  if (!isOwnKey(VERDICTS, name)) {
    p.add(`${path}.verdict.verdict`, `must be one of ${Object.keys(VERDICTS).join(', ')}`, v !== null && typeof v === 'object' ? name : v);
    return 0;
  }
  return VERDICTS[name as keyof typeof VERDICTS];
}

function packTyped(p: Problems, path: string, fields: Datatype[] | undefined, v: unknown, w: PackWriter): void {
  if (!fields) {
    p.add(path, 'the set\'s type is not one kernlb encodes: give the raw bytes as *Hex', v);
    return;
  }
  const vals = fields.length > 1 ? v : Array.isArray(v) ? v : [v];
  if (!Array.isArray(vals) || vals.length !== fields.length) {
    p.add(path, `must be ${fields.length} values (${fields.map((f) => f.name).join(' . ')})`, v);
    return;
  }
  for (let i = 0; i < fields.length; i++) {
    const problem = fields[i]!.check(vals[i]);
    if (problem) {
      p.add(fields.length > 1 ? `${path}[${i}]` : path, `${problem} (${fields[i]!.name})`, vals[i]);
      return;
    }
  }
  const at = w.reserve8(keyBytes(fields));
  writeKey(fields, vals as ScalarValue[], w.buf, at);
}

/**
 * Element comments repeat (kernlb's slot maps: "w1" on most of 100k elements), so their userdata
 * bytes are kept by comment: encoding each anew was a fifth of a 10k-service full apply's encoding.
 * Bounded: past the bound, comments are encoded each time as before.
 */
const ELEM_COMMENT_UDATA = new Map<string, Buffer>();
function elemUserdata(p: Problems, path: string, e: Element): Buffer | undefined {
  if (e.userdata === undefined && typeof e.comment === 'string') {
    const known = ELEM_COMMENT_UDATA.get(e.comment);
    if (known) return known;
  }
  const ud = userdata(p, path, e.userdata, e.comment, UDATA.elemComment);
  if (ud === undefined) return undefined;
  const b = Buffer.from(ud, 'hex');
  if (e.userdata === undefined && ELEM_COMMENT_UDATA.size < 4096) ELEM_COMMENT_UDATA.set(e.comment as string, b);
  return b;
}

/** An element comment's userdata bytes, shared as packElement shares them: for callers that pack elements themselves. */
export function elemCommentUserdata(comment: string): Buffer {
  const p = new Problems();
  const b = elemUserdata(p, 'comment', { comment } as Element);
  if (!b || p.list.length) throw p.list[0] ?? new ValidationError('comment', 'is not an element comment', comment);
  return b;
}

/** Appends one element to a packed list (see pack.ts), validating it. */
export function packElement(p: Problems, path: string, layout: SetLayout, e: Element, w: PackWriter): void {
  if (!e || typeof e !== 'object') return p.add(path, 'must be an object', e);
  const big = Number.MAX_SAFE_INTEGER;
  let mask = 0;
  if (e.keyHex !== undefined || e.key !== undefined) mask |= PACK.key;
  else if (!isCatchAll(e)) p.add(`${path}.key`, 'is required (but in a catch-all element, flags 2)');
  if (e.keyEndHex !== undefined || e.keyEnd !== undefined) mask |= PACK.keyEnd;
  if (e.verdict) mask |= PACK.verdict | (e.verdict.verdict === 'jump' || e.verdict.verdict === 'goto' ? PACK.chain : 0);
  else if (e.dataHex !== undefined || e.data !== undefined) mask |= PACK.data;
  if (e.object !== undefined) mask |= PACK.objref;
  if (e.timeout !== undefined) mask |= PACK.timeout;
  if (e.expiration !== undefined) mask |= PACK.expiration;
  if (e.flags !== undefined) mask |= PACK.flags;
  const ud = elemUserdata(p, path, e);
  if (ud !== undefined) mask |= PACK.userdata;
  if (e.counter) mask |= PACK.counter;
  w.u16(mask);
  if (mask & PACK.key) {
    if (e.keyHex !== undefined) w.bytes8(Buffer.from(hex(p, path, 'keyHex', e.keyHex, 64), 'hex'));
    else packTyped(p, `${path}.key`, layout.key, e.key, w);
  }
  if (mask & PACK.keyEnd) {
    if (e.keyEndHex !== undefined) w.bytes8(Buffer.from(hex(p, path, 'keyEndHex', e.keyEndHex, 64), 'hex'));
    else packTyped(p, `${path}.keyEnd`, layout.key, e.keyEnd, w);
  }
  if (mask & PACK.data) {
    if (e.dataHex !== undefined) w.bytes8(Buffer.from(hex(p, path, 'dataHex', e.dataHex, 64), 'hex'));
    else packTyped(p, `${path}.data`, Array.isArray(layout.data) ? layout.data : undefined, e.data, w);
  }
  if (mask & PACK.verdict) {
    w.i32(verdictCode(p, path, e.verdict));
    if (mask & PACK.chain) w.str16(name(p, path, 'verdict.chain', e.verdict!.chain));
  }
  if (mask & PACK.objref) w.str16(name(p, path, 'object', e.object));
  if (mask & PACK.timeout) w.u64(uint(p, path, 'timeout', e.timeout, MAX_TIMEOUT_MS));
  if (mask & PACK.expiration) w.u64(uint(p, path, 'expiration', e.expiration, MAX_TIMEOUT_MS));
  if (mask & PACK.flags) w.u32(uint(p, path, 'flags', e.flags));
  if (mask & PACK.userdata) w.bytes8(ud!);
  if (mask & PACK.counter) {
    isObject(p, `${path}.counter`, e.counter);
    w.u64(uint(p, path, 'counter.packets', e.counter!.packets, big));
    w.u64(uint(p, path, 'counter.bytes', e.counter!.bytes, big));
  }
  w.count++;
}

/** An optional boolean as a 0/1 flag. */
function flag(p: Problems, path: string, field: string, v: unknown): number {
  if (v !== undefined && typeof v !== 'boolean') p.add(at(path, field), 'must be true or false', v);
  return v === true ? 1 : 0;
}

export function encodeObject(p: Problems, path: string, o: NamedObject): NativeNftObject {
  const t = o.type as string;
  if (typeof t !== 'string' || !WRITABLE_OBJECTS.includes(t))
    p.add(`${path}.type`, t === 'unsupported' ? `object type ${(o as { objType?: number }).objType} is not one kernlb can write` : `must be one of ${WRITABLE_OBJECTS.join(', ')}`, t);
  const out: NativeNftObject = {
    family: family(p, path, 'family', o.family),
    table: name(p, path, 'table', o.table),
    name: name(p, path, 'name', o.name),
    objType: ownValue(OBJ_TYPE as Record<string, number>, t) ?? 0,
  };
  const big = Number.MAX_SAFE_INTEGER;
  if (o.type === 'counter') {
    if (o.packets !== undefined) out.packets = uint(p, path, 'packets', o.packets, big);
    if (o.bytes !== undefined) out.bytes = uint(p, path, 'bytes', o.bytes, big);
  } else if (o.type === 'quota') {
    out.bytes = uint(p, path, 'bytes', o.bytes, big);
    if (o.consumed !== undefined) out.consumed = uint(p, path, 'consumed', o.consumed, big);
    out.flags = flag(p, path, 'over', o.over);
  } else if (o.type === 'limit') {
    out.rate = uint(p, path, 'rate', o.rate, big);
    out.unit = uint(p, path, 'unit', o.unit, big);
    if (o.burst !== undefined) out.burst = uint(p, path, 'burst', o.burst);
    if (o.limitType !== undefined && o.limitType !== 'pkts' && o.limitType !== 'bytes') p.add(`${path}.limitType`, 'must be pkts or bytes', o.limitType);
    out.limitType = o.limitType === 'bytes' ? LIMIT_TYPE.bytes : LIMIT_TYPE.pkts;
    out.flags = flag(p, path, 'over', o.over);
  } else if (o.type === 'ct helper') {
    if (typeof o.helper !== 'string' || !o.helper || o.helper.length > 15 || o.helper.includes('\0')) p.add(`${path}.helper`, 'must be a helper name of 1..15 characters', o.helper);
    else out.helper = o.helper;
    out.l3proto = uint(p, path, 'l3proto', o.l3proto, 0xffff);
    out.l4proto = uint(p, path, 'l4proto', o.l4proto, 0xff);
  } else if (o.type === 'ct timeout') {
    out.l3proto = uint(p, path, 'l3proto', o.l3proto, 0xffff);
    out.l4proto = uint(p, path, 'l4proto', o.l4proto, 0xff);
    if (o.timeouts !== undefined) {
      // native holds NFTNL_CTTIMEOUT_ARRAY_MAX (tcp's 11 states, the most of any protocol)
      if (!Array.isArray(o.timeouts) || o.timeouts.length > 11) p.add(`${path}.timeouts`, 'must be an array of at most 11 timeouts (seconds)', o.timeouts);
      else out.timeouts = o.timeouts.map((v, i) => uint(p, path, `timeouts[${i}]`, v));
    }
  } else if (o.type === 'ct expectation') {
    out.l3proto = uint(p, path, 'l3proto', o.l3proto, 0xffff);
    out.l4proto = uint(p, path, 'l4proto', o.l4proto, 0xff);
    out.dport = uint(p, path, 'dport', o.dport, 0xffff);
    out.timeout = uint(p, path, 'timeout', o.timeout);
    out.size = uint(p, path, 'size', o.size, 0xff);
  } else if (o.type === 'synproxy') {
    out.mss = uint(p, path, 'mss', o.mss, 0xffff);
    out.wscale = uint(p, path, 'wscale', o.wscale, 0xff);
    if (o.flags !== undefined) out.flags = uint(p, path, 'flags', o.flags);
  } else if (o.type === 'secmark') {
    if (typeof o.context !== 'string' || !o.context || Buffer.byteLength(o.context) > 255 || o.context.includes('\0'))
      p.add(`${path}.context`, 'must be a security context of 1..255 bytes', o.context);
    else out.context = o.context;
  }
  const ud = userdata(p, path, o.userdata, o.comment, UDATA.objComment);
  if (ud !== undefined) out.userdata = ud;
  if (o.handle !== undefined) out.handle = uint(p, path, 'handle', o.handle, big);
  return out;
}
/** The object kinds encodeObject writes. */
const WRITABLE_OBJECTS = ['counter', 'quota', 'limit', 'ct helper', 'ct timeout', 'ct expectation', 'synproxy', 'secmark'];
