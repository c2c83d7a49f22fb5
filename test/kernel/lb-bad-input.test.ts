/**
 * Generated bad input applied for real, in fresh namespaces on the host kernel (nftables and
 * iptables modes): a valid state is applied, then seeded mutations of it. Each apply resolves or
 * rejects with a ValidationError; a rejected one left the kernel exactly as it was (nothing
 * half-applied) and status() still reads it; an accepted one is what status() reads back. The
 * process never crashes.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState, State } from '../../lib/lb/state';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { caseLine, mutate, outcome, rng } from '../bad-input';

const skip = kernelTestsSkipReason();
const CASES = 100;

const states = {
  nftables: {
    services: [
      { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', persistence: { timeout: 300 }, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }, { address: '10.244.1.4', port: 8080, weight: 0 }] },
      { name: 'dns', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', endpoints: [{ address: 'fd00::1:1', port: 5353, weight: 3 }, { address: 'fd00::1:2', port: 5353 }] },
      { name: 'diameter', protocol: 'sctp', vip: '10.96.0.11', port: 3868, scheduler: 'random', endpoints: [{ address: '10.244.2.1', port: 3868 }] },
    ],
  },
  iptables: {
    services: [
      { name: 'web', protocol: 'tcp', vip: '10.96.0.10', port: 80, scheduler: 'random', persistence: { timeout: 10800 }, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }] },
      { name: 'dns', protocol: 'udp', vip: '2001:db8::53', port: 53, scheduler: 'rr', endpoints: [{ address: '2001:db8::1:1', port: 53 }, { address: '2001:db8::1:2', port: 53, weight: 0 }] },
      { name: 'api', vip: '10.96.0.13', port: 443, endpoints: [{ address: '10.244.3.1', port: 8443 }] },
    ],
  },
} satisfies Record<string, DesiredState>;

/** The mode's kernel objects as the kernel's own tools print them (counters zeroed, no timestamps). */
async function kernelText(ns: TestNetns, mode: 'nftables' | 'iptables'): Promise<string> {
  if (mode === 'nftables') return (await ns.exec(['nft', 'list', 'ruleset'])).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter packets 0 bytes 0');
  const out: string[] = [];
  for (const tool of ['iptables-legacy-save', 'ip6tables-legacy-save'])
    out.push((await ns.exec([tool, '-t', 'nat'])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[0:0]'));
  return out.join('\n');
}

const byName = (s: State) => [...s.services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

describe.skipIf(skip)(`lb: generated bad input applied for real${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it.each(['nftables', 'iptables'] as const)('%s: each mutated state is applied or a ValidationError that changed nothing', async (mode) => {
    await using ns = await createNetns('lbbad');
    await using lb = await LoadBalancer.open({ mode, netns: ns.name });
    const valid = states[mode];
    await lb.apply(valid);
    const wrong: string[] = [];
    let validation = 0, ok = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const { input, mutation } = mutate(valid, rng(seed));
      // (taken each time: after an accepted case the valid state is back, its objects maybe in another order)
      const before = await kernelText(ns, mode);
      const o = await outcome(() => lb.apply(input));
      if (o.kind === 'validation') {
        validation++;
        if ((await kernelText(ns, mode)) !== before) wrong.push(caseLine(seed, mutation, new Error('refused, but the kernel changed')));
        let read: State | undefined;
        const st = await outcome(async () => (read = (await lb.status()).state));
        if (st.kind !== 'ok') wrong.push(caseLine(seed, mutation, st.error));
        else if (!isDeepStrictEqual(byName(read!), byName(lb.validate(valid))))
          wrong.push(caseLine(seed, mutation, new Error('refused, but status() reads another state')));
      } else if (o.kind === 'ok') {
        ok++;
        // what was accepted is what the kernel holds now; then back to the valid state
        if (!isDeepStrictEqual(byName((await lb.status()).state), byName(lb.validate(input))))
          wrong.push(caseLine(seed, mutation, new Error('accepted, but status() reads another state')));
        await lb.apply(valid);
        if (!isDeepStrictEqual(byName((await lb.status()).state), byName(lb.validate(valid))))
          wrong.push(caseLine(seed, mutation, new Error('the valid state did not come back')));
      } else wrong.push(caseLine(seed, mutation, o.error));
    }
    expect(wrong).toEqual([]);
    expect(validation).toBeGreaterThan(CASES / 3);
    expect(ok).toBeGreaterThan(0);
    // bad apply options are refused the same way, before anything is read or sent
    const changed = { services: valid.services.slice(1) };
    const before = await kernelText(ns, mode);
    for (const opts of [null, 'dry', { dryRun: 'false' }, { dryRun: 1 }]) {
      const o = await outcome(() => lb.apply(changed, opts as never));
      expect(o.kind, String(opts)).toBe('validation');
    }
    expect(await kernelText(ns, mode)).toBe(before);
    expect(byName((await lb.status()).state)).toEqual(byName(lb.validate(valid)));
  });
});
