/**
 * -m sctp: xt_sctp_info (revision 0, 292 bytes: dpts[2], spts[2], chunkmap (64 u32: a bit per chunk
 * type, host order), chunk_match_type, flag_info[4] {chunktype, flag, flag_mask}, flag_count,
 * flags, invflags). Needs -p sctp.
 * `iptables -p sctp -m sctp --sport 1000:2000 ! --dport 5 --chunk-types all DATA:Be,INIT`
 */
import { arg, parsePortRange, portRange, validPortRange, ParseProblem, VALID, type Codec, type PortRange } from './codec';

export type SctpChunkName =
  | 'DATA' | 'INIT' | 'INIT_ACK' | 'SACK' | 'HEARTBEAT' | 'HEARTBEAT_ACK' | 'ABORT' | 'SHUTDOWN' | 'SHUTDOWN_ACK' | 'ERROR'
  | 'COOKIE_ECHO' | 'COOKIE_ACK' | 'ECN_ECNE' | 'ECN_CWR' | 'SHUTDOWN_COMPLETE' | 'I_DATA' | 'ASCONF_ACK' | 'RE_CONFIG' | 'PAD'
  | 'FORWARD_TSN' | 'ASCONF' | 'I_FORWARD_TSN';
/** A chunk flag bit by iptables' letter: DATA and I_DATA have I, U, B, E; ABORT and SHUTDOWN_COMPLETE have T. */
export type SctpChunkFlag = 'I' | 'U' | 'B' | 'E' | 'T';
export interface SctpChunk {
  chunk: SctpChunkName;
  /** Flags the chunk must have set (true) or clear (false); the others are not looked at. */
  flags?: Partial<Record<SctpChunkFlag, boolean>>;
}
export interface SctpMatch {
  type: 'sctp';
  sport?: PortRange;
  dport?: PortRange;
  /** --chunk-types: any / all / only of these chunks ('ALL': every chunk type 0-255, [] : NONE). */
  chunks?: { match: 'any' | 'all' | 'only'; types: SctpChunk[] | 'ALL' };
  invert?: { sport?: boolean; dport?: boolean; chunks?: boolean };
}

// Chunk type numbers (RFC 9260 and its extensions), as iptables names them.
const CHUNKS: Array<[SctpChunkName, number]> = [
  ['DATA', 0], ['INIT', 1], ['INIT_ACK', 2], ['SACK', 3], ['HEARTBEAT', 4], ['HEARTBEAT_ACK', 5], ['ABORT', 6], ['SHUTDOWN', 7],
  ['SHUTDOWN_ACK', 8], ['ERROR', 9], ['COOKIE_ECHO', 10], ['COOKIE_ACK', 11], ['ECN_ECNE', 12], ['ECN_CWR', 13], ['SHUTDOWN_COMPLETE', 14],
  ['I_DATA', 64], ['ASCONF_ACK', 128], ['RE_CONFIG', 130], ['PAD', 132], ['FORWARD_TSN', 192], ['ASCONF', 193], ['I_FORWARD_TSN', 194],
];
const NUM = new Map(CHUNKS);
const NAME = new Map(CHUNKS.map(([n, t]) => [t, n]));
// Flag letters by bit (bit 0 first). iptables 1.8.9 records I_DATA's flags under the wrong chunk
// type (its table index), so only these three chunks' flags are ever held by the kernel as written.
const FLAGS: Partial<Record<SctpChunkName, SctpChunkFlag[]>> = { DATA: ['E', 'B', 'U', 'I'], ABORT: ['T'], SHUTDOWN_COMPLETE: ['T'] };
const F = { sport: 1, dport: 2, chunks: 4 } as const;
type K = keyof typeof F;
const MATCH = { any: 1, all: 2, only: 4 } as const;
const MAP = 8, TYPE = 264, INFO = 268, COUNT = 280, FLAGSOFF = 284, INV = 288, SLOTS = 4;

const ports = (p: PortRange) => {
  const [lo, hi] = portRange(p);
  return lo === hi ? `${lo}` : `${lo}:${hi}`;
};
/** The flag and mask bytes of a chunk's flags. */
function flagBits(c: SctpChunk): [number, number] {
  let flag = 0, mask = 0;
  const letters = FLAGS[c.chunk] ?? [];
  for (const [l, on] of Object.entries(c.flags ?? {}) as Array<[SctpChunkFlag, boolean]>) {
    const bit = 1 << letters.indexOf(l);
    mask |= bit;
    if (on) flag |= bit;
  }
  return [flag, mask];
}
function flagText(c: SctpChunk): string {
  const [flag, mask] = flagBits(c);
  if (!mask) return '';
  const letters = FLAGS[c.chunk]!;
  let s = ':';
  for (let i = letters.length - 1; i >= 0; i--) if (mask & (1 << i)) s += flag & (1 << i) ? letters[i] : letters[i]!.toLowerCase();
  return s;
}
const sorted = (types: SctpChunk[]) => [...types].sort((a, b) => NUM.get(a.chunk)! - NUM.get(b.chunk)!);

export const sctp: Codec<SctpMatch> = {
  kind: 'match',
  protocols: [132],
  type: 'sctp',
  name: 'sctp',
  revision: () => 0,
  size: () => 292,
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
    // Unused flag slots hold chunk type 0xff, as iptables leaves them.
    for (let i = 0; i < SLOTS; i++) b[INFO + 3 * i] = 0xff;
    if (v.chunks !== undefined) {
      mark('chunks');
      b.writeUInt32LE(MATCH[v.chunks.match], TYPE);
      if (v.chunks.types === 'ALL') b.fill(0xff, MAP, MAP + 256);
      else {
        let n = 0;
        for (const c of sorted(v.chunks.types)) {
          const t = NUM.get(c.chunk)!;
          b.writeUInt32LE((b.readUInt32LE(MAP + 4 * (t >> 5)) | (1 << (t & 31))) >>> 0, MAP + 4 * (t >> 5));
          const [flag, mask] = flagBits(c);
          if (!mask) continue;
          b[INFO + 3 * n] = t;
          b[INFO + 3 * n + 1] = flag;
          b[INFO + 3 * n + 2] = mask;
          n++;
        }
        b.writeInt32LE(n, COUNT);
      }
    }
    b.writeUInt32LE(flags, FLAGSOFF);
    b.writeUInt32LE(inv, INV);
  },
  decode(b) {
    const flags = b.readUInt32LE(FLAGSOFF), inv = b.readUInt32LE(INV), mtype = b.readUInt32LE(TYPE), count = b.readInt32LE(COUNT);
    if (flags & ~7 || inv & ~flags || count < 0 || count > SLOTS) return undefined;
    if ((!(flags & F.dport) && b.readUInt32LE(0)) || (!(flags & F.sport) && b.readUInt32LE(4))) return undefined;
    let mapSet = 0;
    for (let i = 0; i < 256; i++) if (b[MAP + i]) mapSet++;
    for (let i = count; i < SLOTS; i++) if (b[INFO + 3 * i] !== 0xff || b[INFO + 3 * i + 1] || b[INFO + 3 * i + 2]) return undefined;
    const v: SctpMatch = { type: 'sctp' };
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
    if (flags & F.chunks) {
      const match = (Object.keys(MATCH) as Array<keyof typeof MATCH>).find((k) => MATCH[k] === mtype);
      if (!match) return undefined;
      let types: SctpChunk[] | 'ALL';
      if (b.subarray(MAP, MAP + 256).every((x) => x === 0xff)) {
        if (count) return undefined;
        types = 'ALL';
      } else {
        types = [];
        let slot = 0;
        for (let t = 0; t < 256; t++) {
          if (!(b.readUInt32LE(MAP + 4 * (t >> 5)) & (1 << (t & 31)))) continue;
          const name = NAME.get(t);
          if (!name) return undefined; // iptables has no name for it (and cannot write it)
          const c: SctpChunk = { chunk: name };
          // Flag slots in chunk order, one per chunk, with bits the chunk has letters for.
          if (slot < count && b[INFO + 3 * slot] === t) {
            const flag = b[INFO + 3 * slot + 1]!, mask = b[INFO + 3 * slot + 2]!, letters = FLAGS[name] ?? [];
            if (!mask || mask >> letters.length || flag & ~mask) return undefined;
            const fl: NonNullable<SctpChunk['flags']> = {};
            for (let i = letters.length - 1; i >= 0; i--) if (mask & (1 << i)) fl[letters[i]!] = (flag & (1 << i)) !== 0;
            c.flags = fl;
            slot++;
          }
          types.push(c);
        }
        if (slot !== count) return undefined;
      }
      v.chunks = { match, types };
    } else if (mtype || mapSet || count) return undefined;
    if (inv) {
      const iv: NonNullable<SctpMatch['invert']> = {};
      for (const k of Object.keys(F) as K[]) if (inv & F[k]) iv[k] = true;
      v.invert = iv;
    }
    return v;
  },
  validate(v) {
    if (v.sport !== undefined && !validPortRange(v.sport)) return [['sport', 'must be a port 0-65535 or [low, high]']];
    if (v.dport !== undefined && !validPortRange(v.dport)) return [['dport', 'must be a port 0-65535 or [low, high]']];
    const c = v.chunks;
    if (c === undefined) return VALID;
    if (!c || typeof c !== 'object' || typeof c.match !== 'string' || !Object.hasOwn(MATCH, c.match)) return [['chunks.match', 'must be any, all or only']];
    if (c.types === 'ALL') return VALID;
    if (!Array.isArray(c.types)) return [['chunks.types', 'must be "ALL" or a list of chunks']];
    let withFlags = 0;
    const seen = new Set<string>();
    for (let i = 0; i < c.types.length; i++) {
      const t = c.types[i];
      if (!t || typeof t !== 'object' || !NUM.has(t.chunk)) return [[`chunks.types[${i}].chunk`, `must be one of ${CHUNKS.map(([n]) => n).join(', ')}`]];
      if (seen.has(t.chunk)) return [[`chunks.types[${i}].chunk`, `${t.chunk} is listed twice`]];
      seen.add(t.chunk);
      if (t.flags === undefined) continue;
      const letters = FLAGS[t.chunk] ?? [];
      if (!t.flags || typeof t.flags !== 'object' || Object.entries(t.flags).some(([l, on]) => !letters.includes(l as SctpChunkFlag) || typeof on !== 'boolean'))
        return [[`chunks.types[${i}].flags`, letters.length ? `may only hold ${letters.join(', ')} (true: set, false: clear)` : `${t.chunk} has no flags kernlb can write`]];
      if (Object.keys(t.flags).length) withFlags++;
    }
    if (withFlags > SLOTS) return [['chunks.types', `at most ${SLOTS} chunks may have flags`]];
    return VALID;
  },
  save(v) {
    const bang = (k: K) => (v.invert?.[k] ? ' !' : '');
    let s = '';
    if (v.sport !== undefined) s += `${bang('sport')} --sport ${ports(v.sport)}`;
    if (v.dport !== undefined) s += `${bang('dport')} --dport ${ports(v.dport)}`;
    if (v.chunks !== undefined) {
      const t = v.chunks.types;
      s += `${bang('chunks')} --chunk-types ${v.chunks.match} ${t === 'ALL' ? 'ALL' : t.length ? sorted(t).map((c) => c.chunk + flagText(c)).join(',') : 'NONE'}`;
    }
    return s;
  },
  options: { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1, 'chunk-types': 2 },
  parse(opts) {
    const v: SctpMatch = { type: 'sctp' };
    const iv: NonNullable<SctpMatch['invert']> = {};
    for (const o of opts) {
      const k: K = o.name === 'sport' || o.name === 'source-port' ? 'sport' : o.name === 'dport' || o.name === 'destination-port' ? 'dport' : 'chunks';
      if (k === 'sport' || k === 'dport') v[k] = parsePortRange(arg(o));
      else {
        const match = o.args[0]!.toLowerCase();
        if (!Object.hasOwn(MATCH, match)) throw new ParseProblem(`bad --chunk-types "${o.args[0]}" (any, all or only)`);
        const list = o.args[1]!;
        let types: SctpChunk[] | 'ALL';
        if (list === 'ALL') types = 'ALL';
        else if (list === 'NONE') types = [];
        else {
          const byName = new Map<SctpChunkName, SctpChunk>();
          for (const item of list.split(',')) {
            const [name, fl, extra] = item.split(':');
            const chunk = name!.toUpperCase() as SctpChunkName;
            if (!NUM.has(chunk) || extra !== undefined) throw new ParseProblem(`unknown sctp chunk "${item}"`);
            const c = byName.get(chunk) ?? { chunk };
            byName.set(chunk, c);
            if (!fl) continue;
            const letters = FLAGS[chunk] ?? [];
            for (const l of fl) {
              const up = l.toUpperCase() as SctpChunkFlag;
              if (!letters.includes(up)) throw new ParseProblem(`bad flag "${l}" for sctp chunk ${chunk}`);
              (c.flags ??= {})[up] = l === up;
            }
          }
          types = sorted([...byName.values()]).map((c) => (c.flags ? { chunk: c.chunk, flags: Object.fromEntries(FLAGS[c.chunk]!.slice().reverse().filter((l) => l in c.flags!).map((l) => [l, c.flags![l]])) } : c));
        }
        v.chunks = { match: match as keyof typeof MATCH, types };
      }
      if (o.invert) iv[k] = true;
    }
    if (Object.keys(iv).length) v.invert = iv;
    return v;
  },
};
