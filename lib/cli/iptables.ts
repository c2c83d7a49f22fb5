/** `kernlb iptables save` and `kernlb iptables restore`: iptables-legacy-save/-restore over kernlb. */
import { ValidationError } from '../errors';
import { Iptables, parseIptablesSave, iptablesSave as saveTable, iptTablesFromJson as tablesFromJson, iptTablesToJson as tablesToJson, validateIptTable as validateTable, type IptFamily, type IptTable } from '../iptables';
import { ExitCode, parseArgs, UsageError, type CliCommand } from './command';

const save: CliCommand = {
  name: 'iptables save',
  summary: 'print iptables tables (iptables-save syntax or --json)',
  help: `usage: kernlb iptables save [--table T] [--ipv6] [--netns NAME] [--json] [--counters]

Prints the tables of the legacy x_tables interface as iptables-legacy-save does (without its
"# Generated" comment lines), every table the namespace has unless --table names one.
  --json      the full model, raw extensions included (data as hex)
  --counters  rule counters as "[packets:bytes]" (iptables-save -c)`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['ipv6', 'json', 'counters'], values: ['table', 'netns'], aliases: { '-t': '--table', '-6': '--ipv6', '-c': '--counters' } });
    if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const netns = a.values.get('netns');
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}) });
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
  help: `usage: kernlb iptables restore FILE|- [--ipv6] [--netns NAME] [--test]

Reads iptables-save syntax (the typed extensions) or the JSON that "kernlb iptables save --json"
prints, validates every table, then replaces each table in one kernel call.
  --test   validate only, change nothing`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['ipv6', 'test'], values: ['netns'], aliases: { '-6': '--ipv6', '-t': '--test' } });
    if (a.positional.length !== 1) throw new UsageError('restore needs one FILE (or - for stdin)');
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const text = await io.readInput(a.positional[0]!);
    const tables = /^\s*[[{]/.test(text) ? tablesFromJson(text, family) : parseIptablesSave(text, family);
    if (!tables.length) throw new ValidationError('input', 'no table found');
    for (const t of tables) validateTable(t);
    if (a.flags.has('test')) return ExitCode.ok;
    const netns = a.values.get('netns');
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}) });
    try {
      for (const t of tables) await ipt.commit(t);
      return ExitCode.ok;
    } finally {
      await ipt.close();
    }
  },
};

export const commands: CliCommand[] = [save, restore];
