/** `kernlb nft commit` and `kernlb nft list`: a ruleset as JSON in, one atomic commit; the ruleset out. */
import { ValidationError } from '../errors';
import { Nftables } from '../nft';
import type { Ruleset } from '../nft/model';
import { Transaction } from '../nft/transaction';
import { ExitCode, parseArgs, UsageError, type CliCommand } from './command';

const commitHelp = `usage: kernlb nft commit FILE|- [--netns NAME] [--dry-run] [--generation N]

Commits a ruleset given as JSON (the shape "kernlb nft list --json" prints:
{ "tables": [...], "chains": [...], "objects": [...], "sets": [...], "rules": [...] }) as ONE nftables
transaction: all of it is applied or none. Objects are added (existing ones are kept).

  --netns NAME      network namespace (/run/netns/NAME); default: the current one
  --dry-run         let the kernel validate everything, apply nothing
  --generation N    fail with exit code 3 if the ruleset changed since generation N
`;

const listHelp = `usage: kernlb nft list [--json] [--netns NAME] [--family F] [--table T]

Prints the nftables ruleset read in one consistent generation. --json prints it in the form
"kernlb nft commit" accepts.
`;

function str(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Human-readable summary; the kernel-level detail is in --json. */
function describe(rs: Ruleset): string {
  const out: string[] = [`# generation ${rs.generation}`];
  for (const t of rs.tables) {
    out.push(`table ${t.family} ${t.name}${t.comment ? ` # ${t.comment}` : ''}`);
    const mine = <X extends { family: string; table: string }>(xs: X[]) => xs.filter((x) => x.family === t.family && x.table === t.name);
    for (const o of mine(rs.objects)) out.push(`  ${o.type} ${o.name}${'packets' in o ? ` packets ${o.packets} bytes ${o.bytes}` : ''}`);
    for (const s of mine(rs.sets)) {
      const kind = s.data !== undefined ? 'map' : 'set';
      out.push(`  ${kind} ${s.name}: ${str(s.key)}${s.data !== undefined ? ` : ${str(s.data)}` : ''}${s.flags?.length ? ` flags ${s.flags.join(',')}` : ''} (${s.elements?.length ?? 0} elements)`);
    }
    for (const c of mine(rs.chains)) {
      const b = c.base;
      out.push(`  chain ${c.name}${b ? ` { type ${b.type} hook ${b.hook} priority ${b.priority}${b.policy ? ` policy ${b.policy}` : ''} }` : ''}`);
      for (const r of rs.rules.filter((r) => r.family === c.family && r.table === c.table && r.chain === c.name)) {
        const exprs = (r.exprs as { type: string }[]).map((e) => e.type).join(' ');
        out.push(`    [${r.handle ?? '-'}] ${exprs}${r.comment ? ` # ${r.comment}` : ''}`);
      }
    }
  }
  return out.join('\n') + '\n';
}

function parseRuleset(text: string): Pick<Ruleset, 'tables' | 'chains' | 'objects' | 'sets' | 'rules'> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ValidationError('input', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('input', 'must be an object { tables, chains, objects, sets, rules }');
  const o = v as Record<string, unknown>;
  const arr = (k: string) => {
    if (o[k] === undefined) return [];
    if (!Array.isArray(o[k])) throw new ValidationError(k, 'must be an array', o[k]);
    return o[k] as never[];
  };
  return { tables: arr('tables'), chains: arr('chains'), objects: arr('objects'), sets: arr('sets'), rules: arr('rules') };
}

export const commands: CliCommand[] = [
  {
    name: 'nft commit',
    summary: 'commit a JSON ruleset as one atomic nftables transaction',
    help: commitHelp,
    async run(args, io) {
      const a = parseArgs(args, { flags: ['dry-run'], values: ['netns', 'generation'] });
      if (a.positional.length !== 1) throw new UsageError('nft commit needs exactly one FILE (or - for stdin)');
      let generation: number | undefined;
      if (a.values.has('generation')) {
        generation = Number(a.values.get('generation'));
        if (!Number.isInteger(generation) || generation < 0) throw new UsageError('--generation needs a non-negative integer');
      }
      const rs = parseRuleset(await io.readInput(a.positional[0]!));
      new Transaction(async () => undefined).addRuleset(rs); // validate before touching any namespace
      const netns = a.values.get('netns');
      await using nft = await Nftables.open(netns ? { netns } : {});
      const tx = nft.transaction().addRuleset(rs);
      await tx.commit({ ...(generation !== undefined ? { generation } : {}), dryRun: a.flags.has('dry-run') });
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
      if (a.positional.length) throw new UsageError(`unexpected argument ${a.positional[0]}`);
      const netns = a.values.get('netns');
      await using nft = await Nftables.open(netns ? { netns } : {});
      const family = a.values.get('family');
      const table = a.values.get('table');
      const rs = await nft.list({ ...(family ? { family: family as never } : {}), ...(table ? { table } : {}) });
      io.out(a.flags.has('json') ? JSON.stringify(rs, null, 2) + '\n' : describe(rs));
      return ExitCode.ok;
    },
  },
];
