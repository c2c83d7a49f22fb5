/**
 * Counters carried over at the replace (CommitOptions.counters 'carry'): rules kept from the table
 * that was read count on from the kernel's counters at the swap, packets counted after the read
 * included; what iptables-legacy-save -c prints is the oracle. Real packets: UDP to a closed port on
 * the namespace's loopback (bash's /dev/udp), each counted once by OUTPUT's udp rule.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, iptFreezeRules as freezeRules, Iptables, iptReplaceRule as replaceRule, ValidationError } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, tool4, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

/** `n` UDP datagrams from the namespace to itself (bash's own loop and /dev/udp: no process per datagram). */
const sendUdp = (ns: TestNetns, n: number, to = '127.0.0.1') => ns.exec(['bash', '-c', `for ((i = 0; i < ${n}; i++)); do echo x > /dev/udp/${to}/9; done`]);

/** iptables-legacy-save -c's counters: "[packets:bytes]" per rule line (by its text) and per policy. */
async function savedCounters(ns: TestNetns): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await toolSave(ns, 'ipv4', 'filter', true)).split('\n')) {
    const rule = /^(\[\d+:\d+\]) (-A .*)$/.exec(line);
    if (rule) out.set(rule[2]!, rule[1]!);
    const policy = /^:(\S+) \S+ (\[\d+:\d+\])$/.exec(line);
    if (policy) out.set(`:${policy[1]}`, policy[2]!);
  }
  return out;
}
const packets = (c: string | undefined) => Number(/^\[(\d+):/.exec(c ?? '')?.[1]);

describe.skipIf(skip !== undefined)(`iptables counters carried over at the replace${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  let ipt: Iptables;
  beforeEach(async () => {
    ns = await createNetns('klcarry');
    await loadXtables(ns);
    ipt = await Iptables.open({ netns: ns.name });
    await tool4(ns, 'ipv4', ['-A', 'OUTPUT', '-p', 'udp', '-j', 'ACCEPT']);
    await tool4(ns, 'ipv4', ['-A', 'INPUT', '-p', 'tcp', '-j', 'ACCEPT']);
  });
  afterEach(async () => {
    await ipt?.close();
    await ns?.destroy();
  });

  it('keeps what the kept rules and policies counted after the read; a new rule starts at zero', async () => {
    await sendUdp(ns, 3);
    const t = await ipt.read('filter');
    expect(t.chains.find((c) => c.name === 'OUTPUT')!.rules[0]!.counters?.packets).toBe(3);
    await sendUdp(ns, 2); // counted after the read
    appendRule(t, 'OUTPUT', { protocol: 'icmp', target: { type: 'ACCEPT' } });
    const before = await savedCounters(ns);
    const done = await ipt.commit(t, { expectUnchanged: true, counters: 'carry' });
    // Two rules and three policies kept (the new rule and the ERROR entry carry nothing).
    expect(done.carried).toBe(5);
    const after = await savedCounters(ns);
    expect(packets(after.get('-A OUTPUT -p udp -j ACCEPT'))).toBe(5);
    for (const k of [':INPUT', ':FORWARD', ':OUTPUT', '-A OUTPUT -p udp -j ACCEPT', '-A INPUT -p tcp -j ACCEPT']) expect(after.get(k), k).toBe(before.get(k));
    expect(after.get('-A OUTPUT -p icmp -j ACCEPT')).toBe('[0:0]');
    // The table is the model: the same model commits again, carrying from what it just committed.
    t.readState = { numEntries: done.numEntries, digest: done.digest };
    await sendUdp(ns, 1);
    expect((await ipt.commit(t, { expectUnchanged: true, counters: 'carry' })).carried).toBe(6);
    expect(packets((await savedCounters(ns)).get('-A OUTPUT -p udp -j ACCEPT'))).toBe(6);
  });

  it('without carry the model\'s counters (as read) come back: what carry exists for', async () => {
    await sendUdp(ns, 3);
    const t = await ipt.read('filter');
    await sendUdp(ns, 2);
    const done = await ipt.commit(t, { expectUnchanged: true });
    expect(done.carried).toBe(0);
    expect(packets((await savedCounters(ns)).get('-A OUTPUT -p udp -j ACCEPT'))).toBe(3);
  });

  it('a replaced rule starts from its own counters; frozen and moved rules carry by identity', async () => {
    await sendUdp(ns, 4);
    const t = freezeRules(await ipt.read('filter'));
    replaceRule(t, 'INPUT', 1, { protocol: 'tcp', target: { type: 'DROP' } });
    const out = t.chains.find((c) => c.name === 'OUTPUT')!;
    // The udp rule moves behind a new first rule: its entry index changes, its identity does not.
    out.rules.unshift({ protocol: 'icmp', target: { type: 'ACCEPT' } });
    await ipt.commit(t, { expectUnchanged: true, counters: 'carry' });
    const after = await savedCounters(ns);
    expect(packets(after.get('-A OUTPUT -p udp -j ACCEPT'))).toBe(4);
    expect(after.get('-A INPUT -p tcp -j DROP')).toBe('[0:0]');
  });

  it('update() carries: an edit does not lose what was counted while it ran', async () => {
    await sendUdp(ns, 2);
    await ipt.update('filter', async (t) => {
      await sendUdp(ns, 3); // between update's read and its commit
      appendRule(t, 'FORWARD', { target: { type: 'DROP' } });
    });
    expect(packets((await savedCounters(ns)).get('-A OUTPUT -p udp -j ACCEPT'))).toBe(5);
  });

  it('a table this handle did not read carries nothing, and says so', async () => {
    await sendUdp(ns, 2);
    const other = await Iptables.open({ netns: ns.name });
    try {
      const t = await other.read('filter');
      await sendUdp(ns, 1);
      const done = await ipt.commit(t, { expectUnchanged: true, counters: 'carry' });
      expect(done.carried).toBe(0);
      expect(packets((await savedCounters(ns)).get('-A OUTPUT -p udp -j ACCEPT'))).toBe(2); // the model's
    } finally {
      await other.close();
    }
  });

  it('readState() is what a read says, without decoding; a foreign change moves it', async () => {
    const t = await ipt.read('filter');
    expect(await ipt.readState('filter')).toEqual(t.readState);
    await tool4(ns, 'ipv4', ['-R', 'INPUT', '1', '-p', 'tcp', '-j', 'DROP']); // same size, other verdict
    const now = await ipt.readState('filter');
    expect(now.numEntries).toBe(t.readState!.numEntries);
    expect(now.digest).not.toBe(t.readState!.digest);
    await expect(ipt.readState('no such table!')).rejects.toBeInstanceOf(ValidationError);
  });

  it('refreshCounters() brings a model the kernel still holds up to its counts (frozen counters in place); a changed table leaves it alone', async () => {
    const t = freezeRules(await ipt.read('filter'));
    const out = t.chains.find((c) => c.name === 'OUTPUT')!;
    // A frozen rule with a writable counters object of its own (what a controller keeps).
    out.rules[0] = Object.freeze({ ...out.rules[0]!, counters: { packets: 0, bytes: 0 } });
    const done = await ipt.commit(t, { expectUnchanged: true });
    t.readState = { numEntries: done.numEntries, digest: done.digest };
    const held = out.rules[0]!.counters!;
    await sendUdp(ns, 4);
    expect(await ipt.refreshCounters(t)).toBe(true);
    const saved = await savedCounters(ns);
    expect(out.rules[0]!.counters).toBe(held); // the same object, updated
    expect(held.packets).toBe(4);
    expect(`[${held.packets}:${held.bytes}]`).toBe(saved.get('-A OUTPUT -p udp -j ACCEPT'));
    const input = t.chains.find((c) => c.name === 'INPUT')!;
    expect(`[${input.counters!.packets}:${input.counters!.bytes}]`).toBe(saved.get(':INPUT'));
    await tool4(ns, 'ipv4', ['-A', 'FORWARD', '-j', 'DROP']);
    await sendUdp(ns, 1);
    expect(await ipt.refreshCounters(t)).toBe(false);
    expect(held.packets).toBe(4);
  });

  it('IPv6: what the kept rule counted after the read is kept', async () => {
    const ip6 = await Iptables.open({ netns: ns.name, family: 'ipv6' });
    try {
      await tool4(ns, 'ipv6', ['-A', 'OUTPUT', '-p', 'udp', '-j', 'ACCEPT']);
      await sendUdp(ns, 2, '::1');
      const t = await ip6.read('filter');
      await sendUdp(ns, 3, '::1');
      appendRule(t, 'FORWARD', { target: { type: 'DROP' } });
      const done = await ip6.commit(t, { expectUnchanged: true, counters: 'carry' });
      expect(done.carried).toBe(4); // the udp rule and three policies
      expect(await toolSave(ns, 'ipv6', 'filter', true)).toMatch(/^\[5:\d+\] -A OUTPUT -p udp -j ACCEPT$/m);
    } finally {
      await ip6.close();
    }
  });

  it('refuses carry without expectUnchanged, with the libiptc engine, and an unknown value, before the kernel', async () => {
    const t = await ipt.read('filter');
    appendRule(t, 'FORWARD', { target: { type: 'DROP' } });
    const before = await toolSave(ns, 'ipv4', 'filter');
    const e1 = await ipt.commit(t, { counters: 'carry' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ValidationError);
    expect((e1 as ValidationError).field).toBe('counters');
    const lib = await Iptables.open({ netns: ns.name, engine: 'libiptc' });
    try {
      const e2 = await lib.commit(await lib.read('filter'), { expectUnchanged: true, counters: 'carry' }).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(ValidationError);
      expect((e2 as Error).message).toMatch(/direct engine/);
    } finally {
      await lib.close();
    }
    await expect(ipt.commit(t, { counters: 'yes' as never })).rejects.toBeInstanceOf(ValidationError);
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
  });
});
