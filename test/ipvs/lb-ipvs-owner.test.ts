/**
 * ipvs mode owns only the services it created (they carry kernlb's tag): another client's services,
 * address-based or fwmark, stay untouched byte for byte (ipvsadm -Sn) through apply, status, a
 * later apply from a new process and clear from yet another; a service the state names that exists
 * untagged is taken over. Cross-checked with ipvsadm.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);
const root = path.resolve(__dirname, '..', '..');

const state: DesiredState = {
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'rr', endpoints: [{ address: '10.244.1.2', port: 8080 }, { address: '10.244.1.3', port: 8080 }] },
    { name: 'dns', protocol: 'udp', vip: '10.96.0.53', port: 53, scheduler: 'rr', endpoints: [{ address: '10.244.1.4', port: 5353 }] },
  ],
};

/** The CLI in a process of its own. */
function kernlb(args: string[], input = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'node_modules', '.bin', 'vite-node'), ['--config', path.join(__dirname, 'vite-node.config.mjs'), path.join(__dirname, 'lb-cli-child.ts'), '--', ...args], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(input);
  });
}

async function foreign(ns: TestNetns): Promise<void> {
  for (const a of [
    ['-A', '-t', '10.96.0.99:80', '-s', 'wlc'],
    ['-a', '-t', '10.96.0.99:80', '-r', '10.244.9.9:80', '-m', '-w', '2'],
    ['-A', '-u', '10.96.0.53:5353', '-s', 'sh'],
    ['-A', '-f', '7', '-s', 'wlc'],
    ['-a', '-f', '7', '-r', '10.244.2.7', '-m', '-w', '3'],
  ]) await ns.exec(['ipvsadm', ...a]);
}

/** ipvsadm -Sn lines of the foreign services only (kernlb's VIPs are 10.96.0.10:80 and 10.96.0.53:53). */
async function saved(ns: TestNetns): Promise<{ all: string; foreign: string }> {
  const all = (await ns.exec(['ipvsadm', '-Sn'])).stdout;
  return { all, foreign: all.split('\n').filter((l) => l && !/ 10\.96\.0\.(10:80|53:53) /.test(l)).join('\n') };
}

describe.skipIf(skip)(t('ipvs mode: ownership'), () => {
  it("apply, status, a later apply and clear (each in its own process) touch only kernlb's services", async () => {
    await using ns = await createNetns('lbown');
    await foreign(ns);
    const before = (await saved(ns)).foreign;
    expect(before.split('\n')).toHaveLength(5);

    let r = await kernlb(['apply', '--mode', 'ipvs', '--netns', ns.name, '-'], JSON.stringify(state));
    expect(r).toMatchObject({ code: 0, err: "" });
    let s = await saved(ns);
    expect(s.foreign).toBe(before);
    // what ipvsadm shows of kernlb's services is exactly what it applied (the tag is not shown)
    expect(s.all).toContain('-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n-a -t 10.96.0.10:80 -r 10.244.1.3:8080 -m -w 1\n');
    expect(s.all).toContain('-A -u 10.96.0.53:53 -s rr\n-a -u 10.96.0.53:53 -r 10.244.1.4:5353 -m -w 1\n');

    {
      await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, removeOtherModes: false });
      expect((await lb.status()).services.map((x) => `${x.name} ${x.vip}:${x.port}`).sort()).toEqual(['tcp-10.96.0.10-80 10.96.0.10:80', 'udp-10.96.0.53-53 10.96.0.53:53']);
      expect((await lb.diff(state)).empty).toBe(true);
      // a new LoadBalancer's first apply reads everything: the foreign services must survive it
      await lb.apply({ services: [state.services[0]!] });
      s = await saved(ns);
      expect(s.foreign).toBe(before);
      expect(s.all).not.toContain(' 10.96.0.53:53 ');
    }

    r = await kernlb(['status', '--mode', 'ipvs', '--netns', ns.name, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { services: { vip: string }[] }[])[0]!.services.map((x) => x.vip)).toEqual(['10.96.0.10']);

    r = await kernlb(['clear', '--mode', 'ipvs', '--netns', ns.name]);
    expect(r).toMatchObject({ code: 0, out: 'ipvs: cleared\n' });
    s = await saved(ns);
    expect(s.all.split('\n').filter(Boolean).join('\n')).toBe(before);
  }, 300_000); // (three CLI processes, each compiling the sources, in UML)

  it('takes over an untagged service the state names, and clear then removes it', async () => {
    await using ns = await createNetns('lbadopt');
    await foreign(ns);
    // the same identity and scheduler as kernlb's "web" (only the tag differs), a destination of its own
    await ns.exec(['ipvsadm', '-A', '-t', '10.96.0.10:80', '-s', 'rr']);
    await ns.exec(['ipvsadm', '-a', '-t', '10.96.0.10:80', '-r', '10.244.7.7:80', '-m']);
    const before = (await saved(ns)).foreign;
    {
      await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name, removeOtherModes: false });
      await lb.apply(state);
      const s = await saved(ns);
      expect(s.foreign).toBe(before);
      // (the old destination has no connections: deleted at once)
      expect(s.all).toContain('-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n-a -t 10.96.0.10:80 -r 10.244.1.3:8080 -m -w 1\n');
      expect((await lb.status()).services.map((x) => x.name).sort()).toEqual(['dns', 'web']);
      await lb.clear();
    }
    expect((await saved(ns)).all.split('\n').filter(Boolean).join('\n')).toBe(before);
  });
});
