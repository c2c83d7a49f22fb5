/**
 * apply(state) of a state that differs in a few services from what the LoadBalancer last applied
 * goes to the backend as update() would send it (applyChanges: only those services); everything
 * else (a no-op, a dry run, resync, a rename, many changes) keeps the full path. The backend here
 * applies each change to its own record by name, so a change missing from the list, or one with
 * the wrong before/after, leaves that record unlike the desired state; the summary is compared with
 * the full path's for the same input.
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer, registerModeBackend } from '../../lib/lb';
import type { Service, State } from '../../lib/lb/state';
import type { BackendApplyResult, BackendRead, ModeBackend, ServiceChange } from '../../lib/lb/types';

class ChangeBackend implements ModeBackend {
  readonly mode = 'nftables' as const;
  /** What the "kernel" holds, by name: applyChanges edits it change by change. */
  kernel = new Map<string, Service>();
  calls: string[] = [];
  changes: ServiceChange[][] = [];
  constructor(withChanges: boolean) {
    if (!withChanges) this.applyChanges = undefined;
  }
  async read(opts: { forApply?: boolean } = {}): Promise<BackendRead> {
    this.calls.push(opts.forApply ? 'read(forApply)' : 'read');
    return { state: { services: [...this.kernel.values()] }, services: [], draining: [] };
  }
  async apply(desired: State, _cur: BackendRead, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    this.calls.push('apply');
    const changed = desired.services.length !== this.kernel.size || desired.services.some((s) => this.kernel.get(s.name) !== s);
    if (!opts.dryRun) this.kernel = new Map(desired.services.map((s) => [s.name, s]));
    return { operations: changed ? 1 : 0, draining: [], changed };
  }
  applyChanges?: ModeBackend['applyChanges'] = async (changes, _desired, opts) => {
    this.calls.push('applyChanges');
    this.changes.push(changes);
    if (opts.dryRun) throw new Error('a dry run must take the full path');
    for (const c of changes) {
      // what the backend trusts: `before` is the very object it was given last time
      if (c.before && this.kernel.get(c.before.name) !== c.before) throw new Error(`change ${c.name}: before is not the recorded service`);
      if (c.before) this.kernel.delete(c.before.name);
      if (c.after) this.kernel.set(c.after.name, c.after);
    }
    return { operations: changes.length, draining: [], changed: true };
  };
  invalidate(): void {
    this.calls.push('invalidate');
  }
  async present() {
    return this.kernel.size > 0;
  }
  async clear() {
    this.kernel.clear();
  }
  async close() {}
}

let next: ChangeBackend;
registerModeBackend('nftables', async () => next);
async function open(withChanges: boolean): Promise<[LoadBalancer<'nftables'>, ChangeBackend]> {
  next = new ChangeBackend(withChanges);
  const b = next;
  return [await LoadBalancer.open({ mode: 'nftables', removeOtherModes: false }), b];
}

type Spec = { name: string; vip: string; port: number; scheduler?: 'rr' | 'wrr' | 'random' | 'sh'; endpoints: { address: string; port: number; weight?: number }[] };
const svc = (name: string, i: number, eps = 3): Spec => ({
  name,
  vip: `10.0.0.${i}`,
  port: 80,
  scheduler: 'wrr',
  endpoints: Array.from({ length: eps }, (_, j) => ({ address: `10.1.${i}.${j + 1}`, port: 8080, weight: 1 })),
});
/** A freshly built tree each time, as a controller hands one over. */
const base = (): Spec[] => [svc('a', 1), svc('b', 2), svc('c', 3), svc('d', 4), svc('e', 5)];

const EDITS: [string, (s: Spec[]) => Spec[]][] = [
  ['endpoint replaced', (s) => (s[1]!.endpoints[0]!.address = '10.9.9.9', s)],
  ['endpoint added', (s) => (s[2]!.endpoints.push({ address: '10.9.9.8', port: 81 }), s)],
  ['endpoint removed', (s) => (s[0]!.endpoints.pop(), s)],
  ['weight changed', (s) => (s[4]!.endpoints[1]!.weight = 7, s)],
  ['endpoint port changed', (s) => (s[3]!.endpoints[2]!.port = 9090, s)],
  ['scheduler changed', (s) => (s[1]!.scheduler = 'random', s)],
  ['service added', (s) => [...s, svc('f', 6)]],
  ['service added in the middle', (s) => [s[0]!, svc('f', 6), ...s.slice(1)]],
  ['service removed', (s) => s.filter((x) => x.name !== 'c')],
  ['VIP moved (same name, another key)', (s) => (s[2]!.vip = '10.0.0.33', s)],
  ['two services changed, one removed, one added', (s) => (s[0]!.endpoints[0]!.weight = 2, s[4]!.port = 81, [...s.filter((x) => x.name !== 'b'), svc('g', 7)])],
];

describe('apply(state) of a few changed services goes to the backend as update() would send it', () => {
  it.each(EDITS)('%s: applyChanges with exactly those services; record, summary and the next no-op as the full path', async (_, edit) => {
    const [lb, b] = await open(true);
    const [ref, rb] = await open(false);
    await lb.apply({ services: base() });
    await ref.apply({ services: base() });
    b.calls = [];
    const s = await lb.apply({ services: edit(base()) });
    const r = await ref.apply({ services: edit(base()) });
    expect(b.calls).toEqual(['applyChanges']);
    expect(rb.calls.slice(-2)).toEqual(['read(forApply)', 'apply']);
    // the change list, applied by name, gives the desired state (nothing missing, nothing extra)
    const want = lb.validate({ services: edit(base()) }).services;
    expect([...b.kernel.values()].sort((x, y) => x.name.localeCompare(y.name))).toEqual([...want].sort((x, y) => x.name.localeCompare(y.name)));
    expect(b.changes[0]!.length).toBe(s.diff.added.length + s.diff.removed.length + s.diff.updated.length - movedCount(s.diff));
    expect(s.lines).toEqual(r.lines);
    expect(s.diff.unchanged).toBe(r.diff.unchanged);
    expect(s).toMatchObject({ changed: true, dryRun: false, warnings: r.warnings });
    // the record follows: the same state again is a no-op (the full path, which asks the backend)
    b.calls = [];
    const again = await lb.apply({ services: edit(base()) });
    expect(again.changed).toBe(false);
    expect(b.calls).toEqual(['read(forApply)', 'apply']);
    // and update() builds on it
    const u = await lb.update({ upsert: [svc('a', 1, 1)] });
    expect(u.changed).toBe(true);
    expect(b.kernel.get('a')!.endpoints).toHaveLength(1);
    await lb.close();
    await ref.close();
  });
});

/** A service whose VIP:port moved is one change (removed and added under one name). */
function movedCount(d: { added: Service[]; removed: Service[] }): number {
  const gone = new Set(d.removed.map((s) => s.name));
  return d.added.filter((s) => gone.has(s.name)).length;
}

describe('apply(state) keeps the full path where the backend must look or the change is not a few services', () => {
  const cases: [string, (lb: LoadBalancer<'nftables'>) => Promise<unknown>][] = [
    ['the same state again (the mode checks the kernel)', (lb) => lb.apply({ services: base() })],
    ['the same services in another order', (lb) => lb.apply({ services: base().reverse() })],
    ['a dry run', (lb) => lb.apply({ services: [...base(), svc('f', 6)] }, { dryRun: true })],
    ['resync', (lb) => lb.apply({ services: [...base(), svc('f', 6)] }, { resync: true })],
    ['a rename (the same VIP:port under another name)', (lb) => lb.apply({ services: base().map((s) => (s.name === 'b' ? { ...s, name: 'bb' } : s)) })],
    ['65 services added', (lb) => lb.apply({ services: [...base(), ...Array.from({ length: 65 }, (_, i) => svc(`n${i}`, 100 + i))] })],
  ];
  it.each(cases)('%s', async (_, act) => {
    const [lb, b] = await open(true);
    await lb.apply({ services: base() });
    b.calls = [];
    await act(lb);
    expect(b.calls).not.toContain('applyChanges');
    expect(b.calls).toContain('apply');
    await lb.close();
  });

  it('64 services added still go as changes', async () => {
    const [lb, b] = await open(true);
    await lb.apply({ services: base() });
    b.calls = [];
    await lb.apply({ services: [...base(), ...Array.from({ length: 64 }, (_, i) => svc(`n${i}`, 100 + i))] });
    expect(b.calls).toEqual(['applyChanges']);
    expect(b.kernel.size).toBe(69);
    await lb.close();
  });

  it('nothing applied yet (after clear()): the full path', async () => {
    const [lb, b] = await open(true);
    await lb.apply({ services: base() });
    await lb.clear();
    b.calls = [];
    await lb.apply({ services: [...base(), svc('f', 6)] });
    expect(b.calls).toEqual(['read(forApply)', 'apply']);
    await lb.close();
  });
});
