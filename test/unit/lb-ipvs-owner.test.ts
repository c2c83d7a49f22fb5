/** ipvs mode's ownership in the plan (pure): what it writes carries the tag, and an untagged service the state names is taken over. */
import { describe, expect, it } from 'vitest';
import { stepToOp } from '../../lib/lb/modes/ipvs/backend';
import { compileIpvs, OWNER_TAG, planIpvs, type IpvsCurrentSvc } from '../../lib/lb/modes/ipvs/compile';
import { validateState } from '../../lib/lb/state';

const want = compileIpvs(validateState({ services: [{ name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'rr', endpoints: [{ address: '10.244.1.2', port: 8080 }] }] }, 'ipvs'));
const opts = { now: 2_000_000_000, drainTimeout: 300 };
const asRead = (owned: boolean): IpvsCurrentSvc[] =>
  want.map((s) => ({ ...s, ...(owned ? {} : { owned: false as const }), dests: s.dests.map((d) => ({ ...d, activeConnections: 0, inactiveConnections: 0 })) }));

describe('ipvs mode ownership (plan)', () => {
  it('adds and updates services with kernlb\'s tag', () => {
    const steps = planIpvs([], want, opts);
    expect(steps.map((s) => s.op)).toEqual(['addService']);
    expect(stepToOp(steps[0]!)).toMatchObject({ op: 'addService', service: { tag: OWNER_TAG, scheduler: 'rr', destinations: [{ address: '10.244.1.2', port: 8080, weight: 1 }] } });
    const sched = planIpvs(asRead(true), [{ ...want[0]!, scheduler: 'wrr' }], opts);
    expect(stepToOp(sched[0]!)).toMatchObject({ op: 'updateService', service: { tag: OWNER_TAG, scheduler: 'wrr' } });
  });

  it('takes over an identical untagged service with one updateService, and leaves its own alone', () => {
    expect(planIpvs(asRead(true), want, opts)).toEqual([]);
    const steps = planIpvs(asRead(false), want, opts);
    expect(steps.map((s) => s.op)).toEqual(['updateService']);
    expect(stepToOp(steps[0]!)).toMatchObject({ service: { tag: OWNER_TAG } });
  });
});
