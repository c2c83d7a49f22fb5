/** What users write into a state: status' own output taken back (family), unknown keys named with a suggestion. */
import { describe, expect, it } from 'vitest';
import { ValidationError, ValidationErrors } from '../../lib/errors';
import { validateState } from '../../lib/lb/state';
import { demoState } from '../fixtures/lb-state';

function problems(input: unknown, mode?: 'ipvs' | 'nftables' | 'iptables'): string[] {
  try {
    validateState(input, mode);
  } catch (e) {
    if (e instanceof ValidationErrors) return e.errors.map((x) => `${x.field}: ${x.problem}`);
    if (e instanceof ValidationError) return [`${e.field}: ${e.problem}`];
    throw e;
  }
  return [];
}

const svc = (over: Record<string, unknown> = {}) => ({ name: 'web', vip: '10.0.0.1', port: 80, endpoints: [{ address: '10.1.0.1', port: 8080 }], ...over });

describe('lb state: the normalised state is valid input', () => {
  it.each(['ipvs', 'nftables', 'iptables'] as const)('validate(validate(x)) equals validate(x) (%s), through JSON too', (mode) => {
    const input = mode === 'ipvs' ? { services: [demoState.services[0]!] } : demoState;
    const once = validateState(input, mode);
    expect(validateState(once, mode)).toEqual(once);
    expect(validateState(JSON.parse(JSON.stringify(once)), mode)).toEqual(once);
  });

  it('family is accepted when it agrees with the vip, refused otherwise', () => {
    expect(problems({ services: [svc({ family: 'ipv4' })] })).toEqual([]);
    expect(problems({ services: [svc({ vip: 'fd00::1', family: 'ipv6', endpoints: [] })] })).toEqual([]);
    expect(problems({ services: [svc({ family: 'ipv6' })] })).toEqual(['services[0].family: (service "web") is ipv6 but the vip 10.0.0.1 is ipv4 (leave family out: the vip decides)']);
    expect(problems({ services: [svc({ family: 'inet' })] })).toEqual(['services[0].family: (service "web") must be "ipv4" or "ipv6" (or left out: the vip decides)']);
  });
});
