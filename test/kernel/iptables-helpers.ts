/** Helpers for the iptables kernel tests: the reference tools run inside a test namespace. */
import type { TestNetns } from '../../lib/testing';
import type { IptChain } from '../../lib';

export type Family = 'ipv4' | 'ipv6';

/** Every commit engine: the commit and oracle suites run once per engine. */
export const ENGINES = ['direct', 'libiptc'] as const;
const tool = (f: Family, what: 'save' | 'restore' | '') => `${f === 'ipv6' ? 'ip6tables' : 'iptables'}-legacy${what ? `-${what}` : ''}`;

/** iptables-legacy-save of one table, without its "# Generated/Completed" lines. */
export async function toolSave(ns: TestNetns, family: Family, table: string, counters = false): Promise<string> {
  const r = await ns.exec([tool(family, 'save'), '-t', table, ...(counters ? ['-c'] : [])]);
  return r.stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

export async function toolRestore(ns: TestNetns, family: Family, text: string): Promise<void> {
  await ns.exec([tool(family, 'restore')], { input: text });
}

/** Runs iptables-legacy / ip6tables-legacy with argv. */
export async function tool4(ns: TestNetns, family: Family, argv: string[]): Promise<void> {
  await ns.exec([tool(family, ''), ...argv]);
}

/**
 * Where ip_tables / ip6_tables are modules (the UML guest), nothing loads them until a tool does:
 * their socket options do not autoload. kernlb never runs modprobe; the tests let the tools do it.
 */
export async function loadXtables(ns: TestNetns): Promise<void> {
  await ns.exec(['iptables-legacy', '-w', '-L', '-n'], { allowFail: true });
  await ns.exec(['ip6tables-legacy', '-w', '-L', '-n'], { allowFail: true });
}

/** The tables in a save/restore text, each as its own "*name ... COMMIT" block. */
export function splitTables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of text.split(/^(?=\*)/m)) {
    const m = /^\*(\S+)/.exec(block);
    if (m) out.set(m[1]!, block.split('\n').filter((l) => l && !l.startsWith('#')).join('\n') + '\n');
  }
  return out;
}

// A service chain jumping to its endpoint chains, for the splice tests (commitChains).
/** `n` UDP datagrams from the namespace to itself, each counted once by OUTPUT's jump to SVC. */
export const sendUdp = (ns: TestNetns, n: number) => ns.exec(['bash', '-c', `for ((i = 0; i < ${n}; i++)); do echo x > /dev/udp/127.0.0.1/9; done`]);

export const svc = (eps: string[], w = ''): IptChain => ({
  name: 'SVC',
  rules: [{ matches: [{ type: 'comment', comment: `svc${w}` }] }, ...eps.map((e) => ({ matches: [{ type: 'comment' as const, comment: e }], target: { type: 'jump' as const, chain: e } }))],
});
export const sep = (name: string): IptChain => ({ name, rules: [{ protocol: 'udp', matches: [{ type: 'comment', comment: name }], target: { type: 'ACCEPT' } }] });
