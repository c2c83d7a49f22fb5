/**
 * -m u32: xt_u32 (revision 0, 1982 bytes: tests[11] of {location[11] {number, nextop}, value[11]
 * {min, max}, nnums, nvalues} (180 bytes each), ntests, invert). Each test reads a 32-bit word of
 * the packet at a computed position (start, then & mask, << / >> shift, or @ to move forward by
 * the value read so far) and matches when it is one of the values or ranges; all tests must pass.
 * `iptables -m u32 --u32 "0>>22&0x3C@0>>16=0x50&&0x6&0xff=6"`
 */
import { arg, opt, u32 as isU32, ParseProblem, VALID, type Codec, type Problems } from './codec';

export type U32Op = '&' | '<<' | '>>' | '@';
export interface U32Test {
  /** The first number of the location (the packet offset read first). */
  start: number;
  /** The operations that follow, in order. */
  ops?: Array<{ op: U32Op; value: number }>;
  /** The word must equal one of these or lie within one of these [min, max] ranges. */
  values: Array<number | [number, number]>;
}
export interface U32Match {
  type: 'u32';
  /** All of them must match (iptables joins them with &&). */
  tests: U32Test[];
  invert?: boolean;
}

const MAX = 11; // XT_U32_MAXSIZE + 1
const TEST = 180, VALUES = 88, NNUMS = 176, NTESTS = MAX * TEST;
const OPS: U32Op[] = ['&', '<<', '>>', '@'];
const x = (n: number) => `0x${n.toString(16)}`;

function checkTest(t: U32Test, i: number): Problems {
  const at = `tests[${i}]`;
  if (!t || typeof t !== 'object') return [[at, 'must be an object { start, ops?, values }']];
  if (!isU32(t.start)) return [[`${at}.start`, 'must be a 32-bit unsigned integer']];
  if (t.ops !== undefined) {
    if (!Array.isArray(t.ops) || t.ops.length > MAX - 1) return [[`${at}.ops`, `must be a list of at most ${MAX - 1} operations`]];
    for (let k = 0; k < t.ops.length; k++) {
      const o = t.ops[k];
      if (!o || typeof o !== 'object' || !OPS.includes(o.op)) return [[`${at}.ops[${k}].op`, 'must be &, <<, >> or @']];
      if (!isU32(o.value)) return [[`${at}.ops[${k}].value`, 'must be a 32-bit unsigned integer']];
    }
  }
  if (!Array.isArray(t.values) || t.values.length < 1 || t.values.length > MAX) return [[`${at}.values`, `must list 1-${MAX} values or ranges`]];
  for (let k = 0; k < t.values.length; k++) {
    const v = t.values[k];
    if (!(isU32(v) || (Array.isArray(v) && v.length === 2 && isU32(v[0]) && isU32(v[1])))) return [[`${at}.values[${k}]`, 'must be a 32-bit unsigned integer or [min, max]']];
  }
  return VALID;
}

/** strtoul(s, 0): decimal, 0x hex or 0 octal, as iptables reads u32's numbers. */
function num(s: string, what: string): number {
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number(s) : /^0[0-7]*$/.test(s) ? parseInt(s, 8) : /^[1-9]\d*$/.test(s) ? Number(s) : NaN;
  if (!isU32(n)) throw new ParseProblem(`bad number "${s}" in ${what}`);
  return n;
}

/** The --u32 expression (spaces ignored, as iptables does). */
export function parseU32(expr: string): U32Test[] {
  const tests: U32Test[] = [];
  for (const part of expr.replace(/\s+/g, '').split('&&')) {
    const [loc, vals, extra] = part.split('=');
    if (!loc || !vals || extra !== undefined) throw new ParseProblem(`bad u32 test "${part}" (LOCATION=VALUES)`);
    const words = loc.split(/(&|<<|>>|@)/);
    const t: U32Test = { start: num(words[0]!, `"${part}"`), values: [] };
    if (words.length > 1) t.ops = [];
    for (let k = 1; k < words.length; k += 2) t.ops!.push({ op: words[k] as U32Op, value: num(words[k + 1]!, `"${part}"`) });
    for (const v of vals.split(',')) {
      const [lo, hi, more] = v.split(':');
      if (more !== undefined || lo === undefined) throw new ParseProblem(`bad u32 value "${v}"`);
      const a = num(lo, `"${part}"`), z = hi === undefined ? a : num(hi, `"${part}"`);
      t.values.push(a === z ? a : [a, z]);
    }
    tests.push(t);
  }
  return tests;
}

/** The expression as iptables prints it (every number in hex). */
export function u32Text(tests: U32Test[]): string {
  return tests
    .map((t) => `${x(t.start)}${(t.ops ?? []).map((o) => o.op + x(o.value)).join('')}=${t.values.map((v) => (typeof v === 'number' ? x(v) : v[0] === v[1] ? x(v[0]) : `${x(v[0])}:${x(v[1])}`)).join(',')}`)
    .join('&&');
}

export const u32: Codec<U32Match> = {
  kind: 'match',
  type: 'u32',
  name: 'u32',
  revision: () => 0,
  size: () => 1982,
  encode(v, b) {
    v.tests.forEach((t, i) => {
      const o = i * TEST, ops = t.ops ?? [];
      b.writeUInt32LE(t.start, o);
      ops.forEach((op, k) => {
        b.writeUInt32LE(op.value, o + 8 * (k + 1));
        b[o + 8 * (k + 1) + 4] = OPS.indexOf(op.op);
      });
      t.values.forEach((val, k) => {
        const [lo, hi] = typeof val === 'number' ? [val, val] : val;
        b.writeUInt32LE(lo, o + VALUES + 8 * k);
        b.writeUInt32LE(hi, o + VALUES + 8 * k + 4);
      });
      b[o + NNUMS] = ops.length + 1;
      b[o + NNUMS + 1] = t.values.length;
    });
    b[NTESTS] = v.tests.length;
    b[NTESTS + 1] = v.invert ? 1 : 0;
  },
  decode(b) {
    const n = b[NTESTS]!, inv = b[NTESTS + 1]!;
    if (n < 1 || n > MAX || inv > 1) return undefined;
    const tests: U32Test[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * TEST, nnums = b[o + NNUMS]!, nvalues = b[o + NNUMS + 1]!;
      // What iptables writes: the first location has no operation, and entries past the counts are zero.
      if (nnums < 1 || nnums > MAX || nvalues < 1 || nvalues > MAX || b[o + 4] !== 0) return undefined;
      for (let k = 0; k < MAX; k++) {
        const l = o + 8 * k;
        if (b.readUInt32LE(l + 4) >>> 8 || b[l + 4]! > 3 || (k >= nnums && (b.readUInt32LE(l) || b[l + 4]))) return undefined;
        if (k >= nvalues && (b.readUInt32LE(o + VALUES + 8 * k) || b.readUInt32LE(o + VALUES + 8 * k + 4))) return undefined;
      }
      if (b[o + NNUMS + 2] || b[o + NNUMS + 3]) return undefined;
      const t: U32Test = { start: b.readUInt32LE(o), values: [] };
      if (nnums > 1) {
        t.ops = [];
        for (let k = 1; k < nnums; k++) t.ops.push({ op: OPS[b[o + 8 * k + 4]!]!, value: b.readUInt32LE(o + 8 * k) });
      }
      for (let k = 0; k < nvalues; k++) {
        const lo = b.readUInt32LE(o + VALUES + 8 * k), hi = b.readUInt32LE(o + VALUES + 8 * k + 4);
        t.values.push(lo === hi ? lo : [lo, hi]);
      }
      tests.push(t);
    }
    for (let i = n; i < MAX; i++) if (b.subarray(i * TEST, (i + 1) * TEST).some((y) => y !== 0)) return undefined;
    return inv ? { type: 'u32', tests, invert: true } : { type: 'u32', tests };
  },
  validate(v) {
    if (!Array.isArray(v.tests) || v.tests.length < 1 || v.tests.length > MAX) return [['tests', `must list 1-${MAX} tests`]];
    for (let i = 0; i < v.tests.length; i++) {
      const p = checkTest(v.tests[i]!, i);
      if (p.length) return p;
    }
    return VALID;
  },
  save: (v) => `${v.invert ? ' !' : ''} --u32 "${u32Text(v.tests)}"`,
  options: { u32: 1 },
  parse(opts) {
    const o = opt(opts, 'u32');
    if (!o) throw new ParseProblem('-m u32 needs --u32 EXPRESSION');
    const tests = parseU32(arg(o));
    return o.invert ? { type: 'u32', tests, invert: true } : { type: 'u32', tests };
  },
};
