/**
 * Validation of a whole table before anything is sent: every problem names the chain and rule
 * number (1-based, as iptables numbers rules) and the field.
 */
import { ValidationError, ValidationErrors } from '../errors';
import { parseCidr, parseCidr4Into } from './addr';
import { validIface } from './extensions/codec';
import { matchByType, targetByType } from './extensions';
import { isHook, TABLE_HOOKS, VERDICT } from './layout';
import { protoNumber } from './proto';
import type { IptFamily, IptRule, IptTable } from './types';

const CHAIN_NAME = /^[^\s!]{1,28}$/;

export function validateTable(t: IptTable): void {
  const errs: ValidationError[] = [];
  const add = (field: string, problem: string, value?: unknown) => errs.push(new ValidationError(field, problem, value));
  if (t.family !== 'ipv4' && t.family !== 'ipv6') add('family', 'must be "ipv4" or "ipv6"', t.family);
  if (typeof t.name !== 'string' || !/^[a-z_0-9]{1,31}$/i.test(t.name)) add('name', 'must be a table name like "filter" or "nat"', t.name);
  if (!Array.isArray(t.chains)) {
    add('chains', 'must be an array');
    throw new ValidationErrors(errs);
  }
  const names = new Set<string>();
  const hooks = TABLE_HOOKS[t.name];
  for (const [i, c] of t.chains.entries()) {
    // Built only for a problem: this runs once per chain (10^5 chains in a big kube-proxy table).
    const at = () => `chains[${i}]${typeof c?.name === 'string' ? ` (${c.name})` : ''}`;
    if (!c || typeof c.name !== 'string' || !CHAIN_NAME.test(c.name) || c.name === 'ERROR') {
      add(`${at()}.name`, 'must be 1-28 characters without spaces or "!"', c?.name);
      continue;
    }
    if (names.has(c.name)) add(`${at()}.name`, 'duplicate chain name', c.name);
    names.add(c.name);
    const builtin = hooks ? hooks.includes(c.name as never) : isHook(c.name) && c.policy !== undefined;
    if (builtin && c.policy === undefined) add(`${at()}.policy`, 'a built-in chain needs a policy (ACCEPT or DROP)');
    if (c.policy !== undefined && c.policy !== 'ACCEPT' && c.policy !== 'DROP') add(`${at()}.policy`, 'must be ACCEPT or DROP', c.policy);
    if (!builtin && c.policy !== undefined) add(`${at()}.policy`, `only built-in chains of table ${t.name} have a policy`);
    if (!builtin && /^[-]/.test(c.name)) add(`${at()}.name`, 'must not start with "-"', c.name);
    if (!builtin && (c.name in VERDICT || isHook(c.name))) add(`${at()}.name`, 'is reserved', c.name);
    if (!Array.isArray(c.rules)) add(`${at()}.rules`, 'must be an array');
  }
  if (hooks) for (const h of hooks) if (!names.has(h)) add('chains', `table ${t.name} needs its built-in chain ${h}`);
  for (const c of t.chains) {
    if (!c || !Array.isArray(c.rules) || typeof c.name !== 'string') continue;
    c.rules.forEach((r, i) => validateRule(r, c.name, i + 1, t.family, names, add));
  }
  if (errs.length === 1) throw errs[0];
  if (errs.length) throw new ValidationErrors(errs);
}

export function validateRule(
  r: IptRule, chain: string, ruleNo: number, family: IptFamily, chains: Set<string>, add: (field: string, problem: string, value?: unknown) => void,
): void {
  // Field names are built only when there is a problem to report (this runs once per rule).
  const at = () => `chain ${chain} rule ${ruleNo}`;
  if (!r || typeof r !== 'object') return add(at(), 'must be an object', r);
  if (r.source !== undefined && !addrOk(r.source, family)) add(`${at()}: source`, `not an ${family} address or network`, r.source);
  if (r.destination !== undefined && !addrOk(r.destination, family)) add(`${at()}: destination`, `not an ${family} address or network`, r.destination);
  if (r.inInterface !== undefined && !validIface(r.inInterface)) add(`${at()}: inInterface`, IFACE_PROBLEM, r.inInterface);
  if (r.outInterface !== undefined && !validIface(r.outInterface)) add(`${at()}: outInterface`, IFACE_PROBLEM, r.outInterface);
  if (r.protocol !== undefined && protoNumber(r.protocol) === undefined) add(`${at()}: protocol`, 'unknown protocol', r.protocol);
  if (r.fragment !== undefined && family === 'ipv6') add(`${at()}: fragment`, 'IPv4 only (use the frag match on IPv6)');
  if (r.invert?.fragment && !r.fragment) add(`${at()}: invert.fragment`, 'needs fragment: true');
  const ms = r.matches;
  if (ms !== undefined && !Array.isArray(ms)) add(`${at()}: matches`, 'must be an array');
  else if (ms) for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    const f = () => `${at()}: matches[${i}]`;
    if (!m || typeof m !== 'object') {
      add(f(), 'must be an object', m);
      continue;
    }
    if (m.type === 'raw') {
      checkRaw(m, f(), add);
      continue;
    }
    const c = matchByType.get(m.type);
    if (!c) {
      add(`${f()}.type`, 'unknown match type (use { type: "raw", name, revision, data } for others)', m.type);
      continue;
    }
    if (c.families && !c.families.includes(family)) add(`${f()}.type`, `not available for ${family}`, m.type);
    const problems = c.validate(m, family, r);
    for (let k = 0; k < problems.length; k++) add(problems[k]![0] ? `${f()}.${problems[k]![0]}` : f(), problems[k]![1]);
  }
  const t = r.target;
  if (t === undefined) return;
  const f = () => `${at()}: target`;
  if (!t || typeof t !== 'object') return add(f(), 'must be an object', t);
  if (t.type === 'jump' || t.type === 'goto') {
    if (typeof t.chain !== 'string' || !chains.has(t.chain)) add(`${f()}.chain`, `unknown chain "${t.chain}"`, t.chain);
    else if (isHook(t.chain) && !CHAIN_NAME.test(t.chain)) add(`${f()}.chain`, 'cannot jump to a built-in chain', t.chain);
    return;
  }
  if (t.type in VERDICT) return;
  if (t.type === 'raw') return checkRaw(t, f(), add);
  const c = targetByType.get(t.type);
  if (!c) return add(`${f()}.type`, 'unknown target type', t.type);
  if (c.families && !c.families.includes(family)) add(`${f()}.type`, `not available for ${family}`, t.type);
  const problems = c.validate(t, family, r);
  for (let k = 0; k < problems.length; k++) add(problems[k]![0] ? `${f()}.${problems[k]![0]}` : f(), problems[k]![1]);
}

const IFACE_PROBLEM = 'must be an interface name of 1-15 characters ("+" suffix = prefix)';

function addrOk(s: unknown, family: IptFamily): boolean {
  return typeof s === 'string' && ((family === 'ipv4' && parseCidr4Into(s)) || parseCidr(s, family) !== undefined);
}

function checkRaw(m: { name?: unknown; revision?: unknown; data?: unknown }, f: string, add: (field: string, problem: string, value?: unknown) => void) {
  if (typeof m.name !== 'string' || !/^[\w.-]{1,28}$/.test(m.name)) add(`${f}.name`, 'must be an extension name of 1-28 characters', m.name);
  if (!Number.isInteger(m.revision) || (m.revision as number) < 0 || (m.revision as number) > 255) add(`${f}.revision`, 'must be 0-255', m.revision);
  if (!Buffer.isBuffer(m.data)) add(`${f}.data`, 'must be a Buffer');
  else if (m.data.length % 8 !== 0 || m.data.length > 65535 - 32) add(`${f}.data`, 'length must be a multiple of 8 (XT_ALIGN)');
}
