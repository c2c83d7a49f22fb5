/**
 * Edits on a table model (as read() returns it), applied together by one commit. Each helper changes
 * the table in place and returns it; a bad reference is a ValidationError at once.
 */
import { ValidationError } from '../errors';
import { isHook, tableHooks } from './layout';
import { shown } from './extensions/codec';
import { freezeRule } from './rule-cache';
import type { IptChain, IptFamily, IptRule, IptTable } from './types';

/** A table with its built-in chains (policy ACCEPT) and no rules. */
export function emptyTable(family: IptFamily, name: string): IptTable {
  const hooks = tableHooks(name);
  if (!hooks) throw new ValidationError('name', `unknown table ${shown(name)} (filter, nat, mangle, raw, security)`, name);
  return { family, name, chains: hooks.map((h) => ({ name: h, policy: 'ACCEPT', counters: { packets: 0, bytes: 0 }, rules: [] })) };
}

/** The table's chains; the helpers take a table a caller may have built by hand, so it is checked. */
function chainsOf(t: IptTable): IptChain[] {
  if (!t || typeof t !== 'object' || !Array.isArray(t.chains)) throw new ValidationError('table', 'must be a table with a chains array', t);
  return t.chains;
}

function rulesOf(c: IptChain): IptRule[] {
  if (!Array.isArray(c.rules)) throw new ValidationError(`chain ${shown(c.name)}.rules`, 'must be an array', c.rules);
  return c.rules;
}

function chainName(name: unknown, field = 'chain'): string {
  if (typeof name !== 'string' || name === '') throw new ValidationError(field, 'must be a chain name', name);
  return name;
}

export function getChain(t: IptTable, name: string): IptChain {
  const c = chainsOf(t).find((x) => x?.name === name);
  if (!c) throw new ValidationError('chain', `no chain ${shown(name)} in table ${shown(t.name)}`, name);
  rulesOf(c);
  return c;
}

function position(c: IptChain, pos: number, max: number): number {
  if (!Number.isInteger(pos) || pos < 1 || pos > max) throw new ValidationError('position', `chain ${c.name} has no rule ${shown(pos)} (1..${max})`, pos);
  return pos - 1;
}

export function appendRule(t: IptTable, chain: string, rule: IptRule): IptTable {
  getChain(t, chain).rules.push(rule);
  return t;
}
/** Inserts before rule `pos` (1-based, default 1 = first). */
export function insertRule(t: IptTable, chain: string, rule: IptRule, pos = 1): IptTable {
  const c = getChain(t, chain);
  c.rules.splice(position(c, pos, c.rules.length + 1), 0, rule);
  return t;
}
/** Deletes rule number `pos` (1-based). */
export function deleteRule(t: IptTable, chain: string, pos: number): IptTable {
  const c = getChain(t, chain);
  c.rules.splice(position(c, pos, c.rules.length), 1);
  return t;
}
export function replaceRule(t: IptTable, chain: string, pos: number, rule: IptRule): IptTable {
  const c = getChain(t, chain);
  c.rules[position(c, pos, c.rules.length)] = rule;
  return t;
}
export function createChain(t: IptTable, name: string): IptTable {
  chainName(name);
  if (chainsOf(t).some((c) => c?.name === name)) throw new ValidationError('chain', `chain ${shown(name)} already exists in table ${shown(t.name)}`, name);
  t.chains.push({ name, rules: [] });
  return t;
}
/** Creates the chain when missing (idempotent), like kube-proxy's "ensure chain". */
export function ensureChain(t: IptTable, name: string): IptChain {
  return chainsOf(t).find((c) => c?.name === name) ?? (createChain(t, name), getChain(t, name));
}
export function flushChain(t: IptTable, name: string): IptTable {
  getChain(t, name).rules = [];
  return t;
}

function references(t: IptTable, name: string): string[] {
  const out: string[] = [];
  for (const c of t.chains)
    rulesOf(c).forEach((r, i) => {
      if ((r?.target?.type === 'jump' || r?.target?.type === 'goto') && r.target.chain === name) out.push(`${c.name} rule ${i + 1}`);
    });
  return out;
}

/** Deletes a user chain; it must be empty unless `force`, and no rule may jump to it. */
export function deleteChain(t: IptTable, name: string, opts: { force?: boolean } = {}): IptTable {
  const c = getChain(t, name);
  if (c.policy !== undefined) throw new ValidationError('chain', `${shown(name)} is a built-in chain`, name);
  if (c.rules.length && !opts.force) throw new ValidationError('chain', `chain ${name} is not empty (${c.rules.length} rules)`, name);
  const refs = references(t, name);
  if (refs.length) throw new ValidationError('chain', `chain ${name} is referenced by ${refs.join(', ')}`, name);
  t.chains = t.chains.filter((x) => x !== c);
  return t;
}
/** Renames a user chain and every jump/goto to it. */
export function renameChain(t: IptTable, from: string, to: string): IptTable {
  const c = getChain(t, from);
  chainName(to, 'to');
  if (c.policy !== undefined || isHook(to)) throw new ValidationError('chain', 'built-in chains cannot be renamed', from);
  if (t.chains.some((x) => x?.name === to)) throw new ValidationError('chain', `chain ${shown(to)} already exists`, to);
  c.name = to;
  for (const ch of t.chains) {
    const rules = rulesOf(ch);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!, tg = r?.target;
      if ((tg?.type !== 'jump' && tg?.type !== 'goto') || tg.chain !== from) continue;
      // A frozen rule (freezeRule) is replaced by a frozen copy that jumps to the new name.
      if (Object.isFrozen(tg) || Object.isFrozen(r)) rules[i] = refreeze(r, { ...r, target: { type: tg.type, chain: to } });
      else tg.chain = to;
    }
  }
  return t;
}

function refreeze(old: IptRule, r: IptRule): IptRule {
  return Object.isFrozen(old) ? freezeRule(r) : r;
}
export function setPolicy(t: IptTable, chain: string, policy: 'ACCEPT' | 'DROP'): IptTable {
  const c = getChain(t, chain);
  if (c.policy === undefined) throw new ValidationError('chain', `${chain} is a user chain: only built-in chains have a policy`, chain);
  if (policy !== 'ACCEPT' && policy !== 'DROP') throw new ValidationError('policy', 'must be ACCEPT or DROP', policy);
  c.policy = policy;
  return t;
}
/** Zeroes counters of one chain (its rules and policy) or of the whole table. */
export function zeroCounters(t: IptTable, chain?: string): IptTable {
  for (const c of chain !== undefined ? [getChain(t, chain)] : chainsOf(t)) {
    if (!c || typeof c !== 'object') throw new ValidationError('chains', 'must hold chain objects', c);
    if (c.counters) c.counters = { packets: 0, bytes: 0 };
    const rules = rulesOf(c);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (!r?.counters) continue;
      if (!Object.isFrozen(r)) delete r.counters;
      else if (!Object.isFrozen(r.counters)) r.counters.packets = r.counters.bytes = 0; // (freezeRule leaves counters writable)
      else {
        const { counters: _, ...rest } = r;
        rules[i] = freezeRule(rest);
      }
    }
  }
  return t;
}
