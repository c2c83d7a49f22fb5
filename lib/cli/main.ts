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
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const stdio: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  readInput: (p) => (p === '-' ? readStdin() : readFile(p, 'utf8')),
};

async function allCommands(): Promise<CliCommand[]> {
  const out: CliCommand[] = [];
  for (const load of Object.values(commands)) {
    try {
      out.push(...(await load()));
    } catch {
      // a module that fails to load (e.g. no native build) must not hide the others from --help
    }
  }
  return out;
}

export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  const all = await allCommands();
  const [first, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    io.out('usage: kernlb <command> [options]\n\ncommands:\n');
    for (const c of all) io.out(`  ${c.name.padEnd(18)} ${c.summary}\n`);
    io.out('\nRun "kernlb <command> --help" for the options of one command.\n');
    return first ? ExitCode.ok : ExitCode.input;
  }
  // Commands are named by one or two words ("apply", "ipvs list").
  const two = rest.length ? `${first} ${rest[0]}` : '';
  const cmd = all.find((c) => c.name === two) ?? all.find((c) => c.name === first);
  if (!cmd) {
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
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`kernlb: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = ExitCode.kernel;
    },
  );
}
