/** -m owner (OUTPUT/POSTROUTING only): xt_owner_match_info (revision 1, 18 bytes). `iptables -m owner --uid-owner 0 --gid-owner 10-20` */
import { arg, u32, ParseProblem, type Codec } from './codec';

type IdRange = number | [number, number];
export interface OwnerMatch {
  type: 'owner';
  uid?: IdRange;
  gid?: IdRange;
  socketExists?: boolean;
  supplGroups?: boolean;
  invert?: { uid?: boolean; gid?: boolean; socketExists?: boolean; supplGroups?: boolean };
}

const BIT = { uid: 1, gid: 2, socketExists: 4, supplGroups: 8 } as const;
const range = (r: IdRange): [number, number] => (typeof r === 'number' ? [r, r] : r);
const validRange = (r: unknown) => u32(r) || (Array.isArray(r) && r.length === 2 && u32(r[0]) && u32(r[1]) && r[0] <= r[1]);

export const owner: Codec<OwnerMatch> = {
  kind: 'match',
  type: 'owner',
  name: 'owner',
  revision: () => 1,
  size: () => 18,
  encode(v, b) {
    let m = 0, inv = 0;
    for (const k of Object.keys(BIT) as Array<keyof typeof BIT>) {
      if (v[k] === undefined || v[k] === false) continue;
      m |= BIT[k];
      if (v.invert?.[k]) inv |= BIT[k];
    }
    if (v.uid !== undefined) {
      const [a, z] = range(v.uid);
      b.writeUInt32LE(a, 0);
      b.writeUInt32LE(z, 4);
    }
    if (v.gid !== undefined) {
      const [a, z] = range(v.gid);
      b.writeUInt32LE(a, 8);
      b.writeUInt32LE(z, 12);
    }
    b[16] = m;
    b[17] = inv;
  },
  decode(b, _f, revision) {
    if (revision !== 1) return undefined;
    const m = b[16]!, inv = b[17]!;
    const v: OwnerMatch = { type: 'owner' };
    const r = (o: number): IdRange => {
      const a = b.readUInt32LE(o), z = b.readUInt32LE(o + 4);
      return a === z ? a : [a, z];
    };
    if (m & BIT.uid) v.uid = r(0);
    if (m & BIT.gid) v.gid = r(8);
    if (m & BIT.socketExists) v.socketExists = true;
    if (m & BIT.supplGroups) v.supplGroups = true;
    const invert: NonNullable<OwnerMatch['invert']> = {};
    for (const k of Object.keys(BIT) as Array<keyof typeof BIT>) if (m & inv & BIT[k]) invert[k] = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.uid !== undefined && !validRange(v.uid)) out.push(['uid', 'must be an id or [low, high]']);
    if (v.gid !== undefined && !validRange(v.gid)) out.push(['gid', 'must be an id or [low, high]']);
    if (v.supplGroups && v.gid === undefined) out.push(['supplGroups', 'needs gid']);
    return out;
  },
  save(v) {
    const bang = (k: keyof typeof BIT) => (v.invert?.[k] ? ' !' : '');
    const r = (x: IdRange) => {
      const [a, z] = range(x);
      return a === z ? `${a}` : `${a}-${z}`;
    };
    let s = '';
    if (v.socketExists) s += `${bang('socketExists')} --socket-exists`;
    if (v.uid !== undefined) s += `${bang('uid')} --uid-owner ${r(v.uid)}`;
    if (v.gid !== undefined) s += `${bang('gid')} --gid-owner ${r(v.gid)}`;
    if (v.supplGroups) s += `${bang('supplGroups')} --suppl-groups`;
    return s;
  },
  options: { 'uid-owner': 1, 'gid-owner': 1, 'socket-exists': 0, 'suppl-groups': 0 },
  parse(opts) {
    const v: OwnerMatch = { type: 'owner' };
    const invert: NonNullable<OwnerMatch['invert']> = {};
    const ids = (s: string): IdRange => {
      const [a, z] = s.split('-').map(Number);
      if (!u32(a) || (z !== undefined && !u32(z))) throw new ParseProblem(`bad id "${s}" (names are not resolved)`);
      return z === undefined || z === a ? a : [a, z];
    };
    for (const o of opts) {
      const k = ({ 'uid-owner': 'uid', 'gid-owner': 'gid', 'socket-exists': 'socketExists', 'suppl-groups': 'supplGroups' } as Record<string, 'uid' | 'gid' | 'socketExists' | 'supplGroups'>)[o.name]!;
      if (k === 'uid' || k === 'gid') v[k] = ids(arg(o));
      else if (k === 'socketExists' || k === 'supplGroups') v[k] = true;
      if (o.invert) invert[k] = true;
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
