/** What users write into a state: status' own output taken back (family), unknown keys named with a suggestion. */
import { describe, expect, it } from 'vitest';
import { stateWarnings, validateState } from '../../lib/lb/state';
import { demoState, problems, svc } from '../fixtures/lb-state';

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

describe('lb state: unknown keys are named, with the nearest field suggested', () => {
  it('a misspelled top-level key ("service") is named, not only "services is missing"', () => {
    expect(problems({ service: [] })).toEqual([
      'service: unknown field "service": did you mean "services"? (allowed: services)',
      'services: is missing (an array of services)',
    ]);
  });

  it('in services, endpoints and persistence', () => {
    expect(problems({ services: [svc({ vips: '10.0.0.2', Port: 80, shceduler: 'rr', colour: 'red' })] })).toEqual([
      'services[0].vips: (service "web") unknown field "vips": did you mean "vip"? (allowed: name, protocol, vip, family, port, scheduler, persistence, endpoints, healthCheck)',
      'services[0].Port: (service "web") unknown field "Port": did you mean "port"? (allowed: name, protocol, vip, family, port, scheduler, persistence, endpoints, healthCheck)',
      'services[0].shceduler: (service "web") unknown field "shceduler": did you mean "scheduler"? (allowed: name, protocol, vip, family, port, scheduler, persistence, endpoints, healthCheck)',
      'services[0].colour: (service "web") unknown field "colour" (allowed: name, protocol, vip, family, port, scheduler, persistence, endpoints, healthCheck)',
    ]);
    expect(problems({ services: [svc({ endpoints: [{ adress: '10.1.0.1', address: '10.1.0.1', port: 1 }] })] })).toEqual([
      'services[0].endpoints[0].adress: (service "web") unknown field "adress": did you mean "address"? (allowed: address, port, weight)',
    ]);
    expect(problems({ services: [svc({ persistence: { timeout: 5, timout: 5 } })] }, 'ipvs')).toEqual([
      'services[0].persistence.timout: (service "web") unknown field "timout": did you mean "timeout"? (allowed: timeout)',
    ]);
    expect(problems({ services: [svc({ persistence: { timout: 5 } })] }, 'ipvs')).toEqual([
      'services[0].persistence.timout: (service "web") unknown field "timout": did you mean "timeout"? (allowed: timeout)',
      'services[0].persistence.timeout: (service "web") must be an integer number of seconds 1..31536000',
    ]);
  });
});

describe('lb state: warnings for what the kernel will not do as written', () => {
  it('rr with different weights warns; equal weights, weight 0 and wrr do not', () => {
    const eps = (ws: number[]) => ws.map((weight, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight }));
    expect(stateWarnings(validateState({ services: [svc({ endpoints: eps([1, 3, 0]) })] }))).toEqual([
      'service web: scheduler rr ignores weights (1, 3 given): every endpoint of weight > 0 gets the same share; use wrr or random to weight them',
    ]);
    expect(stateWarnings(validateState({ services: [svc({ endpoints: eps([2, 2, 0]) })] }))).toEqual([]);
    expect(stateWarnings(validateState({ services: [svc({ scheduler: 'wrr', endpoints: eps([1, 3]) })] }))).toEqual([]);
  });
});
