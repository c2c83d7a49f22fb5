/**
 * ipvs mode's record of what it applied: a change is exactly the operations it needs, with no read;
 * a change behind kernlb's back stays until a full read (a fresh handle, LoadBalancer.resync) finds
 * it and the next apply repairs it; a kernel refusal of a planned operation falls back to a full read.
 * Every check reads the kernel with ipvsadm (an independent reader), never with the same handle.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ipvs } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import { compileIpvs, renderIpvsadm } from '../../lib/lb/modes/ipvs/compile';
import { validateState, type DesiredState } from '../../lib/lb/state';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);

const state = (w: number, extra = false): DesiredState => ({
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.2', port: 8080, weight: w }, { address: '10.244.1.3', port: 8080 }, ...(extra ? [{ address: '10.244.1.5', port: 8080 }] : [])] },
    { name: 'api', vip: '10.96.0.11', port: 443, scheduler: 'rr', endpoints: [{ address: '10.244.2.2', port: 8443 }] },
  ],
});

/** `ipvsadm -Sn` of a namespace, lines sorted (the kernel's hash order is not the state's). */
async function saved(ns: TestNetns): Promise<string[]> {
  return (await ns.exec(['ipvsadm', '-Sn'])).stdout.split('\n').filter(Boolean).sort();
}

/** What `ipvsadm -R` of the compiled state makes in a namespace of its own: the reference. */
async function reference(st: DesiredState): Promise<string[]> {
  await using ref = await createNetns('lbr');
  await ref.exec(['ipvsadm', '-R'], { input: renderIpvsadm(compileIpvs(validateState(st, 'ipvs'))) });
  return await saved(ref); // (awaited: the namespace is disposed on return)
}

function spyIpvs() {
  const s = {
    list: vi.spyOn(Ipvs.prototype, 'listServices'),
    get: vi.spyOn(Ipvs.prototype, 'getService'),
    gets: vi.spyOn(Ipvs.prototype, 'getServices'),
    dests: vi.spyOn(Ipvs.prototype, 'listDestinations'),
    batch: vi.spyOn(Ipvs.prototype, 'batch'),
  };
  return {
    reads: () => s.list.mock.calls.length + s.get.mock.calls.length + s.gets.mock.calls.length + s.dests.mock.calls.length,
    ops: () => s.batch.mock.calls.flatMap((c) => c[0].map((o) => o.op)),
    reset: () => Object.values(s).forEach((x) => x.mockClear()),
  };
}

describe.skipIf(skip)(t('lb ipvs mode: what it reads and sends'), () => {
  afterEach(() => vi.restoreAllMocks());

  it('the same state again reads and sends nothing; a weight change is one SET_DEST, an added endpoint one NEW_DEST, a removed one drains with one SET_DEST', async () => {
    await using ns = await createNetns('lbv');
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    await lb.apply(state(1));
    const spy = spyIpvs();
    expect(await lb.apply(state(1))).toMatchObject({ changed: false, operations: 0 });
    expect([spy.reads(), spy.ops()]).toEqual([0, []]);
    await lb.apply(state(5));
    expect([spy.reads(), spy.ops()]).toEqual([0, ['updateDestination']]);
    spy.reset();
    await lb.apply(state(5, true));
    expect([spy.reads(), spy.ops()]).toEqual([0, ['addDestination']]);
    spy.reset();
    const r = await lb.apply(state(5));
    expect([spy.reads(), spy.ops()]).toEqual([0, ['updateDestination']]); // (drain: weight 0, stamp in the thresholds)
    expect(r.draining.map((d) => d.address)).toEqual(['10.244.1.5']);
    expect(await saved(ns)).toEqual([...(await reference(state(5))), '-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 0'].sort());
    // It has no connections: the next apply reads that one service (it has a draining
    // destination) and deletes it; nothing else is read.
    spy.reset();
    await lb.apply(state(5));
    expect([spy.reads(), spy.ops()]).toEqual([1, ['deleteDestination']]);
    expect(await saved(ns)).toEqual(await reference(state(5)));
  });

  it('a change behind kernlb\'s back stays until a full read; then diff() shows it and apply repairs it; a refused operation falls back to a full read', async () => {
    await using ns = await createNetns('lbv');
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    await lb.apply(state(1));
    await ns.exec(['ipvsadm', '-d', '-t', '10.96.0.10:80', '-r', '10.244.1.3:8080']);
    await ns.exec(['ipvsadm', '-a', '-t', '10.96.0.11:443', '-r', '10.244.2.9:8443', '-m', '-w', '4']);
    await ns.exec(['ipvsadm', '-e', '-t', '10.96.0.11:443', '-r', '10.244.2.2:8443', '-m', '-w', '7']);
    const spy = spyIpvs();
    const r = await lb.apply(state(5));
    expect([spy.reads(), spy.ops(), r.operations]).toEqual([0, ['updateDestination'], 1]);
    expect(await saved(ns)).not.toEqual(await reference(state(5))); // (no read: IPVS has no generation to compare)
    // A full read (a handle without a record: what LoadBalancer.resync does) sees all three.
    await using fresh = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    const d = await fresh.diff(state(5));
    expect(d.lines.sort()).toEqual(['~ service api tcp/10.96.0.11:443: -10.244.2.9:8443, 10.244.2.2:8443 w7->w1', '~ service web tcp/10.96.0.10:80: +10.244.1.3:8080 w1']);
    // resync() forgets the record, reads everything and repairs it (the extra destination has
    // no connections: deleted at once).
    spy.reset();
    const rs = await lb.resync();
    expect(spy.reads()).toBeGreaterThan(0);
    expect(rs.lines.sort()).toEqual(d.lines);
    expect(await saved(ns)).toEqual(await reference(state(5)));
    // Delete a whole service behind its back: its next change is refused (ESRCH) and it starts
    // over from a full read.
    await ns.exec(['ipvsadm', '-D', '-t', '10.96.0.10:80']);
    spy.reset();
    await lb.apply(state(6));
    expect(spy.ops()[0]).toBe('updateDestination');
    expect(spy.ops().slice(1)).toEqual(['addService']);
    expect(await saved(ns)).toEqual(await reference(state(6)));
  });

  it('ipvsadm -R of the golden lb-demo.ipvsadm reads back as exactly the compiled state, and kernlb\'s apply of it gives the same ipvsadm -Sn', async () => {
    const { readFileSync } = await import('node:fs');
    const path = await import('node:path');
    const { demoState } = await import('../fixtures/lb-state');
    const golden = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.ipvsadm'), 'utf8');
    const st: DesiredState = { services: demoState.services.map((s) => ({ ...s, scheduler: s.name === 'web' ? 'rr' : 'wrr' })) };
    await using a = await createNetns('lbv');
    await using b = await createNetns('lbv');
    await a.exec(['ipvsadm', '-R'], { input: golden });
    await using reader = await LoadBalancer.open({ mode: 'ipvs', netns: a.name });
    const want = validateState(st, 'ipvs').services;
    // ipvsadm's services carry no kernlb tag: not kernlb's until a state names them, and then the
    // take-over is one SET_SERVICE each (the tag) and nothing else, since they are already as compiled
    expect((await reader.status()).services).toEqual([]);
    expect(await reader.apply(st)).toMatchObject({ operations: 2 });
    const strip = <S extends { name: string }>(s: S): S => ({ ...s, name: '' });
    await using fresh = await LoadBalancer.open({ mode: 'ipvs', netns: a.name });
    // (IPVS stores no names: a handle that applied nothing names services after their identity)
    const got = (await fresh.status()).state.services.map(strip);
    expect(got.sort((x, y) => (x.vip < y.vip ? -1 : 1))).toEqual(want.map(strip).sort((x, y) => (x.vip < y.vip ? -1 : 1)));
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: b.name });
    await lb.apply(st);
    expect(await saved(b)).toEqual(await saved(a));
  });
});
