/** What every CLI subcommand module (lib/cli/<name>.ts) exports, and the exit codes they share. */
import { existsSync } from 'node:fs';
import { isConflict, KernelError, ValidationError, ValidationErrors } from '../errors';
import type { NetnsSpec } from '../netns';

export const ExitCode = {
  ok: 0,
  /** The kernel refused (KernelError other than a conflict). */
  kernel: 1,
  /** Bad input or usage (ValidationError, unknown option, unreadable file). */
  input: 2,
  /** The state changed underneath (generation / table conflict): retry. */
  conflict: 3,
  /** Something this machine lacks (no IPVS in the kernel, no native build). */
  unavailable: 4,
} as const;

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Reads a file path, or stdin for "-". */
  readInput(pathOrDash: string): Promise<string>;
}

export interface CliCommand {
  name: string;
  summary: string;
  /** Full help text printed for `kernlb <name> --help`. */
  help: string;
  run(args: string[], io: CliIO): Promise<number>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Something the command line names (a namespace, a table) does not exist: exit 1, like the kernel's ENOENT. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** Maps an error to an exit code and prints it. */
export function reportError(e: unknown, io: CliIO): number {
  if (e instanceof ValidationErrors) {
    // every problem, one a line: the message alone names the first and counts the rest
    io.err(`kernlb: ${e.errors.length} problems:\n${e.errors.map((x) => `  ${x.field}: ${x.problem}\n`).join('')}`);
    return ExitCode.input;
  }
  if (e instanceof UsageError || e instanceof ValidationError) {
    io.err(`kernlb: ${e.message}\n`);
    return ExitCode.input;
  }
  if (isConflict(e)) {
    io.err(`kernlb: conflict: ${(e as Error).message}\n`);
    return ExitCode.conflict;
  }
  if (e instanceof NotFoundError) {
    io.err(`kernlb: ${e.message}\n`);
    return ExitCode.kernel;
  }
  if (e instanceof KernelError) {
    io.err(`kernlb: ${e.message}\n`);
    return e.code === 'ENOENT' && /no generic netlink family/.test(e.message) ? ExitCode.unavailable : ExitCode.kernel;
  }
  io.err(`kernlb: ${e instanceof Error ? e.message : String(e)}\n`);
  return ExitCode.kernel;
}

/** Minimal option parser: --flag, --key value, --key=value, -x; positional args kept in order. */
export function parseArgs(
  args: string[],
  spec: { flags?: string[]; values?: string[]; aliases?: Record<string, string> },
): { flags: Set<string>; values: Map<string, string>; positional: string[] } {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const positional: string[] = [];
  const known = new Set([...(spec.flags ?? []), ...(spec.values ?? [])]);
  for (let i = 0; i < args.length; i++) {
    let a = args[i]!;
    if (a === '-' || !a.startsWith('-')) {
      positional.push(a);
      continue;
    }
    if (spec.aliases?.[a]) a = spec.aliases[a]!;
    let val: string | undefined;
    const eq = a.indexOf('=');
    if (eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const name = a.replace(/^--?/, '');
    if (!known.has(name)) throw new UsageError(`unknown option ${a}`);
    if (spec.values?.includes(name)) {
      if (val === undefined) {
        val = args[++i];
        if (val === undefined) throw new UsageError(`option --${name} needs a value`);
      }
      // an empty value would read as "not given": `--netns ""` would then act on this namespace
      if (val === '') throw new UsageError(`option --${name} needs a non-empty value`);
      values.set(name, val);
    } else {
      if (val !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags.add(name);
    }
  }
  return { flags, values, positional };
}

/** At most `max` positional arguments: a stray word is a mistake, never silently ignored. */
export function noExtraArgs(a: { positional: string[] }, max: number): void {
  if (a.positional.length > max) throw new UsageError(`unexpected argument "${a.positional[max]}"`);
}

/** A whole number option in min..max; Number() alone would take "", " 5", "1e3" and "0x10". */
export function intOption(a: { values: Map<string, string> }, name: string, min: number, max: number): number | undefined {
  const v = a.values.get(name);
  if (v === undefined) return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a whole number ${min}..${max}, not "${v}"`);
  return n;
}

/**
 * --netns NAME or --netns PATH (absolute, as the API's `{ path }`: /run/netns/NAME, /proc/PID/ns/net,
 * a bind mount), checked to exist. Without the check the kernel's answer reached the user as
 * "open ... ENOENT" (exit 1, as if the kernel refused), and `status` reported "no rules" for a typo.
 * A namespace that does not exist is bad input: exit 2. Call it after the input is validated, so
 * that bad input is reported as such first.
 */
export function netnsOption(a: { values: Map<string, string> }): NetnsSpec | undefined {
  const ns = a.values.get('netns');
  if (ns === undefined) return undefined;
  if (ns.startsWith('/')) {
    if (!existsSync(ns)) throw new UsageError(`--netns ${ns}: no such network namespace (${ns} does not exist)`);
    return { path: ns };
  }
  // names the library refuses (e.g. "../x") get its ValidationError when the handle is opened
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ns) || ns === '.' || ns === '..') return ns;
  if (!existsSync(`/run/netns/${ns}`)) throw new UsageError(`--netns ${ns}: no such network namespace (/run/netns/${ns} does not exist)`);
  return ns;
}

/** What an input is called in messages: its path, or "stdin" for "-". */
export function inputName(file: string): string {
  return file === '-' ? 'stdin' : file;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  ENOTDIR: 'a part of the path is not a directory',
};

/**
 * Reads FILE or stdin as text. A file that cannot be read is a usage error (exit 2, not the
 * kernel's 1), and empty or binary input is said to be so, instead of a parser's first complaint
 * about it (which for binary data printed the bytes to the terminal).
 */
export async function readText(io: CliIO, file: string): Promise<string> {
  const name = inputName(file);
  let text: string;
  try {
    text = await io.readInput(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${name}: ${(code && READ_ERRORS[code]) ?? (e instanceof Error ? e.message : String(e))}`);
  }
  if (!text.trim()) throw new ValidationError(name, 'is empty');
  const bad = text.search(/[\0\uFFFD]/);
  if (bad >= 0) throw new ValidationError(name, `is not text (binary data or not UTF-8, line ${text.slice(0, bad).split('\n').length})`);
  return text;
}

/** Line and column (1-based) of a character offset, for messages about text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl };
}

/**
 * JSON.parse with the input named in the error, and where: V8 says "at position N" (Node 20) and
 * adds "(line L column C)" only from Node 22, so the line and column are computed here.
 */
export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/ \(line \d+ column \d+\)$/, '');
    const pos = /at position (\d+)/.exec(msg);
    // (no position: the text ended early)
    const at = lineColumn(text, pos ? Number(pos[1]) : text.length);
    throw new ValidationError(inputName(file), `is not valid JSON at line ${at.line}, column ${at.column}: ${msg}`);
  }
}
