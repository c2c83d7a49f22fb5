/** What a new user sees from the CLI on bad input: every problem, where in the JSON, the misspelled key. */
import { describe, expect, it } from 'vitest';
import { ExitCode, lineColumn, parseJson } from '../../lib/cli/command';
import { cli } from '../cli-harness';

describe('CLI on bad state input (before any namespace is touched)', () => {
  it('prints every validation problem, not the first and "(and 3 more)"', async () => {
    const state = { services: [{ name: 'web', vip: '10.0.0.1', port: 0, scheduler: 'wrrr', endpoints: [{ address: 'x', port: 80 }, { address: '10.1.0.1', port: 99999 }] }] };
    const r = await cli(['apply', '-', '--mode', 'nftables'], JSON.stringify(state));
    expect(r.code).toBe(ExitCode.input);
    expect(r.err).toBe(
      'kernlb: 4 problems:\n' +
        '  services[0].port: (service "web") must be an integer 1..65535\n' +
        '  services[0].scheduler: (service "web") unknown scheduler (known: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos, random)\n' +
        '  services[0].endpoints[0].address: (service "web") "x" is not an IPv4 or IPv6 address\n' +
        '  services[0].endpoints[1].port: (service "web") must be an integer 1..65535\n',
    );
    expect(r.err).not.toMatch(/more\)/);
  });

  it('a misspelled key is named, with the field it likely meant', async () => {
    const r = await cli(['diff', '-', '--mode', 'iptables'], '{ "service": [] }');
    expect(r).toMatchObject({ code: ExitCode.input, out: '' });
    expect(r.err).toBe('kernlb: 2 problems:\n  service: unknown field "service": did you mean "services"? (allowed: services)\n  services: is missing (an array of services)\n');
  });

  it('invalid JSON says the line and column', async () => {
    const r = await cli(['apply', '-', '--mode', 'nftables'], '{\n  "services": [\n    { "name": "web", }\n  ]\n}\n');
    expect(r.code).toBe(ExitCode.input);
    expect(r.err).toMatch(/^kernlb: stdin: is not valid JSON at line 3, column 22: /);
    expect(() => parseJson('f.json', '{"a": 1')).toThrow(/^f\.json: is not valid JSON at line 1, column 8: /);
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
