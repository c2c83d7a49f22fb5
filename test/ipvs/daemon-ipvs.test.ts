/** kernlb run in IPVS mode (UML guest): a stopped backend is drained at weight 0 and restored, under continuous load. */
import { describe, expect, it } from 'vitest';
import { ipvsSkipReason } from '../../lib/testing';
import { failover, noDist } from '../fixtures/daemon-run';

const skip = ipvsSkipReason() ?? noDist;

describe.skipIf(skip)(`kernlb run health checks (ipvs)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('ipvs: after the fall window zero failed requests and none to the stopped backend (weight 0 in ipvsadm -Ln); restored, it gets traffic', async () => {
    const r = await failover('ipvs', 'rr', async (topo) => (await topo.balancer.exec(['ipvsadm', '-Ln'])).stdout);
    process.stdout.write(`ipvs drained: ${JSON.stringify(r.drained)}\nrestored: ${JSON.stringify(r.restored)}\n`);
    expect(r.downLine).toMatch(/3 failed checks in a row \(last: ECONNREFUSED\)/);
    expect(r.upLine).toMatch(/2 good checks in a row \(HTTP 200\)/);
    // drained, not deleted: the destination stays with weight 0
    expect(r.kernelWhileDown).toMatch(/-> 10\.201\.2\.2:8080 +Masq +0 /);
    expect(r.kernelWhileDown).toMatch(/-> 10\.201\.1\.2:8080 +Masq +1 /);
    expect(r.drained.failures).toBe(0);
    expect(r.drained.counts['backend-2']).toBeUndefined();
    expect(r.drained.sent).toBeGreaterThan(5);
    expect(r.restored.failures).toBe(0);
    expect(r.restored.counts['backend-2']).toBeGreaterThan(0);
  }, 180_000);
});
