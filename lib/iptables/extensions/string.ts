/**
 * -m string: xt_string_info (revision 1, 150 bytes: from/to offsets, algo[16], pattern[128],
 * patlen, flags, then the kernel's private pointer). iptables prints a pattern with unprintable bytes
 * (or ending in a backslash) as --hex-string "|hex|".
 * `iptables -m string --string "GET /" --algo bm --to 1500`, `--hex-string "|00 01|abc" --algo kmp --icase`
 */
import { arg, opt, readCString, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface StringMatch {
  type: 'string';
  /** The bytes searched for, one character per byte (Latin-1), 1-128 of them. */
  pattern: string;
  /** The kernel's textsearch algorithm: bm (Boyer-Moore) or kmp (Knuth-Morris-Pratt). */
  algo: 'bm' | 'kmp';
  /** Search from this offset (default 0) to this one (default 65535). */
  from?: number;
  to?: number;
  icase?: boolean;
  invert?: boolean;
}

const INVERT = 1, ICASE = 2, MAX = 128;
const ALGOS = ['bm', 'kmp'];
const u16 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
const printable = (c: number) => c >= 0x20 && c < 0x7f;

/** libxt_string's test: hex when a byte is not printable or the last one is a backslash. */
function needsHex(p: string): boolean {
  for (let i = 0; i < p.length; i++) if (!printable(p.charCodeAt(i))) return true;
  return p.endsWith('\\');
}
/** "|00 01|abc|ff|": bytes in hex between bars, other characters as they are. */
function parseHex(s: string): string {
  let out = '';
  const parts = s.split('|');
  if (parts.length % 2 === 0) throw new ParseProblem(`unbalanced "|" in --hex-string "${s}"`);
  parts.forEach((p, i) => {
    if (i % 2 === 0) out += p;
    else {
      const h = p.replace(/\s+/g, '');
      if (!/^([0-9a-f]{2})*$/i.test(h)) throw new ParseProblem(`bad hex "${p}" in --hex-string`);
      out += Buffer.from(h, 'hex').toString('latin1');
    }
  });
  return out;
}

export const string: Codec<StringMatch> = {
  kind: 'match',
  type: 'string',
  name: 'string',
  revision: () => 1,
  size: () => 160,
  encode(v, b) {
    b.writeUInt16LE(v.from ?? 0, 0);
    b.writeUInt16LE(v.to ?? 0xffff, 2);
    writeCString(b, 4, 16, v.algo);
    b.write(v.pattern, 20, MAX, 'latin1');
    b[148] = v.pattern.length;
    b[149] = (v.invert ? INVERT : 0) | (v.icase ? ICASE : 0);
  },
  decode(b, _f, rev) {
    const len = b[148]!, f = b[149]!, algo = readCString(b, 4, 16);
    if (rev !== 1 || !len || len > MAX || f & ~3 || !ALGOS.includes(algo) || b.subarray(20 + len, 20 + MAX).some((x) => x !== 0)) return undefined;
    const v: StringMatch = { type: 'string', pattern: b.toString('latin1', 20, 20 + len), algo: algo as StringMatch['algo'] };
    const from = b.readUInt16LE(0), to = b.readUInt16LE(2);
    if (from) v.from = from;
    if (to !== 0xffff) v.to = to;
    if (f & ICASE) v.icase = true;
    if (f & INVERT) v.invert = true;
    return v;
  },
  validate(v) {
    if (typeof v.pattern !== 'string' || !v.pattern.length || v.pattern.length > MAX || /[^\0-\xff]/.test(v.pattern)) return [['pattern', 'must be 1-128 characters, one per byte (Latin-1)']];
    if (!ALGOS.includes(v.algo)) return [['algo', 'must be "bm" or "kmp"']];
    if (v.from !== undefined && !u16(v.from)) return [['from', 'must be 0-65535']];
    if (v.to !== undefined && (!u16(v.to) || v.to < (v.from ?? 0))) return [['to', 'must be from..65535']];
    return VALID;
  },
  save(v) {
    const hex = needsHex(v.pattern);
    const text = hex ? `|${Buffer.from(v.pattern, 'latin1').toString('hex')}|` : v.pattern.replace(/["\\]/g, (c) => `\\${c}`);
    let s = `${v.invert ? ' !' : ''} --${hex ? 'hex-string' : 'string'} "${text}" --algo ${v.algo}`;
    if (v.from) s += ` --from ${v.from}`;
    if (v.to !== undefined && v.to !== 0xffff) s += ` --to ${v.to}`;
    if (v.icase) s += ' --icase';
    return s;
  },
  options: { string: 1, 'hex-string': 1, algo: 1, from: 1, to: 1, icase: 0 },
  parse(opts) {
    const s = opt(opts, 'string'), h = opt(opts, 'hex-string'), a = opt(opts, 'algo'), f = opt(opts, 'from'), t = opt(opts, 'to');
    const p = s ?? h;
    if (!p || !a) throw new ParseProblem('-m string needs --string or --hex-string, and --algo');
    const pattern = s ? Buffer.from(arg(s), 'utf8').toString('latin1') : parseHex(arg(h!));
    if (!pattern.length || pattern.length > MAX) throw new ParseProblem('the pattern must be 1-128 bytes');
    if (!ALGOS.includes(arg(a))) throw new ParseProblem(`unknown --algo "${arg(a)}"`);
    const v: StringMatch = { type: 'string', pattern, algo: arg(a) as StringMatch['algo'] };
    const num = (o: NonNullable<typeof f>) => {
      const n = /^\d+$/.test(arg(o)) ? Number(arg(o)) : NaN;
      if (!u16(n)) throw new ParseProblem(`bad --${o.name} "${arg(o)}"`);
      return n;
    };
    if (f && num(f)) v.from = num(f);
    if (t && num(t) !== 0xffff) v.to = num(t);
    if (opt(opts, 'icase')) v.icase = true;
    if (p.invert) v.invert = true;
    return v;
  },
};
