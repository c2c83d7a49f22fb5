/**
 * The two ways kernlb replaces a table, and iptables' lock around them.
 *
 * - 'direct' (default): the table blob TypeScript encodes goes to the kernel in one
 *   IPT_SO_SET_REPLACE (then IPT_SO_SET_ADD_COUNTERS), what iptc_commit does underneath.
 * - 'libiptc': the same encoded rules are applied through libiptc itself (libip4tc/libip6tc):
 *   iptc_init, flush and delete what is there, iptc_create_chain, iptc_append_entry per rule,
 *   iptc_set_policy, iptc_commit. Slower (libiptc copies and re-links every rule, then builds the
 *   blob again), but it is the code iptables-legacy runs, for those who want exactly that path.
 *
 * Both take iptables' own lock (flock on XTABLES_LOCKFILE or /run/xtables.lock, as
 * iptables-legacy and iptables-legacy-restore 1.8.9 do) around the check-then-replace, so such a
 * command cannot change the table between kernlb's unchanged-check and its replace.
 */
import { ValidationError } from '../errors';
import type { NativeXtablesLock } from '../native';
import { orderChains } from './blob';
import type { IptChain, IptRule, IptTable } from './types';

export type IptEngine = 'direct' | 'libiptc';
export const IPT_ENGINES: readonly IptEngine[] = ['direct', 'libiptc'];

/** iptables 1.8.9's XT_LOCK_NAME; XTABLES_LOCKFILE overrides it there and here. */
export const XTABLES_LOCK_PATH = '/run/xtables.lock';

export function checkEngine(engine: unknown): IptEngine {
  if (engine === undefined) return 'direct';
  if (engine !== 'direct' && engine !== 'libiptc') throw new ValidationError('engine', 'must be "direct" or "libiptc"', engine);
  return engine;
}

/**
 * The lock a handle takes: `true` (default) = the file iptables uses, a string = that file,
 * `false` = none. The wait for another holder is bounded by the handle's timeout.
 */
export function resolveXtablesLock(opt: unknown, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): NativeXtablesLock | null {
  if (opt === false) return null;
  if (opt === undefined || opt === true) return { path: env.XTABLES_LOCKFILE || XTABLES_LOCK_PATH, timeoutMs };
  if (typeof opt === 'string' && opt.length > 0 && !opt.includes('\0')) return { path: opt, timeoutMs };
  throw new ValidationError('xtablesLock', 'must be true, false or the path of a lock file', opt);
}

/**
 * What entry `index` of the encoded blob is (the numbering of KernelError.index for iptables):
 * built-ins in hook order then user chains, each user chain an ERROR head, its rules, a RETURN tail;
 * a built-in chain its rules then its policy.
 */
export function describeEntry(table: IptTable, index: number): string | undefined {
  let i = 0;
  for (const c of orderChains(table.chains)) {
    const builtin = c.policy !== undefined;
    if (!builtin && i++ === index) return `chain ${c.name}`;
    if (index < i + c.rules.length) return index >= i ? `chain ${c.name} rule ${index - i + 1}` : undefined;
    i += c.rules.length;
    if (i++ === index) return builtin ? `chain ${c.name} policy` : `chain ${c.name} end`;
  }
  return undefined;
}

/** Each rule of `table` with its 1-based number in its chain and its entry index (describeEntry's numbering). */
export function* ruleEntries(table: IptTable): Generator<[chain: IptChain, ruleNo: number, rule: IptRule, index: number]> {
  let index = 0;
  for (const c of orderChains(table.chains)) {
    if (c.policy === undefined) index++;
    for (let ri = 0; ri < c.rules.length; ri++) yield [c, ri + 1, c.rules[ri]!, index++];
    index++;
  }
}
