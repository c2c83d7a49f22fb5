/**
 * Endpoint churn through update() (issue #17's entry point for a controller that knows what changed),
 * nftables and iptables modes (host kernel), beside 300 other services: every change verified in the
 * kernel and by traffic, then 100 back to back under continuous load, zero failed connections
 * (fixture: test/fixtures/lb-churn.ts). The 10k-service figure is bench/lb-traffic.mjs's.
 */
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';
import { churn, describeChurn } from '../fixtures/lb-churn';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb churn through update() (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const [mode, scheduler] of [['nftables', 'wrr'], ['iptables', 'random']] as const) {
    it(`${mode}: 10 verified updates, then 100 back to back under continuous load beside 300 services, zero failed connections`, async () => {
      const r = await churn(mode, scheduler, 100, 7, { verified: 10, via: 'update', fillers: 300 });
      process.stdout.write(describeChurn(mode, r));
      expect(r.errors).toEqual([]);
      expect(r.failures).toBe(0);
      expect(r.latency.changing.sent).toBeGreaterThan(20);
      expect(r.latency.steadyChanging.sent).toBeGreaterThan(10);
      expect(Object.keys(r.counts).length).toBeGreaterThan(1);
    }, 300_000);
  }
});
