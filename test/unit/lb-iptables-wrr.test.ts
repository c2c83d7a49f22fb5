/** iptables wrr: an rr cascade over the cycle's slots (exact per cycle), and its weight limit. */
import { describe, expect, it } from 'vitest';
import { compileIptables, renderIptables, wrrSlots } from '../../lib/lb/modes/iptables/compile';
import { IPTABLES_WRR_MAX_CYCLE } from '../../lib/lb/schedulers';
import { validateState } from '../../lib/lb/state';

const svc = (weights: number[]) => ({
  services: [{ name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: weights.map((w, i) => ({ address: `10.244.1.${i + 1}`, port: 8080, weight: w })) }],
});

/** Which slot an rr cascade over `every` rules hands connection n (0-based) to: rule k takes 1 of every (len - k) it sees. */
function cascade(slots: number[], connections: number): number[] {
  const seen = slots.map(() => 0);
  const got: number[] = [];
  for (let n = 0; n < connections; n++) {
    for (let k = 0; k < slots.length; k++) {
      const last = k === slots.length - 1;
      const hit = last || seen[k]! % (slots.length - k) === 0;
      seen[k]!++;
      if (hit) {
        got.push(slots[k]!);
        break;
      }
    }
  }
  return got;
}

describe('lb iptables wrr', () => {
  it('slots interleave as IPVS wrr orders a cycle (1:2:3 -> c b c a b c), gcd-reduced, zero weights get none', () => {
    expect(wrrSlots([1, 2, 3])).toEqual([2, 1, 2, 0, 1, 2]);
    expect(wrrSlots([20, 40, 60])).toEqual([2, 1, 2, 0, 1, 2]);
    expect(wrrSlots([0, 5, 5])).toEqual([1, 2]);
    expect(wrrSlots([0, 0])).toEqual([]);
  });

  it('the cascade gives every endpoint exactly its share in each cycle of sum(weights) connections', () => {
    const slots = wrrSlots([1, 2, 3]);
    const got = cascade(slots, 60);
    for (let c = 0; c < 10; c++) {
      const cycle = got.slice(c * 6, c * 6 + 6);
      expect([0, 1, 2].map((i) => cycle.filter((x) => x === i).length)).toEqual([1, 2, 3]);
    }
  });

  it('compiles to one statistic nth rule per slot, each naming its endpoint (iptables-save syntax)', () => {
    const text = renderIptables(compileIptables(validateState(svc([1, 2, 3]), 'iptables')).ipv4);
    const svcRules = text.split('\n').filter((l) => /^-A KERNLB-SVC-/.test(l) && l.includes('-j KERNLB-SEP-'));
    expect(svcRules.map((l) => /--comment "ep ([\d.]+):8080/.exec(l)![1])).toEqual(['10.244.1.3', '10.244.1.2', '10.244.1.3', '10.244.1.1', '10.244.1.2', '10.244.1.3']);
    expect(svcRules.map((l) => /--every (\d+) --packet 0/.exec(l)?.[1] ?? 'last')).toEqual(['6', '5', '4', '3', '2', 'last']);
  });

  it(`refuses a cycle over ${IPTABLES_WRR_MAX_CYCLE} rules with a ValidationError naming the endpoints and the limit; the same weights with random pass`, () => {
    expect(() => validateState(svc([128, 128]), 'iptables')).not.toThrow(); // gcd 128: a cycle of 2
    expect(() => validateState(svc([200, 57]), 'iptables')).toThrow(/services\[0\]\.endpoints: .*iptables wrr .* sum to 257, the limit is 256/);
    expect(() => validateState({ services: [{ ...svc([200, 57]).services[0]!, scheduler: 'random' }] }, 'iptables')).not.toThrow();
    expect(() => validateState(svc([200, 57]), 'nftables')).not.toThrow();
  });
});
