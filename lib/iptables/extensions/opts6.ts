/**
 * -m hbh and -m dst (IPv6 hop-by-hop and destination options headers): ip6t_opts (revision 0,
 * 39 bytes: hdrlen, flags, invflags, opts[16] as type << 8 | length, optsnr).
 * `ip6tables -m hbh --hbh-len 8`, `ip6tables -m dst --dst-opts 194:4`
 */
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';

/** One option: its type and length (absent: any length). */
export interface Ipv6Option {
  type: number;
  length?: number;
}
export interface HbhMatch {
  type: 'hbh';
  /** The header's length field. */
  length?: number;
  /** Options that must be there, in this order. */
  options?: Ipv6Option[];
  /** Other options may come between them. */
  notStrict?: boolean;
  invert?: { length?: boolean };
}
export interface DstMatch {
  type: 'dst';
  length?: number;
  options?: Ipv6Option[];
  notStrict?: boolean;
  invert?: { length?: boolean };
}

const LEN = 1, OPTS = 2, NSTRICT = 4, MAX = 16, ANY = 0xff;
const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;

function optsCodec<T extends HbhMatch | DstMatch>(type: T['type']): Codec<T> {
  return {
    kind: 'match',
    type,
    name: type,
    families: ['ipv6'],
    revision: () => 0,
    size: () => 39,
    encode(v, b) {
      b.writeUInt32LE(v.length ?? 0, 0);
      b[4] = (v.length !== undefined ? LEN : 0) | (v.options ? OPTS : 0) | (v.notStrict ? NSTRICT : 0);
      b[5] = v.invert?.length ? 1 : 0;
      (v.options ?? []).forEach((o, i) => b.writeUInt16LE((o.type << 8) | (o.length ?? ANY), 6 + 2 * i));
      b[38] = v.options?.length ?? 0;
    },
    decode(b) {
      const f = b[4]!, inv = b[5]!, n = b[38]!;
      if (f & ~7 || inv & ~1 || (inv && !(f & LEN)) || (!(f & LEN) && b.readUInt32LE(0)) || n > MAX || (!(f & OPTS) && n)) return undefined;
      for (let i = n; i < MAX; i++) if (b.readUInt16LE(6 + 2 * i)) return undefined;
      const v = { type } as T;
      if (f & LEN) v.length = b.readUInt32LE(0);
      if (f & OPTS) {
        v.options = [];
        for (let i = 0; i < n; i++) {
          const w = b.readUInt16LE(6 + 2 * i);
          v.options.push((w & 0xff) === ANY ? { type: w >> 8 } : { type: w >> 8, length: w & 0xff });
        }
      }
      if (f & NSTRICT) v.notStrict = true;
      if (inv) v.invert = { length: true };
      return v;
    },
    validate(v) {
      if (v.length !== undefined && !u32(v.length)) return [['length', 'must be a 32-bit unsigned integer']];
      if (v.options !== undefined) {
        if (!Array.isArray(v.options) || v.options.length > MAX) return [['options', `must be a list of at most ${MAX} options`]];
        for (let i = 0; i < v.options.length; i++) {
          const o = v.options[i];
          if (!o || !byte(o.type) || (o.length !== undefined && (!byte(o.length) || o.length === ANY))) return [[`options[${i}]`, 'must be { type: 0-255, length?: 0-254 }']];
        }
      }
      return VALID;
    },
    save(v) {
      let s = v.length !== undefined ? `${v.invert?.length ? ' !' : ''} --${type}-len ${v.length}` : '';
      if (v.options) s += ` --${type}-opts ${v.options.map((o) => `${o.type}${o.length !== undefined ? `:${o.length}` : ''}`).join(',')}`;
      if (v.notStrict) s += ` --${type}-not-strict`;
      return s;
    },
    options: { [`${type}-len`]: 1, [`${type}-opts`]: 1, [`${type}-not-strict`]: 0 },
    parse(opts) {
      const v = { type } as T;
      const l = opt(opts, `${type}-len`), o = opt(opts, `${type}-opts`);
      if (l) {
        const n = /^\d+$/.test(arg(l)) ? Number(arg(l)) : NaN;
        if (!u32(n)) throw new ParseProblem(`bad --${type}-len "${arg(l)}"`);
        v.length = n;
        if (l.invert) v.invert = { length: true };
      }
      if (o) {
        v.options = arg(o).split(',').map((x) => {
          const m = /^(\d+)(?::(\d+))?$/.exec(x);
          const t = Number(m?.[1]), len = m?.[2] !== undefined ? Number(m[2]) : undefined;
          if (!m || !byte(t) || (len !== undefined && (!byte(len) || len === ANY))) throw new ParseProblem(`bad option "${x}" (TYPE[:LENGTH])`);
          return len === undefined ? { type: t } : { type: t, length: len };
        });
        if (v.options.length > MAX) throw new ParseProblem(`at most ${MAX} options`);
      }
      if (opt(opts, `${type}-not-strict`)) v.notStrict = true;
      return v;
    },
  };
}

export const hbh = optsCodec<HbhMatch>('hbh');
export const dst = optsCodec<DstMatch>('dst');
