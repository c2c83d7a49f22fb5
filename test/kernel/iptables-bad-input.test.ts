/**
 * Generated bad input committed for real (test/bad-input.ts): every typed extension's tables
 * (IPv4 and IPv6) and kube-proxy's layout, one thing broken per case, through commit() of each
 * engine in a fresh namespace. A case is refused with a ValidationError and the kernel's tables
 * stay exactly as they were (iptables-legacy-save), or it is accepted and the kernel holds exactly
 * what iptablesSave() prints for the model. Never another error, never half a change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Iptables, iptablesSave, parseIptablesSave, type IptTable, type KernelError } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, typedOnly } from '../unit/iptables-fixtures';
import { caseLine, mutate, outcome, rng } from '../bad-input';
import { ENGINES, loadXtables, toolSave } from './iptables-helpers';

const skip = kernelTestsSkipReason();
// (Fewer in the UML guest, where each case's two iptables-legacy-save runs cost 0.3-1 s while the
// host's tests run beside it.)
const CASES = Number(process.env.KERNLB_FUZZ_CASES ?? (process.env.KERNLB_IN_UML ? 40 : 200));
const tables: IptTable[] = [
  ...parseIptablesSave(typedOnly(ALL_IPV4), 'ipv4'),
  ...parseIptablesSave(typedOnly(ALL_IPV6), 'ipv6'),
  ...parseIptablesSave(KUBE_PROXY, 'ipv4'),
];
const rules = tables.flatMap((t, ti) => t.chains.flatMap((c, ci) => c.rules.map((_, ri) => [ti, ci, ri] as const)));

describe.skipIf(skip !== undefined).each(ENGINES)(`iptables: generated bad input committed (%s engine)${skip ? ` - skipped: ${skip}` : ''}`, (engine) => {
  let ns: TestNetns;
  let ipt: { ipv4: Iptables; ipv6: Iptables };
  beforeAll(async () => {
    ns = await createNetns('klbad');
    await loadXtables(ns);
    ipt = { ipv4: await Iptables.open({ netns: ns.name, engine }), ipv6: await Iptables.open({ netns: ns.name, engine, family: 'ipv6' }) };
    for (const t of tables) await ipt[t.family].commit(t);
  });
  afterAll(async () => {
    await ipt?.ipv4.close();
    await ipt?.ipv6.close();
    await ns?.destroy();
  });

  it('is refused with a ValidationError and changes nothing, or is committed exactly', async () => {
    const wrong: string[] = [];
    let refused = 0, accepted = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      // Half the cases break one rule (each extension gets its share), half anything in a table.
      const [ti, ci, ri] = rules[Math.floor(r() * rules.length)]!;
      const inRule = (p: Array<string | number>) => p.length > 4 && p[1] === ci && p[3] === ri && p[0] === 'chains';
      const { input, mutation } = mutate(tables[ti]!, r, seed % 2 ? inRule : undefined);
      const family = tables[ti]!.family, name = tables[ti]!.name;
      const before = await toolSave(ns, family, name);
      const o = await outcome(() => ipt[family].commit(input));
      const after = await toolSave(ns, family, name);
      if (o.kind === 'validation') {
        refused++;
        if (after !== before) wrong.push(caseLine(seed, mutation, new Error('refused, yet the table changed')));
      } else if (o.kind === 'ok') {
        accepted++;
        const expected = iptablesSave(input).split('\n').filter((l) => !l.startsWith('#')).join('\n');
        if (after.trimEnd() !== expected.trimEnd()) wrong.push(caseLine(seed, mutation, new Error(`committed, but the kernel holds something else:\n${after}\nexpected:\n${expected}`)));
        await ipt[family].commit(tables[ti]!); // (back to the valid table for the next case)
      } else if (o.kind === 'kernel' && mutation.path.join('.') === 'name' && (o.error as KernelError).code === 'ENOENT' && after === before) {
        refused++; // (a table name kernlb does not know: whether the kernel has such a table is the kernel's to say)
      } else wrong.push(caseLine(seed, mutation, o.error));
    }
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(CASES / 4);
    expect(accepted).toBeGreaterThan(0);
  }, 60_000 + CASES * 1500);
});
