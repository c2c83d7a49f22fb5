/**
 * Base chain priorities by nft's names, both ways: `dstnat`, `filter + 10`, `srcnat - 5` to numbers
 * (addChain), and numbers to the names `nft list ruleset` prints. The values and which name a
 * family and hook take are nft's (src/rule.c std_prios, bridge_std_prios, std_prio_family_hook_compat):
 * the bridge family has its own values, dstnat is for prerouting only and srcnat for postrouting only
 * (bridge: out is for output), raw, mangle and security for ip, ip6 and inet only.
 */
import type { Family } from './constants';

/** NF_IP_PRI_* (ip, ip6, inet, arp, netdev) and NF_BR_PRI_* (bridge), in nft's lookup order. */
const STD = [['raw', -300], ['mangle', -150], ['dstnat', -100], ['filter', 0], ['security', 50], ['srcnat', 100]] as const;
const BRIDGE = [['dstnat', -300], ['filter', -200], ['out', 100], ['srcnat', 300]] as const;
/** nft prints a name for priorities within this distance of its value, as "name + offset". */
const REACH = 10;
const IP_LIKE = new Set<string>(['ip', 'ip6', 'inet']);

/** Whether nft takes (and prints) this standard priority name in this family and hook. */
function compatible(name: string, family: Family, hook: string): boolean {
  if (family === 'bridge') {
    if (name === 'dstnat') return hook === 'prerouting';
    if (name === 'out') return hook === 'output';
    if (name === 'srcnat') return hook === 'postrouting';
    return name === 'filter';
  }
  if (name === 'filter') return IP_LIKE.has(family) || family === 'arp' || family === 'netdev';
  if (name === 'dstnat') return IP_LIKE.has(family) && hook === 'prerouting';
  if (name === 'srcnat') return IP_LIKE.has(family) && hook === 'postrouting';
  return IP_LIKE.has(family); // raw, mangle, security
}

const table = (family: Family) => (family === 'bridge' ? BRIDGE : STD);

/** The names a family and hook take, for messages. */
export function priorityNames(family: Family, hook: string): string[] {
  return table(family).filter(([n]) => compatible(n, family, hook)).map(([n]) => n);
}

const SPEC = /^\s*([a-z]+)\s*(?:([+-])\s*(\d+))?\s*$/;

/**
 * A priority given as a number or as nft writes it ("dstnat", "filter + 10", "mangle - 5"): the
 * number, or a string saying what is wrong.
 */
export function parsePriority(family: Family, hook: string, v: unknown): number | { problem: string } {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff ? v : { problem: 'must be a 32-bit integer or a priority name' };
  }
  const names = priorityNames(family, hook);
  const problem = `must be a 32-bit integer or one of ${names.length ? names.join(', ') : '(no names in this family and hook)'}, optionally with "+ N" or "- N"`;
  if (typeof v !== 'string') return { problem };
  const m = SPEC.exec(v);
  const base = m ? table(family).find(([n]) => n === m[1]) : undefined;
  if (!m || !base || !compatible(base[0], family, hook)) return { problem };
  const n = base[1] + (m[2] ? (m[2] === '-' ? -1 : 1) * Number(m[3]) : 0);
  return Number.isSafeInteger(n) && n >= -0x80000000 && n <= 0x7fffffff ? n : { problem };
}

/** A priority as `nft list ruleset` prints it: a standard name (with an offset up to 10) where one fits, else the number. */
export function priorityText(family: Family, hook: string, prio: number): string {
  for (const [name, value] of table(family)) {
    if (Math.abs(prio - value) > REACH) continue;
    // (nft stops at the first name in reach, fitting or not)
    if (!compatible(name, family, hook)) break;
    const off = prio - value;
    return off > 0 ? `${name} + ${off}` : off < 0 ? `${name} - ${-off}` : name;
  }
  return String(prio);
}
