/** The state file's healthCheck: defaults filled, every bad field named, and the modes unaffected by it. */
import { describe, expect, it } from 'vitest';
import { ValidationError, ValidationErrors } from '../../lib/errors';
import { diffStates } from '../../lib/lb/diff';
import { validateState, ValidationCache } from '../../lib/lb/state';

const svc = (healthCheck: unknown) => ({ services: [{ name: 'web', vip: '10.96.0.10', port: 80, endpoints: [{ address: '10.0.0.2', port: 8080 }], healthCheck }] });

function problems(input: unknown): string[] {
  try {
    validateState(input, 'nftables');
    return [];
  } catch (e) {
    if (e instanceof ValidationErrors) return e.errors.map((x) => `${x.field}: ${x.problem}`);
    if (e instanceof ValidationError) return [`${e.field}: ${e.problem}`];
    throw e;
  }
}

describe('healthCheck in the state', () => {
  it('fills keepalived-like defaults: every 1000 ms, 500 ms timeout, rise 2, fall 3; http path / and 200', () => {
    expect(validateState(svc({ type: 'tcp' })).services[0]!.healthCheck).toEqual({ type: 'tcp', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 });
    expect(validateState(svc({ type: 'http', port: 9000 })).services[0]!.healthCheck).toEqual({
      type: 'http', port: 9000, path: '/', expectStatus: 200, intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3,
    });
    expect(validateState(svc({ type: 'http', path: '/healthz', expectStatus: 204, intervalMs: 200, timeoutMs: 200, rise: 1, fall: 5 })).services[0]!.healthCheck).toEqual({
      type: 'http', path: '/healthz', expectStatus: 204, intervalMs: 200, timeoutMs: 200, rise: 1, fall: 5,
    });
    expect(validateState(svc(undefined)).services[0]!.healthCheck).toBeUndefined();
  });

  it('names each bad field', () => {
    expect(problems(svc({ type: 'udp' }))).toEqual(['services[0].healthCheck.type: (service "web") must be "tcp" or "http"']);
    expect(problems(svc('tcp'))[0]).toMatch(/^services\[0\]\.healthCheck: .*must be an object/);
    expect(problems(svc({ type: 'tcp', path: '/x' }))).toEqual(['services[0].healthCheck.path: (service "web") applies to "http" checks only']);
    expect(problems(svc({ type: 'http', path: 'healthz' }))[0]).toMatch(/healthCheck\.path: .*must start with "\/"/);
    expect(problems(svc({ type: 'http', path: '/a b' }))[0]).toMatch(/healthCheck\.path/);
    expect(problems(svc({ type: 'http', path: '/x\r\nHost: evil' }))[0]).toMatch(/healthCheck\.path/);
    expect(problems(svc({ type: 'http', expectStatus: 99 }))[0]).toMatch(/healthCheck\.expectStatus: .*100\.\.599/);
    expect(problems(svc({ type: 'tcp', port: 0 }))[0]).toMatch(/healthCheck\.port/);
    expect(problems(svc({ type: 'tcp', intervalMs: 50 }))[0]).toMatch(/healthCheck\.intervalMs/);
    expect(problems(svc({ type: 'tcp', intervalMs: 1000, timeoutMs: 2000 }))[0]).toMatch(/healthCheck\.timeoutMs: .*not be longer than intervalMs \(1000\)/);
    expect(problems(svc({ type: 'tcp', rise: 0 }))[0]).toMatch(/healthCheck\.rise/);
    expect(problems(svc({ type: 'tcp', fall: 1.5 }))[0]).toMatch(/healthCheck\.fall/);
    expect(problems(svc({ type: 'tcp', retries: 3 }))[0]).toMatch(/healthCheck\.retries: .*unknown field/);
    expect(problems(svc({ type: 'tcp', rise: 0, fall: 0 }))).toHaveLength(2);
  });

  it('is not kernel state: changing only the check changes nothing the modes see', () => {
    const cache = new ValidationCache('nftables');
    const a = validateState(svc({ type: 'tcp' }), 'nftables', cache);
    const b = validateState(svc({ type: 'http' }), 'nftables', cache);
    expect(b.services[0]).not.toBe(a.services[0]);
    const d = diffStates(a, b);
    expect(d.updated).toEqual([]);
    expect(d.unchanged).toBe(1);
  });
});
