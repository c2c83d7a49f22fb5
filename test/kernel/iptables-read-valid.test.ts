/**
 * Reading never produces a model validation refuses: rules generated from the option forms the kernel
 * holds in more than one way (inverted wildcard and empty-mask interfaces, inverted full port ranges,
 * "--ctstatus NONE", inverted /0 addresses, protocol numbers...) are loaded with iptables-legacy-restore,
 * read by kernlb, validated, and committed into a second namespace, whose entries must then be the
 * source's byte for byte (same entry count and digest: counters aside) and print the same text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Iptables } from '../../lib';
import { validateTable } from '../../lib/iptables/validate';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, toolRestore, toolSave, type Family } from './iptables-helpers';

const skip = kernelTestsSkipReason();

/** A small deterministic generator (mulberry32), so a failure names a case that comes back. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const bang = (r: () => number) => (r() < 0.5 ? '! ' : '');
const pick = <T,>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const ADDR: Record<Family, string[]> = {
  ipv4: ['0.0.0.0/0', '10.0.0.0/8', '1.2.3.4', '10.1.0.0/255.0.255.0', '192.168.0.0/255.255.0.0'],
  ipv6: ['::/0', '2001:db8::/32', 'fd00::1', '2001:db8::/ffff:0:ffff::', 'fe80::/10'],
};
const IFACE = ['+', 'eth0', 'eth+', 'veth-a.1', 'x'];
const PORTS = [':', '0:65535', '80', '1024:', ':1023', '22:22', '0', '65535'];
const FLAGS = ['NONE NONE', 'ALL NONE', 'SYN,ACK SYN', 'FIN,SYN,RST,PSH,ACK,URG ALL'];
const CTSTATUS = ['NONE', 'ASSURED', 'EXPECTED,SEEN_REPLY', 'CONFIRMED'];

/** One generated rule's arguments after "-A CHAIN". */
function genRule(r: () => number, family: Family): string {
  const parts: string[] = [];
  if (r() < 0.5) parts.push(`${bang(r)}-s ${pick(r, ADDR[family])}`);
  if (r() < 0.5) parts.push(`${bang(r)}-d ${pick(r, ADDR[family])}`);
  if (r() < 0.5) parts.push(`${bang(r)}-i ${pick(r, IFACE)}`);
  if (r() < 0.3) parts.push(`${bang(r)}-o ${pick(r, IFACE)}`);
  const proto = pick(r, ['tcp', 'udp', 'none', 'none', 'number', 'inverted']);
  if (proto === 'tcp' || proto === 'udp') {
    parts.push(`-p ${proto} -m ${proto}`);
    if (r() < 0.7) parts.push(`${bang(r)}--sport ${pick(r, PORTS)}`);
    if (r() < 0.7) parts.push(`${bang(r)}--dport ${pick(r, PORTS)}`);
    if (proto === 'tcp' && r() < 0.4) parts.push(`${bang(r)}--tcp-flags ${pick(r, FLAGS)}`);
  } else if (proto === 'number') parts.push(`-p ${pick(r, ['47', '132', '0', '255'])}`);
  else if (proto === 'inverted') parts.push(`! -p ${pick(r, ['tcp', 'udp', '50'])}`);
  if (family === 'ipv4' && proto !== 'tcp' && proto !== 'udp' && r() < 0.2) parts.push(`${bang(r)}-f`);
  if (r() < 0.3) parts.push(`-m conntrack ${bang(r)}--ctstatus ${pick(r, CTSTATUS)}`);
  parts.push(pick(r, ['-j ACCEPT', '-j DROP', '-j RETURN', '']));
  return parts.join(' ').trimEnd();
}

function genTable(seed: number, family: Family, n: number): { text: string; lines: string[] } {
  const r = rng(seed);
  const lines: string[] = [];
  // (FORWARD and a user chain: iptables refuses -i in OUTPUT and -o in INPUT.)
  for (let i = 0; i < n; i++) lines.push(`-A ${pick(r, ['FORWARD', 'GEN'])} ${genRule(r, family)}`);
  const text = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':GEN - [0:0]', ...lines, 'COMMIT', ''].join('\n');
  return { text, lines };
}

describe.skipIf(skip !== undefined)(`iptables: every table read back validates and commits byte for byte${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let src: TestNetns, dst: TestNetns;
  beforeAll(async () => {
    src = await createNetns('klipt');
    dst = await createNetns('klipt');
    await loadXtables(src);
    await loadXtables(dst);
  });
  afterAll(async () => {
    await src?.destroy();
    await dst?.destroy();
  });

  for (const family of ['ipv4', 'ipv6'] as const) {
    for (const seed of [1, 2, 3, 4]) {
      it(`${family}, generated table ${seed} (200 rules)`, async () => {
        const { text } = genTable(seed * 7919 + (family === 'ipv6' ? 1 : 0), family, 200);
        await toolRestore(src, family, text);
        await using a = await Iptables.open({ family, netns: src.name });
        await using b = await Iptables.open({ family, netns: dst.name });
        const t = await a.read('filter');
        expect(() => validateTable(t)).not.toThrow();
        await b.commit(t);
        const back = await b.read('filter');
        // Same entries, byte for byte (the digest covers every entry, counters aside).
        expect(back.readState).toEqual(t.readState);
        expect(await toolSave(dst, family, 'filter')).toBe(await toolSave(src, family, 'filter'));
      });
    }
  }
});
