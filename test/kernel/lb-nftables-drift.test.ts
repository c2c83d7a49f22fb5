/**
 * Issue #23 point 5, nftables mode: whatever a foreign writer adds to or changes in `table inet
 * kernlb` (a second `nft -f` of the same script duplicating every rule, an element, a chain, a rule),
 * status() shows, diff() reports and apply() of the unchanged state repairs, leaving exactly what
 * `nft -f` of the golden script makes in a fresh namespace.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import { nftMapName } from '../../lib/lb/modes/nftables/compile';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const golden = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.nft'), 'utf8');
const listing = async (ns: TestNetns) => (await ns.exec(['nft', 'list', 'ruleset'])).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');

const webMap = nftMapName({ name: 'web', protocol: 'tcp', family: 'ipv4' });
const foreign: [string, string[] | string][] = [
  ['a second nft -f of the same script (every rule twice)', golden],
  ['a duplicated service rule', ['add', 'rule', 'inet', 'kernlb', 'svc-web', 'meta', 'l4proto', 'tcp', 'dnat', 'ip', 'to', '10.9.9.9:80']],
  ['a foreign slot element', ['add', 'element', 'inet', 'kernlb', webMap, '{ 7 . 10.96.0.10 . 80 : 10.9.9.9 . 80 }']],
  ['a slot of no service', ['add', 'element', 'inet', 'kernlb', webMap, '{ 0 . 10.96.0.99 . 80 : 10.9.9.9 . 80 }']],
  ['a slot element changed', ['delete', 'element', 'inet', 'kernlb', webMap, '{ 1 . 10.96.0.10 . 80 }']],
  ['a foreign shard map', ['add', 'map', 'inet', 'kernlb', 'ep-tcp4-9999', '{ typeof numgen inc mod 1024 . ip daddr . tcp dport : ip daddr . tcp dport; }']],
  ['a foreign chain', ['add', 'chain', 'inet', 'kernlb', 'sneaky']],
  ['a foreign dispatch element', ['add', 'element', 'inet', 'kernlb', 'svc4', '{ 10.9.9.9 . tcp . 80 : goto svc-web }']],
  ['a rule in a base chain', ['add', 'rule', 'inet', 'kernlb', 'prerouting', 'counter']],
];

describe.skipIf(skip)(`lb nftables drift (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const [what, change] of foreign) {
    it(`${what}: status shows it, diff reports it, apply repairs it`, async () => {
      await using a = await createNetns('lbd');
      await using ref = await createNetns('lbd');
      await ref.exec(['nft', '-f', '-'], { input: golden });
      await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      await lb.apply(demoState);
      expect(await listing(a)).toBe(await listing(ref));
      if (typeof change === 'string') await a.exec(['nft', '-f', '-'], { input: change });
      else await a.exec(['nft', ...change]);
      expect(await listing(a)).not.toBe(await listing(ref));
      // a fresh handle (nothing cached) and this one see the same
      await using other = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      const st = await other.status();
      expect(st.drift?.length).toBeGreaterThan(0);
      const d = await lb.diff(demoState);
      expect(d.empty).toBe(false);
      expect(d.lines.length).toBeGreaterThan(0);
      const r = await lb.apply(demoState);
      expect(r.changed).toBe(true);
      expect(r.lines.some((l) => l.endsWith('(repaired)'))).toBe(true);
      expect(await listing(a)).toBe(await listing(ref));
      expect((await lb.diff(demoState)).empty).toBe(true);
      expect((await lb.apply(demoState)).changed).toBe(false);
    });
  }
});
