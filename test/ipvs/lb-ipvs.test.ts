/**
 * ipvs mode in a kernel with IPVS (the UML guest here): ipvsadm prints what kernlb applied, same
 * state twice is a no-op, rr exact and wrr by weight with real traffic, drain kept in the kernel
 * across a restart, and convergence after the applying process is killed mid-apply.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ipvs } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import { compileIpvs, MIN_DRAIN_STAMP, renderIpvsadm } from '../../lib/lb/modes/ipvs/compile';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, createTopology, ipvsSkipReason, sendRequests, type Topology } from '../../lib/testing';
import { bigState } from './lb-helpers';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);
const root = path.join(__dirname, '..', '..');

const demo: DesiredState = {
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }] },
    { name: 'dns', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', persistence: { timeout: 60 }, endpoints: [{ address: 'fd00::1:1', port: 5353 }] },
  ],
};

describe.skipIf(skip)(t('lb ipvs mode'), () => {
  it('ipvsadm -Ln shows the state; the same state again is a no-op; status reads it back', async () => {
    await using ns = await createNetns('lbv');
    await ns.exec(['ip', 'route', 'add', 'local', '10.244.0.0/16', 'dev', 'lo']).catch(() => undefined);
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    const r = await lb.apply(demo);
    expect(r.changed).toBe(true);
    expect(r.operations).toBe(5); // 2 services + 3 destinations
    const out = (await ns.exec(['ipvsadm', '-Ln'])).stdout;
    expect(out).toMatch(/TCP {2}10\.96\.0\.10:80 wrr\n {2}-> 10\.244\.1\.2:8080 +Masq +2 /);
    expect(out).toMatch(/-> 10\.244\.1\.3:8080 +Masq +1 /);
    expect(out).toMatch(/UDP {2}\[fd00::10\]:53 sh persistent 60\n {2}-> \[fd00::1:1\]:5353 +Masq +1 /);
    expect(await lb.apply(demo)).toMatchObject({ changed: false, operations: 0 });
    // An independent reader: ipvsadm -Sn equals what ipvsadm -R of the compiled state makes.
    await using ref = await createNetns('lbv');
    await ref.exec(['ipvsadm', '-R'], { input: renderIpvsadm(compileIpvs(lb.validate(demo))) });
    const sorted = async (n: typeof ns) => (await n.exec(['ipvsadm', '-Sn'])).stdout.split('\n').sort();
    expect(await sorted(ns)).toEqual(await sorted(ref));
    const st = await lb.status();
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
    expect([...st.state.services].sort(byName)).toEqual([...lb.validate(demo).services].sort(byName));
  });

  it('a removed endpoint with connections drains (weight 0, stamp in the kernel), survives a restart, and is deleted after the timeout', async () => {
    await using ns = await createNetns('lbv');
    const lb1 = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, drainTimeout: 2 });
    await lb1.apply(demo);
    await lb1.close();
    // A new process (handle) removes 10.244.1.3: it has no connections, so it goes at once...
    const lb2 = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, drainTimeout: 2 });
    const s1 = { services: [{ ...demo.services[0]!, endpoints: [demo.services[0]!.endpoints[0]!] }] };
    const r = await lb2.apply(s1);
    expect(r.lines).toContain('~ service web tcp/10.96.0.10:80: -10.244.1.3:8080');
    expect((await ns.exec(['ipvsadm', '-Ln'])).stdout).not.toMatch(/10\.244\.1\.3/);
    // ...while a destination that still has connections drains: simulate its stamp as a crashed
    // process would have left it (weight 0, thresholds = drain start), with ipvsadm.
    const since = Math.floor(Date.now() / 1000);
    await ns.exec(['ipvsadm', '-a', '-t', '10.96.0.10:80', '-r', '10.244.1.9:8080', '-m', '-w', '0', '-x', String(since), '-y', String(since)]);
    await lb2.close();
    const lb3 = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, drainTimeout: 2 });
    const st = await lb3.status();
    // IPVS cannot store names: a fresh handle names services after their identity.
    expect(st.services.map((s) => s.name)).toEqual(['tcp-10.96.0.10-80']);
    const drained = st.services[0]!.endpoints.find((e) => e.address === '10.244.1.9')!;
    expect(drained.drainingSince).toBe(since);
    expect(since).toBeGreaterThan(MIN_DRAIN_STAMP);
    // No connections: the next apply (or sweep) deletes it; a fresh one with connections would wait for the timeout.
    const r3 = await lb3.sweepDrains();
    expect(r3).toBe(1);
    expect((await ns.exec(['ipvsadm', '-Ln'])).stdout).not.toMatch(/10\.244\.1\.9/);
    await lb3.close();
  });

  it('killed in the middle of a big apply, the next apply converges (nothing missing, nothing left at weight 0)', async () => {
    await using ns = await createNetns('lbv');
    const n = 3000;
    const child = spawn(path.join(root, 'node_modules', '.bin', 'vite-node'), [path.join(__dirname, 'lb-crash-child.ts'), ns.name, String(n)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => child.once('exit', r));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Kill it (SIGKILL: no cleanup of any kind) as soon as the first service is in the kernel, polled
    // over netlink from here (a process per poll would be slower than the apply inside UML).
    const first = bigState(1).services[0]!;
    {
      await using probe = await Ipvs.open({ netns: ns.name });
      for (let i = 0; i < 20000 && !out.includes('done'); i++) {
        if (out.includes('start') && (await probe.getService({ protocol: 'tcp', address: first.vip, port: first.port }).then(() => true, () => false))) break;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    child.kill('SIGKILL');
    await exited;
    const partial = (await ns.exec(['ipvsadm', '-Ln'])).stdout.split('\n').filter((l) => /^TCP/.test(l)).length;
    process.stdout.write(`crash test: ${partial} of ${n} services were in the kernel when the applying process was killed\n`);
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    // The next state also re-weights everything: the converged kernel must hold exactly it.
    const want = bigState(n, 3);
    await lb.apply(want);
    const st = await lb.status();
    expect(st.state.services).toHaveLength(n);
    expect(st.services.flatMap((s) => s.endpoints).every((e) => e.weight === 3 && e.drainingSince === undefined)).toBe(true);
    expect(await lb.apply(want)).toMatchObject({ changed: false });
    expect(partial).toBeGreaterThan(0); // the kill really happened mid-apply
    expect(partial).toBeLessThan(n);
  });

  describe('traffic (client -> balancer -> 3 backends)', () => {
    let topo: Topology;
    let lb: LoadBalancer;
    beforeAll(async () => {
      topo = await createTopology({ backends: 3 });
      lb = await LoadBalancer.open({ mode: 'ipvs', netns: topo.balancer.name });
    });
    afterAll(async () => {
      await lb?.close();
      await topo?.destroy();
    });
    const state = (scheduler: string, weights: number[]): DesiredState => ({
      services: [{ name: 'web', vip: topo.vip4, port: 80, scheduler, endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: weights[i]! })) }],
    });
    it('rr is exact: 150 connections -> 50 each', async () => {
      await lb.apply(state('rr', [1, 1, 1]));
      const r = await sendRequests(topo.client, topo.vip4, 80, 150, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 50, 'backend-2': 50, 'backend-3': 50 });
    });
    it('kernlb drains a removed endpoint that holds a live connection: weight 0 and the drain stamp in its thresholds (ipvsadm -Ln --thresholds), kept while the drain timeout runs, deleted once it passed', async () => {
      await using dl = await LoadBalancer.open({ mode: 'ipvs', netns: topo.balancer.name, drainTimeout: 4 });
      await dl.apply(state('rr', [1, 1, 1]));
      // One connection held open from the client (connected, nothing sent).
      const holder = topo.client.spawn([process.execPath, '-e', `const s = require('net').connect(80, '${topo.vip4}', () => console.log('open')); s.on('error', () => {}); setInterval(() => {}, 1e6);`]);
      try {
        await new Promise<void>((resolve, reject) => {
          const t0 = setTimeout(() => reject(new Error('no connection')), 20_000);
          holder.stdout!.on('data', (d: Buffer) => d.toString().includes('open') && (clearTimeout(t0), resolve()));
        });
        const ln = (await topo.balancer.exec(['ipvsadm', '-Ln'])).stdout;
        const busy = topo.backends.find((b) => new RegExp(`-> ${b.ipv4.replace(/\./g, '\\.')}:${b.port} +Masq +1 +1 `).test(ln))!;
        expect(busy).toBeDefined();
        const keep = topo.backends.filter((b) => b !== busy);
        const without: DesiredState = { services: [{ name: 'web', vip: topo.vip4, port: 80, scheduler: 'rr', endpoints: keep.map((b) => ({ address: b.ipv4, port: b.port, weight: 1 })) }] };
        const before = Math.floor(Date.now() / 1000);
        const r = await dl.apply(without);
        expect(r.draining.map((d) => d.address)).toEqual([busy.ipv4]);
        const th = (await topo.balancer.exec(['ipvsadm', '-Ln', '--thresholds'])).stdout;
        const stamp = Number(new RegExp(`-> ${busy.ipv4.replace(/\./g, '\\.')}:${busy.port} +(\\d+) +(\\d+) +1 `).exec(th)?.slice(1).reduce((a, b) => (a === b ? a : 'x')));
        expect(stamp).toBeGreaterThanOrEqual(before);
        expect(stamp).toBeLessThanOrEqual(before + 2);
        expect((await topo.balancer.exec(['ipvsadm', '-Ln'])).stdout).toMatch(new RegExp(`-> ${busy.ipv4.replace(/\./g, '\\.')}:${busy.port} +Masq +0 +1 `));
        // A sweep (a full read) keeps it while its connection is open and the timeout runs...
        expect(await dl.sweepDrains()).toBe(0);
        let out = (await topo.balancer.exec(['ipvsadm', '-Ln'])).stdout;
        expect(out).toContain(`${busy.ipv4}:${busy.port}`);
        // ...and deletes it once the timeout passed, connection or not.
        await new Promise((res) => setTimeout(res, Math.max(0, (stamp + 5) * 1000 - Date.now())));
        expect(await dl.sweepDrains()).toBe(1);
        out = (await topo.balancer.exec(['ipvsadm', '-Ln'])).stdout;
        expect(out).not.toContain(`${busy.ipv4}:${busy.port}`);
      } finally {
        holder.kill('SIGKILL');
      }
      await dl.apply(state('rr', [1, 1, 1])); // (back to what this describe's lb applied last)
    });

    it('wrr 1:2:3 is exact per cycle; weight change applied in place', async () => {
      const r0 = await lb.apply(state('wrr', [1, 2, 3]));
      expect(r0.lines).toEqual(['~ service web tcp/10.96.0.10:80: scheduler changed, 10.201.2.2:8080 w1->w2, 10.201.3.2:8080 w1->w3']);
      const r = await sendRequests(topo.client, topo.vip4, 80, 120, { concurrency: 1 });
      expect(r.failures).toBe(0);
      expect(r.counts).toEqual({ 'backend-1': 20, 'backend-2': 40, 'backend-3': 60 });
    });
  });
});
