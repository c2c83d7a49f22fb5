/**
 * Oracle both ways in fresh namespaces: what iptables-legacy-restore loads, kernlb reads exactly and
 * commits into an empty namespace where iptables-legacy-save prints the same text (raw extensions
 * included); what kernlb commits, iptables-legacy-save prints exactly as expected. With each commit engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iptAppendRule as appendRule, iptCreateChain as createChain, iptEmptyTable as emptyTable, Iptables, parseIptablesSave, iptablesSave as saveTable } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, RAW_LINE, typedOnly } from '../unit/iptables-fixtures';
import { ENGINES, loadXtables, splitTables, toolRestore, toolSave, type Family } from './iptables-helpers';

const skip = kernelTestsSkipReason();
const noRaw = (s: string) => s.split('\n').filter((l) => !RAW_LINE.test(l) && !l.includes('--kernlb-raw')).join('\n');

describe.skipIf(skip !== undefined).each(ENGINES)(`iptables oracle (%s engine)${skip ? ` - skipped: ${skip}` : ''}`, (engine) => {
  let src: TestNetns, dst: TestNetns;
  beforeAll(async () => {
    src = await createNetns('klipt');
    dst = await createNetns('klipt');
    await loadXtables(src);
  });
  afterAll(async () => {
    await src?.destroy();
    await dst?.destroy();
  });

  const cases: Array<[string, string, Family]> = [
    ['every typed IPv4 extension plus raw ones', ALL_IPV4, 'ipv4'],
    ['IPv6 extensions plus a raw one', ALL_IPV6, 'ipv6'],
    ["kube-proxy's real layout", KUBE_PROXY, 'ipv4'],
  ];
  for (const [what, text, family] of cases) {
    it(`tool -> kernlb -> tool: ${what}`, async () => {
      await toolRestore(src, family, text);
      await using a = await Iptables.open({ family, netns: src.name, engine });
      await using b = await Iptables.open({ family, netns: dst.name, engine });
      for (const [name, expected] of splitTables(text)) {
        const theirs = await toolSave(src, family, name);
        expect(theirs).toBe(expected);
        const t = await a.read(name);
        // kernlb's save of what it read = the tool's text, raw extensions aside.
        expect(noRaw(saveTable(t))).toBe(noRaw(theirs));
        if (RAW_LINE.test(expected)) expect(saveTable(t)).toContain('--kernlb-raw');
        const done = await b.commit(t);
        expect(await toolSave(dst, family, name)).toBe(theirs);
        // And reading back what kernlb wrote gives the same model, and the readState the commit
        // reported (computed from the bytes sent) is the one a read of the kernel's table computes.
        const again = await b.read(name);
        expect(again.chains).toEqual(t.chains);
        expect(again.readState).toEqual({ numEntries: done.numEntries, digest: done.digest });
        expect(done.kernelMs).toBeGreaterThan(0);
      }
    });

    it(`kernlb -> tool: parse(${what}) committed prints the same text`, async () => {
      await using ns = await createNetns('klipt');
      await using ipt = await Iptables.open({ family, netns: ns.name, engine });
      for (const t of parseIptablesSave(typedOnly(text), family)) {
        const done = await ipt.commit(t);
        expect(await toolSave(ns, family, t.name)).toBe(splitTables(typedOnly(text)).get(t.name));
        expect((await ipt.read(t.name)).readState).toEqual({ numEntries: done.numEntries, digest: done.digest });
      }
    });
  }

  it('a table built with the edit helpers prints exactly the expected iptables-save text (IPv4 and IPv6)', async () => {
    for (const family of ['ipv4', 'ipv6'] as const) {
      await using ns = await createNetns('klipt');
      await using ipt = await Iptables.open({ family, netns: ns.name, engine });
      const vip = family === 'ipv4' ? '10.96.0.1' : 'fd00:96::1';
      const ep = family === 'ipv4' ? '10.244.0.5' : 'fd00:244::5';
      const len = family === 'ipv4' ? 32 : 128;
      const t = emptyTable(family, 'nat');
      for (const c of ['KUBE-SERVICES', 'KUBE-SVC-1', 'KUBE-SEP-1', 'KUBE-MARK-MASQ']) createChain(t, c);
      appendRule(t, 'PREROUTING', { matches: [{ type: 'comment', comment: 'kubernetes service portals' }], target: { type: 'jump', chain: 'KUBE-SERVICES' } });
      appendRule(t, 'KUBE-SERVICES', { destination: vip, protocol: 'tcp', matches: [{ type: 'tcp', dport: 80 }], target: { type: 'jump', chain: 'KUBE-SVC-1' } });
      appendRule(t, 'KUBE-SVC-1', { matches: [{ type: 'statistic', mode: 'random', probability: 0.25 }], target: { type: 'goto', chain: 'KUBE-SEP-1' } });
      appendRule(t, 'KUBE-SEP-1', { source: ep, target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } });
      appendRule(t, 'KUBE-SEP-1', { protocol: 'tcp', matches: [{ type: 'tcp' }], target: { type: 'DNAT', address: ep, port: 8080 } });
      appendRule(t, 'KUBE-MARK-MASQ', { target: { type: 'MARK', op: 'or', value: 0x4000 } });
      appendRule(t, 'POSTROUTING', { outInterface: 'eth+', invert: { outInterface: true }, target: { type: 'MASQUERADE', fullyRandom: true } });
      await ipt.commit(t);
      const d = family === 'ipv4' ? `${ep}:8080` : `[${ep}]:8080`;
      expect(await toolSave(ns, family, 'nat')).toBe([
        '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
        ':KUBE-MARK-MASQ - [0:0]', ':KUBE-SEP-1 - [0:0]', ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-1 - [0:0]',
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING ! -o eth+ -j MASQUERADE --random-fully',
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
        `-A KUBE-SEP-1 -s ${ep}/${len} -j KUBE-MARK-MASQ`,
        `-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination ${d}`,
        `-A KUBE-SERVICES -d ${vip}/${len} -p tcp -m tcp --dport 80 -j KUBE-SVC-1`,
        '-A KUBE-SVC-1 -m statistic --mode random --probability 0.25000000000 -g KUBE-SEP-1',
        'COMMIT', '',
      ].join('\n'));
    }
  });

  it('restores counters from the model (iptables-save -c shows them)', async () => {
    await using ns = await createNetns('klipt');
    await using ipt = await Iptables.open({ netns: ns.name, engine });
    const t = emptyTable('ipv4', 'filter');
    t.chains[0]!.counters = { packets: 7, bytes: 700 };
    appendRule(t, 'INPUT', { protocol: 'udp', target: { type: 'ACCEPT' }, counters: { packets: 5, bytes: 12345678901 } });
    await ipt.commit(t);
    const out = await toolSave(ns, 'ipv4', 'filter', true);
    expect(out).toContain(':INPUT ACCEPT [7:700]');
    expect(out).toContain('[5:12345678901] -A INPUT -p udp -j ACCEPT');
    const back = await ipt.read('filter');
    expect(back.chains[0]!.rules[0]!.counters).toEqual({ packets: 5, bytes: 12345678901 });
  });

  it('lists the namespace tables in iptables-save order', async () => {
    await using ns = await createNetns('klipt');
    await using ipt = await Iptables.open({ netns: ns.name, engine });
    expect(await ipt.tables()).toEqual([]);
    await toolRestore(ns, 'ipv4', '*filter\nCOMMIT\n*nat\nCOMMIT\n');
    const names = await ipt.tables();
    expect(new Set(names)).toEqual(new Set(['filter', 'nat']));
    const order = (await ns.exec(['iptables-legacy-save'])).stdout.split('\n').filter((l) => l.startsWith('*')).map((l) => l.slice(1));
    expect(names).toEqual(order);
  });
});
