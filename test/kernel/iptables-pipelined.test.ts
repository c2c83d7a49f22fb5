/**
 * The compare-and-swap commit whose check overlaps the encoding (beginReplace / sendReplace /
 * abortReplace): the locks it takes while it waits for the table are always released, whether the
 * table comes, is dropped, never comes, or the check fails first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, ConflictError, Iptables, ValidationError } from '../../lib';
import { native, type NativeHandle } from '../../lib/native';
import { NO_SOCKET, openNativeHandle } from '../../lib/netlink/handle';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, tool4, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined)(`iptables pipelined compare-and-swap${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  let ipt: Iptables;
  let h: NativeHandle;
  beforeEach(async () => {
    ns = await createNetns('klpipe');
    await loadXtables(ns);
    ipt = await Iptables.open({ netns: ns.name });
    h = await openNativeHandle(NO_SOCKET, { netns: ns.name }, 'open');
    await tool4(ns, 'ipv4', ['-A', 'INPUT', '-p', 'tcp', '-j', 'ACCEPT']);
  });
  afterEach(async () => {
    h?.close();
    await ipt?.close();
    await ns?.destroy();
  });

  /** iptables-legacy waiting at most 1 s for the xtables lock: fails while a commit still holds it. */
  const toolWithLock = () => tool4(ns, 'ipv4', ['-w', '1', '-A', 'OUTPUT', '-j', 'ACCEPT']);

  it('a table that fails validation is never sent: nothing changes, the lock is free at once, the next commit works', async () => {
    const t = await ipt.read('filter');
    const before = await toolSave(ns, 'ipv4', 'filter');
    appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'NO-SUCH-CHAIN' } });
    const err = await ipt.commit(t, { expectUnchanged: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
    await toolWithLock();
    const fresh = await ipt.read('filter');
    appendRule(fresh, 'FORWARD', { target: { type: 'DROP' } });
    await ipt.commit(fresh, { expectUnchanged: true });
    expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A FORWARD -j DROP');
  });

  it('abortReplace: the commit rejects, the table and the lock are left as they were', async () => {
    const t = await ipt.read('filter');
    const before = await toolSave(ns, 'ipv4', 'filter');
    const { tx, done } = native().iptables.beginReplace(h, false, 'filter', t.readState!, { path: '/run/xtables.lock', timeoutMs: 5000 }, null, 5000);
    native().iptables.abortReplace(tx);
    await expect(done).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/abandoned/) });
    await toolWithLock();
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before.replace('COMMIT', '-A OUTPUT -j ACCEPT\nCOMMIT'));
  });

  it('a table that never comes: ETIMEDOUT after waitMs, and the lock is released', async () => {
    const t = await ipt.read('filter');
    const { done } = native().iptables.beginReplace(h, false, 'filter', t.readState!, { path: '/run/xtables.lock', timeoutMs: 5000 }, null, 100);
    await expect(done).rejects.toMatchObject({ kind: 'kernel', errno: 110 });
    await toolWithLock();
  });

  it('a failed check rejects before the table is sent (EAGAIN), and a table sent afterwards is ignored', async () => {
    const t = await ipt.read('filter');
    await tool4(ns, 'ipv4', ['-A', 'FORWARD', '-j', 'ACCEPT']);
    const { tx, done } = native().iptables.beginReplace(h, false, 'filter', t.readState!, null, null, 5000);
    await expect(done).rejects.toMatchObject({ kind: 'kernel', errno: 11 });
    // (The check failed: the blob is not looked at, whatever it is.)
    native().iptables.sendReplace(tx, Buffer.alloc(8), null, null);
    expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A FORWARD -j ACCEPT');
    appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
    await expect(ipt.commit(t, { expectUnchanged: true })).rejects.toBeInstanceOf(ConflictError);
  });

  it('commits of two handles at once both land (the mutex and the lock are taken in turn)', async () => {
    const other = await Iptables.open({ netns: ns.name });
    try {
      const [a, b] = await Promise.all([ipt.read('filter'), other.read('nat')]);
      appendRule(a, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
      appendRule(b, 'OUTPUT', { protocol: 'udp', target: { type: 'ACCEPT' } });
      await Promise.all([ipt.commit(a, { expectUnchanged: true }), other.commit(b, { expectUnchanged: true })]);
      expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p udp -j DROP');
      expect(await toolSave(ns, 'ipv4', 'nat')).toContain('-A OUTPUT -p udp -j ACCEPT');
    } finally {
      await other.close();
    }
  });
});
