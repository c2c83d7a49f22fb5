/**
 * apply(state)'s validation memo (lib/lb/validation-cache.ts): an unchanged service costs a
 * comparison with its last raw input, and the answer is always exactly what validating the whole
 * input without a cache gives: the same services, or the same errors in the same order (fields,
 * problems, cross-service duplicates).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError, ValidationErrors } from '../../lib/errors';
import { MODES, type Mode } from '../../lib/lb/schedulers';
import { validateServices, validateState, ValidationCache, type DesiredState, type State } from '../../lib/lb/state';
import { clone, mutate, rng } from '../bad-input';

/** Four services of every shape the comparison knows (defaults left out, persistence, a health check, IPv6). */
const base = (): DesiredState => ({
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.3', port: 8080, weight: 2 }, { address: '10.244.1.2', port: 8080 }] },
    { name: 'dns', protocol: 'udp', vip: 'fd00::10', family: 'ipv6', port: 53, scheduler: 'sh', endpoints: [{ address: 'fd00::1:1', port: 5353, weight: 3 }] },
    { name: 'api', vip: '10.96.0.11', port: 443, persistence: { timeout: 300 }, healthCheck: { type: 'tcp', intervalMs: 5000 }, endpoints: [{ address: '10.244.2.1', port: 8443 }] },
    { name: 'empty', protocol: 'tcp', vip: '10.96.0.12', port: 8080, endpoints: [] },
  ],
});

type Verdict = { ok: State } | { errors: string[] };

function verdict(call: () => State): Verdict {
  try {
    return { ok: call() };
  } catch (e) {
    if (e instanceof ValidationErrors) return { errors: e.errors.map((x) => `${x.field}: ${x.problem}`) };
    if (e instanceof ValidationError) return { errors: [`${e.field}: ${e.problem}`] };
    throw e;
  }
}

/** A cache that has validated `base()` (a LoadBalancer's, after its last apply). */
function primed(mode: Mode | undefined = 'nftables'): { cache: ValidationCache; first: State } {
  const cache = new ValidationCache(mode);
  return { cache, first: validateState(base(), mode, cache) };
}

/** Cached and uncached validation of `input` must agree exactly (a fresh copy for each). */
function expectSameAsUncached(input: unknown, cache: ValidationCache, mode: Mode | undefined = 'nftables'): Verdict {
  const plain = verdict(() => validateState(clone(input), mode));
  const cached = verdict(() => validateState(input, mode, cache));
  expect(cached).toEqual(plain);
  return cached;
}

type Edit = [string, (s: DesiredState) => void];
const svcs = (s: DesiredState) => s.services as unknown as Record<string, any>[];

/** One field changed in an otherwise equal state: to another valid value, and to an invalid one. */
const EDITS: Edit[] = [
  ['name', (s) => (svcs(s)[1]!.name = 'dns2')],
  ['protocol given', (s) => (svcs(s)[0]!.protocol = 'udp')],
  ['protocol removed', (s) => delete svcs(s)[1]!.protocol],
  ['vip', (s) => (svcs(s)[0]!.vip = '10.96.0.99')],
  ['vip spelled differently', (s) => (svcs(s)[1]!.vip = 'FD00::10')],
  ['family removed', (s) => delete svcs(s)[1]!.family],
  ['port', (s) => (svcs(s)[2]!.port = 444)],
  ['scheduler', (s) => (svcs(s)[0]!.scheduler = 'random')],
  ['persistence timeout', (s) => (svcs(s)[2]!.persistence.timeout = 301)],
  ['persistence added', (s) => (svcs(s)[0]!.persistence = { timeout: 10 })],
  ['health check interval', (s) => (svcs(s)[2]!.healthCheck.intervalMs = 6000)],
  ['endpoint address', (s) => (svcs(s)[0]!.endpoints[1].address = '10.244.1.9')],
  ['endpoint port', (s) => (svcs(s)[0]!.endpoints[0].port = 8081)],
  ['endpoint weight', (s) => (svcs(s)[0]!.endpoints[0].weight = 5)],
  ['endpoint weight given its default', (s) => (svcs(s)[0]!.endpoints[1].weight = 1)],
  ['endpoint added', (s) => svcs(s)[3]!.endpoints.push({ address: '10.244.9.9', port: 1 })],
  ['endpoint removed', (s) => svcs(s)[0]!.endpoints.pop()],
  ['endpoints reordered', (s) => svcs(s)[0]!.endpoints.reverse()],
];
const BAD_EDITS: Edit[] = [
  ['unknown service field (undefined)', (s) => (svcs(s)[0]!.extra = undefined)],
  ['misspelled service field', (s) => (svcs(s)[1]!.schedular = 'rr')],
  ['unknown endpoint field', (s) => (svcs(s)[0]!.endpoints[0].wieght = 2)],
  ['port as a string', (s) => (svcs(s)[2]!.port = '443')],
  ['weight NaN', (s) => (svcs(s)[0]!.endpoints[0].weight = NaN)],
  ['weight too big', (s) => (svcs(s)[1]!.endpoints[0].weight = 70000)],
  ['endpoint address not an address', (s) => (svcs(s)[0]!.endpoints[0].address = 'x')],
  ['endpoint as an array', (s) => (svcs(s)[0]!.endpoints[0] = ['10.244.1.3', 8080])],
  ['endpoint of another family', (s) => (svcs(s)[1]!.endpoints[0].address = '10.0.0.1')],
  ['persistence key misspelled', (s) => (svcs(s)[2]!.persistence = { timout: 300 })],
  ['health check unknown type', (s) => (svcs(s)[2]!.healthCheck.type = 'icmp')],
  ['family disagrees', (s) => (svcs(s)[1]!.family = 'ipv4')],
  ['scheduler the mode cannot do', (s) => (svcs(s)[0]!.scheduler = 'lc')],
];
/** Input validation accepts but the comparison does not take as plain data: validated, same verdict. */
const ODD_EDITS: Edit[] = [
  ['endpoints with a hole', (s) => (svcs(s)[0]!.endpoints = [, { address: '10.244.1.2', port: 8080 }])],
  ['a service of a class', (s) => (svcs(s)[0] = Object.assign(Object.create({ x: 1 }), svcs(s)[0]))],
  ['an endpoint of a class', (s) => (svcs(s)[0]!.endpoints[0] = Object.assign(Object.create({ y: 1 }), svcs(s)[0]!.endpoints[0]))],
  ['a service without a prototype', (s) => (svcs(s)[1] = Object.assign(Object.create(null), svcs(s)[1]))],
];

describe('ValidationCache: a changed service is validated, an unchanged one is not', () => {
  it.each(EDITS)('%s: the edited service is validated again; the others come back as the same objects', (_, edit) => {
    const { cache, first } = primed();
    const input = base();
    edit(input);
    const v = expectSameAsUncached(input, cache);
    if (!('ok' in v)) throw new Error(`edit made the state invalid: ${JSON.stringify(v)}`);
    const same = v.ok.services.filter((s, i) => s === first.services[i]).length;
    // exactly one service is new (the endpoints' order is normalised: reordering may leave it equal)
    expect(same).toBe(3);
  });

  it.each(BAD_EDITS)('%s: refused with exactly the errors of an uncached validation', (_, edit) => {
    const { cache } = primed();
    const input = base();
    edit(input);
    const v = expectSameAsUncached(input, cache);
    expect('errors' in v).toBe(true);
    // and the refusal left the cache as it was: the base state still comes back from it
    const again = validateState(base(), 'nftables', cache);
    expect(again).toEqual(validateState(base(), 'nftables'));
  });

  it.each(ODD_EDITS)('%s: the same verdict as an uncached validation', (_, edit) => {
    const { cache } = primed();
    const input = base();
    edit(input);
    expectSameAsUncached(input, cache);
  });

  it('a fresh copy of the same state validates nothing and returns every service as before', () => {
    const { cache, first } = primed();
    const next = validateState(base(), 'nftables', cache);
    next.services.forEach((s, i) => expect(s).toBe(first.services[i]));
    expect(cache.size).toBe(4);
  });

  it('the caller mutating its input (deep inside) after validation does not leak into the cache', () => {
    const cache = new ValidationCache('nftables');
    const input = base();
    validateState(input, 'nftables', cache);
    svcs(input)[0]!.endpoints[0].weight = 9;
    svcs(input)[2]!.persistence.timeout = 9;
    const next = validateState(input, 'nftables', cache);
    expect(next).toEqual(validateState(clone(input), 'nftables'));
  });

  it('holes in the services list take no place in the result (its array is sized up front, then trimmed)', () => {
    const { cache, first } = primed();
    const list: unknown[] = base().services;
    // a hole after each service, and an invalid one: the result holds the four services and nothing else
    const sparse: unknown[] = [];
    for (const s of list) {
      sparse.push(s);
      sparse.length++;
    }
    const st = validateState({ services: sparse }, 'nftables', cache);
    expect(st.services.length).toBe(4);
    expect(Object.keys(st.services)).toEqual(['0', '1', '2', '3']);
    st.services.forEach((s, i) => expect(s).toBe(first.services[i]));
    // uncached, and with a service validated anew (a miss), the same
    expect(validateState({ services: sparse })).toEqual(st);
    (sparse[0] as { port: number }).port = 81;
    const changed = validateState({ services: sparse }, 'nftables', cache);
    expect(changed.services.length).toBe(4);
    expect(Object.keys(changed.services)).toEqual(['0', '1', '2', '3']);
  });

  it('a removed service leaves the cache; bringing it back validates it again', () => {
    const { cache, first } = primed();
    const input = base();
    input.services.splice(1, 1);
    validateState(input, 'nftables', cache);
    expect(cache.size).toBe(3);
    const back = validateState(base(), 'nftables', cache);
    expect(back.services[1]).not.toBe(first.services[1]);
    expect(back.services[0]).toBe(first.services[0]);
  });
});

describe('ValidationCache: cross-service checks stay exact', () => {
  const conflicts: Edit[] = [
    ['a changed service takes an unchanged one\'s VIP:port (after it)', (s) => Object.assign(svcs(s)[2]!, { vip: '10.96.0.10', port: 80 })],
    ['a changed service takes an unchanged one\'s VIP:port (before it)', (s) => Object.assign(svcs(s)[0]!, { vip: '10.96.0.11', port: 443 })],
    ['a changed service takes an unchanged one\'s name (before it)', (s) => (svcs(s)[0]!.name = 'api')],
    ['a changed service takes an unchanged one\'s name (after it)', (s) => (svcs(s)[3]!.name = 'web')],
    ['a new service duplicates an unchanged one at the end', (s) => s.services.push(clone(s.services[1]!))],
    ['a new service duplicates an unchanged one at the start', (s) => s.services.unshift(clone(s.services[2]!))],
    ['a new service takes a VIP:port, named differently', (s) => s.services.unshift({ ...clone(s.services[3]!), name: 'new' })],
    ['the same unchanged service three times', (s) => s.services.push(s.services[0]!, clone(s.services[0]!))],
    ['two unchanged services swap VIP:ports', (s) => {
      const [a, b] = [svcs(s)[0]!, svcs(s)[2]!];
      [a.vip, b.vip, a.port, b.port] = [b.vip, a.vip, b.port, a.port];
    }],
    ['two changed services collide with each other', (s) => {
      svcs(s)[0]!.port = 9;
      svcs(s)[2]!.vip = '10.96.0.10';
      svcs(s)[2]!.port = 9;
    }],
    ['a renamed service keeps its VIP:port while another takes its old name', (s) => {
      svcs(s)[0]!.name = 'web2';
      svcs(s)[3]!.name = 'web';
    }],
  ];

  it.each(conflicts)('%s', (_, edit) => {
    const { cache } = primed();
    const input = base();
    edit(input);
    expectSameAsUncached(input, cache);
  });

  it('a duplicate VIP:port brought in by a change is refused, naming both services', () => {
    const { cache } = primed();
    const input = base();
    Object.assign(svcs(input)[2]!, { vip: '10.96.0.10', port: 80 });
    expect(() => validateState(input, 'nftables', cache)).toThrow('services[2]: service "api": duplicate VIP:port:protocol tcp/10.96.0.10:80 (also services[0] "web")');
  });

  it('an update() that puts a key in the cache twice does not hide a later duplicate', () => {
    // update's upserts are learned before LoadBalancer checks them against the rest of the state
    const { cache } = primed();
    validateServices([{ name: 'other', vip: '10.96.0.10', port: 80, endpoints: [] }], 'nftables', cache);
    const input = base();
    input.services.push({ name: 'other', vip: '10.96.0.10', port: 80, endpoints: [] });
    expectSameAsUncached(input, cache);
  });
});

describe('ValidationCache: the guess by position', () => {
  it('an entry evicted since (its key taken by an update) is not found by its old place', () => {
    const { cache } = primed();
    // update() learns a service holding web's VIP:port: web's entry is evicted
    validateServices([{ name: 'other', vip: '10.96.0.10', port: 80, endpoints: [] }], 'nftables', cache);
    const again = base();
    validateState(again, 'nftables', cache);
    // web (validated again, back in the cache) and a newcomer on its VIP:port must collide
    const input = base();
    input.services.push({ name: 'late', vip: '10.96.0.10', port: 80, endpoints: [] });
    expectSameAsUncached(input, cache);
  });

  it('services that moved place are still found (and unchanged)', () => {
    const { cache, first } = primed();
    const input = base();
    input.services.reverse();
    const next = validateState(input, 'nftables', cache);
    expect(next.services).toEqual([...first.services].reverse());
    next.services.forEach((s, i) => expect(s).toBe(first.services[3 - i]));
  });
});

describe('ValidationCache: generated bad input gives exactly the uncached errors', () => {
  it('1000 one-thing-broken states, each through a cache primed with the valid state', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const mode = MODES[seed % MODES.length]!;
      const valid = base();
      // (a mode-neutral state: schedulers every mode can do)
      for (const s of svcs(valid)) s.scheduler = mode === 'iptables' ? 'random' : 'rr';
      if (mode === 'nftables') delete svcs(valid)[2]!.persistence;
      const cache = new ValidationCache(mode);
      validateState(valid, mode, cache);
      const { input } = mutate(valid, rng(seed));
      expectSameAsUncached(input, cache, mode);
    }
  });
});

describe('ValidationCache: validated services passed back by identity', () => {
  it('every Service validation returns is frozen, deep (the identity fast path relies on it)', () => {
    const { first } = primed();
    for (const s of first.services) {
      expect(Object.isFrozen(s)).toBe(true);
      expect(Object.isFrozen(s.endpoints)).toBe(true);
      for (const e of s.endpoints) expect(Object.isFrozen(e)).toBe(true);
      if (s.persistence) expect(Object.isFrozen(s.persistence)).toBe(true);
      if (s.healthCheck) expect(Object.isFrozen(s.healthCheck)).toBe(true);
    }
    // (these modules are strict: writing to a frozen object throws)
    expect(() => ((first.services[0]!.endpoints[0] as { weight: number }).weight = 9)).toThrow(TypeError);
    expect(() => first.services[0]!.endpoints.push({ address: '10.244.1.4', port: 1, weight: 1 })).toThrow(TypeError);
    expect(() => ((first.services[2]!.persistence as { timeout: number }).timeout = 1)).toThrow(TypeError);
    // an uncached validation's too
    expect(Object.isFrozen(validateState(base(), 'nftables').services[1]!.endpoints[0])).toBe(true);
  });

  it('the State validation returned, passed back, comes back as the very same objects (no comparison)', () => {
    const { cache, first } = primed();
    const next = validateState({ services: [...first.services] }, 'nftables', cache);
    next.services.forEach((s, i) => expect(s).toBe(first.services[i]));
    // and in another order (found by name, then by identity)
    const moved = validateState({ services: [...first.services].reverse() }, 'nftables', cache);
    moved.services.forEach((s, i) => expect(s).toBe(first.services[3 - i]));
  });

  it('mixed: returned Services for the unchanged, a spec for the changed one', () => {
    const { cache, first } = primed();
    const spec = clone(base().services[1]!);
    spec.endpoints.push({ address: 'fd00::1:2', port: 5353 });
    const input = { services: [first.services[0]!, spec, first.services[2]!, first.services[3]!] };
    const v = expectSameAsUncached(input, cache);
    if (!('ok' in v)) throw new Error(JSON.stringify(v));
    expect(v.ok.services.map((s, i) => s === first.services[i])).toEqual([true, false, true, true]);
    expect(v.ok.services[1]!.endpoints).toHaveLength(2);
  });

  it('a returned Service whose entry was evicted since is validated again, and cross-service checks see it', () => {
    const { cache, first } = primed();
    // update() learns a service holding web's VIP:port: web's entry is evicted (its place guess stays)
    const other = { name: 'other', vip: '10.96.0.10', port: 80, endpoints: [] };
    validateServices([other], 'nftables', cache);
    const input = { services: [first.services[0]!, other] };
    expect(() => validateState(input, 'nftables', cache)).toThrow('duplicate VIP:port:protocol tcp/10.96.0.10:80');
    expectSameAsUncached(input, cache);
  });

  it('the same returned Service twice is a duplicate, as for specs', () => {
    const { cache, first } = primed();
    expectSameAsUncached({ services: [...first.services, first.services[1]!] }, cache);
    expect(() => validateState({ services: [...first.services, first.services[1]!] }, 'nftables', cache)).toThrow('duplicate');
  });

  it('validating a returned Service anew gives an equal Service (so trusting it by identity is what validation would say)', () => {
    for (const mode of MODES) {
      const valid = base();
      for (const s of svcs(valid)) s.scheduler = mode === 'iptables' ? 'random' : 'rr';
      if (mode === 'nftables') delete svcs(valid)[2]!.persistence;
      svcs(valid)[2]!.healthCheck = { type: 'http', port: 9000 };
      const once = validateState(valid, mode);
      expect(validateState(clone(once), mode)).toEqual(once);
    }
  });

  it('an endpoint of a class without enumerable inherited keys, a service without a prototype: they read the same, hits, same verdict', () => {
    const { cache, first } = primed();
    const input = base();
    class Ep {}
    svcs(input)[0]!.endpoints[0] = Object.assign(new Ep(), svcs(input)[0]!.endpoints[0]);
    svcs(input)[1] = Object.assign(Object.create(null), svcs(input)[1]);
    const v = expectSameAsUncached(input, cache);
    if (!('ok' in v)) throw new Error(JSON.stringify(v));
    expect(v.ok.services[0]).toBe(first.services[0]);
    expect(v.ok.services[1]).toBe(first.services[1]);
  });
});
