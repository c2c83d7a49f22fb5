/**
 * kernlb/testing's kube-proxy layouts (the benchmark's reference rows) in a real kernel: the
 * reference tools load them, and the service the options point at real backends balances traffic.
 */
import { describe, expect, it } from 'vitest';
import { createTopology, kernelTestsSkipReason, kubeProxyIptablesText, kubeProxyNftablesText, sendRequests } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`kube-proxy layouts (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  for (const kind of ['nftables', 'iptables'] as const) {
    it(`${kind}: the last of 20 services x 3 endpoints DNATs to the real backends, round the three`, async () => {
      await using topo = await createTopology({ backends: 3 });
      const n = 20;
      const opts = {
        port: 80,
        vip: (s: number) => (s === n - 1 ? topo.vip4 : `10.100.0.${s + 1}`),
        endpoint: (s: number, i: number) => (s === n - 1 ? { address: topo.backends[i]!.ipv4, port: topo.backends[i]!.port } : { address: `10.150.${s}.${i + 1}`, port: 8080 }),
      };
      if (kind === 'nftables') {
        await topo.balancer.exec(['nft', '-f', '-'], { input: kubeProxyNftablesText(n, 3, opts) });
        const listed = (await topo.balancer.exec(['nft', 'list', 'table', 'ip', 'kube-proxy'])).stdout;
        expect(listed).toContain('ip daddr . meta l4proto . th dport vmap @service-ips');
        expect(listed.match(/^\s*chain service-/gm)).toHaveLength(n);
        expect(listed.match(/^\s*chain endpoint-/gm)).toHaveLength(n * 3);
        expect(listed).toContain(`${topo.vip4} . tcp . 80 : goto service-00000019-ns5/svc-19/tcp/http`);
        expect(listed).toMatch(/numgen random mod 3 vmap \{ 0 : goto endpoint-00000057-/);
      } else {
        await topo.balancer.exec(['iptables-legacy-restore', '-w'], { input: kubeProxyIptablesText(n, 3, opts) });
        const saved = (await topo.balancer.exec(['iptables-legacy-save', '-t', 'nat'])).stdout;
        const portals = saved.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES'));
        expect(portals).toHaveLength(n);
        expect(portals.at(-1)).toContain(`-d ${topo.vip4}/32`); // matched last
        expect(saved).toContain(`--to-destination ${topo.backends[2]!.ipv4}:${topo.backends[2]!.port}`);
      }
      const r = await sendRequests(topo.client, topo.vip4, 80, 60);
      expect(r.failures).toBe(0);
      // random choice: each of the three backends answers (P(one gets none of 60) ~ 3e-10)
      expect(Object.keys(r.counts).sort()).toEqual(['backend-1', 'backend-2', 'backend-3']);
    });
  }
});
