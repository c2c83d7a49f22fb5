import { describe, expect, it } from 'vitest';
import { ValidationErrors } from '../../lib/errors';
import { parseAddress } from '../../lib/lb/address';
import { validateState, ValidationCache } from '../../lib/lb/state';
import { demoState, problems, svc } from '../fixtures/lb-state';

describe('lb state: normalisation', () => {
  it('fills defaults, canonicalises addresses and sorts endpoints', () => {
    const s = validateState(demoState);
    expect(s.services[0]).toEqual({
      name: 'web', protocol: 'tcp', family: 'ipv4', vip: '10.96.0.10', port: 80, scheduler: 'rr',
      endpoints: [
        { address: '10.244.1.2', port: 8080, weight: 1 },
        { address: '10.244.1.3', port: 8080, weight: 1 },
        { address: '10.244.1.4', port: 8080, weight: 0 },
      ],
    });
    expect(s.services[1]!.vip).toBe('fd00::10');
    expect(s.services[1]!.family).toBe('ipv6');
    expect(s.services[1]!.endpoints.map((e) => e.address)).toEqual(['fd00::1:1', 'fd00::1:2']);
  });

  it('formats IPv6 per RFC 5952', () => {
    expect(parseAddress('2001:DB8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseAddress('2001:db8:0:0:0:0:2:1')?.text).toBe('2001:db8::2:1');
    // RFC 5952 section 5: IPv4-mapped addresses in mixed notation, as inet_ntop and the kernel tools print them.
    expect(parseAddress('::ffff:1.2.3.4')?.text).toBe('::ffff:1.2.3.4');
    expect(parseAddress('fe80::1%eth0')).toBeUndefined();
    expect(parseAddress('1.2.3.04')).toBeUndefined();
  });
});

describe('lb state: validation names the field and the service', () => {
  it('bad address, port and weight', () => {
    expect(problems({ services: [svc({ endpoints: [{ address: '10.1.0.300', port: 0, weight: 70000 }] })] })).toEqual([
      'services[0].endpoints[0].address: (service "web") "10.1.0.300" is not an IPv4 or IPv6 address',
      'services[0].endpoints[0].port: (service "web") must be an integer 1..65535',
      'services[0].endpoints[0].weight: (service "web") must be an integer 0..65535',
    ]);
    expect(problems({ services: [svc({ endpoints: [{ address: '10.1.0.1', port: 80, weight: -1 }] })] })[0]).toMatch(/weight: .*0\.\.65535/);
    expect(problems({ services: [svc({ endpoints: [{ address: '10.1.0.1', port: 80, weight: 1.5 }] })] })[0]).toMatch(/weight/);
  });

  it('duplicate VIP:port:protocol and duplicate names', () => {
    const p = problems({ services: [svc(), svc({ name: 'web2', vip: '10.0.0.01'.replace('01', '1') }), svc({ name: 'web', protocol: 'udp' })] });
    expect(p).toEqual([
      'services[1]: service "web2": duplicate VIP:port:protocol tcp/10.0.0.1:80 (also services[0] "web")',
      'services[2].name: duplicate service name "web" (also services[0])',
    ]);
    // The same VIP and port with another protocol is another service.
    expect(problems({ services: [svc(), svc({ name: 'dns', protocol: 'udp' })] })).toEqual([]);
    // IPv6 duplicates are found after canonicalisation.
    expect(problems({ services: [svc({ vip: 'fd00::1', endpoints: [] }), svc({ name: 'b', vip: 'FD00:0::1', endpoints: [] })] })[0]).toMatch(/duplicate VIP:port:protocol tcp\/\[fd00::1\]:80/);
  });

  it('duplicate endpoint, family mismatch, non-unicast', () => {
    expect(problems({ services: [svc({ endpoints: [{ address: '10.1.0.1', port: 1 }, { address: '10.1.0.1', port: 1 }] })] })).toEqual([
      'services[0].endpoints[1]: (service "web") duplicate endpoint 10.1.0.1:1 (also endpoints[0])',
    ]);
    expect(problems({ services: [svc({ endpoints: [{ address: 'fd00::1', port: 1 }] })] })[0]).toMatch(/endpoints\[0\]\.address: .*ipv6 but the service's vip is ipv4/);
    expect(problems({ services: [svc({ vip: '224.0.0.1' })] })[0]).toMatch(/services\[0\]\.vip: .*multicast/);
    expect(problems({ services: [svc({ vip: '0.0.0.0' })] })[0]).toMatch(/unspecified/);
  });

  it('scheduler and persistence the mode cannot do', () => {
    expect(problems({ services: [svc({ scheduler: 'sh' })] }, 'iptables')[0]).toMatch(/services\[0\]\.scheduler: .*no hash match/);
    expect(problems({ services: [svc({ scheduler: 'wrr' })] }, 'iptables')).toEqual([]); // (an nth cascade: test/unit/lb-iptables-wrr.test.ts)
    expect(problems({ services: [svc({ scheduler: 'random' })] }, 'ipvs')[0]).toMatch(/IPVS has no weighted-random/);
    expect(problems({ services: [svc({ scheduler: 'lc' })] }, 'nftables')[0]).toMatch(/nftables mode cannot do scheduler "lc"/);
    expect(problems({ services: [svc({ scheduler: 'bogus' })] })[0]).toMatch(/unknown scheduler/);
    expect(problems({ services: [svc({ persistence: { timeout: 60 } })] }, 'nftables')).toEqual([]);
    expect(problems({ services: [svc({ persistence: { timeout: 0 } })] }, 'nftables')[0]).toMatch(/persistence\.timeout: .*must be an integer number of seconds 1\.\.31536000/);
    expect(problems({ services: [svc({ persistence: { timeout: 31_536_001 } })] }, 'nftables')[0]).toMatch(/persistence\.timeout/);
    expect(problems({ services: [svc({ persistence: { timeout: 60 }, scheduler: 'wlc' })] }, 'ipvs')).toEqual([]);
    expect(problems({ services: [svc({ persistence: { timeout: 60 }, scheduler: 'random' })] }, 'iptables')).toEqual([]);
    expect(problems({ services: [svc({ protocol: 'sctp' })] }, 'iptables')[0]).toMatch(/services\[0\]\.protocol: .*sctp/);
    expect(problems({ services: [svc({ persistence: { timeout: 0 } })] }, 'ipvs')[0]).toMatch(/persistence\.timeout/);
    for (const s of ['rr', 'wrr', 'random', 'sh']) expect(problems({ services: [svc({ scheduler: s })] }, 'nftables')).toEqual([]);
  });

  it('shape errors and unknown fields', () => {
    expect(problems(null)).toEqual(['state: must be an object { services: [...] }']);
    expect(problems({ services: {} })).toEqual(['services: must be an array']);
    expect(problems({ services: [svc({ colour: 'red' })] })).toEqual(['services[0].colour: (service "web") unknown field "colour" (allowed: name, protocol, vip, family, port, scheduler, persistence, endpoints, healthCheck)']);
    expect(problems({ services: [svc({ name: 'has space' })] })[0]).toMatch(/services\[0\]\.name/);
    expect(problems({ services: [svc({ protocol: 'icmp' })] })[0]).toMatch(/protocol: .*tcp, udp, sctp/);
    expect(problems({ services: [svc({ endpoints: 'x' })] })[0]).toMatch(/endpoints: .*array/);
  });

  it('collects every problem: a ValidationErrors with the count', () => {
    try {
      validateState({ services: [svc({ port: 0 }), svc({ name: 'b', vip: 'x' })] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationErrors);
      expect((e as ValidationErrors).errors).toHaveLength(2);
      expect((e as Error).message).toMatch(/and 1 more/);
    }
  });
});

describe('ValidationCache', () => {
  const copy = () => JSON.parse(JSON.stringify(demoState)) as typeof demoState;

  it('an unchanged service (even a fresh copy of the input) comes back as the same object; a changed one is validated again', () => {
    const cache = new ValidationCache('nftables');
    const a = validateState(copy(), 'nftables', cache);
    const b = validateState(copy(), 'nftables', cache);
    expect(b.services[0]).toBe(a.services[0]);
    expect(b.services[1]).toBe(a.services[1]);
    expect(b).toEqual(validateState(copy(), 'nftables'));
    const input = copy();
    input.services[0]!.endpoints[0]!.weight = 5;
    const c = validateState(input, 'nftables', cache);
    expect(c.services[0]).not.toBe(a.services[0]);
    expect(c.services[0]!.endpoints.find((e) => e.address === '10.244.1.3')!.weight).toBe(5);
    expect(c.services[1]).toBe(a.services[1]);
  });

  it('the caller mutating its input after validation does not leak into the cache', () => {
    const cache = new ValidationCache('nftables');
    const input = copy();
    validateState(input, 'nftables', cache);
    input.services[0]!.port = 81;
    expect(validateState(input, 'nftables', cache).services.find((s) => s.name === 'web')!.port).toBe(81);
  });

  it('invalid input that differs from a cached one only in ways JSON would hide is still refused', () => {
    const cache = new ValidationCache('nftables');
    validateState(copy(), 'nftables', cache);
    const extra = copy() as unknown as { services: Record<string, unknown>[] };
    extra.services[0]!.extra = undefined;
    expect(() => validateState(extra, 'nftables', cache)).toThrow(/services\[0\]\.extra/);
    const nan = copy() as unknown as { services: { endpoints: { weight?: number }[] }[] };
    nan.services[0]!.endpoints[0]!.weight = NaN;
    expect(() => validateState(nan, 'nftables', cache)).toThrow(/weight/);
    // A duplicate of a cached service is still caught by the cross-service checks.
    const dup = copy();
    dup.services.push(dup.services[0]!);
    expect(() => validateState(dup, 'nftables', cache)).toThrow(/duplicate/);
  });

  it('is tied to one mode', () => {
    expect(() => validateState(copy(), 'iptables', new ValidationCache('nftables'))).toThrow(/mode/);
  });
});
