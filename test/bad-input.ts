/**
 * Bad input, generated: a valid input with one thing in it broken (a value swapped for a wrong one,
 * a key deleted, an array element dropped or doubled), reproducibly from a seed. The standard it
 * serves: bad input never crashes and never half-applies; it is a ValidationError naming the field
 * (a KernelError only where the kernel is the one that knows), never a TypeError or a crash.
 */
import { ConflictError, KernelError, ValidationError } from '../lib';

export type Path = Array<string | number>;

/** mulberry32: small, seedable, the same sequence on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values no field should take as it is; each call makes fresh objects, so no case shares one. */
export const BAD_VALUES: ReadonlyArray<readonly [string, () => unknown]> = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['-1', () => -1],
  ['0', () => 0],
  ['1.5', () => 1.5],
  ['2**32', () => 2 ** 32],
  ['2**53+2', () => 2 ** 53 + 2],
  ['-0', () => -0],
  ["''", () => ''],
  ["' '", () => ' '],
  ['300 x', () => 'x'.repeat(300)],
  ['NUL', () => 'a\0b'],
  ['non-ASCII', () => 'Grüße'],
  ['bad CIDR', () => '10.0.0.1/33'],
  ['IPv6', () => 'fd00::1'],
  ['bad IPv4', () => '999.1.1.1'],
  ['word', () => 'not-a-thing'],
  ['inherited key', () => 'constructor'],
  ['numeric string', () => '80'],
  ['true', () => true],
  ['false', () => false],
  ['{}', () => ({})],
  ['[]', () => []],
  ['[[]]', () => [[]]],
  ['[null]', () => [null]],
  ['array-like', () => ({ length: 5 })],
  ['null-prototype object', () => Object.create(null)],
  ['BigInt', () => 1n],
  ['Symbol', () => Symbol('bad')],
  ['function', () => () => 1],
];

/** A deep copy of JSON-like data (Buffers and typed arrays copied as what they are). */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (Buffer.isBuffer(v)) return Buffer.from(v) as T;
  if (v instanceof Uint8Array) return v.slice() as T;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = clone(x);
    return o as T;
  }
  return v;
}

/** Every path into `v` (containers and leaves), the root excluded; byte arrays are leaves. */
export function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...at, i]); paths(x, [...at, i], out); });
  else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) { out.push([...at, k]); paths(x, [...at, k], out); }
  }
  return out;
}

export interface Mutation {
  path: Path;
  /** What was done there: "= null", "deleted", "dropped", "doubled". */
  what: string;
}

export function describeMutation(m: Mutation): string {
  return `${m.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')} ${m.what}`;
}

/**
 * `valid` with one thing broken, chosen by `r`; `only` narrows the paths that may be chosen (by
 * default every one). The input is a fresh copy: `valid` is untouched.
 */
export function mutate<T>(valid: T, r: () => number, only: (p: Path) => boolean = () => true): { input: T; mutation: Mutation } {
  const input = clone(valid);
  const all = paths(input).filter(only);
  if (!all.length) throw new Error('nothing to mutate');
  const path = all[Math.floor(r() * all.length)]!;
  const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], input);
  const key = path[path.length - 1]!;
  const roll = r();
  let what: string;
  if (roll < 0.12) {
    if (Array.isArray(parent)) {
      parent.splice(key as number, 1);
      what = 'dropped';
    } else {
      delete parent[key];
      what = 'deleted';
    }
  } else if (roll < 0.18 && Array.isArray(parent)) {
    parent.splice(key as number, 0, clone(parent[key as number]));
    what = 'doubled';
  } else {
    const [label, make] = BAD_VALUES[Math.floor(r() * BAD_VALUES.length)]!;
    parent[key] = make();
    what = `= ${label}`;
  }
  return { input, mutation: { path, what } };
}

export type Outcome = 'ok' | 'validation' | 'conflict' | 'kernel' | 'other';

/** What a call did: returned, or threw / rejected with which kind of error. */
export async function outcome(call: () => unknown): Promise<{ kind: Outcome; error?: unknown }> {
  try {
    await call();
    return { kind: 'ok' };
  } catch (e) {
    if (e instanceof ValidationError) return { kind: 'validation', error: e };
    if (e instanceof ConflictError) return { kind: 'conflict', error: e };
    if (e instanceof KernelError) return { kind: 'kernel', error: e };
    return { kind: 'other', error: e };
  }
}

/** The synchronous outcome (for validators that must not return a Promise). */
export function outcomeSync(call: () => unknown): { kind: Outcome; error?: unknown } {
  try {
    call();
    return { kind: 'ok' };
  } catch (e) {
    if (e instanceof ValidationError) return { kind: 'validation', error: e };
    if (e instanceof KernelError) return { kind: 'kernel', error: e };
    return { kind: 'other', error: e };
  }
}

/** One line for a case that went wrong, to list in a failing assertion. */
export function caseLine(seed: number, m: Mutation, error: unknown): string {
  const e = error as Error | undefined;
  return `seed ${seed}: ${describeMutation(m)} -> ${e ? `${e.name}: ${e.message}`.slice(0, 200) : 'no error'}`;
}
