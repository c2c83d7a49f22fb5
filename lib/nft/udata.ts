/**
 * Userdata in libnftnl's TLV format (nftnl_udata: u8 type, u8 length, value), with the attribute
 * numbers nft uses, so that `nft list ruleset` prints comments and set byteorders kernlb writes.
 */
import { BYTEORDER } from './constants';

export interface Tlv {
  type: number;
  value: Buffer;
}

export const UDATA = {
  tableComment: 0,
  chainComment: 0,
  ruleComment: 0,
  objComment: 0,
  setKeyByteorder: 0,
  setDataByteorder: 1,
  setMergeElements: 2,
  setKeyTypeof: 3,
  setDataTypeof: 4,
  setExpr: 5,
  setDataInterval: 6,
  setComment: 7,
  elemComment: 0,
  elemFlags: 1,
} as const;

export function encodeTlvs(tlvs: Tlv[]): string {
  const parts: Buffer[] = [];
  for (const t of tlvs) {
    if (t.value.length > 255) throw new RangeError(`userdata value of type ${t.type} is longer than 255 bytes`);
    parts.push(Buffer.from([t.type, t.value.length]), t.value);
  }
  return Buffer.concat(parts).toString('hex');
}

export function decodeTlvs(hex: string): Tlv[] {
  const b = Buffer.from(hex, 'hex');
  const out: Tlv[] = [];
  for (let i = 0; i + 2 <= b.length; ) {
    const type = b[i]!, len = b[i + 1]!;
    if (i + 2 + len > b.length) break;
    out.push({ type, value: b.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

/** NUL-terminated string, as nftnl_udata_put_strz writes it. */
export const strz = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0); // nftnl_udata_put_u32 stores host order (little-endian here)
  return b;
};

/** Userdata of an object carrying only a comment (tables, chains, rules, objects, elements). */
export function commentUdata(comment: string | undefined, type = 0): string | undefined {
  return comment === undefined ? undefined : encodeTlvs([{ type, value: strz(comment) }]);
}

export function commentFromUdata(hex: string | undefined, type = 0): string | undefined {
  if (!hex) return undefined;
  const t = decodeTlvs(hex).find((x) => x.type === type);
  if (!t) return undefined;
  const end = t.value.indexOf(0);
  return t.value.subarray(0, end < 0 ? t.value.length : end).toString('utf8');
}

/** A TLV whose value is a list of TLVs (nftnl_udata_nest_start/end). */
export const nest = (type: number, children: Tlv[]): Tlv => ({ type, value: Buffer.from(encodeTlvs(children), 'hex') });

/**
 * How nft describes a set key or data expression in userdata (`typeof`): an expression kind (nft's
 * enum expr_types) and its parameters. A concatenation nests one description per field.
 */
export const TYPEOF_EXPR = { verdict: 1, payload: 7, meta: 9, concat: 13, numgen: 23, hash: 24 } as const;
export interface TypeofDesc {
  expr: number;
  /** Parameters, each a u32 TLV numbered from 0 (payload: desc, template; meta: key; numgen: type, mod, offset). */
  params: number[];
}

function typeofTlv(type: number, fields: TypeofDesc[] | 'concat' | 'verdict'): Tlv {
  if (fields === 'verdict') return nest(type, [{ type: 0, value: u32(TYPEOF_EXPR.verdict) }, nest(1, [])]);
  // a plain `type a . b` concatenation: nft records the concat expression without fields
  if (fields === 'concat') return nest(type, [{ type: 0, value: u32(TYPEOF_EXPR.concat) }, nest(1, [])]);
  const one = (d: TypeofDesc): Tlv[] => [{ type: 0, value: u32(d.expr) }, nest(1, d.params.map((v, i) => ({ type: i, value: u32(v) })))];
  if (fields.length === 1) return nest(type, one(fields[0]!));
  return nest(type, [{ type: 0, value: u32(TYPEOF_EXPR.concat) }, nest(1, fields.map((f, i) => nest(i, one(f))))]);
}

export interface SetUdataSpec {
  keyByteorder: number;
  keyTypeof?: TypeofDesc[] | 'concat';
  /** Present for maps. */
  dataByteorder?: number;
  dataTypeof?: TypeofDesc[] | 'concat' | 'verdict';
  comment?: string;
}

/** The userdata nft 1.0.6 writes for a set or map, in its order. */
export function setUdata(o: SetUdataSpec): string {
  const tlvs: Tlv[] = [{ type: UDATA.setKeyByteorder, value: u32(o.keyByteorder) }];
  const map = o.dataByteorder !== undefined;
  if (map) tlvs.push({ type: UDATA.setDataByteorder, value: u32(o.dataByteorder!) });
  if (o.keyTypeof) tlvs.push(typeofTlv(UDATA.setKeyTypeof, o.keyTypeof));
  if (o.dataTypeof) tlvs.push(typeofTlv(UDATA.setDataTypeof, o.dataTypeof));
  if (map) tlvs.push({ type: UDATA.setDataInterval, value: u32(0) });
  if (o.comment !== undefined) tlvs.push({ type: UDATA.setComment, value: strz(o.comment) });
  return encodeTlvs(tlvs);
}

export { BYTEORDER };
