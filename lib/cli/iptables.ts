/** `kernlb iptables save` and `kernlb iptables restore`: iptables-legacy-save/-restore over kernlb. */
import { isNotFound, ValidationError } from '../errors';
import { Iptables, parseIptablesSave, iptablesSave as saveTable, iptTablesFromJson as tablesFromJson, iptTablesToJson as tablesToJson, validateIptTable as validateTable, type IptFamily, type IptTable } from '../iptables';
import { ExitCode, inputName, netnsOption, noExtraArgs, NotFoundError, parseArgs, readText, UsageError, type CliCommand } from './command';

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
    noExtraArgs(a, 0);
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const opts = engineOptions(a);
    const netns = netnsOption(a);
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}), ...opts });
    try {
      const names = a.values.has('table') ? [a.values.get('table')!] : await ipt.tables();
      const tables: IptTable[] = [];
      for (const n of names) tables.push(await readTable(ipt, n, family));
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
prints, validates every table, then replaces each table in one kernel call. When the kernel
refuses one, the tables already replaced are put back as they were read just before.
  --test   validate only, change nothing
${ENGINE_HELP}`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['ipv6', 'test', 'no-xtables-lock'], values: ['netns', 'engine'], aliases: { '-6': '--ipv6', '-t': '--test' } });
    if (a.positional.length !== 1) throw new UsageError('restore needs one FILE (or - for stdin)');
    const family: IptFamily = a.flags.has('ipv6') ? 'ipv6' : 'ipv4';
    const file = a.positional[0]!;
    const text = await readText(io, file);
    const json = /^\s*[[{]/.test(text);
    const tables = json ? tablesFromJson(text, family) : parseIptablesSave(text, family);
    if (!tables.length) throw new ValidationError(inputName(file), 'no table found');
    tables.forEach((t, i) => {
      try {
        validateTable(t);
      } catch (e) {
        throw e instanceof ValidationError ? new ValidationError(`${json ? `tables[${i}] (${t.name})` : tableLine(text, t.name, e.field, tables.slice(0, i).filter((x) => x.name === t.name).length)}, ${e.field}`, e.problem, e.value) : e;
      }
    });
    const opts = engineOptions(a);
    if (a.flags.has('test')) return ExitCode.ok;
    const netns = netnsOption(a);
    const ipt = await Iptables.open({ family, ...(netns ? { netns } : {}), ...opts });
    try {
      await commitAll(ipt, tables, family);
      return ExitCode.ok;
    } finally {
      await ipt.close();
    }
  },
};

/** read(), with a table the kernel does not have said as such (exit 1, naming it). */
async function readTable(ipt: Iptables, name: string, family: IptFamily): Promise<IptTable> {
  try {
    return await ipt.read(name);
  } catch (e) {
    if (isNotFound(e)) throw new NotFoundError(`table ${name}: no such iptables table (${family}) in this namespace`);
    throw e;
  }
}

/**
 * Commits table after table (the kernel replaces one table per call) and, when one fails, puts
 * back the tables already committed, so a restore is all or nothing as the user sees it. The old
 * tables are read first: a table the kernel does not know fails before anything changes.
 */
async function commitAll(ipt: Iptables, tables: IptTable[], family: IptFamily): Promise<void> {
  const before = new Map<string, IptTable>();
  for (const t of tables) if (!before.has(t.name)) before.set(t.name, await readTable(ipt, t.name, family));
  const done: string[] = [];
  for (const t of tables) {
    try {
      await ipt.commit(t);
    } catch (e) {
      const failed: string[] = [];
      for (const n of done.reverse()) {
        try {
          await ipt.commit(before.get(n)!);
        } catch (r) {
          failed.push(`${n} (${r instanceof Error ? r.message : String(r)})`);
        }
      }
      if (e instanceof Error && done.length)
        e.message += failed.length ? `; putting back the tables committed before it failed: ${failed.join(', ')} left changed` : `; the tables committed before it (${done.join(', ')}) were put back: nothing changed`;
      throw e;
    }
    if (!done.includes(t.name)) done.push(t.name);
  }
}

/**
 * "line N: table T" for a validation error of parsed iptables-save text: the validator counts
 * rules per chain ("chain INPUT rule 2") and chains per table ("chains[3] (X)"); the user edits lines.
 * Rules are "-A CHAIN ..." (optionally after "[packets:bytes] "), as the parser reads them;
 * `block` is which "*table" block of that name (a table may be given twice: two commits).
 */
export function tableLine(text: string, table: string, field: string, block = 0): string {
  const rule = /^chain (\S+) rule (\d+)/.exec(field);
  const chain = /^chains\[\d+\] \((\S+)\)/.exec(field);
  let cur: string | undefined;
  let nth = 0;
  let seen = -1; // blocks of this table so far
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l.startsWith('*')) {
      cur = l.slice(1).trim();
      if (cur === table) seen++;
      continue;
    }
    if (cur !== table || seen !== block) continue;
    if (chain && l.startsWith(`:${chain[1]} `)) return `line ${i + 1}: table ${table}`;
    const w = l.replace(/^\[\d+:\d+\]\s+/, '').split(/\s+/);
    if (rule && (w[0] === '-A' || w[0] === '--append') && w[1] === rule[1] && ++nth === Number(rule[2])) return `line ${i + 1}: table ${table}`;
  }
  return `table ${table}`;
}

export const commands: CliCommand[] = [save, restore];
