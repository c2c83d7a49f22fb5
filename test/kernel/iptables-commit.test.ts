/**
 * Atomicity and conflicts: a change between read and commit is caught with expectUnchanged (also a
 * same-size change), update() retries, a commit the kernel refuses or validation rejects leaves the
 * table as it was, and a reader never sees half a table: with each commit engine.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  iptAppendRule as appendRule, ConflictError, iptCreateChain as createChain, iptEmptyTable as emptyTable, iptFreezeRule as freezeRule, iptFreezeRules as freezeRules,
  Iptables, iptablesSave, KernelError, parseIptablesSave, ValidationError, type IptRule, type IptTable,
} from '../../lib';
import { createNetns, kernelTestsSkipReason, kubeProxyIptablesText, type TestNetns } from '../../lib/testing';
import { ENGINES, loadXtables, tool4, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined).each(ENGINES)(`iptables commit (%s engine)${skip ? ` - skipped: ${skip}` : ''}`, (engine) => {
  let ns: TestNetns;
  let ipt: Iptables;
  beforeEach(async () => {
    ns = await createNetns('klipt');
    await loadXtables(ns);
    ipt = await Iptables.open({ netns: ns.name, engine });
    await tool4(ns, 'ipv4', ['-A', 'INPUT', '-p', 'tcp', '-j', 'ACCEPT']);
  });
  afterEach(async () => {
    await ipt?.close();
    await ns?.destroy();
  });

  it('detects a concurrent rule added between read and commit and changes nothing', async () => {
    const t = await ipt.read('filter');
    appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
    await tool4(ns, 'ipv4', ['-A', 'OUTPUT', '-j', 'ACCEPT']);
    const before = await toolSave(ns, 'ipv4', 'filter');
    const err = await ipt.commit(t, { expectUnchanged: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe('EAGAIN');
    expect((err as ConflictError).message).toMatch(/table filter \(ipv4\)/);
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
  });

  it('detects a same-size change (rule replaced) that the kernel entry count alone would miss', async () => {
    const t = await ipt.read('filter');
    await tool4(ns, 'ipv4', ['-R', 'INPUT', '1', '-p', 'tcp', '-j', 'DROP']);
    await expect(ipt.commit(t, { expectUnchanged: true })).rejects.toBeInstanceOf(ConflictError);
    expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p tcp -j DROP');
  });

  it('commits when nothing changed, and a plain commit ignores changes', async () => {
    const t = await ipt.read('filter');
    appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
    await ipt.commit(t, { expectUnchanged: true });
    expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p udp -j DROP');
    await tool4(ns, 'ipv4', ['-A', 'OUTPUT', '-j', 'ACCEPT']);
    await ipt.commit(t);
    expect(await toolSave(ns, 'ipv4', 'filter')).not.toContain('-A OUTPUT');
  });

  it('commit resolves to the new readState: the same model commits again with expectUnchanged, and not after a foreign change', async () => {
    const t = await ipt.read('filter');
    appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'DROP' } });
    // User chains created out of name order, with jumps between them: the committed layout (and so
    // the digest) must be what a read of the kernel's table finds, for either engine.
    createChain(t, 'ZED');
    createChain(t, 'ALPHA');
    appendRule(t, 'ZED', { target: { type: 'jump', chain: 'ALPHA' } });
    appendRule(t, 'INPUT', { protocol: 'tcp', target: { type: 'jump', chain: 'ZED' } });
    const done = await ipt.commit(t);
    expect(done.numEntries).toBe(t.chains.reduce((n, c) => n + c.rules.length + 1, 1) + 2 /* user chains' RETURN tails */);
    expect((await ipt.read('filter')).readState).toEqual({ numEntries: done.numEntries, digest: done.digest });
    t.readState = { numEntries: done.numEntries, digest: done.digest };
    appendRule(t, 'INPUT', { protocol: 'icmp', target: { type: 'DROP' } });
    await ipt.commit(t, { expectUnchanged: true });
    expect(await toolSave(ns, 'ipv4', 'filter')).toContain('-A INPUT -p icmp -j DROP');
    // Stale readState (the previous commit's): a conflict.
    await expect(ipt.commit(t, { expectUnchanged: true })).rejects.toBeInstanceOf(ConflictError);
  });

  it('update() re-reads and re-applies after a conflict', async () => {
    let calls = 0;
    const out = await ipt.update('filter', async (t) => {
      calls++;
      if (calls === 1) await tool4(ns, 'ipv4', ['-I', 'INPUT', '-s', '10.9.9.9', '-j', 'DROP']);
      appendRule(t, 'INPUT', { protocol: 'udp', matches: [{ type: 'udp', dport: 53 }], target: { type: 'ACCEPT' } });
    });
    expect(calls).toBe(2);
    expect(out.chains[0]!.rules).toHaveLength(3);
    const text = await toolSave(ns, 'ipv4', 'filter');
    expect(text).toContain('-A INPUT -s 10.9.9.9/32 -j DROP\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -p udp -m udp --dport 53 -j ACCEPT');
  });

  it('update() gives up after its attempts with the ConflictError', async () => {
    await expect(ipt.update('filter', async () => void (await tool4(ns, 'ipv4', ['-A', 'OUTPUT', '-j', 'ACCEPT'])), { attempts: 2 })).rejects.toBeInstanceOf(ConflictError);
  });

  const e3Of = (e: unknown) => (e as KernelError).item;
  it('a commit the kernel refuses leaves the table untouched and names table and errno', async () => {
    const before = await toolSave(ns, 'ipv4', 'filter');
    const bad = (edit: (t: IptTable) => void) => {
      const t = emptyTable('ipv4', 'filter');
      appendRule(t, 'INPUT', { target: { type: 'DROP' } });
      edit(t);
      return t;
    };
    // An extension the kernel does not have: ENOENT.
    const e1 = await ipt.commit(bad((t) => appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'kernlbnosuch', revision: 0, data: Buffer.alloc(8) }] }))).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(KernelError);
    expect((e1 as KernelError).code).toBe('ENOENT');
    expect((e1 as KernelError).message).toMatch(/commit iptables table filter \(ipv4\)/);
    expect((e1 as KernelError).item).toBe('chain INPUT rule 2: match "kernlbnosuch" is unknown to this kernel');
    // A revision the kernel does not have: EPROTOTYPE, named likewise.
    const e4 = await ipt.commit(bad((t) => appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'comment', revision: 9, data: Buffer.alloc(256) }] }))).catch((e: unknown) => e);
    expect((e4 as KernelError).code).toBe('EPROTOTYPE');
    expect((e4 as KernelError).item).toBe('chain INPUT rule 2: match "comment" revision 9 is unknown to this kernel');
    // DNAT outside the nat table: the target's checkentry refuses (EINVAL).
    const e2 = await ipt.commit(bad((t) => appendRule(t, 'INPUT', { target: { type: 'DNAT', address: '10.0.0.1' } }))).catch((e: unknown) => e);
    expect((e2 as KernelError).code).toBe('EINVAL');
    expect((e2 as KernelError).item).toBe('chain INPUT rule 2: target DNAT belongs to table nat, not filter');
    expect((e2 as KernelError).index).toBe(1);
    // A known extension with a wrong size: EINVAL, with no rule to name.
    expect((e3Of(await ipt.commit(bad((t) => appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'tcp', revision: 0, data: Buffer.alloc(24) }], protocol: 'tcp' }))).catch((e: unknown) => e)))).toBeUndefined();
    // A known extension with a wrong size.
    const e3 = await ipt.commit(bad((t) => appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'tcp', revision: 0, data: Buffer.alloc(24) }], protocol: 'tcp' }))).catch((e: unknown) => e);
    expect((e3 as KernelError).code).toBe('EINVAL');
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
  });

  it('a target or match where the kernel does not allow it (a chain reached from the wrong hook) is named', async () => {
    // MASQUERADE is for POSTROUTING only: here a user chain reached from PREROUTING (through
    // another user chain) and from POSTROUTING holds it.
    const before = await toolSave(ns, 'ipv4', 'nat');
    const t = emptyTable('ipv4', 'nat');
    createChain(t, 'OUTER');
    createChain(t, 'MASQ');
    appendRule(t, 'POSTROUTING', { target: { type: 'jump', chain: 'MASQ' } });
    appendRule(t, 'PREROUTING', { target: { type: 'jump', chain: 'OUTER' } });
    appendRule(t, 'OUTER', { target: { type: 'goto', chain: 'MASQ' } });
    appendRule(t, 'MASQ', { protocol: 'tcp', target: { type: 'ACCEPT' } });
    appendRule(t, 'MASQ', { target: { type: 'MASQUERADE' } });
    const e = await ipt.commit(t).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).code).toBe('EINVAL');
    expect((e as KernelError).item).toBe('chain MASQ rule 2: target MASQUERADE is only valid in chains reached from POSTROUTING; this chain is reached from PREROUTING, POSTROUTING');
    expect(await toolSave(ns, 'ipv4', 'nat')).toBe(before);
    // Reached from POSTROUTING only, the same rules are committed.
    t.chains.find((c) => c.name === 'PREROUTING')!.rules = [];
    await ipt.commit(t);
    expect(await toolSave(ns, 'ipv4', 'nat')).toContain('-A MASQ -j MASQUERADE');
  });

  it('invalid input is a ValidationError and the kernel is not touched', async () => {
    const before = await toolSave(ns, 'ipv4', 'filter');
    const t = await ipt.read('filter');
    appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'NOWHERE' } });
    await expect(ipt.commit(t)).rejects.toThrow(/chain INPUT rule 2: target.chain: unknown chain "NOWHERE"/);
    await expect(ipt.commit(t)).rejects.toBeInstanceOf(ValidationError);
    expect(await toolSave(ns, 'ipv4', 'filter')).toBe(before);
  });

  it('a reader never sees half of a replaced table', async () => {
    const big = (n: number, tag: string) => {
      const t = emptyTable('ipv4', 'filter');
      createChain(t, 'BIG');
      for (let i = 0; i < n; i++) appendRule(t, 'BIG', { source: `10.${(i >> 8) & 255}.${i & 255}.1`, matches: [{ type: 'comment', comment: tag }], target: { type: 'RETURN' } });
      return t;
    };
    const n = 3000;
    await ipt.commit(big(n, 'one'));
    const reader = await Iptables.open({ netns: ns.name });
    let stop = false;
    const seen: Array<[number, number]> = [];
    const readLoop = (async () => {
      while (!stop) {
        const t = await reader.read('filter');
        const rules = t.chains.find((c) => c.name === 'BIG')!.rules;
        const ones = rules.filter((r) => r.matches?.[0]?.type === 'comment' && r.matches[0].comment === 'one').length;
        seen.push([rules.length, ones]);
      }
    })();
    for (let i = 0; i < 6; i++) await ipt.commit(big(n, i % 2 ? 'one' : 'two'));
    stop = true;
    await readLoop;
    await reader.close();
    expect(seen.length).toBeGreaterThan(0);
    for (const [len, ones] of seen) {
      expect(len).toBe(n);
      expect(ones === 0 || ones === n).toBe(true);
    }
  });

  it('frozen rules (a controller\'s sync loop): each recommit reuses their entries and the kernel holds exactly the model', async () => {
    const [t] = parseIptablesSave(kubeProxyIptablesText(30, 3));
    freezeRules(t!);
    const same = async () => expect(await toolSave(ns, 'ipv4', 'nat')).toBe(iptablesSave(t!));
    await ipt.commit(t!);
    await same();
    const counted = freezeRule({ counters: { packets: 7, bytes: 700 }, target: { type: 'RETURN' } } as IptRule);
    for (let round = 0; round < 4; round++) {
      // Some endpoints move (new frozen rules), a service chain is added and jumped to, one is dropped.
      t!.chains.forEach((c) => {
        c.rules = c.rules.map((r, i) => (r.target?.type === 'DNAT' && (i + round) % 5 === 0 ? freezeRule({ ...r, target: { ...r.target, port: 9000 + round } }) : r));
      });
      const name = `KUBE-SVC-ROUND${round}`;
      t!.chains.push({ name, rules: [freezeRule({ target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } }), counted] });
      t!.chains.find((c) => c.name === 'KUBE-SERVICES')!.rules.unshift(freezeRule({ destination: `10.97.0.${round}/32`, protocol: 'tcp', matches: [{ type: 'tcp', dport: 80 }], target: { type: 'jump', chain: name } } as IptRule));
      if (round > 0) {
        const old = `KUBE-SVC-ROUND${round - 1}`;
        const svc = t!.chains.find((c) => c.name === 'KUBE-SERVICES')!;
        svc.rules = svc.rules.filter((r) => !(r.target?.type === 'jump' && r.target.chain === old));
        t!.chains = t!.chains.filter((c) => c.name !== old);
      }
      counted.counters!.packets = 7 + round; // a frozen rule's counters object stays writable
      await ipt.commit(t!);
      await same();
      expect(await toolSave(ns, 'ipv4', 'nat', true)).toContain(`[${7 + round}:700] -A KUBE-SVC-ROUND${round} -j RETURN`);
    }
    // A commit the kernel refuses changes nothing, and the next one of the same frozen rules is right.
    const bad = { ...t!, chains: t!.chains.map((c) => (c.name === 'KUBE-SERVICES' ? { ...c, rules: [...c.rules, { matches: [{ type: 'raw' as const, name: 'kernlbnosuch', revision: 0, data: Buffer.alloc(8) }] }] } : c)) };
    await expect(ipt.commit(bad)).rejects.toBeInstanceOf(KernelError);
    await same();
    t!.chains.find((c) => c.name === 'KUBE-SERVICES')!.rules.reverse();
    await ipt.commit(t!);
    await same();
  });

  it('frozen recommits that keep every entry where it was are written over the last blob, also two in flight at once', async () => {
    const [t] = parseIptablesSave(kubeProxyIptablesText(40, 3));
    freezeRules(t!);
    const same = async () => expect(await toolSave(ns, 'ipv4', 'nat')).toBe(iptablesSave(t!));
    const dnat = () => t!.chains.flatMap((c) => c.rules.map((r, i) => ({ c, i, r }))).filter((x) => x.r.target?.type === 'DNAT');
    const port = (round: number) => {
      for (const { c, i, r } of dnat().filter((_, k) => k % 4 === round % 4)) c.rules[i] = freezeRule({ ...r, target: { ...r.target!, port: 9000 + round } as IptRule['target'] });
    };
    const fresh = await ipt.commit(t!);
    expect([fresh.reused, fresh.inPlace]).toEqual([0, false]);
    const all = await ipt.commit(t!);
    // All but the table's final ERROR entry and empty chains (written afresh: their head and tail cost less than a copy).
    const empty = t!.chains.filter((c) => !c.rules.length).reduce((n, c) => n + (c.policy ? 1 : 2), 0);
    expect([all.reused, all.inPlace]).toEqual([all.numEntries - 1 - empty, true]);
    const first = dnat().map((x) => x.r);
    for (let round = 0; round < 3; round++) {
      port(round);
      const r = await ipt.commit(t!);
      expect(r.inPlace).toBe(true);
      expect(r.reused).toBeLessThan(all.reused - first.length / 4 + 1);
      await same();
    }
    // The first rule objects put back where the later ones were written over them.
    for (const [k, { c, i }] of dnat().entries()) c.rules[i] = first[k]!;
    expect((await ipt.commit(t!)).inPlace).toBe(true);
    await same();
    // Two commits in flight: the second must not write over the first one's blob while the kernel reads it.
    port(5);
    const a = ipt.commit(t!);
    port(6);
    const b = ipt.commit(t!);
    expect((await a).inPlace).toBe(true);
    expect((await b).inPlace).toBe(false);
    await same();
    port(7);
    expect((await ipt.commit(t!)).inPlace).toBe(true);
    await same();
  });

  it('commits made without awaiting reach the kernel in the order they were made: the last one stands', async () => {
    for (let round = 0; round < 3; round++) {
      const commits: Array<Promise<unknown>> = [];
      let last: IptTable | undefined;
      for (let k = 0; k < 8; k++) {
        const t = emptyTable('ipv4', 'filter');
        createChain(t, 'ORDER');
        for (let i = 0; i < 2000; i++) appendRule(t, 'ORDER', { source: `10.${k}.${i >> 8}.${i & 255}/32`, target: { type: 'RETURN' } });
        appendRule(t, 'INPUT', { protocol: 'udp', matches: [{ type: 'udp', dport: 1000 + round * 10 + k }], target: { type: 'DROP' } });
        commits.push(ipt.commit(t));
        last = t;
      }
      await Promise.all(commits);
      expect(await toolSave(ns, 'ipv4', 'filter')).toBe(iptablesSave(last!));
    }
  });

  it('two handles committing the same frozen rules in turn each get exactly their table', async () => {
    const other = await createNetns('klipt2');
    try {
      await loadXtables(other);
      await using ipt2 = await Iptables.open({ netns: other.name, engine });
      const [t] = parseIptablesSave(kubeProxyIptablesText(20, 3));
      freezeRules(t!);
      const dnat = () => t!.chains.flatMap((c) => c.rules.map((r, i) => ({ c, i, r }))).filter((x) => x.r.target?.type === 'DNAT');
      for (let round = 0; round < 6; round++) {
        for (const { c, i, r } of dnat().filter((_, k) => k % 3 === round % 3)) c.rules[i] = freezeRule({ ...r, target: { ...r.target!, port: 9100 + round } as IptRule['target'] });
        // Each handle copies from the blob the other one committed last, or writes over its own.
        const [h, n] = round % 2 ? [ipt2, other] : [ipt, ns];
        await h.commit(t!);
        await h.commit(t!);
        expect(await toolSave(n, 'ipv4', 'nat')).toBe(iptablesSave(t!));
      }
    } finally {
      await other.destroy();
    }
  });

  it('IPv6 tables commit and conflict the same way', async () => {
    // ip6_tables may be a module (UML guest): the tool loads it, as it does for its users.
    await tool4(ns, 'ipv6', ['-L', '-n']);
    await using ip6 = await Iptables.open({ family: 'ipv6', netns: ns.name, engine });
    const t = await ip6.read('filter');
    appendRule(t, 'INPUT', { source: 'fd00::/8', protocol: 'ipv6-icmp', matches: [{ type: 'icmp6', icmpType: 128 }], target: { type: 'ACCEPT' } });
    await ip6.commit(t, { expectUnchanged: true });
    expect(await toolSave(ns, 'ipv6', 'filter')).toContain('-A INPUT -s fd00::/8 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT');
    await tool4(ns, 'ipv6', ['-A', 'OUTPUT', '-j', 'ACCEPT']);
    await expect(ip6.commit(t, { expectUnchanged: true })).rejects.toBeInstanceOf(ConflictError);
    await expect(ip6.commit({ ...t, family: 'ipv4' })).rejects.toBeInstanceOf(ValidationError);
  });
});
