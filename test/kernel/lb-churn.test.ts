/**
 * Endpoint churn, nftables and iptables modes (host kernel): every change verified in the kernel by
 * an independent reader and by traffic, then changes back to back under continuous load with zero
 * failed connections (fixture: test/fixtures/lb-churn.ts).
 */
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';
import { churn, describeChurn } from '../fixtures/lb-churn';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb churn (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const [mode, scheduler] of [['nftables', 'wrr'], ['iptables', 'random']] as const) {
    it(`${mode}: 30 verified changes, then 100 back to back under continuous load, zero failed connections`, async () => {
      const r = await churn(mode, scheduler, 100, 42, { verified: 30 });
      process.stdout.write(describeChurn(mode, r));
      expect(r.errors).toEqual([]);
      expect(r.failures).toBe(0);
      expect(r.latency.changing.sent).toBeGreaterThan(20);
      expect(r.latency.steadyChanging.sent).toBeGreaterThan(10);
      // the probes reached the endpoints of the time, and more than one of them
      expect(Object.keys(r.counts).length).toBeGreaterThan(1);
    }, 300_000);
  }
});
