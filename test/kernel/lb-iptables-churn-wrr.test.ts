/** No failed connection while endpoints churn, iptables mode with wrr (the nth cascade over slots: more rules a service than rr/random). */
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';
import { churn } from '../fixtures/lb-churn';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`lb churn iptables wrr (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('iptables wrr: verified changes, then 100 back to back under continuous load, zero failed connections', async () => {
    const r = await churn('iptables', 'wrr');
    process.stdout.write(`churn iptables wrr: ${r.sent} connections, ${r.failures} failed, ${r.changes} changes, apply mean ${r.applyMs.mean.toFixed(1)} ms max ${r.applyMs.max.toFixed(1)} ms\n`);
    expect(r.errors).toEqual([]);
    expect(r.failures).toBe(0);
    expect(r.sent).toBeGreaterThan(100);
  }, 120_000);
});
