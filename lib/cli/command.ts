/** What every CLI subcommand module (lib/cli/<name>.ts) exports, and the exit codes they share. */
import { isConflict, KernelError, ValidationError } from '../errors';

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

/** Maps an error to an exit code and prints it. */
export function reportError(e: unknown, io: CliIO): number {
  if (e instanceof UsageError || e instanceof ValidationError) {
    io.err(`kernlb: ${e.message}\n`);
    return ExitCode.input;
  }
  if (isConflict(e)) {
    io.err(`kernlb: conflict: ${(e as Error).message}\n`);
    return ExitCode.conflict;
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
      values.set(name, val);
    } else {
      if (val !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags.add(name);
    }
  }
  return { flags, values, positional };
}
