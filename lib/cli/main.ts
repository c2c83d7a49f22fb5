#!/usr/bin/env node
/** The `kernlb` command: dispatches to one module per subcommand (lib/cli/<name>.ts). */
import { readFile } from 'node:fs/promises';
import { ExitCode, reportError, type CliCommand, type CliIO } from './command';

// Each entry loads its module only when used, so `kernlb --help` needs no native addon.
const commands: Record<string, () => Promise<CliCommand[]>> = {
  ipvs: async () => (await import('./ipvs')).commands,
  nft: async () => (await import('./nft')).commands,
  iptables: async () => (await import('./iptables')).commands,
  lb: async () => (await import('./lb')).commands,
  run: async () => (await import('./run')).commands,
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Set when the reader of stdout went away (see below). */
let stdoutGone = false;

export const stdio: CliIO = {
  out: (t) => void (stdoutGone || process.stdout.write(t)),
  err: (t) => void process.stderr.write(t),
  readInput: (p) => (p === '-' ? readStdin() : readFile(p, 'utf8')),
};

/** Every command that loads, and why a module did not (so "unknown command" is not said of it). */
async function allCommands(): Promise<{ all: CliCommand[]; failed: Map<string, string> }> {
  const all: CliCommand[] = [];
  const failed = new Map<string, string>();
  for (const [name, load] of Object.entries(commands)) {
    try {
      all.push(...(await load()));
    } catch (e) {
      // a module that fails to load (e.g. no native build) must not hide the others from --help
      failed.set(name, e instanceof Error ? e.message.split('\n')[0]! : String(e));
    }
  }
  return { all, failed };
}

function usage(all: CliCommand[]): string {
  return `usage: kernlb <command> [options]\n\ncommands:\n${all.map((c) => `  ${c.name.padEnd(18)} ${c.summary}\n`).join('')}\nRun "kernlb <command> --help" for the options of one command.\n`;
}

export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  const { all, failed } = await allCommands();
  const [first, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    // asked for: stdout and success; no command at all is a usage error, said on stderr
    (first ? io.out : io.err)(usage(all));
    return first ? ExitCode.ok : ExitCode.input;
  }
  // Commands are named by one or two words ("apply", "ipvs list").
  const two = rest.length ? `${first} ${rest[0]}` : '';
  const cmd = all.find((c) => c.name === two) ?? all.find((c) => c.name === first);
  if (!cmd) {
    const lb = failed.get('lb');
    if (failed.has(first) || (lb && !(first in commands))) {
      io.err(`kernlb: the "${failed.has(first) ? first : 'lb'}" commands cannot load here: ${failed.get(first) ?? lb}\n`);
      return ExitCode.unavailable;
    }
    // "kernlb nft" alone or with a wrong second word: say which second words there are
    const group = all.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
    if (group.length) {
      if (rest[0] === '--help' || rest[0] === '-h') {
        io.out(`usage: kernlb ${first} ${group.join('|')} [options]\n${all.filter((c) => c.name.startsWith(`${first} `)).map((c) => `  ${c.name.padEnd(18)} ${c.summary}\n`).join('')}`);
        return ExitCode.ok;
      }
      io.err(`kernlb: ${rest.length ? `unknown command "${first} ${rest[0]}"` : `"${first}" needs a subcommand`}: ${group.map((g) => `${first} ${g}`).join(', ')}\n`);
      return ExitCode.input;
    }
    io.err(`kernlb: unknown command "${first}". Run "kernlb --help".\n`);
    return ExitCode.input;
  }
  const args = cmd.name === two ? rest.slice(1) : rest;
  if (args.includes('--help') || args.includes('-h')) {
    io.out(cmd.help.endsWith('\n') ? cmd.help : cmd.help + '\n');
    return ExitCode.ok;
  }
  try {
    return await cmd.run(args, io);
  } catch (e) {
    return reportError(e, io);
  }
}

if (require.main === module) {
  // A reader that went away (`kernlb nft list | head -1`) is not an error of ours: stop writing
  // instead of dying on the stream's unhandled EPIPE with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stdoutGone = true;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      // main() reports every error of a command itself; this is a bug in kernlb, still said in one line
      process.stderr.write(`kernlb: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = ExitCode.kernel;
    },
  );
}
