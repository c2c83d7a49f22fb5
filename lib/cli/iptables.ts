/** `kernlb iptables save` and `kernlb iptables restore`: iptables-legacy-save/-restore over kernlb. */
import { ValidationError } from '../errors';
import { Iptables, parseIptablesSave, iptablesSave as saveTable, iptTablesFromJson as tablesFromJson, iptTablesToJson as tablesToJson, validateIptTable as validateTable, type IptFamily, type IptTable } from '../iptables';
import { ExitCode, parseArgs, UsageError, type CliCommand } from './command';

const ENGINE_HELP = `  --engine E         direct (default: one IPT_SO_SET_REPLACE / GET_ENTRIES) or libiptc
  --no-xtables-lock  do not take iptables' lock (/run/xtables.lock) around each commit`;

/** The engine and lock options both commands take. */
function engineOptions(a: ReturnType<typeof parseArgs>): { engine?: 'direct' | 'libiptc'; xtablesLock?: false } {
  const engine = a.values.get('engine');
  if (engine !== undefined && engine !== 'direct' && engine !== 'libiptc') throw new UsageError(`--engine must be direct or libiptc, not "${engine}"`);
  return { ...(engine ? { engine } : {}), ...(a.flags.has('no-xtables-lock') ? { xtablesLock: false as const } : {}) };
}

const save: CliCommand = {
  name: 'iptables save',
  summary: 'print iptables tables (iptables-save syntax or --json)',
  help: `usage: kernlb iptables save [--table T] [--ipv6] [--netns NAME] [--json] [--counters] [--engine E]

Prints the tables of the legacy x_tables interface as iptables-legacy-save does (without its
"# Generated" comment lines), every table the namespace has unless --table names one.
  --json      the full model, raw extensions included (data as hex)
  --counters  rule counters as "[packets:bytes]" (iptables-save -c)
${ENGINE_HELP}`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['ipv6', 'json', 'counters', 'no-xtables-lock'], values: ['table', 'netns', 'engine'], aliases: { '-t': '--table', '-6': '--ipv6', '-c': '--counters' } });
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const netns = a.values.get('netns');
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}), ...engineOptions(a) });
    try {
      const names = a.values.has('table') ? [a.values.get('table')!] : await ipt.tables();
      const tables: IptTable[] = [];
      for (const n of names) tables.push(await ipt.read(n));
      if (a.flags.has('json')) io.out(tablesToJson(family, tables) + '\n');
      else for (const t of tables) io.out(saveTable(t, { counters: a.flags.has('counters') }));
      return ExitCode.ok;
    } finally {
      await ipt.close();
    }
  },
};

const restore: CliCommand = {
  name: 'iptables restore',
  summary: 'replace iptables tables from a file (iptables-save syntax or JSON), one atomic commit per table',
  help: `usage: kernlb iptables restore FILE|- [--ipv6] [--netns NAME] [--test] [--engine E]

Reads iptables-save syntax (the typed extensions) or the JSON that "kernlb iptables save --json"
prints, validates every table, then replaces each table in one kernel call.
  --test   validate only, change nothing
${ENGINE_HELP}`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['ipv6', 'test', 'no-xtables-lock'], values: ['netns', 'engine'], aliases: { '-6': '--ipv6', '-t': '--test' } });
    if (a.positional.length !== 1) throw new UsageError('restore needs one FILE (or - for stdin)');
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const text = await io.readInput(a.positional[0]!);
    const tables = /^\s*[[{]/.test(text) ? tablesFromJson(text, family) : parseIptablesSave(text, family);
    if (!tables.length) throw new ValidationError('input', 'no table found');
    for (const t of tables) validateTable(t);
    const opts = engineOptions(a);
    if (a.flags.has('test')) return ExitCode.ok;
    const netns = a.values.get('netns');
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}), ...opts });
    try {
      for (const t of tables) await ipt.commit(t);
      return ExitCode.ok;
    } finally {
      await ipt.close();
    }
  },
};

export const commands: CliCommand[] = [save, restore];
