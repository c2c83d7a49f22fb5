/**
 * What a long-running LbDaemon keeps of its state (issue #21, kernlb run's RSS): the LoadBalancer's
 * validated Services, not the file's parsed tree, and the first apply's summary only until taken.
 */
import { describe, expect, it } from 'vitest';
import { LbDaemon } from '../../lib/daemon';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`LbDaemon's retained state (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('holds the validated Services (frozen, taken by identity), not the input; takeStarted() hands the summary over once', async () => {
    await using a = await createNetns('lbsh');
    const input = structuredClone(demoState);
    const d = await LbDaemon.start(input, { mode: 'nftables', netns: a.name, resyncIntervalS: 0, processMetrics: false });
    try {
      expect(d.state).not.toBe(input);
      for (const [i, s] of d.state.services.entries()) {
        expect(s).not.toBe(input.services[i]);
        expect(Object.isFrozen(s)).toBe(true);
      }
      // the same objects the LoadBalancer validates them to: applied again, nothing changes and nothing is compared anew
      expect(d.lb.validate(d.state).services).toEqual(d.state.services);
      expect(d.lb.validate({ services: d.state.services }).services.every((s, i) => s === d.state.services[i])).toBe(true);
      // the input is the caller's: editing it after start changes nothing the daemon holds or applies
      input.services[0]!.endpoints.push({ address: '10.244.9.9', port: 8080 });
      expect(JSON.stringify(d.state)).not.toMatch(/10\.244\.9\.9/);
      expect((await d.resync()).changed).toBe(false);
      const s = d.takeStarted();
      expect(s?.changed).toBe(true);
      expect(s?.lines.length).toBeGreaterThan(0);
      expect(d.started).toBeUndefined();
      expect(d.takeStarted()).toBeUndefined();
      // a reload holds the new state validated too
      const next = structuredClone(demoState);
      next.services[0]!.endpoints.push({ address: '10.244.9.9', port: 8080 });
      expect((await d.reload(next)).changed).toBe(true);
      expect(d.state.services.every((x) => Object.isFrozen(x))).toBe(true);
      expect(JSON.stringify(d.state)).toMatch(/10\.244\.9\.9/);
      expect(d.state.services[0]).not.toBe(next.services[0]);
    } finally {
      await d.close();
    }
  });
});
