/**
 * -m dccp: xt_dccp_info (revision 0, 15 bytes: dpts[2], spts[2], flags, invflags, typemask, option).
 * Needs -p dccp. `iptables -p dccp -m dccp --dport 5004 --dccp-types REQUEST,RESPONSE`
 */
import { arg, parsePortRange, portRange, validPortRange, ParseProblem, VALID, type Codec, type PortRange } from './codec';

export type DccpType = 'REQUEST' | 'RESPONSE' | 'DATA' | 'ACK' | 'DATAACK' | 'CLOSEREQ' | 'CLOSE' | 'RESET' | 'SYNC' | 'SYNCACK' | 'INVALID';
export interface DccpMatch {
  type: 'dccp';
  sport?: PortRange;
  dport?: PortRange;
  /** Packet types (any of them). */
  types?: DccpType[];
  /** A DCCP option that must be present, 0-255. */
  option?: number;
  invert?: { sport?: boolean; dport?: boolean; types?: boolean; option?: boolean };
}

// In bit order (the packet type number), as iptables prints them.
const TYPES: DccpType[] = ['REQUEST', 'RESPONSE', 'DATA', 'ACK', 'DATAACK', 'CLOSEREQ', 'CLOSE', 'RESET', 'SYNC', 'SYNCACK', 'INVALID'];
const F = { sport: 1, dport: 2, types: 4, option: 8 } as const;
type K = keyof typeof F;

const ports = (p: PortRange) => {
  const [lo, hi] = portRange(p);
  return lo === hi ? `${lo}` : `${lo}:${hi}`;
};

export const dccp: Codec<DccpMatch> = {
  kind: 'match',
  protocols: [33],
  type: 'dccp',
  name: 'dccp',
  revision: () => 0,
  size: () => 15,
  encode(v, b) {
    let flags = 0, inv = 0;
    const mark = (k: K) => {
      flags |= F[k];
      if (v.invert?.[k]) inv |= F[k];
    };
    if (v.dport !== undefined) {
      const [lo, hi] = portRange(v.dport);
      b.writeUInt16LE(lo, 0);
      b.writeUInt16LE(hi, 2);
      mark('dport');
    }
    if (v.sport !== undefined) {
      const [lo, hi] = portRange(v.sport);
      b.writeUInt16LE(lo, 4);
      b.writeUInt16LE(hi, 6);
      mark('sport');
    }
    if (v.types !== undefined) {
      b.writeUInt16LE(v.types.reduce((m, t) => m | (1 << TYPES.indexOf(t)), 0), 12);
      mark('types');
    }
    if (v.option !== undefined) {
      b[14] = v.option;
      mark('option');
    }
    b.writeUInt16LE(flags, 8);
    b.writeUInt16LE(inv, 10);
  },
  decode(b) {
    const flags = b.readUInt16LE(8), inv = b.readUInt16LE(10), tm = b.readUInt16LE(12);
    if (flags & ~15 || inv & ~flags || tm >> TYPES.length) return undefined;
    // Without their flag the fields hold zeros (what iptables writes).
    if ((!(flags & F.dport) && b.readUInt32LE(0)) || (!(flags & F.sport) && b.readUInt32LE(4)) || (!(flags & F.types) && tm) || (!(flags & F.option) && b[14])) return undefined;
    const v: DccpMatch = { type: 'dccp' };
    const range = (o: number): PortRange | undefined => {
      const lo = b.readUInt16LE(o), hi = b.readUInt16LE(o + 2);
      return lo > hi ? undefined : lo === hi ? lo : [lo, hi];
    };
    if (flags & F.sport) {
      const r = range(4);
      if (r === undefined) return undefined;
      v.sport = r;
    }
    if (flags & F.dport) {
      const r = range(0);
      if (r === undefined) return undefined;
      v.dport = r;
    }
    if (flags & F.types) v.types = TYPES.filter((_, i) => tm & (1 << i));
    if (flags & F.option) v.option = b[14]!;
    if (inv) {
      const iv: NonNullable<DccpMatch['invert']> = {};
      for (const k of Object.keys(F) as K[]) if (inv & F[k]) iv[k] = true;
      v.invert = iv;
    }
    return v;
  },
  validate(v) {
    if (v.sport !== undefined && !validPortRange(v.sport)) return [['sport', 'must be a port 0-65535 or [low, high]']];
    if (v.dport !== undefined && !validPortRange(v.dport)) return [['dport', 'must be a port 0-65535 or [low, high]']];
    if (v.types !== undefined && (!Array.isArray(v.types) || !v.types.every((t) => TYPES.includes(t)))) return [['types', `must list types among ${TYPES.join(', ')}`]];
    if (v.option !== undefined && !(Number.isInteger(v.option) && v.option >= 0 && v.option <= 255)) return [['option', 'must be 0-255']];
    return VALID;
  },
  save(v) {
    const bang = (k: K) => (v.invert?.[k] ? ' !' : '');
    let s = '';
    if (v.sport !== undefined) s += `${bang('sport')} --sport ${ports(v.sport)}`;
    if (v.dport !== undefined) s += `${bang('dport')} --dport ${ports(v.dport)}`;
    if (v.types !== undefined) s += `${bang('types')} --dccp-types ${TYPES.filter((t) => v.types!.includes(t)).join(',')}`;
    if (v.option !== undefined) s += `${bang('option')} --dccp-option ${v.option}`;
    return s;
  },
  options: { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1, 'dccp-types': 1, 'dccp-option': 1 },
  parse(opts) {
    const v: DccpMatch = { type: 'dccp' };
    const iv: NonNullable<DccpMatch['invert']> = {};
    for (const o of opts) {
      const k: K = o.name === 'sport' || o.name === 'source-port' ? 'sport' : o.name === 'dport' || o.name === 'destination-port' ? 'dport' : o.name === 'dccp-types' ? 'types' : 'option';
      if (k === 'sport' || k === 'dport') v[k] = parsePortRange(arg(o));
      else if (k === 'types') {
        const list = arg(o).split(',').map((t) => t.toUpperCase());
        if (!list.every((t) => (TYPES as string[]).includes(t))) throw new ParseProblem(`bad --dccp-types "${arg(o)}"`);
        v.types = TYPES.filter((t) => list.includes(t));
      } else {
        const n = /^\d+$/.test(arg(o)) ? Number(arg(o)) : NaN;
        if (!(n >= 0 && n <= 255)) throw new ParseProblem(`bad --dccp-option "${arg(o)}"`);
        v.option = n;
      }
      if (o.invert) iv[k] = true;
    }
    if (Object.keys(iv).length) v.invert = iv;
    return v;
  },
};
