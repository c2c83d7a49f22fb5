/** No failed connection while endpoints churn 100 times, nftables and iptables modes (host kernel). */
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';
import { churn } from '../fixtures/lb-churn';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb churn (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const [mode, scheduler] of [['nftables', 'wrr'], ['iptables', 'random']] as const) {
    it(`${mode}: 100 endpoint changes under continuous load, zero failed connections`, async () => {
      const r = await churn(mode, scheduler);
      process.stdout.write(
        `churn ${mode}: ${r.sent} connections, ${r.failures} failed, ${r.changes} changes, apply mean ${r.applyMs.mean.toFixed(1)} ms max ${r.applyMs.max.toFixed(1)} ms; per backend ${JSON.stringify(r.counts)}\n`,
      );
      expect(r.errors).toEqual([]);
      expect(r.failures).toBe(0);
      expect(r.sent).toBeGreaterThan(100);
    }, 120_000);
  }
});
