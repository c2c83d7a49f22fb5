/**
 * LoadBalancer's own logic around its backend: update()'s validation and change list, resync(),
 * the periodic resync's timer and error reporting, serialised mutations and close(). The backend
 * here is an in-memory record (this tests LoadBalancer, not a kernel: the kernel tier is
 * test/kernel/lb-update.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { LoadBalancer, registerModeBackend } from '../../lib/lb';
import { serviceKey, type Service, type State } from '../../lib/lb/state';
import type { BackendApplyResult, BackendRead, ModeBackend, ServiceChange } from '../../lib/lb/types';

class MemoryBackend implements ModeBackend {
  readonly mode = 'nftables' as const;
  kernel: Service[] = [];
  calls: string[] = [];
  changes: ServiceChange[][] = [];
  fail: Error | undefined;
  delayMs = 0;
  closed = false;
  withChanges = true;
  async read(opts: { forApply?: boolean } = {}): Promise<BackendRead> {
    this.calls.push(opts.forApply ? 'read(forApply)' : 'read');
    return { state: { services: [...this.kernel] }, services: [], draining: [] };
  }
  async apply(desired: State, _cur: BackendRead, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    this.calls.push('apply');
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.fail) throw this.fail;
    if (!opts.dryRun) this.kernel = [...desired.services];
    return { operations: 1, draining: [], changed: true };
  }
  async applyChangesImpl(changes: ServiceChange[], desired: State, opts: { dryRun: boolean }): Promise<BackendApplyResult> {
    this.calls.push('applyChanges');
    this.changes.push(changes);
    if (this.fail) throw this.fail;
    if (!opts.dryRun) this.kernel = [...desired.services];
    return { operations: changes.length, draining: [], changed: true };
  }
  applyChanges?: ModeBackend['applyChanges'] = (c, d, o) => this.applyChangesImpl(c, d, o);
  invalidate(): void {
    this.calls.push('invalidate');
  }
  async present() {
    return this.kernel.length > 0;
  }
  async clear() {
    this.kernel = [];
  }
  async close() {
    this.closed = true;
  }
}

let backend: MemoryBackend;
registerModeBackend('nftables', async () => backend);
const open = (extra: object = {}) => LoadBalancer.open({ mode: 'nftables', removeOtherModes: false, ...extra });
const svc = (name: string, i: number, eps = 2) => ({ name, vip: `10.0.0.${i}`, port: 80, endpoints: Array.from({ length: eps }, (_, j) => ({ address: `10.1.${i}.${j + 1}`, port: 8080 })) });
const names = (s: Service[]) => s.map((x) => x.name);

describe('LoadBalancer.update / resync (in-memory backend)', () => {
  afterEach(() => undefined);

  it('update hands the backend only the changed services, with before/after, and the whole state after', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1), svc('b', 2), svc('c', 3)] });
    backend.calls = [];
    const r = await lb.update({ upsert: [svc('b', 2, 3), svc('d', 4)], remove: ['c', 'nope'] });
    expect(backend.calls).toEqual(['applyChanges']);
    const ch = backend.changes[0]!;
    expect(ch.map((c) => [c.name, !!c.before, !!c.after])).toEqual([['c', true, false], ['b', true, true], ['d', false, true]]);
    expect(ch[1]!.before!.endpoints).toHaveLength(2);
    expect(ch[1]!.after!.endpoints).toHaveLength(3);
    expect(names(backend.kernel)).toEqual(['a', 'b', 'd']);
    expect(r.lines).toEqual(['+ service d tcp/10.0.0.4:80 rr (2 endpoints)', '- service c tcp/10.0.0.3:80', '~ service b tcp/10.0.0.2:80: +10.1.2.3:8080 w1']);
    expect(r.diff.unchanged).toBe(1);
    expect(r).toMatchObject({ changed: true, operations: 3, dryRun: false });
    // the same upsert again changes nothing and does not reach the backend
    backend.calls = [];
    const again = await lb.update({ upsert: [svc('b', 2, 3)] });
    expect(again).toMatchObject({ changed: false, operations: 0, lines: [] });
    expect(backend.calls).toEqual([]);
    // a following apply() of the same whole state is a no-op diff too (update kept the record)
    const full = await lb.apply({ services: [svc('a', 1), svc('b', 2, 3), svc('d', 4)] });
    expect(full.lines).toEqual([]);
  });

  it('update builds on what the last apply(state) applied: renames, moved VIP:ports, removals and reordering', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1), svc('b', 2), svc('c', 3), svc('d', 4)] });
    // b renamed to e (same VIP:port), c removed, d moves to c's VIP:port, f added, order changed
    await lb.apply({ services: [svc('d', 3), svc('a', 1), svc('e', 2), svc('f', 6)] });
    // e holds b's VIP:port now, d holds c's: taking them is refused naming the new owners
    await expect(lb.update({ upsert: [svc('x', 2)] })).rejects.toThrow(/belongs to service "e"/);
    await expect(lb.update({ upsert: [svc('x', 3)] })).rejects.toThrow(/belongs to service "d"/);
    // b's and c's old places are free; removing b or c (gone) changes nothing
    const r = await lb.update({ upsert: [svc('y', 4)], remove: ['b', 'c'] });
    expect(r.lines).toEqual(['+ service y tcp/10.0.0.4:80 rr (2 endpoints)']);
    expect(names(backend.kernel).sort()).toEqual(['a', 'd', 'e', 'f', 'y']);
    // one change through apply(state) after update(): the record follows it too
    await lb.apply({ services: [svc('d', 3), svc('a', 1), svc('e', 2, 3), svc('f', 6), svc('y', 4)] });
    const r2 = await lb.update({ upsert: [svc('e', 2, 3)] });
    expect(r2.changed).toBe(false);
    // services that moved place in the list are replaced at their new place
    await lb.update({ upsert: [svc('a', 1, 3), svc('d', 3, 1)] });
    expect(backend.kernel.map((s) => `${s.name}:${s.endpoints.length}`)).toEqual(['d:1', 'a:3', 'e:3', 'f:2', 'y:2']);
    await lb.update({ remove: ['a'], upsert: [svc('z', 9)] });
    await lb.update({ upsert: [svc('f', 6, 1)] });
    expect(backend.kernel.map((s) => `${s.name}:${s.endpoints.length}`)).toEqual(['d:1', 'e:3', 'f:1', 'y:2', 'z:2']);
    await lb.resync();
    expect(names(backend.kernel)).toEqual(['d', 'e', 'f', 'y', 'z']);
  });

  it('the first update of a fresh LoadBalancer reads the kernel once and builds on it', async () => {
    backend = new MemoryBackend();
    await using first = await open();
    await first.apply({ services: [svc('a', 1), svc('b', 2)] });
    await using lb = await open();
    backend.calls = [];
    await lb.update({ upsert: [svc('c', 3)] });
    expect(backend.calls).toEqual(['read(forApply)', 'applyChanges']);
    expect(names(backend.kernel)).toEqual(['a', 'b', 'c']);
    backend.calls = [];
    await lb.update({ remove: ['a'] });
    expect(backend.calls).toEqual(['applyChanges']);
    expect(names(backend.kernel)).toEqual(['b', 'c']);
  });

  it('a backend without applyChanges gets the whole desired state through the full path', async () => {
    backend = new MemoryBackend();
    backend.applyChanges = undefined;
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1)] });
    backend.calls = [];
    await lb.update({ upsert: [svc('b', 2)] });
    expect(backend.calls).toEqual(['read(forApply)', 'apply']);
    expect(names(backend.kernel)).toEqual(['a', 'b']);
  });

  it('bad input is a ValidationError naming upsert[i] / remove[i], and the backend is not called', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1), svc('b', 2)] });
    backend.calls = [];
    const bad = { ...svc('x', 9), endpoints: [{ address: '10.9.9.9', port: 0 }] };
    await expect(lb.update({ upsert: [svc('y', 8), bad] })).rejects.toMatchObject({ name: 'ValidationError', field: 'upsert[1].endpoints[0].port' });
    await expect(lb.update({ remove: ['a', 7] })).rejects.toMatchObject({ field: 'remove[1]' });
    await expect(lb.update({ upsert: [svc('a', 1)], remove: ['a'] })).rejects.toMatchObject({ field: 'upsert[0].name' });
    await expect(lb.update({ upsert: [svc('y', 8), svc('y', 7)] })).rejects.toMatchObject({ field: 'upsert[1].name' });
    await expect(lb.update({ upserts: [] })).rejects.toBeInstanceOf(ValidationError);
    await expect(lb.update({ upsert: [svc('a', 1)] }, { dryRun: 'no' as unknown as boolean })).rejects.toMatchObject({ field: 'dryRun' });
    // a VIP:port another service holds: refused, unless that service moves away or goes in the same update
    await expect(lb.update({ upsert: [svc('c', 2)] })).rejects.toMatchObject({ field: 'upsert[0]' });
    expect(backend.calls).toEqual([]);
    await lb.update({ upsert: [svc('c', 2)], remove: ['b'] });
    await lb.update({ upsert: [svc('d', 1), svc('a', 5)] });
    expect(backend.kernel.map(serviceKey).sort()).toEqual(['tcp/10.0.0.1:80', 'tcp/10.0.0.2:80', 'tcp/10.0.0.5:80']);
  });

  it('a dry run changes neither the kernel nor the record update() builds on', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1)] });
    const r = await lb.update({ upsert: [svc('b', 2)] }, { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, changed: true });
    expect(names(backend.kernel)).toEqual(['a']);
    const real = await lb.update({ upsert: [svc('b', 2)] });
    expect(real.changed).toBe(true);
  });

  it('resync() forgets the backend records and re-applies the last state with a full read', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1)] });
    await lb.update({ upsert: [svc('b', 2)] });
    backend.kernel = []; // someone removed everything
    backend.calls = [];
    await lb.resync();
    expect(backend.calls).toEqual(['invalidate', 'read(forApply)', 'apply']);
    expect(names(backend.kernel)).toEqual(['a', 'b']);
  });

  it('resyncInterval repairs periodically; its errors go to lastResyncError and onResyncError; close stops it', async () => {
    backend = new MemoryBackend();
    const errors: unknown[] = [];
    const lb = await open({ resyncInterval: 0.05, onResyncError: (e: unknown) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 120));
    expect(backend.calls).toEqual([]); // nothing applied yet: nothing to keep
    await lb.apply({ services: [svc('a', 1)] });
    backend.kernel = [];
    await new Promise((r) => setTimeout(r, 150));
    expect(names(backend.kernel)).toEqual(['a']);
    backend.fail = new Error('kernel says no');
    await new Promise((r) => setTimeout(r, 150));
    expect(lb.lastResyncError).toBe(backend.fail);
    expect(errors[0]).toBe(backend.fail);
    backend.fail = undefined;
    await new Promise((r) => setTimeout(r, 150));
    expect(lb.lastResyncError).toBeUndefined();
    await lb.close();
    const n = backend.calls.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(backend.calls.length).toBe(n);
  });

  it('resyncInterval and onResyncError are validated', async () => {
    backend = new MemoryBackend();
    for (const v of [0, -1, NaN, '5', 1e10]) await expect(open({ resyncInterval: v })).rejects.toMatchObject({ field: 'resyncInterval' });
    await expect(open({ onResyncError: 'x' })).rejects.toMatchObject({ field: 'onResyncError' });
  });

  it('mutations run one at a time; close() waits for the one in flight, later calls are refused', async () => {
    backend = new MemoryBackend();
    backend.applyChanges = undefined;
    backend.delayMs = 50;
    const lb = await open();
    const order: string[] = [];
    const a = lb.apply({ services: [svc('a', 1)] }).then(() => order.push('apply'));
    const u = lb.update({ upsert: [svc('b', 2)] }).then(() => order.push('update'));
    const closed = lb.close().then(() => order.push(`close(kernel ${names(backend.kernel).join(',')}, backend closed ${backend.closed})`));
    await Promise.all([a, u, closed]);
    expect(order).toEqual(['apply', 'update', 'close(kernel a,b, backend closed true)']);
    await expect(lb.apply({ services: [] })).rejects.toThrow(/closed/);
  });
});

describe('LoadBalancer.apply(state): the Services validation returned, passed back', () => {
  it('are taken as they are: nothing changes, and the backend gets the very same objects', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    const kept = lb.validate({ services: [svc('a', 1), svc('b', 2), svc('c', 3)] });
    await lb.apply(kept);
    const again = await lb.apply({ services: [...kept.services] });
    // (this in-memory backend reports every apply as a change: the diff is the LoadBalancer's)
    expect(again.lines).toEqual([]);
    expect(again.diff.unchanged).toBe(3);
    backend.kernel.forEach((s, i) => expect(s).toBe(kept.services[i]));
  });

  it('beside a spec for a changed service: only that one changes', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    const kept = lb.validate({ services: [svc('a', 1), svc('b', 2), svc('c', 3)] });
    await lb.apply(kept);
    const r = await lb.apply({ services: [kept.services[0]!, svc('b', 2, 3), kept.services[2]!] });
    expect(r.lines).toEqual(['~ service b tcp/10.0.0.2:80: +10.1.2.3:8080 w1']);
    expect(backend.kernel[0]).toBe(kept.services[0]);
    expect(backend.kernel[2]).toBe(kept.services[2]);
    expect(backend.kernel[1]!.endpoints).toHaveLength(3);
    // and a Service cannot be changed in place behind the LoadBalancer's back
    expect(() => kept.services[0]!.endpoints.push({ address: '10.1.1.9', port: 8080, weight: 1 })).toThrow(TypeError);
  });
});

describe('LoadBalancer.apply(state): warnings of services the validation cache hands back', () => {
  const mixed = (name: string, i: number) => ({ ...svc(name, i), endpoints: [{ address: `10.1.${i}.1`, port: 8080, weight: 1 }, { address: `10.1.${i}.2`, port: 8080, weight: 3 }] });
  const warning = (name: string) => `service ${name}: scheduler rr ignores weights (1, 3 given): every endpoint of weight > 0 gets the same share; use wrr or random to weight them`;

  it('are the same whether a service was validated, compared or passed back, in state order', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    const input = () => ({ services: [mixed('a', 1), svc('b', 2), mixed('c', 3)] });
    const first = await lb.apply(input());
    expect(first.warnings).toEqual([warning('a'), warning('c')]);
    expect((await lb.apply(input())).warnings).toEqual([warning('a'), warning('c')]);
    const kept = lb.validate(input());
    expect((await lb.apply({ services: [...kept.services] })).warnings).toEqual([warning('a'), warning('c')]);
    expect((await lb.apply({ services: [kept.services[2]!, kept.services[1]!, kept.services[0]!] })).warnings).toEqual([warning('c'), warning('a')]);
  });

  it('a service update() validated warns when apply(state) meets it again', async () => {
    backend = new MemoryBackend();
    await using lb = await open();
    await lb.apply({ services: [svc('a', 1)] });
    await lb.update({ upsert: [mixed('b', 2)] });
    expect((await lb.apply({ services: [svc('a', 1), mixed('b', 2)] })).warnings).toEqual([warning('b')]);
  });
});
