/** carry.ts: which old entry each new entry counts on from, by the identity of rules and chains. */
import { describe, expect, it } from 'vitest';
import { carryMap, recordEntries } from '../../lib/iptables/carry';
import type { IptChain, IptRule } from '../../lib/iptables/types';

const rule = (n: number): IptRule => ({ comment: `r${n}`, target: { type: 'ACCEPT' } }) as IptRule;
const entries = (chains: IptChain[]) => chains.reduce((n, c) => n + c.rules.length + (c.policy ? 1 : 2), 1);

describe('carryMap', () => {
  const a = rule(1), b = rule(2), c = rule(3), d = rule(4);
  // Entries: 0 a, 1 b, 2 PREROUTING policy, 3 X head, 4 c, 5 d, 6 X tail, 7 ERROR.
  const pre: IptChain = { name: 'PREROUTING', policy: 'ACCEPT', rules: [a, b] };
  const x: IptChain = { name: 'X', rules: [c, d] };
  const old = [pre, x];
  const rec = recordEntries(old, entries(old), 'digest');

  it('records each rule at its entry index and each policy by chain name', () => {
    expect(rec.rules).toEqual([a, b, null, null, c, d, null, null]);
    expect([...rec.policies]).toEqual([['PREROUTING', 2]]);
  });

  it('an unchanged table carries every rule and policy to the same place', () => {
    expect([...carryMap(rec, old, 8)]).toEqual([0, 1, 2, -1, 4, 5, -1, -1]);
  });

  it('a chain changed in place (same object, other rules) is carried rule by rule', () => {
    x.rules = [d, rule(5), c];
    try {
      // New: 0 a, 1 b, 2 policy, 3 head, 4 d, 5 new, 6 c, 7 tail, 8 ERROR.
      expect([...carryMap(rec, old, 9)]).toEqual([0, 1, 2, -1, 5, -1, 4, -1, -1]);
    } finally {
      x.rules = [c, d];
    }
  });

  it('rules moved to a new chain object keep theirs; a rule used twice carries at its first use only', () => {
    const y: IptChain = { name: 'Y', rules: [c, c, a] };
    const pre2: IptChain = { name: 'PREROUTING', policy: 'DROP', rules: [b] };
    // New: 0 b, 1 policy, 2 Y head, 3 c, 4 c, 5 a, 6 tail, 7 ERROR.
    expect([...carryMap(rec, [pre2, y], 8)]).toEqual([1, 2, -1, 4, -1, 0, -1, -1]);
  });

  it('a rule that was at two places carries at neither', () => {
    const twice: IptChain[] = [{ name: 'PREROUTING', policy: 'ACCEPT', rules: [a, a] }];
    const r2 = recordEntries(twice, entries(twice), 'd');
    expect([...carryMap(r2, [{ name: 'PREROUTING', policy: 'ACCEPT', rules: [a] }], 3)]).toEqual([-1, 2, -1]);
  });

  it('finds unchanged chains past inserted and removed ones (both lists in the kernel order)', () => {
    const r = [rule(10), rule(11), rule(12), rule(13)];
    const p: IptChain = { name: 'POSTROUTING', policy: 'ACCEPT', rules: [] };
    const A: IptChain = { name: 'A', rules: [r[0]!] }, B: IptChain = { name: 'B', rules: [r[1]!] };
    const C: IptChain = { name: 'C', rules: [r[2]!] }, D: IptChain = { name: 'D', rules: [r[3]!] };
    // Old: 0 POSTROUTING policy, 1 A head, 2 r10, 3 tail, 4 B head, 5 r11, 6 tail, 7 C head, 8 r12, 9 tail, 10 D..., 13 ERROR.
    const before = [p, A, B, C, D];
    const rec2 = recordEntries(before, entries(before), 'd');
    // New: B is gone, AA (new, before B's place) holds a new rule, C and D unchanged.
    const AA: IptChain = { name: 'AA', rules: [rule(14)] };
    // 0 policy, 1 A head, 2 r10, 3 tail, 4 AA head, 5 new, 6 tail, 7 C head, 8 r12, 9 tail, 10 D head, 11 r13, 12 tail, 13 ERROR.
    expect([...carryMap(rec2, [p, A, AA, C, D], 14)]).toEqual([0, -1, 2, -1, -1, -1, -1, -1, 8, -1, -1, 11, -1, -1]);
    // Rules moved out of a removed chain still carry (by identity, one by one).
    const E: IptChain = { name: 'E', rules: [r[1]!] };
    expect([...carryMap(rec2, [p, C, E], 8)]).toEqual([0, -1, 8, -1, -1, 5, -1, -1]);
  });

  it('a chain object carried whole once is not carried whole again (the same chain listed twice)', () => {
    const m = carryMap(rec, [pre, x, x], 12);
    expect([...m]).toEqual([0, 1, 2, -1, 4, 5, -1, -1, -1, -1, -1, -1]);
  });
});
