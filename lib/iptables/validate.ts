/**
 * Validation of a whole table before anything is sent: every problem names the chain and rule
 * number (1-based, as iptables numbers rules) and the field.
 */
import { ValidationError, ValidationErrors } from '../errors';
import { parseCidr, parseCidr4Into } from './addr';
import { shown, validIface, xtAlign } from './extensions/codec';
import { matchByType, targetByType } from './extensions';
import { chainOrder, duplicateUserNames, isBuiltinChain } from './chain-order';
import { EXT_HEADER, HOOKS, isHook, layoutOf, STANDARD_TARGET_SIZE, tableHooks } from './layout';
import { protoName, protoNumber } from './proto';
import { infoOf, matchInfo, targetInfo } from './write';
import type { IptChain, IptFamily, IptRule, IptTable } from './types';

/**
 * A chain name: 1-28 characters of one byte each (names go to the kernel as Latin-1 and are read
 * back so, which keeps the kernel's bytes exact for a read-modify-write), without spaces, "!" or
 * ASCII control characters, which iptables-save could not print as one token. A loop, not a
 * regular expression: it runs once per chain.
 */
export function chainNameOk(s: string): boolean {
  const n = s.length;
  if (n < 1 || n > 28) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x21 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

export type Add = (field: string, problem: string, value?: unknown) => void;

/**
 * Chain name -> index in the table's chains, built on first use: a commit whose rules all come
 * from the rule cache (rule-cache.ts) finds its jumps without it, and 10^5 names cost ~50 ms.
 */
export class ChainIndex {
  #map: Map<string, number> | undefined;
  /** After HASH_AFTER binary searches: an open-addressing table of chain indexes by name hash (-1: empty). */
  #slots: Int32Array | undefined;
  #searches = 0;
  /** The kernel order (cached per chains array: chain-order.ts) and how many built-ins lead it; null: use the Map. */
  #order: number[] | null | undefined;
  #builtins = 0;
  /** The number of rules in the table, when validateChains made this index (it walks every chain anyway); else -1. */
  ruleCount = -1;
  constructor(private readonly chains: readonly IptChain[]) {}

  /**
   * A binary search of the user chains in the kernel's order (name order), which a commit has at
   * hand anyway: building a Map of 10^5 names cost ~25 ms a commit when a few jumps needed it.
   */
  get(name: string): number | undefined {
    if (this.#order === undefined) this.#sort();
    const order = this.#order;
    if (!order) return (this.#map ??= this.#build()).get(name);
    const chains = this.chains;
    if (this.#slots !== undefined || ++this.#searches > HASH_AFTER) {
      const slots = (this.#slots ??= hashSlots(chains)), mask = slots.length - 1;
      for (let h = hashName(name) & mask; ; h = (h + 1) & mask) {
        const i = slots[h]!;
        if (i < 0) return undefined;
        if (chains[i]!.name === name) return i;
      }
    }
    for (let k = 0; k < this.#builtins; k++) if (chains[order[k]!]!.name === name) return order[k];
    let lo = this.#builtins, hi = order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const n = chains[order[mid]!]!.name;
      if (n === name) return order[mid];
      if (n < name) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  #sort(): void {
    const chains = this.chains;
    if (!allNamed(chains)) {
      this.#order = null;
      return;
    }
    const order = chainOrder(chains);
    let b = 0;
    while (b < order.length && isBuiltinChain(chains[order[b]!]!)) b++;
    this.#order = order;
    this.#builtins = b;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  #build(): Map<string, number> {
    const m = new Map<string, number>();
    const chains = this.chains;
    // (With a duplicate, the last one's index: no table with a duplicate is encoded.)
    for (let i = 0; i < chains.length; i++) {
      const c = chains[i];
      if (c && typeof c.name === 'string') m.set(c.name, i);
    }
    return m;
  }
}

/**
 * Binary searches before ChainIndex hashes the names instead. A plain model's service chains jump to
 * endpoint chains in no particular name order: at 10k services that was 10^5 searches of ~17 string
 * comparisons over names sharing a long prefix (~40 ms a commit); hashing 10^5 names costs ~5 ms.
 */
const HASH_AFTER = 2048;

/** FNV-1a over a name's UTF-16 units. */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Open addressing (linear probing) of every chain's index, at most half full. */
function hashSlots(chains: readonly IptChain[]): Int32Array {
  let size = 16;
  while (size < chains.length * 2) size *= 2;
  const slots = new Int32Array(size).fill(-1), mask = size - 1;
  // (Duplicates: the first one found. No table with a duplicate name is encoded.)
  for (let i = 0; i < chains.length; i++) {
    let h = hashName(chains[i]!.name) & mask;
    while (slots[h]! >= 0) h = (h + 1) & mask;
    slots[h] = i;
  }
  return slots;
}

export function validateTable(t: IptTable): void {
  const errs: ValidationError[] = [];
  const add: Add = (field, problem, value) => errs.push(new ValidationError(field, problem, value));
  const names = validateChains(t, add);
  if (!names) throw new ValidationErrors(errs);
  for (const c of t.chains) {
    if (!c || !Array.isArray(c.rules) || typeof c.name !== 'string') continue;
    const rules = c.rules;
    for (let i = 0; i < rules.length; i++) validateRule(rules[i]!, c.name, i + 1, t.family, names, add);
  }
  if (errs.length === 1) throw errs[0];
  if (errs.length) throw new ValidationErrors(errs);
}

/**
 * The table and chain checks of validateTable (rules aside): the chain names with their index in
 * `t.chains`, or undefined when `chains` is not even an array or the family is not one.
 */
export function validateChains(t: IptTable, add: Add): ChainIndex | undefined {
  if (t.family !== 'ipv4' && t.family !== 'ipv6') {
    // (Every rule's checks depend on the family: nothing more to say without one.)
    add('family', 'must be "ipv4" or "ipv6"', t.family);
    return undefined;
  }
  if (typeof t.name !== 'string' || !/^[a-z_0-9]{1,31}$/i.test(t.name)) add('name', 'must be a table name like "filter" or "nat"', t.name);
  if (!Array.isArray(t.chains)) {
    add('chains', 'must be an array');
    return undefined;
  }
  // Duplicate user chains are neighbours in the kernel's order (chain-order.ts, cached for this
  // array): only names found there twice are tracked, not a set of 10^5 names. (A chain that is not
  // even an object with a name leaves no order: then every name is tracked.)
  const dups = allNamed(t.chains) ? duplicateUserNames(t.chains) : undefined;
  const seen = new Set<string>();
  let ruleCount = 0;
  let hookBits = 0;
  const hooks = tableHooks(t.name);
  const chains = t.chains;
  for (let i = 0; i < chains.length; i++) {
    const c = chains[i];
    if (!c || typeof c.name !== 'string' || !chainNameOk(c.name) || c.name === 'ERROR') {
      add(`${chainField(i, c)}.name`, 'must be 1-28 characters of one byte each (Latin-1), without spaces, ASCII control characters or "!"', c?.name);
      continue;
    }
    const name = c.name;
    const hook = isHook(name);
    let dup = false;
    if (hook) {
      const bit = 1 << HOOKS.indexOf(name as never);
      dup = (hookBits & bit) !== 0;
      hookBits |= bit;
    } else if (dups === undefined || dups.has(name)) {
      dup = seen.has(name);
      seen.add(name);
    }
    if (dup) add(`${chainField(i, c)}.name`, 'duplicate chain name', name);
    const builtin = hooks ? hook && hooks.includes(name) : hook && c.policy !== undefined;
    if (builtin && c.policy === undefined) add(`${chainField(i, c)}.policy`, 'a built-in chain needs a policy (ACCEPT or DROP)');
    if (c.policy !== undefined && c.policy !== 'ACCEPT' && c.policy !== 'DROP') add(`${chainField(i, c)}.policy`, 'must be ACCEPT or DROP', c.policy);
    if (c.counters !== undefined && !countersOk(c.counters)) add(`${chainField(i, c)}.counters`, COUNTERS_PROBLEM, c.counters);
    if (!builtin) {
      if (c.policy !== undefined) add(`${chainField(i, c)}.policy`, `only built-in chains of table ${t.name} have a policy`);
      if (name.charCodeAt(0) === 0x2d) add(`${chainField(i, c)}.name`, 'must not start with "-"', name);
      if (isVerdictName(name) || hook) add(`${chainField(i, c)}.name`, 'is reserved', name);
    }
    if (!Array.isArray(c.rules)) add(`${chainField(i, c)}.rules`, 'must be an array');
    else ruleCount += c.rules.length;
  }
  if (hooks) for (const h of hooks) if (!(hookBits & (1 << HOOKS.indexOf(h as never)))) add('chains', `table ${t.name} needs its built-in chain ${h}`);
  const index = new ChainIndex(chains);
  index.ruleCount = ruleCount;
  return index;
}

/** A chain's field name, built only for a problem (10^5 chains in a big kube-proxy table). */
function chainField(i: number, c: IptChain | undefined): string {
  return `chains[${i}]${typeof c?.name === 'string' ? ` (${c.name})` : ''}`;
}

/**
 * `name in VERDICT` without the `in`: a chain name read from text is not an internalized string,
 * and `in` looks every one up in V8's string table (~40% of validateChains for 10^5 chains).
 */
export function isVerdictName(name: unknown): boolean {
  return name === 'DROP' || name === 'ACCEPT' || name === 'QUEUE' || name === 'RETURN';
}

function allNamed(chains: readonly IptChain[]): boolean {
  for (let i = 0; i < chains.length; i++) {
    const c = chains[i];
    if (!c || typeof c !== 'object' || typeof c.name !== 'string') return false;
  }
  return true;
}

const ruleAt = (chain: string, ruleNo: number) => `chain ${chain} rule ${ruleNo}`;

/**
 * The checks of one rule. `chains` answers whether a jump's chain exists; with `jumpsChecked` the
 * caller checks that itself (the fused encoder looks the chain up once, for its offset).
 */
export function validateRule(
  r: IptRule, chain: string, ruleNo: number, family: IptFamily, chains: Pick<ReadonlySet<string>, 'has'>, add: Add, jumpsChecked = false,
): void {
  // Field names are built only when there is a problem to report (this runs once per rule).
  if (!r || typeof r !== 'object') return add(ruleAt(chain, ruleNo), 'must be an object', r);
  if (r.source !== undefined && !addrOk(r.source, family)) add(`${ruleAt(chain, ruleNo)}: source`, `not an ${family} address or network`, r.source);
  if (r.destination !== undefined && !addrOk(r.destination, family)) add(`${ruleAt(chain, ruleNo)}: destination`, `not an ${family} address or network`, r.destination);
  if (r.inInterface !== undefined && !validIface(r.inInterface)) add(`${ruleAt(chain, ruleNo)}: inInterface`, IFACE_PROBLEM, r.inInterface);
  if (r.outInterface !== undefined && !validIface(r.outInterface)) add(`${ruleAt(chain, ruleNo)}: outInterface`, IFACE_PROBLEM, r.outInterface);
  if (r.protocol !== undefined && protoNumber(r.protocol) === undefined) add(`${ruleAt(chain, ruleNo)}: protocol`, 'unknown protocol', r.protocol);
  if (r.fragment !== undefined && family === 'ipv6') add(`${ruleAt(chain, ruleNo)}: fragment`, 'IPv4 only (use the frag match on IPv6)');
  const iv = r.invert;
  if (iv !== undefined && (!iv || typeof iv !== 'object')) add(`${ruleAt(chain, ruleNo)}: invert`, 'must be an object like { source: true }', iv);
  else if (iv) {
    if (iv.fragment && !r.fragment) add(`${ruleAt(chain, ruleNo)}: invert.fragment`, 'needs fragment: true');
    // (An inversion of a field the rule lacks would still reach the kernel: "! -s 0.0.0.0/0".)
    for (const k of RULE_INV_FIELDS) if (iv[k] && r[k] === undefined) add(`${ruleAt(chain, ruleNo)}: invert.${k}`, `needs ${k}`);
  }
  if (r.counters !== undefined && !countersOk(r.counters)) add(`${ruleAt(chain, ruleNo)}: counters`, COUNTERS_PROBLEM, r.counters);
  const ms = r.matches;
  let raw = false;
  if (ms !== undefined && !Array.isArray(ms)) add(`${ruleAt(chain, ruleNo)}: matches`, 'must be an array');
  else if (ms) for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    if (!m || typeof m !== 'object') {
      add(`${ruleAt(chain, ruleNo)}: matches[${i}]`, 'must be an object', m);
      continue;
    }
    if (m.type === 'raw') {
      checkRaw(m, () => `${ruleAt(chain, ruleNo)}: matches[${i}]`, add);
      raw = true;
      continue;
    }
    const c = matchByType.get(m.type);
    if (!c) {
      add(`${ruleAt(chain, ruleNo)}: matches[${i}].type`, 'unknown match type (use { type: "raw", name, revision, data } for others)', m.type);
      continue;
    }
    if (c.families && !c.families.includes(family)) add(`${ruleAt(chain, ruleNo)}: matches[${i}].type`, `not available for ${family}`, m.type);
    if (c.protocols && (!c.protocols.includes(protoNumber(r.protocol as string | number)!) || r.invert?.protocol))
      add(`${ruleAt(chain, ruleNo)}: matches[${i}].type`, `needs the rule protocol ${c.name === 'icmp6' ? 'ipv6-icmp' : c.name} (not inverted)`, m.type);
    const problems = c.validate(m, family, r);
    for (let k = 0; k < problems.length; k++) {
      const f = `${ruleAt(chain, ruleNo)}: matches[${i}]`;
      add(problems[k]![0] ? `${f}.${problems[k]![0]}` : f, problems[k]![1]);
    }
    const inv = (m as { invert?: unknown }).invert;
    if (inv !== undefined && typeof inv !== 'boolean') {
      if (!inv || typeof inv !== 'object') add(`${ruleAt(chain, ruleNo)}: matches[${i}].invert`, 'must be true, false or an object like { dport: true }', inv);
      // Each inverted field must be there: the kernel would hold an inversion iptables-save cannot show.
      else for (const k in inv) if ((inv as Record<string, unknown>)[k] && isAbsent((m as Record<string, unknown>)[k])) add(`${ruleAt(chain, ruleNo)}: matches[${i}].invert.${k}`, `needs ${k}`);
    }
  }
  const t = r.target;
  // A raw extension can be up to 64 KiB: the whole entry must still fit the kernel's 16-bit offsets.
  if (raw || isRaw(t) || (ms && ms.length > 64)) {
    const bytes = entryBytes(r, family);
    if (bytes > 65535) add(`${ruleAt(chain, ruleNo)}: matches`, `make an entry of ${bytes} bytes; the kernel's limit is 65535`);
  }
  if (t === undefined) return;
  if (!t || typeof t !== 'object') return add(`${ruleAt(chain, ruleNo)}: target`, 'must be an object', t);
  if (t.type === 'jump' || t.type === 'goto') {
    if (jumpsChecked) return;
    if (typeof t.chain !== 'string' || !chains.has(t.chain)) add(`${ruleAt(chain, ruleNo)}: target.chain`, typeof t.chain === 'string' ? `unknown chain ${shown(t.chain)}` : 'must be a chain name', t.chain);
    return;
  }
  if (isVerdictName(t.type)) return;
  if (t.type === 'raw') return checkRaw(t, () => `${ruleAt(chain, ruleNo)}: target`, add);
  const c = targetByType.get(t.type);
  if (!c) return add(`${ruleAt(chain, ruleNo)}: target.type`, 'unknown target type', t.type);
  if (c.families && !c.families.includes(family)) add(`${ruleAt(chain, ruleNo)}: target.type`, `not available for ${family}`, t.type);
  if (c.protocols && (!c.protocols.includes(protoNumber(r.protocol as string | number)!) || r.invert?.protocol))
    add(`${ruleAt(chain, ruleNo)}: target.type`, `needs the rule protocol ${protoNames(c.protocols)} (not inverted)`, t.type);
  const problems = c.validate(t, family, r);
  for (let k = 0; k < problems.length; k++) {
    const f = `${ruleAt(chain, ruleNo)}: target`;
    add(problems[k]![0] ? `${f}.${problems[k]![0]}` : f, problems[k]![1]);
  }
}

const protoNames = (ps: readonly number[]) => ps.map((p) => protoName(p)).join(' or ');

const isRaw = (x: unknown) => !!x && typeof x === 'object' && (x as { type?: unknown }).type === 'raw';

/** An entry's size as the encoders lay it out (what is not an extension this can size counts nothing: it is reported elsewhere). */
function entryBytes(r: IptRule, family: IptFamily): number {
  const one = (x: unknown, kind: 'm' | 't'): number => {
    if (!x || typeof x !== 'object') return 0;
    const { type, data } = x as { type?: unknown; data?: unknown };
    if (type === 'raw') return Buffer.isBuffer(data) ? EXT_HEADER + xtAlign(data.length) : 0;
    if (typeof type !== 'string' || !(kind === 'm' ? matchByType : targetByType).has(type)) return 0;
    return infoOf((kind === 'm' ? matchInfo : targetInfo)[family], kind, type, family).size;
  };
  let n = layoutOf(family).size;
  const ms = r.matches;
  if (Array.isArray(ms)) for (const m of ms) n += one(m, 'm');
  const t = r.target;
  return n + (isRaw(t) ? one(t, 't') : Math.max(STANDARD_TARGET_SIZE, one(t, 't')));
}

const RULE_INV_FIELDS = ['source', 'destination', 'inInterface', 'outInterface', 'protocol'] as const;

const isAbsent = (v: unknown) => v === undefined || v === false;

const COUNTERS_PROBLEM = 'must be { packets, bytes }, each an integer 0..2^53-1';

/** Counters as the model holds them (numbers: the encoder writes them as u64 through BigInt, which refuses anything else). */
function countersOk(c: unknown): boolean {
  if (!c || typeof c !== 'object') return false;
  const { packets, bytes } = c as { packets?: unknown; bytes?: unknown };
  return Number.isSafeInteger(packets) && (packets as number) >= 0 && Number.isSafeInteger(bytes) && (bytes as number) >= 0;
}

const IFACE_PROBLEM = 'must be an interface name of 1-15 characters ("+" suffix = prefix)';

function addrOk(s: unknown, family: IptFamily): boolean {
  return typeof s === 'string' && ((family === 'ipv4' && parseCidr4Into(s)) || parseCidr(s, family) !== undefined);
}

function checkRaw(m: { name?: unknown; revision?: unknown; data?: unknown }, at: () => string, add: Add) {
  if (typeof m.name !== 'string' || !/^[\w.-]{1,28}$/.test(m.name)) add(`${at()}.name`, 'must be an extension name of 1-28 characters', m.name);
  if (!Number.isInteger(m.revision) || (m.revision as number) < 0 || (m.revision as number) > 255) add(`${at()}.revision`, 'must be 0-255', m.revision);
  if (!Buffer.isBuffer(m.data)) add(`${at()}.data`, 'must be a Buffer');
  else if (m.data.length % 8 !== 0 || m.data.length > 65535 - 32) add(`${at()}.data`, 'length must be a multiple of 8 (XT_ALIGN)');
}
