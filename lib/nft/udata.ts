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

export function setUdata(opts: { keyByteorder: number; dataByteorder?: number; comment?: string }): string {
  const tlvs: Tlv[] = [{ type: UDATA.setKeyByteorder, value: u32(opts.keyByteorder) }];
  if (opts.dataByteorder !== undefined) tlvs.push({ type: UDATA.setDataByteorder, value: u32(opts.dataByteorder) });
  if (opts.comment !== undefined) tlvs.push({ type: UDATA.setComment, value: strz(opts.comment) });
  return encodeTlvs(tlvs);
}

export { BYTEORDER };
