/** `kernlb iptables save` prints what iptables-legacy-save prints; `restore` commits text or JSON atomically. */
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import type { CliIO } from '../../lib/cli/command';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { KUBE_PROXY } from '../unit/iptables-fixtures';
import { loadXtables, toolRestore, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

function io(input = '') {
  const out: string[] = [], err: string[] = [];
  const cli: CliIO = { out: (t) => void out.push(t), err: (t) => void err.push(t), readInput: async () => input };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

describe.skipIf(skip !== undefined)(`kernlb iptables CLI${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('save prints the tool text; restore (text and JSON) reproduces it in another namespace', async () => {
    await using a = await createNetns('klipt');
    await using b = await createNetns('klipt');
    await using c = await createNetns('klipt');
    await loadXtables(a);
    await toolRestore(a, 'ipv4', KUBE_PROXY);
    const s = io();
    expect(await main(['iptables', 'save', '--netns', a.name], s.cli)).toBe(0);
    const all = (await a.exec(['iptables-legacy-save'])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(s.out()).toBe(all);

    const r = io(s.out());
    expect(await main(['iptables', 'restore', '-', '--netns', b.name], r.cli)).toBe(0);
    for (const t of ['nat', 'filter']) expect(await toolSave(b, 'ipv4', t)).toBe(await toolSave(a, 'ipv4', t));

    const j = io();
    expect(await main(['iptables', 'save', '--netns', a.name, '--json', '--table', 'nat'], j.cli)).toBe(0);
    expect(JSON.parse(j.out()).tables[0].name).toBe('nat');
    expect(await main(['iptables', 'restore', '-', '--netns', c.name], io(j.out()).cli)).toBe(0);
    expect(await toolSave(c, 'ipv4', 'nat')).toBe(await toolSave(a, 'ipv4', 'nat'));
  });

  it('--engine libiptc restores and saves the same text; a bad engine is a usage error', async () => {
    await using a = await createNetns('klipt');
    await loadXtables(a);
    const r = io(KUBE_PROXY);
    expect(await main(['iptables', 'restore', '-', '--netns', a.name, '--engine', 'libiptc', '--no-xtables-lock'], r.cli)).toBe(0);
    const s = io();
    expect(await main(['iptables', 'save', '--netns', a.name, '--engine', 'libiptc'], s.cli)).toBe(0);
    const all = (await a.exec(['iptables-legacy-save'])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(s.out()).toBe(all);
    expect(all).toContain('KUBE-SERVICES');
    const bad = io();
    expect(await main(['iptables', 'save', '--netns', a.name, '--engine', 'iptc'], bad.cli)).toBe(2);
    expect(bad.err()).toContain('--engine must be direct or libiptc');
  });

  it('restore of bad input exits 2 naming the line and changes nothing', async () => {
    await using a = await createNetns('klipt');
    await toolRestore(a, 'ipv4', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n');
    const before = await toolSave(a, 'ipv4', 'filter');
    const bad = io('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j NOWHERE\nCOMMIT\n');
    expect(await main(['iptables', 'restore', '-', '--netns', a.name], bad.cli)).toBe(2);
    expect(bad.err()).toMatch(/chain INPUT rule 1: target.chain: unknown chain "NOWHERE"/);
    const syntax = io('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m tcp --dport x -j ACCEPT\nCOMMIT\n');
    expect(await main(['iptables', 'restore', '-', '--netns', a.name], syntax.cli)).toBe(2);
    expect(syntax.err()).toMatch(/line 3/);
    expect(await toolSave(a, 'ipv4', 'filter')).toBe(before);
  });
});
