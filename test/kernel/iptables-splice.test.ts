/**
 * Iptables.commitChains: a change of a few user chains spliced into the blob the last commit kept
 * (keepLayout). The kernel's table afterwards (iptables-legacy-save -c, the oracle) is the one a
 * whole-table commit of the same model makes, with the counters of what was kept carried over;
 * a bad change sends nothing; without a kept layout nothing is sent and the answer is null.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { iptFreezeRules as freezeRules, Iptables, ValidationError, type IptChain, type IptTable } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, sendUdp, sep, svc, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined)(`iptables commitChains (splice)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let a: TestNetns, b: TestNetns;
  let ipt: Iptables, ref: Iptables;
  beforeEach(async () => {
    a = await createNetns('klsplice');
    b = await createNetns('klsplice');
    await loadXtables(a);
    ipt = await Iptables.open({ netns: a.name });
    ref = await Iptables.open({ netns: b.name });
  });
  afterEach(async () => {
    await ipt?.close();
    await ref?.close();
    await a?.destroy();
    await b?.destroy();
  });

  // (without counters: the policies' counts, which traffic in one namespace only moves, as [0:0])
  const save = async (ns: TestNetns, counters: boolean) => {
    const out = (await toolSave(ns, 'ipv4', 'filter', counters)).split('\n').filter((l) => !l.startsWith('#')).join('\n');
    return counters ? out : out.replace(/\[\d+:\d+\]/g, '[0:0]');
  };

  it('grows, shrinks and rewrites chains in place to the table a whole commit makes, counters of kept rules carried', async () => {
    const t = await ipt.read('filter');
    t.chains.find((c) => c.name === 'OUTPUT')!.rules.push({ protocol: 'udp', matches: [], target: { type: 'jump', chain: 'SVC' } });
    t.chains.push(svc(['SEP-A', 'SEP-B']), sep('SEP-A'), sep('SEP-B'));
    freezeRules(t);
    let done = await ipt.commit(t, { expectUnchanged: true, counters: 'carry', keepLayout: true });
    await sendUdp(a, 4); // OUTPUT's jump and SVC's header count 4; SEP-A takes them
    const apply = async (put: IptChain[], remove: string[], model: IptTable) => {
      const r = await ipt.commitChains('filter', { put: freezeRules({ chains: put }).chains, remove }, { expect: { numEntries: done.numEntries, digest: done.digest }, layout: done });
      expect(r).not.toBeNull();
      done = r!;
      // the same model committed whole in another namespace: the same rules
      await ref.commit(model);
      expect(await save(a, false)).toBe(await save(b, false));
      return r!;
    };
    const base = t.chains.filter((c) => !c.name.startsWith('S'));
    // a chain added before the others and SVC grown (SEP-C): copied around them
    const c1 = svc(['SEP-A', 'SEP-B', 'SEP-C']);
    let r = await apply([c1, sep('SEP-C')], [], { ...t, chains: [...base, c1, t.chains.find((c) => c.name === 'SEP-A')!, t.chains.find((c) => c.name === 'SEP-B')!, sep('SEP-C')] });
    expect(r.inPlace).toBe(false);
    const counted = await save(a, true);
    expect(counted).toMatch(/^\[4:\d+\] -A OUTPUT -p udp -j SVC$/m); // kept: carried
    expect(counted).toMatch(/^\[4:\d+\] -A SEP-A -p udp -m comment --comment SEP-A -j ACCEPT$/m);
    expect(counted).toMatch(/^\[0:0\] -A SVC -m comment --comment SEP-A -j SEP-A$/m); // rewritten: from zero
    // the same sizes (a comment of the same length, fixed-size in the kernel): written in place
    const c2 = svc(['SEP-A', 'SEP-B', 'SEP-C'], 'x');
    const [sa, sb] = [t.chains.find((c) => c.name === 'SEP-A')!, t.chains.find((c) => c.name === 'SEP-B')!];
    const sc = r.chains.find((c) => c.name === 'SEP-C')!;
    r = await apply([c2], [], { ...t, chains: [...base, c2, sa, sb, sc] });
    expect(r.inPlace).toBe(true);
    // shrunk: SEP-B's jump and chain gone
    const c3 = svc(['SEP-A', 'SEP-C']);
    r = await apply([c3], ['SEP-B'], { ...t, chains: [...base, c3, sa, sc] });
    expect(r.inPlace).toBe(false);
    expect(await save(a, true)).toMatch(/^\[4:\d+\] -A SEP-A -p udp -m comment --comment SEP-A -j ACCEPT$/m);
    // A chain still jumped to cannot go: a ValidationError, and the kernel's table stays as it was.
    const before = await save(a, true);
    await expect(ipt.commitChains('filter', { put: [], remove: ['SEP-A'] }, { expect: { numEntries: done.numEntries, digest: done.digest }, layout: done })).rejects.toThrow(ValidationError);
    expect(await save(a, true)).toBe(before);
  });

  it('without a layout kept by this handle (another handle, or a commit without keepLayout) it sends nothing and answers null', async () => {
    const t = await ipt.read('filter');
    t.chains.push(sep('SEP-A'));
    const done = await ipt.commit(t, { expectUnchanged: true });
    const other = await Iptables.open({ netns: a.name });
    try {
      const before = await save(a, false);
      for (const h of [ipt, other]) expect(await h.commitChains('filter', { put: [sep('SEP-B')], remove: [] }, { expect: { numEntries: done.numEntries, digest: done.digest }, layout: done })).toBeNull();
      expect(await save(a, false)).toBe(before);
    } finally {
      await other.close();
    }
  });
});
