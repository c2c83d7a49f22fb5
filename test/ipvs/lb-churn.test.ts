/** No failed connection while endpoints churn 100 times, ipvs mode (a kernel with IPVS: UML here), through apply(state) and through update(). */
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

  it('ipvs: the same through update() beside 300 services, zero failed connections', async () => {
    const r = await churn('ipvs', 'wrr', 100, 7, { verified: 10, via: 'update', fillers: 300 });
    process.stdout.write(`churn ipvs update(): ${r.sent} connections, ${r.failures} failed, apply mean ${r.applyMs.mean.toFixed(1)} ms max ${r.applyMs.max.toFixed(1)} ms\n`);
    expect(r.errors).toEqual([]);
    expect(r.failures).toBe(0);
    expect(r.latency.changing.sent).toBeGreaterThan(20);
    expect(Object.keys(r.counts).length).toBeGreaterThan(1);
  }, 300_000);
});
