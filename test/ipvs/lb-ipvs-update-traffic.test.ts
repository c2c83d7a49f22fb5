/**
 * ipvs mode at N services: a change costs the messages it needs and nothing else. Counted on the
 * LoadBalancer's own Ipvs handle (its `traffic`: messages the kernel processed, the sendmsg calls
 * that carried them, the reads), with the kernel's result checked by ipvsadm: the changed lines
 * and nothing else differ from before.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ipvs, type IpvsTraffic } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState, ServiceSpec } from '../../lib/lb/state';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';
import { bigState } from './lb-helpers';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);
const N = 300;

/** `ipvsadm -Sn` of a namespace, lines sorted (the kernel's hash order is not the state's). */
async function saved(ns: TestNetns): Promise<string[]> {
  return (await ns.exec(['ipvsadm', '-Sn'])).stdout.split('\n').filter(Boolean).sort();
}

/** Lines of `b` not in `a`, and of `a` not in `b`. */
function changedLines(a: string[], b: string[]): { added: string[]; removed: string[] } {
  const sa = new Set(a), sb = new Set(b);
  return { added: b.filter((l) => !sa.has(l)), removed: a.filter((l) => !sb.has(l)) };
}

/** The handles LoadBalancer.open makes from now on (its own Ipvs handle among them). */
function captureHandles(): Ipvs[] {
  const opened: Ipvs[] = [];
  const open = Ipvs.open.bind(Ipvs);
  vi.spyOn(Ipvs, 'open').mockImplementation(async (o) => {
    const h = await open(o);
    opened.push(h);
    return h;
  });
  return opened;
}

function delta(h: Ipvs, before: IpvsTraffic): IpvsTraffic {
  const now = h.traffic;
  return { messages: now.messages - before.messages, sendCalls: now.sendCalls - before.sendCalls, reads: now.reads - before.reads };
}

/** bigState(N) with service i's first endpoint at weight w, or with one more endpoint. */
function edited(i: number, edit: { weight?: number; extra?: boolean }): DesiredState {
  const st = bigState(N);
  const s = st.services[i]!;
  if (edit.weight !== undefined) s.endpoints[0] = { ...s.endpoints[0]!, weight: edit.weight };
  if (edit.extra) s.endpoints.push({ address: '10.251.0.1', port: 9000 });
  return st;
}

describe.skipIf(skip)(t('lb ipvs mode at N services: messages and syscalls per change'), () => {
  afterEach(() => vi.restoreAllMocks());

  it(`at ${N} services, update() and apply(state) of one change send its messages in one sendmsg and read nothing; the same state again sends and reads nothing`, async () => {
    await using ns = await createNetns('lbt');
    const handles = captureHandles();
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, removeOtherModes: false });
    expect(handles).toHaveLength(1);
    const h = handles[0]!;
    await lb.apply(bigState(N));
    const base = await saved(ns);
    expect(base).toHaveLength(N * 6);

    // One weight through update(): one SET_DEST in one sendmsg, no read.
    let before = h.traffic;
    const s7 = edited(7, { weight: 3 }).services[7]!;
    await lb.update({ upsert: [s7] });
    expect(delta(h, before)).toEqual({ messages: 1, sendCalls: 1, reads: 0 });
    const afterWeight = await saved(ns);
    expect(changedLines(base, afterWeight)).toEqual({
      added: ['-a -t 10.100.0.7:80 -r 10.250.0.8:8000 -m -w 3'],
      removed: ['-a -t 10.100.0.7:80 -r 10.250.0.8:8000 -m -w 1'],
    });

    // Two services changed in one update(): two messages, still one sendmsg.
    before = h.traffic;
    const s8 = edited(8, { extra: true }).services[8]!;
    const s9 = edited(9, { weight: 4 }).services[9]!;
    await lb.update({ upsert: [s8, s9] });
    expect(delta(h, before)).toEqual({ messages: 2, sendCalls: 1, reads: 0 });
    const afterTwo = await saved(ns);
    expect(changedLines(afterWeight, afterTwo)).toEqual({
      added: ['-a -t 10.100.0.8:80 -r 10.251.0.1:9000 -m -w 1', '-a -t 10.100.0.9:80 -r 10.250.0.10:8000 -m -w 4'].sort(),
      removed: ['-a -t 10.100.0.9:80 -r 10.250.0.10:8000 -m -w 1'],
    });

    // apply(state) of a whole new input tree with one more change (service 200's weight): its
    // one message, nothing read; the services update() changed stay as they are.
    const st = edited(200, { weight: 5 });
    st.services[7] = s7;
    st.services[8] = s8;
    st.services[9] = s9;
    before = h.traffic;
    expect(await lb.apply(st)).toMatchObject({ operations: 1, changed: true });
    expect(delta(h, before)).toEqual({ messages: 1, sendCalls: 1, reads: 0 });
    expect(changedLines(afterTwo, await saved(ns))).toEqual({
      added: ['-a -t 10.100.0.200:80 -r 10.250.0.201:8000 -m -w 5'],
      removed: ['-a -t 10.100.0.200:80 -r 10.250.0.201:8000 -m -w 1'],
    });

    // The same state again, as another input tree of the same content: nothing sent, nothing read.
    const again = edited(200, { weight: 5 });
    again.services[7] = { ...s7 };
    again.services[8] = { ...s8 };
    again.services[9] = { ...s9 };
    before = h.traffic;
    expect(await lb.apply(again)).toMatchObject({ operations: 0, changed: false });
    expect(delta(h, before)).toEqual({ messages: 0, sendCalls: 0, reads: 0 });

    // Two services swapped places and the last one removed: no message for the swap, one
    // DEL_SERVICE for the removal (compared place by place).
    const swapped = [...again.services];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    swapped.pop();
    before = h.traffic;
    expect(await lb.apply({ services: swapped })).toMatchObject({ operations: 1, changed: true });
    expect(delta(h, before)).toEqual({ messages: 1, sendCalls: 1, reads: 0 });
    // A removal near the front (every later service moves up a place: compared by key): one DEL_SERVICE.
    before = h.traffic;
    expect(await lb.apply({ services: swapped.filter((s) => s.name !== 's5') })).toMatchObject({ operations: 1, changed: true });
    expect(delta(h, before)).toEqual({ messages: 1, sendCalls: 1, reads: 0 });
    // A service appended (its service and 5 destinations: 6 messages, one sendmsg), and a service
    // renamed in place (same VIP:port: nothing for the kernel).
    const fewer = swapped.filter((s) => s.name !== 's5');
    const added: ServiceSpec = { name: 'new', vip: '10.99.0.1', port: 80, scheduler: 'wrr', endpoints: [1, 2, 3, 4, 5].map((j) => ({ address: `10.252.0.${j}`, port: 80 })) };
    before = h.traffic;
    expect(await lb.apply({ services: [...fewer, added] })).toMatchObject({ operations: 6, changed: true });
    expect(delta(h, before)).toEqual({ messages: 6, sendCalls: 1, reads: 0 });
    before = h.traffic;
    await lb.apply({ services: [...fewer.map((s) => (s.name === 's20' ? { ...s, name: 's20-renamed' } : s)), added] });
    expect(delta(h, before)).toEqual({ messages: 0, sendCalls: 0, reads: 0 });
    await lb.apply({ services: fewer });
    const end = await saved(ns);
    expect(changedLines(afterTwo, end).added).toEqual(['-a -t 10.100.0.200:80 -r 10.250.0.201:8000 -m -w 5']);
    expect(end.filter((l) => / 10\.100\.1\.43:80 | 10\.100\.0\.5:80 /.test(`${l} `))).toEqual([]);
    expect(end).toHaveLength((N - 2) * 6 + 1);
  });

  it(`at ${N} services, the apply after endpoints of 3 services were removed reads those 3 back in one read and deletes the drained endpoints with the change, in one sendmsg`, async () => {
    await using ns = await createNetns('lbd');
    const handles = captureHandles();
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, removeOtherModes: false });
    const h = handles[0]!;
    await lb.apply(bigState(N));
    const base = await saved(ns);

    // Services 10, 20 and 30 lose their last endpoint: 3 drains (SET_DEST weight 0), nothing read.
    const drained = bigState(N);
    for (const i of [10, 20, 30]) drained.services[i]!.endpoints.pop();
    let before = h.traffic;
    expect(await lb.apply(drained)).toMatchObject({ operations: 3 });
    expect(delta(h, before)).toEqual({ messages: 3, sendCalls: 1, reads: 0 });

    // One weight changed elsewhere: the 3 services with a draining endpoint are read back (one read
    // for the three), their idle endpoints deleted (3 DEL_DEST) and the weight set, in one sendmsg.
    const next = bigState(N);
    for (const i of [10, 20, 30]) next.services[i]!.endpoints.pop();
    next.services[40]!.endpoints[0]!.weight = 6;
    before = h.traffic;
    expect(await lb.apply(next)).toMatchObject({ operations: 4, draining: [] });
    expect(delta(h, before)).toEqual({ messages: 4, sendCalls: 1, reads: 1 });
    const after = await saved(ns);
    expect(changedLines(base, after)).toEqual({
      added: ['-a -t 10.100.0.40:80 -r 10.250.0.41:8000 -m -w 6'],
      removed: ['-a -t 10.100.0.10:80 -r 10.250.4.11:8004 -m -w 1', '-a -t 10.100.0.20:80 -r 10.250.4.21:8004 -m -w 1', '-a -t 10.100.0.30:80 -r 10.250.4.31:8004 -m -w 1', '-a -t 10.100.0.40:80 -r 10.250.0.41:8000 -m -w 1'].sort(),
    });

    // Nothing drains any more: the same state again reads and sends nothing.
    before = h.traffic;
    expect(await lb.apply(next)).toMatchObject({ operations: 0 });
    expect(delta(h, before)).toEqual({ messages: 0, sendCalls: 0, reads: 0 });
  });
});
