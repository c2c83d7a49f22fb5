/**
 * -m srh (IPv6 segment routing header): ip6t_srh1 (revision 1, 108 bytes: next_hdr, hdr_len,
 * segs_left, last_entry, tag, then at 8 the previous/next/last SID addresses and their masks, flags, invflags).
 * `ip6tables -m srh --srh-next-hdr 17 --srh-segs-left-gt 1 --srh-psid 2001:db8::/64`
 */
import { formatAddr, maskPrefix, parseCidr } from '../addr';
import { arg, ParseProblem, VALID, type Codec } from './codec';

export type SrhOp = 'eq' | 'gt' | 'lt';
export interface SrhCompare {
  op: SrhOp;
  value: number;
}
export interface SrhMatch {
  type: 'srh';
  nextHdr?: number;
  hdrLen?: SrhCompare;
  segsLeft?: SrhCompare;
  lastEntry?: SrhCompare;
  tag?: number;
  /** The previous, next and last segment id, "addr/prefix". */
  psid?: string;
  nsid?: string;
  lsid?: string;
  invert?: Partial<Record<'nextHdr' | 'hdrLen' | 'segsLeft' | 'lastEntry' | 'tag' | 'psid' | 'nsid' | 'lsid', boolean>>;
}

const OPS: SrhOp[] = ['eq', 'gt', 'lt'];
// Field, byte offset, the flag of its first form, option name; in flag order (iptables prints so).
const CMP = [['hdrLen', 1, 0x2, 'srh-hdr-len'], ['segsLeft', 2, 0x10, 'srh-segs-left'], ['lastEntry', 3, 0x80, 'srh-last-entry']] as const;
const SID = [['psid', 8, 0x800], ['nsid', 24, 0x1000], ['lsid', 40, 0x2000]] as const;
const NEXTHDR = 1, TAG = 0x400;
type Field = keyof NonNullable<SrhMatch['invert']>;
const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;

function sidText(s: string): string {
  const am = parseCidr(s, 'ipv6')!;
  return `${formatAddr(am.addr)}/${maskPrefix(am.mask)}`;
}

export const srh: Codec<SrhMatch> = {
  kind: 'match',
  type: 'srh',
  name: 'srh',
  families: ['ipv6'],
  revision: () => 1,
  size: () => 108,
  encode(v, b) {
    let flags = 0, inv = 0;
    const mark = (k: Field, bit: number) => {
      flags |= bit;
      if (v.invert?.[k]) inv |= bit;
    };
    if (v.nextHdr !== undefined) (b[0] = v.nextHdr), mark('nextHdr', NEXTHDR);
    for (const [k, off, bit] of CMP) {
      const c = v[k];
      if (c) (b[off] = c.value), mark(k, bit << OPS.indexOf(c.op));
    }
    if (v.tag !== undefined) b.writeUInt16LE(v.tag, 4), mark('tag', TAG);
    for (const [k, off, bit] of SID) {
      const s = v[k];
      if (s === undefined) continue;
      const am = parseCidr(s, 'ipv6')!;
      am.addr.copy(b, off);
      am.mask.copy(b, off + 48);
      mark(k, bit);
    }
    b.writeUInt16LE(flags, 104);
    b.writeUInt16LE(inv, 106);
  },
  decode(b, _f, rev) {
    const flags = b.readUInt16LE(104), inv = b.readUInt16LE(106);
    if (rev !== 1 || flags & ~0x3fff || inv & ~flags) return undefined;
    if ((!(flags & NEXTHDR) && b[0]) || (!(flags & TAG) && b.readUInt16LE(4))) return undefined;
    const v: SrhMatch = { type: 'srh' };
    const iv: NonNullable<SrhMatch['invert']> = {};
    if (flags & NEXTHDR) {
      v.nextHdr = b[0]!;
      if (inv & NEXTHDR) iv.nextHdr = true;
    }
    for (const [k, off, bit] of CMP) {
      const set = OPS.filter((_, i) => flags & (bit << i));
      if (set.length > 1 || (!set.length && b[off])) return undefined;
      if (!set.length) continue;
      v[k] = { op: set[0]!, value: b[off]! };
      if (inv & (bit << OPS.indexOf(set[0]!))) iv[k] = true;
    }
    if (flags & TAG) {
      v.tag = b.readUInt16LE(4);
      if (inv & TAG) iv.tag = true;
    }
    for (const [k, off, bit] of SID) {
      const a = b.subarray(off, off + 16), m = b.subarray(off + 48, off + 64);
      if (!(flags & bit)) {
        if (a.some((x) => x !== 0) || m.some((x) => x !== 0)) return undefined;
        continue;
      }
      const p = maskPrefix(m);
      if (p < 0) return undefined;
      v[k] = `${formatAddr(a)}/${p}`;
      if (inv & bit) iv[k] = true;
    }
    if (Object.keys(iv).length) v.invert = iv;
    return v;
  },
  validate(v) {
    if (v.nextHdr !== undefined && !byte(v.nextHdr)) return [['nextHdr', 'must be 0-255']];
    for (const [k] of CMP) {
      const c = v[k];
      if (c !== undefined && (!c || !OPS.includes(c.op) || !byte(c.value))) return [[k, 'must be { op: "eq" | "gt" | "lt", value: 0-255 }']];
    }
    if (v.tag !== undefined && !(Number.isInteger(v.tag) && v.tag >= 0 && v.tag <= 0xffff)) return [['tag', 'must be 0-65535']];
    for (const [k] of SID) if (v[k] !== undefined && (typeof v[k] !== 'string' || !parseCidr(v[k]!, 'ipv6'))) return [[k, 'must be an IPv6 address/prefix']];
    return VALID;
  },
  save(v) {
    const bang = (k: Field) => (v.invert?.[k] ? ' !' : '');
    let s = v.nextHdr !== undefined ? `${bang('nextHdr')} --srh-next-hdr ${v.nextHdr}` : '';
    for (const [k, , , o] of CMP) {
      const c = v[k];
      if (c) s += `${bang(k)} --${o}-${c.op} ${c.value}`;
    }
    if (v.tag !== undefined) s += `${bang('tag')} --srh-tag ${v.tag}`;
    for (const [k] of SID) if (v[k] !== undefined) s += `${bang(k)} --srh-${k} ${sidText(v[k]!)}`;
    return s;
  },
  options: Object.fromEntries([
    'srh-next-hdr', 'srh-tag', 'srh-psid', 'srh-nsid', 'srh-lsid', ...CMP.flatMap(([, , , o]) => OPS.map((op) => `${o}-${op}`)),
  ].map((o) => [o, 1])),
  parse(opts) {
    const v: SrhMatch = { type: 'srh' };
    const iv: NonNullable<SrhMatch['invert']> = {};
    for (const o of opts) {
      const a = arg(o);
      const num = (max: number) => {
        const n = /^\d+$/.test(a) ? Number(a) : NaN;
        if (!(n >= 0 && n <= max)) throw new ParseProblem(`bad --${o.name} "${a}"`);
        return n;
      };
      let k: Field;
      if (o.name === 'srh-next-hdr') (k = 'nextHdr'), (v.nextHdr = num(255));
      else if (o.name === 'srh-tag') (k = 'tag'), (v.tag = num(0xffff));
      else if (o.name === 'srh-psid' || o.name === 'srh-nsid' || o.name === 'srh-lsid') {
        k = o.name.slice(4) as 'psid';
        if (!parseCidr(a, 'ipv6')) throw new ParseProblem(`bad --${o.name} "${a}"`);
        v[k as 'psid'] = sidText(a);
      } else {
        const c = CMP.find(([, , , p]) => o.name.startsWith(`${p}-`))!;
        k = c[0];
        v[c[0]] = { op: o.name.slice(c[3].length + 1) as SrhOp, value: num(255) };
      }
      if (o.invert) iv[k] = true;
    }
    if (Object.keys(iv).length) v.invert = iv;
    return v;
  },
};
