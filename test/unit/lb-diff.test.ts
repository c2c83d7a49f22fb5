import { describe, expect, it } from 'vitest';
import { changedService, diffService, previousService, diffStates, formatDiff, isEmptyDiff, type StateDiff } from '../../lib/lb/diff';
import { compileIpvs, drainingAfter, planIpvs, type IpvsCurrentSvc, type IpvsSvc } from '../../lib/lb/modes/ipvs/compile';
import { serviceKey, ValidationCache, validateState, type DesiredState, type State } from '../../lib/lb/state';
import { demoState } from '../fixtures/lb-state';

const clone = (s: DesiredState): DesiredState => JSON.parse(JSON.stringify(s)) as DesiredState;

describe('lb diff', () => {
  it('the same state (even reordered, differently spelled) is no change', () => {
    const a = validateState(demoState);
    const b = clone(demoState);
    b.services.reverse();
    b.services[0]!.endpoints.reverse();
    b.services[0]!.vip = 'fd00:0::10';
    const d = diffStates(a, validateState(b));
    expect(isEmptyDiff(d)).toBe(true);
    expect(d.unchanged).toBe(2);
  });

  it('added, removed and updated services and endpoints', () => {
    const b = clone(demoState);
    b.services[0]!.endpoints.push({ address: '10.244.1.9', port: 8080, weight: 2 });
    b.services[0]!.endpoints[0]!.weight = 5; // 10.244.1.3
    b.services[0]!.endpoints.splice(1, 1); // drop 10.244.1.2
    b.services[0]!.scheduler = 'wrr';
    b.services.splice(1, 1);
    b.services.push({ name: 'new', vip: '10.96.0.11', port: 443, endpoints: [] });
    const d = diffStates(validateState(demoState), validateState(b));
    expect(formatDiff(d)).toEqual([
      '+ service new tcp/10.96.0.11:443 rr (0 endpoints)',
      '- service api udp/[fd00::10]:53',
      '~ service web tcp/10.96.0.10:80: scheduler changed, +10.244.1.9:8080 w2, -10.244.1.2:8080, 10.244.1.3:8080 w1->w5',
    ]);
  });
});

describe('lb diff of validated states sharing unchanged services (the validation cache)', () => {
  const svc = (i: number, weight = 1) => ({ name: `s${i}`, vip: `10.96.${i >> 8}.${i & 255}`, port: 80, endpoints: [{ address: `10.244.0.${1 + (i % 200)}`, port: 8080, weight }] });
  const states = (n: number) => {
    const cache = new ValidationCache(undefined);
    const first = validateState({ services: Array.from({ length: n }, (_, i) => svc(i)) }, undefined, cache);
    return { first, next: (services: ReturnType<typeof svc>[]) => validateState({ services }, undefined, cache) };
  };
  // The reference: every service paired by its key (what the diff is), services compared by diffService.
  const byKey = (a: State, b: State) => {
    const old = new Map(a.services.map((s) => [serviceKey(s), s]));
    const d: StateDiff = { added: [], removed: [], updated: [], unchanged: 0 };
    for (const s of b.services) {
      const o = old.get(serviceKey(s));
      if (!o) d.added.push(s);
      else {
        old.delete(serviceKey(s));
        const c = diffService(o, s);
        if (c) d.updated.push(c);
        else d.unchanged++;
      }
    }
    d.removed = [...old.values()];
    return d;
  };

  it('pairs the same objects without keys, and finds the one changed service among them', () => {
    const { first, next } = states(50);
    const second = next(Array.from({ length: 50 }, (_, i) => svc(i, i === 20 ? 3 : 1)));
    expect(second.services[0]).toBe(first.services[0]); // (shared: what the fast path pairs)
    const d = diffStates(first, second);
    expect(d.unchanged).toBe(49);
    expect(formatDiff(d)).toEqual(['~ service s20 tcp/10.96.0.20:80: 10.244.0.21:8080 w1->w3']);
    expect(changedService(d.updated[0]!)).toBe(second.services[20]);
    expect(previousService(d.updated[0]!)).toBe(first.services[20]);
    expect(d).toEqual(byKey(first, second));
  });

  it('gives the keyed diff for services moved, added and removed anywhere', () => {
    const { first, next } = states(40);
    const list = Array.from({ length: 40 }, (_, i) => svc(i));
    list.splice(5, 2); // removed in the middle
    list.reverse(); // every unchanged service at another index
    list.splice(10, 0, svc(100), svc(101)); // added in the middle
    list.push(svc(102)); // and at the end
    list[0] = svc(39, 4); // (s39, changed)
    const second = next(list);
    const d = diffStates(first, second);
    expect(d).toEqual(byKey(first, second));
    expect(d.added.map((s) => s.name)).toEqual(['s100', 's101', 's102']);
    expect(d.removed.map((s) => s.name)).toEqual(['s5', 's6']);
    expect(d.updated.map((u) => changedService(u)?.name)).toEqual(['s39']);
    expect(previousService(d.updated[0]!)).toBe(first.services[39]);
    // Shorter and longer states than the last one: the services past the shorter's end.
    const third = next(list.slice(0, 20));
    expect(diffStates(second, third)).toEqual(byKey(second, third));
    expect(diffStates(third, second)).toEqual(byKey(third, second));
  });
});

const NOW = 2_000_000_000;
function current(svcs: IpvsSvc[], conns: Record<string, number> = {}): IpvsCurrentSvc[] {
  return svcs.map((s) => ({
    ...s,
    dests: s.dests.map((d) => ({ ...d, activeConnections: conns[`${d.address}:${d.port}`] ?? 0, inactiveConnections: 0 })),
  }));
}

describe('lb ipvs plan: add before remove, drain in the kernel', () => {
  const state = validateState(demoState);
  const desired = compileIpvs(state);

  it('from empty: services with their destinations; same state again: nothing', () => {
    const steps = planIpvs([], desired, { now: NOW, drainTimeout: 300 });
    expect(steps.map((s) => s.op)).toEqual(['addService', 'addService']);
    expect(planIpvs(current(desired), desired, { now: NOW, drainTimeout: 300 })).toEqual([]);
  });

  it('orders adds, re-weights, drains, deletes', () => {
    const next = validateState({
      services: [
        { ...demoState.services[0]!, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 3 }, { address: '10.244.1.7', port: 8080 }] },
        { name: 'new', vip: '10.96.0.11', port: 443, endpoints: [{ address: '10.244.1.2', port: 443 }] },
      ],
    });
    const steps = planIpvs(current(desired, { '10.244.1.3:8080': 4 }), compileIpvs(next), { now: NOW, drainTimeout: 300 });
    expect(steps.map((s) => `${s.op}${'why' in s ? `:${s.why}` : ''} ${s.svc.key}${'dest' in s ? ` ${s.dest.address}` : ''}`)).toEqual([
      'addService tcp/10.96.0.11:443',
      'addDestination tcp/10.96.0.10:80 10.244.1.7',
      'updateDestination:reweight tcp/10.96.0.10:80 10.244.1.2',
      'updateDestination:drain tcp/10.96.0.10:80 10.244.1.3', // has connections: weight 0, stamped
      'deleteDestination:idle tcp/10.96.0.10:80 10.244.1.4', // no connections: deleted at once
      'deleteService udp/[fd00::10]:53',
    ]);
    const drain = steps[3]!;
    expect('dest' in drain && drain.dest).toEqual({ address: '10.244.1.3', port: 8080, weight: 0, upperThreshold: NOW, lowerThreshold: NOW });
  });

  it('a draining destination (stamp read back from the kernel) is deleted when idle or timed out, kept otherwise', () => {
    const want = compileIpvs(validateState({ services: [{ ...demoState.services[0]!, endpoints: [{ address: '10.244.1.2', port: 8080 }] }] }));
    const kernel = current(want);
    kernel[0]!.dests.push({ address: '10.244.1.3', port: 8080, weight: 0, upperThreshold: NOW - 100, lowerThreshold: NOW - 100, activeConnections: 2, inactiveConnections: 1 });
    expect(planIpvs(kernel, want, { now: NOW, drainTimeout: 300 })).toEqual([]);
    expect(drainingAfter(kernel, [])).toEqual([{ service: 'tcp/10.96.0.10:80', address: '10.244.1.3', port: 8080, since: NOW - 100 }]);
    expect(planIpvs(kernel, want, { now: NOW + 200, drainTimeout: 300 }).map((s) => 'why' in s && s.why)).toEqual(['drain-timeout']);
    kernel[0]!.dests[1]!.activeConnections = 0;
    kernel[0]!.dests[1]!.inactiveConnections = 0;
    expect(planIpvs(kernel, want, { now: NOW, drainTimeout: 300 }).map((s) => 'why' in s && s.why)).toEqual(['drained']);
  });

  it('an endpoint that comes back while draining is restored (weight and thresholds)', () => {
    const want = compileIpvs(validateState({ services: [demoState.services[0]!] }));
    const kernel = current(want);
    const d = kernel[0]!.dests.find((x) => x.address === '10.244.1.2')!;
    Object.assign(d, { weight: 0, upperThreshold: NOW, lowerThreshold: NOW, activeConnections: 3 });
    const steps = planIpvs(kernel, want, { now: NOW, drainTimeout: 300 });
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ op: 'updateDestination', why: 'undrain', dest: { address: '10.244.1.2', weight: 1, upperThreshold: 0, lowerThreshold: 0 } });
  });

  it('scheduler and persistence changes update the service in place', () => {
    const next = clone(demoState);
    next.services[0]!.scheduler = 'wlc';
    next.services[0]!.persistence = { timeout: 60 };
    const steps = planIpvs(current(desired), compileIpvs(validateState(next)), { now: NOW, drainTimeout: 300 });
    expect(steps.map((s) => s.op)).toEqual(['updateService']);
  });
});
