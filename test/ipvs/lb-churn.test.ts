/** No failed connection while endpoints churn 100 times, ipvs mode (a kernel with IPVS: UML here). */
import { describe, expect, it } from 'vitest';
import { ipvsSkipReason } from '../../lib/testing';
import { churn } from '../fixtures/lb-churn';

const skip = ipvsSkipReason();

describe.skipIf(skip)(`lb churn ipvs${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('ipvs: 100 endpoint changes under continuous load (removed endpoints drain), zero failed connections', async () => {
    const r = await churn('ipvs', 'wrr');
    process.stdout.write(
      `churn ipvs: ${r.sent} connections, ${r.failures} failed, ${r.changes} changes, apply mean ${r.applyMs.mean.toFixed(1)} ms max ${r.applyMs.max.toFixed(1)} ms; per backend ${JSON.stringify(r.counts)}\n`,
    );
    expect(r.errors).toEqual([]);
    expect(r.failures).toBe(0);
    expect(r.sent).toBeGreaterThan(100);
  }, 300_000);
});
