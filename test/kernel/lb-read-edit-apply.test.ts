/**
 * Read, edit, apply on the host kernel (nftables and iptables modes): what status() returns is a
 * state apply() takes, through the API and through `kernlb status --json | edit | kernlb apply -`.
 * (ipvs: test/ipvs/lb-read-edit-apply.test.ts, in UML.)
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer, type LbState, type Mode } from '../../lib/lb';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';
import { cli } from '../cli-harness';

const skip = kernelTestsSkipReason();

/** The edit a user makes: one more endpoint and a weight changed on the first service. */
function edit(state: LbState): LbState {
  const next = JSON.parse(JSON.stringify(state)) as LbState;
  const web = next.services.find((s) => s.name === 'web')!;
  web.endpoints.push({ address: '10.244.1.9', port: 8080, weight: 1 });
  web.endpoints[0]!.weight = 0;
  return next;
}

describe.skipIf(skip)(`lb read-edit-apply (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it.each(['nftables', 'iptables'] as Mode[])('%s: apply((await status()).state) is a no-op; an edited status state applies', async (mode) => {
    await using ns = await createNetns('lbr');
    await using lb = await LoadBalancer.open({ mode, netns: ns.name });
    await lb.apply(demoState);
    const st = await lb.status();
    expect(await lb.apply(st.state)).toMatchObject({ changed: false, operations: 0 });
    const edited = edit(st.state);
    const r = await lb.apply(edited);
    expect(r.changed).toBe(true);
    expect(r.lines).toEqual(['~ service web tcp/10.96.0.10:80: +10.244.1.9:8080 w1, 10.244.1.2:8080 w1->w0']);
    // the kernel now holds the edited state: nothing left to change, and status reads it back
    expect((await lb.diff(edited)).empty).toBe(true);
    expect((await lb.diff((await lb.status()).state)).empty).toBe(true);
  });

  it.each(['nftables', 'iptables'] as Mode[])('%s: kernlb status --json | edit | kernlb apply -', async (mode) => {
    await using ns = await createNetns('lbr');
    let r = await cli(['apply', '-', '--mode', mode, '--netns', ns.name], JSON.stringify(demoState));
    expect(r.code).toBe(0);
    r = await cli(['status', '--json', '--mode', mode, '--netns', ns.name]);
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.out) as { mode: Mode; state: LbState }[];
    expect(listed.map((x) => x.mode)).toEqual([mode]);
    r = await cli(['apply', '-', '--mode', mode, '--netns', ns.name], JSON.stringify(listed[0]!.state));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^no change/);
    r = await cli(['apply', '-', '--mode', mode, '--netns', ns.name], JSON.stringify(edit(listed[0]!.state)));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^applied/);
    // without --mode: the same array shape, one entry per mode with rules
    r = await cli(['status', '--json', '--netns', ns.name]);
    const all = JSON.parse(r.out) as { mode: Mode; state: LbState }[];
    expect(all.map((x) => x.mode)).toEqual([mode]);
    expect(all[0]!.state.services.find((s) => s.name === 'web')!.endpoints).toHaveLength(4);
  });
});

describe.skipIf(skip)(`lb warnings (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('rr with weights applies and says the weights are ignored (summary.warnings, CLI on stderr)', async () => {
    await using ns = await createNetns('lbw');
    const state = { services: [{ name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'rr' as const, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 3 }, { address: '10.244.1.3', port: 8080 }] }] };
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: ns.name });
    const s = await lb.apply(state);
    expect(s.changed).toBe(true);
    expect(s.warnings).toEqual(['service web: scheduler rr ignores weights (1, 3 given): every endpoint of weight > 0 gets the same share; use wrr or random to weight them']);
    const r = await cli(['apply', '-', '--mode', 'iptables', '--netns', ns.name], JSON.stringify(state));
    expect(r.code).toBe(0);
    expect(r.err).toBe(`kernlb: warning: ${s.warnings[0]}\n`);
    expect((await lb.apply({ services: [{ ...state.services[0]!, scheduler: 'wrr' }] })).warnings).toEqual([]);
  });
});
