/** Native listing -> model. Raw userdata is kept so that committing a listing recreates it byte for byte. */
import type { NativeNftChain, NativeNftElem, NativeNftListing, NativeNftObject, NativeNftRule, NativeNftSet, NativeNftTable } from '../native';
import {
  BYTEORDER, CHAIN_FLAG_BASE, DATA_VERDICT, HOOKS, OBJ_TYPE, SET_FLAG, familyName, verdictName,
  type ChainType, type Family, type ObjTypeName, type SetFlagName,
} from './constants';
import { decodeKey, encodeKey, fieldsOfType, type Datatype, type ScalarValue } from './datatypes';
import type { Chain, Element, Expr, NamedObject, NftSet, Rule, Ruleset, Table, TypeSpec } from './model';
import { recognize } from './recognize';
import { commentFromUdata, decodeTlvs, UDATA } from './udata';

const fam = (n: number): Family => familyName(n) ?? (String(n) as Family);

function withComment<T extends { comment?: string; userdata?: string }>(o: T, ud: string | undefined, type: number): T {
  if (ud === undefined) return o;
  o.userdata = ud;
  const c = commentFromUdata(ud, type);
  if (c !== undefined) o.comment = c;
  return o;
}

export function decodeTable(t: NativeNftTable): Table {
  const out: Table = { family: fam(t.family), name: t.name };
  if (t.flags) out.flags = t.flags;
  if (t.handle !== undefined) out.handle = t.handle;
  return withComment(out, t.userdata, UDATA.tableComment);
}

export function decodeChain(c: NativeNftChain): Chain {
  const family = fam(c.family);
  const out: Chain = { family, table: c.table, name: c.name };
  if (c.hook !== undefined) {
    const hooks = HOOKS[family] ?? {};
    const hook = Object.keys(hooks).find((k) => hooks[k] === c.hook) ?? String(c.hook);
    out.base = { type: c.type as ChainType, hook, priority: c.priority ?? 0 };
    if (c.policy !== undefined) out.base.policy = c.policy === 0 ? 'drop' : 'accept';
    if (c.device !== undefined) out.base.device = c.device;
    if (c.devices !== undefined) out.base.devices = c.devices;
  }
  const flags = (c.flags ?? 0) & ~CHAIN_FLAG_BASE;
  if (flags) out.flags = flags;
  if (c.handle !== undefined) out.handle = c.handle;
  return withComment(out, c.userdata, UDATA.chainComment);
}

/** NFT_DYNSET_F_EXPR: a dynset carrying several expressions (NFTA_DYNSET_EXPRESSIONS) must say so. */
const DYNSET_F_EXPR = 0x2;

/**
 * What the kernel lists of a dynset but refuses back as it is: it always dumps a timeout, where a
 * timeout attribute (even 0) on a set without the timeout flag is ENOTSUP; and it never dumps the
 * flag that a list of expressions needs (EINVAL without it).
 */
function writableDynset(e: Expr): void {
  if (e.timeout === 0) delete e.timeout;
  if (Array.isArray(e.exprs) && e.exprs.length > 1) e.flags = (typeof e.flags === 'number' ? e.flags : 0) | DYNSET_F_EXPR;
}

/** The kernel dumps an exthdr's flags always, and refuses them (EINVAL) on one that writes (sreg). */
function writableExthdr(e: Expr): void {
  if (e.sreg !== undefined && e.flags === 0) delete e.flags;
}

export function decodeRule(r: NativeNftRule): Rule {
  const exprs = r.exprs as Expr[];
  for (let i = 0; i < exprs.length; i++) {
    const t = exprs[i]!.type;
    if (t === 'dynset') writableDynset(exprs[i]!);
    else if (t === 'exthdr') writableExthdr(exprs[i]!);
  }
  const out: Rule = { family: fam(r.family), table: r.table, chain: r.chain, exprs };
  if (r.handle !== undefined) out.handle = r.handle;
  const st = recognize(exprs, out.family);
  if (st) out.statements = st;
  return withComment(out, r.userdata, UDATA.ruleComment);
}

function typeSpec(type: number, len: number): { spec: TypeSpec; fields?: Datatype[] } {
  const fields = fieldsOfType(type, len);
  if (!fields) return { spec: { id: type, len } };
  return { spec: fields.length === 1 ? fields[0]!.name : fields.map((f) => f.name), fields };
}

/**
 * Whether a typed value written back gives the very bytes read: interface names are the one type
 * whose bytes can be anything (an interval's end "eth\xff\xff...", bytes that are not UTF-8, or
 * something after the NUL), and a typed value must not lose them. Other types decode exactly.
 */
function lossless(fields: Datatype[], v: ScalarValue | ScalarValue[], b: Buffer): boolean {
  let hasIfname = false;
  for (const f of fields) if (f.id === IFNAME_ID) hasIfname = true;
  if (!hasIfname) return true;
  const vals = fields.length > 1 ? (v as ScalarValue[]) : [v as ScalarValue];
  for (let i = 0; i < fields.length; i++) if (fields[i]!.check(vals[i])) return false;
  return encodeKey(fields, vals).equals(b);
}
const IFNAME_ID = 41;

function decodeElement(e: NativeNftElem, key?: Datatype[], data?: Datatype[]): Element {
  const out: Element = {};
  const typed = (hex: string, fields?: Datatype[]) => {
    const b = Buffer.from(hex, 'hex');
    const len = fields ? fields.reduce((n, f, _i, a) => n + (a.length > 1 ? (f.len + 3) & ~3 : f.len), 0) : -1;
    if (!fields || b.length !== len) return undefined;
    const v = decodeKey(fields, b);
    return lossless(fields, v, b) ? v : undefined;
  };
  if (e.key !== undefined) {
    const v = typed(e.key, key);
    if (v !== undefined) out.key = v;
    else out.keyHex = e.key;
  }
  if (e.keyEnd !== undefined) {
    const v = typed(e.keyEnd, key);
    if (v !== undefined) out.keyEnd = v;
    else out.keyEndHex = e.keyEnd;
  }
  if (e.verdict !== undefined) {
    out.verdict = { verdict: verdictName(e.verdict) ?? 'continue' };
    if (e.chain !== undefined) out.verdict.chain = e.chain;
  } else if (e.data !== undefined) {
    const v = typed(e.data, data);
    if (v !== undefined) out.data = v;
    else out.dataHex = e.data;
  }
  if (e.objref !== undefined) out.object = e.objref;
  if (e.timeout !== undefined) out.timeout = e.timeout;
  if (e.expiration !== undefined) out.expiration = e.expiration;
  if (e.flags) out.flags = e.flags;
  const exprs = (e.exprs ?? []) as Expr[];
  const ctr = exprs.length === 1 && exprs[0]!.type === 'counter' ? exprs[0]! : undefined;
  if (ctr) out.counter = { packets: Number(ctr.packets ?? 0), bytes: Number(ctr.bytes ?? 0) };
  else if (exprs.length) out.exprs = exprs;
  return withComment(out, e.userdata, UDATA.elemComment);
}

/**
 * Fields of a set's keys (or data) that kernlb may type, or undefined: nft stores the keys of a
 * host-endian type (mark, integer) big-endian in an interval set (the kernel orders intervals by
 * their bytes), or when the set's userdata says byteorder 2. Such keys are not what the type decodes,
 * so they stay hex (exact either way).
 */
function typedFields(fields: Datatype[] | undefined, interval: boolean, userdata: string | undefined, tlv: number): Datatype[] | undefined {
  // (interface names are strings: never byte-swapped)
  if (!fields || !fields.some((f) => f.byteorder === BYTEORDER.host && f.id !== IFNAME_ID)) return fields;
  if (interval) return undefined;
  const bo = userdata ? decodeTlvs(userdata).find((t) => t.type === tlv) : undefined;
  return bo && bo.value.length === 4 && bo.value.readUInt32LE(0) === BYTEORDER.big ? undefined : fields;
}

export function decodeSet(s: NativeNftSet & { elements: NativeNftElem[] }): NftSet {
  const key = typeSpec(s.keyType ?? 0, s.keyLen ?? 0);
  const out: NftSet = { family: fam(s.family), table: s.table, name: s.name, key: key.spec };
  let data: { spec: TypeSpec; fields?: Datatype[] } | undefined;
  if (s.dataType === DATA_VERDICT) out.data = 'verdict';
  else if (s.dataType !== undefined && (s.flags ?? 0) & SET_FLAG.map) {
    data = typeSpec(s.dataType, s.dataLen ?? 0);
    out.data = data.spec;
  }
  if (s.objType !== undefined && (s.flags ?? 0) & SET_FLAG.object)
    out.objectType = (Object.keys(OBJ_TYPE) as ObjTypeName[]).find((k) => OBJ_TYPE[k] === s.objType) ?? 'counter';
  const flags = (Object.keys(SET_FLAG) as SetFlagName[]).filter((k) => (s.flags ?? 0) & SET_FLAG[k]);
  if (flags.length) out.flags = flags;
  if (s.timeout !== undefined) out.timeout = s.timeout;
  if (s.gcInterval !== undefined) out.gcInterval = s.gcInterval;
  if (s.size !== undefined) out.size = s.size;
  if (s.policy !== undefined) out.policy = s.policy === 1 ? 'memory' : 'performance';
  if (s.concat !== undefined) out.concat = s.concat;
  if (s.exprs?.length) out.exprs = s.exprs as Expr[];
  if (s.handle !== undefined) out.handle = s.handle;
  withComment(out, s.userdata, UDATA.setComment);
  const interval = ((s.flags ?? 0) & SET_FLAG.interval) !== 0;
  const keyFields = typedFields(key.fields, interval, s.userdata, UDATA.setKeyByteorder);
  const dataFields = typedFields(data?.fields, false, s.userdata, UDATA.setDataByteorder);
  out.elements = s.elements.map((e) => decodeElement(e, keyFields, dataFields));
  return out;
}

export function decodeObject(o: NativeNftObject): NamedObject {
  const base = { family: fam(o.family), table: o.table, name: o.name };
  let out: NamedObject;
  // (a quota's flags also carry NFT_QUOTA_F_DEPLETED, 2: its state, not its configuration; over is NFT_QUOTA_F_INV, 1)
  if (o.objType === OBJ_TYPE.quota) out = { ...base, type: 'quota', bytes: o.bytes ?? 0, consumed: o.consumed ?? 0, ...((o.flags ?? 0) & 1 ? { over: true } : {}) };
  else if (o.objType === OBJ_TYPE.limit)
    out = { ...base, type: 'limit', rate: o.rate ?? 0, unit: o.unit ?? 0, burst: o.burst ?? 0, limitType: o.limitType === 1 ? 'bytes' : 'pkts', ...(o.flags ? { over: true } : {}) };
  else if (o.objType === OBJ_TYPE.counter) out = { ...base, type: 'counter', packets: o.packets ?? 0, bytes: o.bytes ?? 0 };
  else if (o.objType === OBJ_TYPE['ct helper']) out = { ...base, type: 'ct helper', helper: o.helper ?? '', l3proto: o.l3proto ?? 0, l4proto: o.l4proto ?? 0 };
  else if (o.objType === OBJ_TYPE['ct timeout'])
    out = { ...base, type: 'ct timeout', l3proto: o.l3proto ?? 0, l4proto: o.l4proto ?? 0, ...(o.timeouts?.length ? { timeouts: o.timeouts } : {}) };
  else if (o.objType === OBJ_TYPE['ct expectation'])
    out = { ...base, type: 'ct expectation', l3proto: o.l3proto ?? 0, l4proto: o.l4proto ?? 0, dport: o.dport ?? 0, timeout: o.timeout ?? 0, size: o.size ?? 0 };
  else if (o.objType === OBJ_TYPE.synproxy) out = { ...base, type: 'synproxy', mss: o.mss ?? 0, wscale: o.wscale ?? 0, ...(o.flags ? { flags: o.flags } : {}) };
  else if (o.objType === OBJ_TYPE.secmark) out = { ...base, type: 'secmark', context: o.context ?? '' };
  else out = { ...base, type: 'unsupported', objType: o.objType };
  if (o.handle !== undefined) out.handle = o.handle;
  return withComment(out, o.userdata, UDATA.objComment);
}

export function decodeListing(l: NativeNftListing): Ruleset {
  return {
    generation: l.generation,
    tables: l.tables.map(decodeTable),
    chains: l.chains.map(decodeChain),
    objects: l.objects.map(decodeObject),
    sets: l.sets.map(decodeSet),
    rules: l.rules.map(decodeRule),
  };
}
