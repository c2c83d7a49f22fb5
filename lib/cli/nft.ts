/** `kernlb nft commit` and `kernlb nft list`: a ruleset as JSON in, one atomic commit; the ruleset out. */
import { KernelError, ValidationError } from '../errors';
import { Nftables } from '../nft';
import { printRuleset } from '../nft/print';
import type { Ruleset } from '../nft/model';
import { Transaction } from '../nft/transaction';
import { ExitCode, inputName, intOption, netnsOption, noExtraArgs, NotFoundError, parseArgs, parseJson, readText, UsageError, type CliCommand } from './command';

const commitHelp = `usage: kernlb nft commit FILE|- [--netns NAME] [--dry-run] [--generation N]

Commits a ruleset given as JSON (the shape "kernlb nft list --json" prints:
{ "tables": [...], "chains": [...], "objects": [...], "sets": [...], "rules": [...] }) as ONE nftables
transaction: all of it is applied or none. Objects are added (existing ones are kept).

  --netns NAME      network namespace (/run/netns/NAME); default: the current one
  --dry-run         let the kernel validate everything, apply nothing
  --generation N    fail with exit code 3 if the ruleset changed since generation N
`;

const listHelp = `usage: kernlb nft list [--json] [--netns NAME] [--family F] [--table T]

Prints the nftables ruleset read in one consistent generation, in nft's syntax as "nft list ruleset"
prints it. What kernlb cannot print as nft does is a "#" line naming it (see --json for every
detail). --json prints the ruleset in the form "kernlb nft commit" accepts.
`;

const SECTIONS = ['tables', 'chains', 'objects', 'sets', 'rules'] as const;
type RulesetInput = Pick<Ruleset, (typeof SECTIONS)[number]>;

/** The input's shape, down to "every entry is an object": past that the transaction validates. */
export function parseRuleset(file: string, text: string): RulesetInput {
  const v = parseJson(file, text);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError(inputName(file), 'must be an object { tables, chains, objects, sets, rules }');
  const o = v as Record<string, unknown>;
  // a misspelt section ("rule") would otherwise commit the rest without it, and exit 0
  const extra = Object.keys(o).find((k) => k !== 'generation' && !(SECTIONS as readonly string[]).includes(k));
  if (extra !== undefined) throw new ValidationError(extra, `unknown key; expected ${SECTIONS.join(', ')} (and generation, ignored)`);
  const arr = (k: (typeof SECTIONS)[number]) => {
    if (o[k] === undefined) return [];
    if (!Array.isArray(o[k])) throw new ValidationError(k, 'must be an array', o[k]);
    const bad = o[k].findIndex((x) => !x || typeof x !== 'object' || Array.isArray(x));
    if (bad >= 0) throw new ValidationError(`${k}[${bad}]`, 'must be an object', o[k][bad]);
    return o[k] as never[];
  };
  const rs = { tables: arr('tables'), chains: arr('chains'), objects: arr('objects'), sets: arr('sets'), rules: arr('rules') };
  // The transaction skips "elements" that is not a non-empty array (a set committed without its
  // elements, exit 0) and fails with a TypeError on a null element: say so here.
  rs.sets.forEach((st: { elements?: unknown }, i) => {
    const el = st.elements;
    if (el === undefined) return;
    if (!Array.isArray(el)) throw new ValidationError(`sets[${i}].elements`, 'must be an array', el);
    const bad = el.findIndex((x) => !x || typeof x !== 'object' || Array.isArray(x));
    if (bad >= 0) throw new ValidationError(`sets[${i}].elements[${bad}]`, 'must be an object { key, ... }', el[bad]);
  });
  return rs;
}

/**
 * Validates like Transaction.addRuleset (same order, same checks) one entry at a time, so that an
 * error, whose path counts transaction items ("items[4]..."), also says which entry of the file it
 * is ("rules[0]"). Returns, per transaction item, the entry it came from.
 */
export function validateRuleset(rs: RulesetInput, name: string): string[] {
  const tx = new Transaction(async () => undefined);
  const owners: string[] = [];
  const none = { tables: [], chains: [], objects: [], sets: [], rules: [] };
  for (const k of SECTIONS) {
    rs[k].forEach((entry, i) => {
      try {
        tx.addRuleset({ ...none, [k]: [entry] });
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(e.field, `${e.problem} (${k}[${i}] of ${name})`, e.value);
        throw e;
      }
      while (owners.length < tx.size) owners.push(`${k}[${i}]`);
    });
  }
  return owners;
}

/**
 * Some checks happen only in the native encoder at commit (e.g. an unknown expression type): a
 * TypeError "items[N].field: problem" thrown before anything is sent. That is bad input (exit 2),
 * so it becomes a ValidationError naming the entry of the file.
 */
function inputError(e: unknown, owners: string[], name: string): unknown {
  const where = (i: number | undefined) => (i !== undefined && owners[i] ? ` (${owners[i]} of ${name})` : '');
  if (e instanceof TypeError) {
    const m = /^(items\[(\d+)\][^:]*): (.*)$/s.exec(e.message);
    if (m) return new ValidationError(m[1]!, `${m[3]}${where(Number(m[2]))}`);
  }
  if (e instanceof KernelError && e.index !== undefined) e.message += where(e.index);
  return e;
}

export const commands: CliCommand[] = [
  {
    name: 'nft commit',
    summary: 'commit a JSON ruleset as one atomic nftables transaction',
    help: commitHelp,
    async run(args, io) {
      const a = parseArgs(args, { flags: ['dry-run'], values: ['netns', 'generation'] });
      if (a.positional.length !== 1) throw new UsageError('nft commit needs exactly one FILE (or - for stdin)');
      const generation = intOption(a, 'generation', 0, 0xffffffff);
      const file = a.positional[0]!;
      const rs = parseRuleset(file, await readText(io, file));
      const owners = validateRuleset(rs, inputName(file)); // before touching any namespace
      const netns = netnsOption(a);
      await using nft = await Nftables.open(netns ? { netns } : {});
      const tx = nft.transaction().addRuleset(rs);
      try {
        await tx.commit({ ...(generation !== undefined ? { generation } : {}), dryRun: a.flags.has('dry-run') });
      } catch (e) {
        throw inputError(e, owners, inputName(file));
      }
      io.out(`${a.flags.has('dry-run') ? 'validated' : 'committed'} ${tx.size} item(s)${a.flags.has('dry-run') ? ' (dry run, nothing applied)' : ''}\n`);
      return ExitCode.ok;
    },
  },
  {
    name: 'nft list',
    summary: 'print the nftables ruleset (--json: the form nft commit takes)',
    help: listHelp,
    async run(args, io) {
      const a = parseArgs(args, { flags: ['json'], values: ['netns', 'family', 'table'] });
      noExtraArgs(a, 0);
      const netns = netnsOption(a);
      await using nft = await Nftables.open(netns ? { netns } : {});
      const family = a.values.get('family');
      const table = a.values.get('table');
      const rs = await nft.list({ ...(family ? { family: family as never } : {}), ...(table ? { table } : {}) });
      // the kernel's answer for a table that is not there is an empty listing: not a success
      if (table !== undefined && !rs.tables.length) throw new NotFoundError(`--table ${table}: no such nftables table${family ? ` in family ${family}` : ''}`);
      io.out(a.flags.has('json') ? JSON.stringify(rs, null, 2) + '\n' : printRuleset(rs).text);
      return ExitCode.ok;
    },
  },
];
