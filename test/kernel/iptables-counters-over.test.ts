/**
 * Iptables.entryCounters of a table this handle committed with keepLayout reads the kernel's entries
 * over the kept blob (no fresh block of the table's size: #21's RSS): the counters are the kernel's,
 * the blob's header survives the read (a splice after it makes the table a whole commit makes,
 * iptables-legacy-save the oracle), and a table edited behind the handle's back (same size, so the
 * read does go over the blob) is reported as not the model's and leaves no layout to splice into.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { iptFreezeRules as freezeRules, Iptables, type IptTable } from '../../lib';
import { native } from '../../lib/native';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, sendUdp, sep, svc, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined)(`iptables entryCounters over the kept blob${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let a: TestNetns, b: TestNetns;
  let ipt: Iptables, ref: Iptables;
  beforeEach(async () => {
    a = await createNetns('klover');
    b = await createNetns('klover');
    await loadXtables(a);
    ipt = await Iptables.open({ netns: a.name });
    ref = await Iptables.open({ netns: b.name });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await ipt?.close();
    await ref?.close();
    await a?.destroy();
    await b?.destroy();
  });

  const save = async (ns: TestNetns) =>
    (await toolSave(ns, 'ipv4', 'filter', false)).split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');

  /** filter with OUTPUT -> SVC -> SEP-A, SEP-B, committed with keepLayout; its entries: 0 INPUT, 1 FORWARD,
   * 2 OUTPUT's jump, 3 its policy, 4-6 SEP-A (head, rule, tail), 7-9 SEP-B, 10 SVC's head, 11 its comment rule, 12-13 its jumps. */
  async function committed(): Promise<{ t: IptTable; done: Awaited<ReturnType<Iptables['commit']>> }> {
    const t = await ipt.read('filter');
    t.chains.find((c) => c.name === 'OUTPUT')!.rules.push({ protocol: 'udp', matches: [], target: { type: 'jump', chain: 'SVC' } });
    t.chains.push(svc(['SEP-A', 'SEP-B']), sep('SEP-A'), sep('SEP-B'));
    freezeRules(t);
    const done = await ipt.commit(t, { expectUnchanged: true, counters: 'carry', keepLayout: true });
    t.readState = { numEntries: done.numEntries, digest: done.digest };
    return { t, done };
  }

  it('reads the kernel\'s counters over the blob, and a splice after it is still the table a whole commit makes', async () => {
    const { t, done } = await committed();
    await sendUdp(a, 4);
    const read = vi.spyOn(native().iptables, 'readCounters');
    const c = await ipt.entryCounters(t, Uint32Array.of(2, 5, 8, 11, 12, 13));
    expect(read).toHaveBeenCalledTimes(1);
    expect(read.mock.calls[0]![4]).toBeInstanceOf(Buffer); // the kept blob
    expect((await read.mock.results[0]!.value).over).toBe(true);
    expect(Array.from(c!.filter((_, i) => i % 2 === 0))).toEqual([4, 4, 0, 4, 4, 0]);
    // a second read over it (the counters written the first time are the kernel's, not compared)
    expect(Array.from((await ipt.entryCounters(t, Uint32Array.of(5)))!)[0]).toBe(4);
    vi.restoreAllMocks();
    // the splice copies the blob that was read over: the header put back, the entries the table's
    const c1 = svc(['SEP-A', 'SEP-B', 'SEP-C']);
    const r = await ipt.commitChains('filter', { put: freezeRules({ chains: [c1, sep('SEP-C')] }).chains, remove: [] }, { expect: t.readState!, layout: done });
    expect(r?.inPlace).toBe(false);
    const base = t.chains.filter((x) => !x.name.startsWith('S'));
    await ref.commit({ ...t, chains: [...base, c1, sep('SEP-A'), sep('SEP-B'), sep('SEP-C')] });
    expect(await save(a)).toBe(await save(b));
    // and in place (same sizes) after another read over the new blob
    const after = { ...t, chains: r!.chains, readState: { numEntries: r!.numEntries, digest: r!.digest } };
    expect(await ipt.entryCounters(after, Uint32Array.of(5))).toBeInstanceOf(Float64Array);
    const c2 = svc(['SEP-A', 'SEP-B', 'SEP-C'], 'x');
    const r2 = await ipt.commitChains('filter', { put: freezeRules({ chains: [c2] }).chains, remove: [] }, { expect: after.readState, layout: r! });
    expect(r2?.inPlace).toBe(true);
    await ref.commit({ ...t, chains: [...base, c2, sep('SEP-A'), sep('SEP-B'), sep('SEP-C')] });
    expect(await save(a)).toBe(await save(b));
  });

  it('a rule replaced behind its back by one of the same size: not the model\'s, and no splice into the blob read over', async () => {
    const { t, done } = await committed();
    await a.exec(['iptables-legacy', '-t', 'filter', '-R', 'SEP-B', '1', '-p', 'udp', '-m', 'comment', '--comment', 'SEP-B', '-j', 'DROP']);
    const read = vi.spyOn(native().iptables, 'readCounters');
    expect(await ipt.entryCounters(t, Uint32Array.of(5))).toBeUndefined();
    expect((await read.mock.results[0]!.value).over).toBe(true);
    // (the blob holds the edited table now: a splice into it would keep the edit) -> null, nothing sent
    const before = await save(a);
    expect(before).toMatch(/-A SEP-B .* -j DROP/);
    expect(await ipt.commitChains('filter', { put: freezeRules({ chains: [sep('SEP-C')] }).chains, remove: [] }, { expect: t.readState!, layout: done })).toBeNull();
    expect(await save(a)).toBe(before);
  });
});
