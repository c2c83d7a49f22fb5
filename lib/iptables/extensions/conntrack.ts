/**
 * -m conntrack: xt_conntrack_mtinfo3 (revision 3, 164 bytes). -m state is the same struct with the
 * STATE_ALIAS flag (iptables 1.8 encodes `-m state` this way; state.ts owns those bytes).
 * `iptables -m conntrack --ctstate RELATED,ESTABLISHED`, `--ctorigdst 10.0.0.0/8 --ctstatus ASSURED`
 */
import { formatAddr, maskPrefix, parseCidr } from '../addr';
import type { IptFamily } from '../types';
import { arg, bitNames, isStringList, namesToBits, parsePortRange, portRange, shown, validPortRange, ParseProblem, type Codec, type PortRange } from './codec';

export type CtState = 'INVALID' | 'NEW' | 'RELATED' | 'ESTABLISHED' | 'UNTRACKED' | 'SNAT' | 'DNAT';
export type CtStatus = 'EXPECTED' | 'SEEN_REPLY' | 'ASSURED' | 'CONFIRMED';

export const CT_STATES: Array<[string, number]> = [
  ['INVALID', 1], ['NEW', 8], ['RELATED', 4], ['ESTABLISHED', 2], ['UNTRACKED', 0x100], ['SNAT', 0x40], ['DNAT', 0x80],
];
const CT_STATUS: Array<[string, number]> = [['EXPECTED', 1], ['SEEN_REPLY', 2], ['ASSURED', 4], ['CONFIRMED', 8]];

export const F = {
  state: 1, proto: 2, origsrc: 4, origdst: 8, replsrc: 0x10, repldst: 0x20, status: 0x40, expires: 0x80,
  origsrcport: 0x100, origdstport: 0x200, replsrcport: 0x400, repldstport: 0x800, direction: 0x1000, stateAlias: 0x2000,
} as const;

type Inv = Partial<Record<'state' | 'proto' | 'origsrc' | 'origdst' | 'replsrc' | 'repldst' | 'status' | 'expires' | 'origsrcport' | 'origdstport' | 'replsrcport' | 'repldstport', boolean>>;

export interface ConntrackMatch {
  type: 'conntrack';
  state?: CtState[];
  proto?: number;
  origsrc?: string;
  origdst?: string;
  replsrc?: string;
  repldst?: string;
  origsrcport?: PortRange;
  origdstport?: PortRange;
  replsrcport?: PortRange;
  repldstport?: PortRange;
  status?: CtStatus[];
  /** Seconds left, a value or [min, max]. */
  expires?: number | [number, number];
  direction?: 'ORIGINAL' | 'REPLY';
  invert?: Inv;
}

const ADDRS = [['origsrc', 0], ['origdst', 32], ['replsrc', 64], ['repldst', 96]] as const;
const PORTS = [['origsrcport', 138, 154], ['origdstport', 140, 156], ['replsrcport', 142, 158], ['repldstport', 144, 160]] as const;

export function ctStateBits(list: string[]): number {
  return namesToBits(list, CT_STATES, 'conntrack state');
}
export function ctStateNames(mask: number): CtState[] {
  return bitNames(mask, CT_STATES) as CtState[];
}

/** conntrack_dump_addr: the address, and "/len" unless the mask is full. */
function saveCtAddr(b: Buffer, off: number, family: IptFamily): string {
  const len = family === 'ipv4' ? 4 : 16;
  const a = b.subarray(off, off + len), m = b.subarray(off + 16, off + 16 + len);
  const p = maskPrefix(m);
  const suffix = p === len * 8 ? '' : p >= 0 ? `/${p}` : `/${formatAddr(m)}`;
  return `${formatAddr(a)}${suffix}`;
}

export const conntrack: Codec<ConntrackMatch> = {
  kind: 'match',
  type: 'conntrack',
  name: 'conntrack',
  revision: () => 3,
  size: () => 164,
  encode(v, b, family) {
    let flags = 0, inv = 0;
    const iv = v.invert ?? {};
    const mark = (k: keyof typeof F & keyof Inv) => {
      flags |= F[k];
      if (iv[k]) inv |= F[k];
    };
    if (v.state) {
      mark('state');
      b.writeUInt16LE(ctStateBits(v.state), 150);
    }
    if (v.proto !== undefined) {
      mark('proto');
      b.writeUInt16LE(v.proto, 136);
    }
    for (const [k, off] of ADDRS) {
      const s = v[k];
      if (s === undefined) continue;
      mark(k);
      const am = parseCidr(s, family)!;
      am.addr.copy(b, off);
      am.mask.copy(b, off + 16);
    }
    for (const [k, lo, hi] of PORTS) {
      const p = v[k];
      if (p === undefined) continue;
      mark(k);
      const [a, z] = portRange(p);
      // (Revision 3 holds its port ranges in host order; revisions 1-2 held one port in network order.)
      b.writeUInt16LE(a, lo);
      b.writeUInt16LE(z, hi);
    }
    if (v.status) {
      mark('status');
      b.writeUInt16LE(namesToBits(v.status, CT_STATUS, 'conntrack status'), 152);
    }
    if (v.expires !== undefined) {
      mark('expires');
      const [a, z] = typeof v.expires === 'number' ? [v.expires, v.expires] : v.expires;
      b.writeUInt32LE(a, 128);
      b.writeUInt32LE(z, 132);
    }
    if (v.direction) {
      flags |= F.direction;
      if (v.direction === 'REPLY') inv |= F.direction;
    }
    b.writeUInt16LE(flags, 146);
    b.writeUInt16LE(inv, 148);
  },
  decode(b, family, revision) {
    if (revision !== 3) return undefined;
    const flags = b.readUInt16LE(146), inv = b.readUInt16LE(148);
    if (flags & F.stateAlias) return undefined;
    // Bits kernlb has no name for stay raw rather than being dropped.
    if (b.readUInt16LE(150) & ~0x1cf || b.readUInt16LE(152) & ~0xf || flags & ~0x3fff) return undefined;
    const v: ConntrackMatch = { type: 'conntrack' };
    const invert: Inv = {};
    const has = (k: keyof Inv) => {
      if (!(flags & F[k])) return false;
      if (inv & F[k]) invert[k] = true;
      return true;
    };
    if (has('state')) v.state = ctStateNames(b.readUInt16LE(150));
    if (has('proto')) v.proto = b.readUInt16LE(136);
    for (const [k, off] of ADDRS) {
      if (!has(k)) continue;
      v[k] = saveCtAddr(b, off, family);
    }
    for (const [k, lo, hi] of PORTS) {
      if (!has(k)) continue;
      const a = b.readUInt16LE(lo), z = b.readUInt16LE(hi);
      v[k] = a === z ? a : [a, z];
    }
    if (has('status')) v.status = bitNames(b.readUInt16LE(152), CT_STATUS) as CtStatus[];
    if (has('expires')) {
      const a = b.readUInt32LE(128), z = b.readUInt32LE(132);
      v.expires = a === z ? a : [a, z];
    }
    if (flags & F.direction) v.direction = inv & F.direction ? 'REPLY' : 'ORIGINAL';
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
  validate(v, family) {
    const out: Array<[string, string]> = [];
    if (v.state !== undefined && (!isStringList(v.state) || !v.state.length)) out.push(['state', 'must list at least one state']);
    else if (v.state) for (const s of v.state) if (!CT_STATES.some(([n]) => n === s)) out.push(['state', `unknown state ${shown(s)}`]);
    // (An empty list is "--ctstatus NONE": connections with none of the status bits.)
    if (v.status !== undefined && !isStringList(v.status)) out.push(['status', 'must be a list of statuses (empty: NONE)']);
    else if (v.status) for (const s of v.status) if (!CT_STATUS.some(([n]) => n === s)) out.push(['status', `unknown status ${shown(s)}`]);
    for (const [k] of ADDRS) if (v[k] !== undefined && (typeof v[k] !== 'string' || !parseCidr(v[k]!, family))) out.push([k, `not an ${family} address or network`]);
    for (const [k] of PORTS) if (v[k] !== undefined && !validPortRange(v[k])) out.push([k, 'must be a port 0-65535 or [low, high]']);
    if (v.proto !== undefined && !(Number.isInteger(v.proto) && v.proto >= 0 && v.proto <= 255)) out.push(['proto', 'must be 0-255']);
    if (v.direction !== undefined && v.direction !== 'ORIGINAL' && v.direction !== 'REPLY') out.push(['direction', 'must be ORIGINAL or REPLY']);
    return out;
  },
  save(v, family) {
    const b = Buffer.alloc(168);
    conntrack.encode(v, b, family);
    const flags = b.readUInt16LE(146), inv = b.readUInt16LE(148);
    const bang = (f: number) => (inv & f ? ' !' : '');
    let s = '';
    if (flags & F.state) s += `${bang(F.state)} --ctstate ${ctStateNames(b.readUInt16LE(150)).join(',')}`;
    if (flags & F.proto) s += `${bang(F.proto)} --ctproto ${b.readUInt16LE(136)}`;
    for (const [k, off] of ADDRS) if (flags & F[k]) s += `${bang(F[k])} --ct${k} ${saveCtAddr(b, off, family)}`;
    for (const [k, lo, hi] of PORTS) {
      if (!(flags & F[k])) continue;
      const a = b.readUInt16LE(lo), z = b.readUInt16LE(hi);
      s += `${bang(F[k])} --ct${k} ${a === z ? a : `${a}:${z}`}`;
    }
    if (flags & F.status) {
      const st = b.readUInt16LE(152);
      s += `${bang(F.status)} --ctstatus ${st ? bitNames(st, CT_STATUS).join(',') : 'NONE'}`;
    }
    if (flags & F.expires) {
      const a = b.readUInt32LE(128), z = b.readUInt32LE(132);
      s += `${bang(F.expires)} --ctexpire ${a === z ? a : `${a}:${z}`}`;
    }
    if (flags & F.direction) s += ` --ctdir ${inv & F.direction ? 'REPLY' : 'ORIGINAL'}`;
    return s;
  },
  options: {
    ctstate: 1, ctproto: 1, ctorigsrc: 1, ctorigdst: 1, ctreplsrc: 1, ctrepldst: 1, ctorigsrcport: 1, ctorigdstport: 1,
    ctreplsrcport: 1, ctrepldstport: 1, ctstatus: 1, ctexpire: 1, ctdir: 1,
  },
  parse(opts) {
    const v: ConntrackMatch = { type: 'conntrack' };
    const invert: Inv = {};
    for (const o of opts) {
      const k = o.name.slice(2) as keyof Inv;
      const a = arg(o);
      if (k === 'state') v.state = a.split(',').map((x) => x.toUpperCase()) as CtState[];
      else if (k === 'proto') v.proto = Number(a);
      else if (k === 'origsrc' || k === 'origdst' || k === 'replsrc' || k === 'repldst') v[k] = a;
      else if (k === 'origsrcport' || k === 'origdstport' || k === 'replsrcport' || k === 'repldstport') v[k] = parsePortRange(a);
      else if (k === 'status') v.status = a === 'NONE' ? [] : (a.split(',') as CtStatus[]);
      else if (o.name === 'ctexpire') {
        const [x, y] = a.split(':').map(Number);
        v.expires = y === undefined ? x! : [x!, y];
        if (o.invert) invert.expires = true;
        continue;
      } else if (o.name === 'ctdir') {
        if (a !== 'ORIGINAL' && a !== 'REPLY') throw new ParseProblem(`bad --ctdir "${a}"`);
        v.direction = a;
        continue;
      }
      if (o.invert) invert[k] = true;
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
