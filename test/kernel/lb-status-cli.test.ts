/** `kernlb status`: one JSON shape, --netns as a name or a path, a missing namespace is bad input, unavailable modes "not checked". */
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../lib/cli/command';
import { createNetns, ipvsSkipReason, kernelTestsSkipReason } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';
import { cli } from '../cli-harness';

const skip = kernelTestsSkipReason();

describe.skipIf(skip)(`kernlb status (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('a namespace that does not exist, by name or by path, is exit 2 (was [] and exit 0 for a path)', async () => {
    for (const ns of ['klst-no-such-ns', '/run/netns/klst-no-such-ns']) {
      for (const json of [[], ['--json']]) {
        const r = await cli(['status', ...json, '--netns', ns]);
        expect(r).toMatchObject({ code: ExitCode.input, out: '' });
        expect(r.err).toBe(`kernlb: --netns ${ns}: no such network namespace (${ns.startsWith('/') ? ns : `/run/netns/${ns}`} does not exist)\n`);
      }
    }
  });

  it('--netns takes a path as the API takes { path }; --json is an array with and without --mode', async () => {
    await using ns = await createNetns('lbst');
    const path = `/run/netns/${ns.name}`;
    let r = await cli(['status', '--json', '--mode', 'nftables', '--netns', path]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([{ mode: 'nftables', state: { services: [] }, services: [] }]);
    r = await cli(['status', '--netns', path]);
    expect(r).toMatchObject({ code: 0, out: `no load-balancer rules in ${ipvsSkipReason() ? 'the modes checked' : 'this namespace'}\n` });
    expect((await cli(['apply', '-', '--mode', 'iptables', '--netns', path], JSON.stringify(demoState))).code).toBe(0);
    r = await cli(['status', '--json', '--netns', path]);
    const all = JSON.parse(r.out) as { mode: string; state: { services: unknown[] } }[];
    expect(all.map((s) => [s.mode, s.state.services.length])).toEqual([['iptables', 2]]);
    r = await cli(['status', '--json', '--mode', 'iptables', '--netns', path]);
    expect(JSON.parse(r.out)).toEqual(all);
    r = await cli(['status', '--netns', path]);
    expect(r.out).toMatch(/^mode iptables: 2 service\(s\)/);
  });

  it.skipIf(!ipvsSkipReason())('without --mode, a mode this kernel lacks is "not checked" (stderr) and the others are shown', async () => {
    await using ns = await createNetns('lbst');
    const r = await cli(['status', '--netns', ns.name]);
    expect(r).toMatchObject({ code: 0, out: 'no load-balancer rules in the modes checked\n' });
    expect(r.err).toMatch(/^\(not checked: ipvs: /);
    const j = await cli(['status', '--json', '--netns', ns.name]);
    expect(j).toMatchObject({ code: 0, out: '[]\n' });
  });
});
