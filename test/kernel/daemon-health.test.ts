/** kernlb run drains a failed backend and restores it, under continuous load (nftables, iptables; host kernel). */
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';
import { failover, noDist } from '../fixtures/daemon-run';

const skip = kernelTestsSkipReason() ?? noDist;

describe.skipIf(skip)(`kernlb run health checks (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('nftables: after the fall window zero failed requests and none to the stopped backend; restored, it gets traffic', async () => {
    const r = await failover('nftables', 'rr', async (topo) => (await topo.balancer.exec(['nft', 'list', 'table', 'inet', 'kernlb'])).stdout);
    process.stdout.write(`nftables drained: ${JSON.stringify(r.drained)}\nrestored: ${JSON.stringify(r.restored)}\n`);
    expect(r.downLine).toMatch(/3 failed checks in a row \(last: ECONNREFUSED\)/);
    expect(r.upLine).toMatch(/2 good checks in a row \(HTTP 200\)/);
    // the reference tool sees the endpoint kept at weight 0 outside the slots (drained, not deleted)
    expect(r.kernelWhileDown).toMatch(/numgen inc mod 2 \. ip daddr \. tcp dport map @ep-tcp4-\d+/);
    expect(r.kernelWhileDown).toMatch(/comment "w0" : 10\.201\.2\.2 \. 8080/);
    expect(r.drained.failures).toBe(0);
    expect(r.drained.counts['backend-2']).toBeUndefined();
    expect(r.drained.counts['backend-1']).toBeGreaterThan(5);
    expect(r.drained.counts['backend-3']).toBeGreaterThan(5);
    expect(r.restored.failures).toBe(0);
    expect(r.restored.counts['backend-2']).toBeGreaterThan(5);
  }, 90_000);

  it('iptables: the same, and iptables-legacy-save shows no DNAT to the stopped backend while it is down', async () => {
    const r = await failover('iptables', 'rr', async (topo) => (await topo.balancer.exec(['iptables-legacy-save', '-t', 'nat'])).stdout);
    process.stdout.write(`iptables drained: ${JSON.stringify(r.drained)}\nrestored: ${JSON.stringify(r.restored)}\n`);
    expect(r.downLine).toMatch(/3 failed checks in a row/);
    expect(r.kernelWhileDown).toMatch(/--to-destination 10\.201\.1\.2:8080/);
    expect(r.kernelWhileDown).not.toMatch(/--to-destination 10\.201\.2\.2:8080/);
    expect(r.drained.failures).toBe(0);
    expect(r.drained.counts['backend-2']).toBeUndefined();
    expect(r.restored.failures).toBe(0);
    expect(r.restored.counts['backend-2']).toBeGreaterThan(5);
  }, 90_000);
});
