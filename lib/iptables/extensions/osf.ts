/**
 * -m osf: xt_osf_info (revision 0, 48 bytes: genre[32], len, flags, loglevel, ttl). Passive OS
 * fingerprinting of TCP SYNs against fingerprints loaded through nfnetlink_osf (IPv4 only; the
 * kernel refuses it without -p tcp). `iptables -p tcp -m osf --genre Linux --ttl 2 --log 1`
 */
import { arg, opt, readCString, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface OsfMatch {
  type: 'osf';
  /** OS genre as in the fingerprints (at most 31 bytes). */
  genre: string;
  /** 0: the TTL must be the packet's, 1: the fingerprint's within the hop limit, 2: not checked. */
  ttl?: 0 | 1 | 2;
  /** 0: log every matching fingerprint, 1: only the first, 2: log unknown packets too. */
  log?: 0 | 1 | 2;
  invert?: boolean;
}

const GENRE = 32;
// XT_OSF_* flags (XT_OSF_GENRE is never set by iptables).
const TTL = 2, LOG = 4, INVERT = 8;

export const osf: Codec<OsfMatch> = {
  kind: 'match',
  type: 'osf',
  name: 'osf',
  families: ['ipv4'],
  protocols: [6],
  revision: () => 0,
  size: () => 48,
  encode(v, b) {
    writeCString(b, 0, GENRE, v.genre);
    b.writeUInt32LE(Buffer.byteLength(v.genre), 32);
    b.writeUInt32LE((v.log !== undefined ? LOG : 0) | (v.ttl !== undefined ? TTL : 0) | (v.invert ? INVERT : 0), 36);
    b.writeUInt32LE(v.log ?? 0, 40);
    b.writeUInt32LE(v.ttl ?? 0, 44);
  },
  decode(b) {
    const genre = readCString(b, 0, GENRE - 1), len = b.readUInt32LE(32), flags = b.readUInt32LE(36), log = b.readUInt32LE(40), ttl = b.readUInt32LE(44);
    // What iptables writes: len is the genre's, and unset options leave their fields zero.
    if (flags & ~(LOG | TTL | INVERT) || len !== Buffer.byteLength(genre) || log > 2 || ttl > 2 || (!(flags & LOG) && log) || (!(flags & TTL) && ttl)) return undefined;
    const v: OsfMatch = { type: 'osf', genre };
    if (osf.validate(v, 'ipv4', {}).length) return undefined; // a genre validation refuses stays raw
    if (flags & TTL) v.ttl = ttl as 0 | 1 | 2;
    if (flags & LOG) v.log = log as 0 | 1 | 2;
    if (flags & INVERT) v.invert = true;
    return v;
  },
  validate(v) {
    if (typeof v.genre !== 'string' || !v.genre || Buffer.byteLength(v.genre) >= GENRE || /[\s\0"]/.test(v.genre)) return [['genre', 'must be 1-31 bytes without blanks or quotes']];
    if (v.ttl !== undefined && v.ttl !== 0 && v.ttl !== 1 && v.ttl !== 2) return [['ttl', 'must be 0, 1 or 2']];
    if (v.log !== undefined && v.log !== 0 && v.log !== 1 && v.log !== 2) return [['log', 'must be 0, 1 or 2']];
    return VALID;
  },
  save(v) {
    let s = ` ${v.invert ? '! ' : ''}--genre ${v.genre}`;
    if (v.ttl !== undefined) s += ` --ttl ${v.ttl}`;
    if (v.log !== undefined) s += ` --log ${v.log}`;
    return s;
  },
  options: { genre: 1, ttl: 1, log: 1 },
  parse(opts) {
    const g = opt(opts, 'genre');
    if (!g) throw new ParseProblem('-m osf needs --genre');
    const v: OsfMatch = { type: 'osf', genre: arg(g) };
    for (const k of ['ttl', 'log'] as const) {
      const o = opt(opts, k);
      if (!o) continue;
      if (!/^[012]$/.test(arg(o))) throw new ParseProblem(`bad --${k} "${arg(o)}" (0, 1 or 2)`);
      v[k] = Number(arg(o)) as 0 | 1 | 2;
    }
    if (g.invert) v.invert = true;
    return v;
  },
};
