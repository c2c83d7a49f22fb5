/** nftables mode's persistence layout (rules.ts) and its one validation rule, without a kernel. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors';
import { compileService, nftDuration, persistenceConflict, renderServiceRule } from '../../lib/lb/modes/nftables/compile';
import { keepElements } from '../../lib/lb/modes/nftables/rules';
import type { Service } from '../../lib/lb/state';

const svc = (o: Partial<Service> = {}): Service => ({
  name: 'web',
  protocol: 'tcp',
  family: 'ipv4',
  vip: '10.96.0.10',
  port: 80,
  scheduler: 'wrr',
  endpoints: [
    { address: '10.1.0.1', port: 8080, weight: 2 },
    { address: '10.1.0.2', port: 8080, weight: 0 },
  ],
  ...o,
});

describe('lb nftables persistence (compile)', () => {
  it('a persistent service: the hit rule before the pick, one keep element per endpoint (weight 0 too)', () => {
    const c = compileService(svc({ persistence: { timeout: 90 } }));
    expect(c.persistence).toEqual({ timeout: 90, map: 'aff-web', chain: 'keep-web' });
    expect(renderServiceRule(c)).toBe(
      `meta l4proto tcp dnat ip to ip saddr map @aff-web comment "service web wrr persistent 90"\n\t\tmeta l4proto tcp dnat ip to numgen inc mod 1 . ip daddr . tcp dport map @${c.map}`,
    );
    expect(keepElements(c).map((e) => e.key)).toEqual([
      ['10.96.0.10', 'tcp', '10.1.0.1', 8080],
      ['10.96.0.10', 'tcp', '10.1.0.2', 8080],
    ]);
    expect(keepElements(compileService(svc()))).toEqual([]);
  });

  it('timeouts print as nft prints them', () => {
    expect([1, 60, 90, 300, 3600, 5400, 86400, 31_536_000].map(nftDuration)).toEqual(['1s', '1m', '1m30s', '5m', '1h', '1h30m', '1d', '365d']);
  });

  it('a persistent service may not share VIP, protocol and an endpoint with another service', () => {
    const a = svc({ persistence: { timeout: 60 } });
    const b = svc({ name: 'web2', port: 81, persistence: undefined });
    const e = persistenceConflict([a, b]);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e!.field).toBe('services');
    expect(e!.message).toMatch(/"web" and "web2" share VIP 10\.96\.0\.10 \(tcp\) and endpoint 10\.1\.0\.1:8080, and "web" is persistent/);
    // another endpoint port, another protocol, another VIP, or neither persistent: fine
    expect(persistenceConflict([a, { ...b, endpoints: b.endpoints.map((x) => ({ ...x, port: 9090 })) }])).toBeUndefined();
    expect(persistenceConflict([a, { ...b, protocol: 'udp' }])).toBeUndefined();
    expect(persistenceConflict([a, { ...b, vip: '10.96.0.11' }])).toBeUndefined();
    expect(persistenceConflict([svc(), b])).toBeUndefined();
  });
});
