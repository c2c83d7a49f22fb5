/**
 * In a kernel with IPVS (UML here): what status() returns applies again in ipvs mode (API and CLI),
 * and `kernlb status` without --mode reads what it can where the kernel lacks a family (UML's
 * nf_tables has no inet family) instead of aborting.
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer, type LbState } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, ipvsSkipReason } from '../../lib/testing';
import { cli } from '../cli-harness';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);

const state: DesiredState = {
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }] },
    { name: 'dns', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', persistence: { timeout: 60 }, endpoints: [{ address: 'fd00::1:1', port: 5353 }] },
  ],
};

describe.skipIf(skip)(t('lb ipvs read-edit-apply'), () => {
  it('apply((await status()).state) is a no-op; an edited status state applies; the CLI pipe too', async () => {
    await using ns = await createNetns('lbre');
    await ns.exec(['ip', 'route', 'add', 'local', '10.244.0.0/16', 'dev', 'lo']);
    await ns.exec(['ip', '-6', 'route', 'add', 'local', 'fd00::/16', 'dev', 'lo']).catch(() => undefined);
    await using lb = await LoadBalancer.open({ mode: 'ipvs', netns: ns.name });
    await lb.apply(state);
    const st = await lb.status();
    expect(await lb.apply(st.state)).toMatchObject({ changed: false, operations: 0 });
    const edited = JSON.parse(JSON.stringify(st.state)) as LbState;
    edited.services.find((s) => s.name === 'web')!.endpoints[0]!.weight = 5;
    expect((await lb.apply(edited)).lines).toEqual(['~ service web tcp/10.96.0.10:80: 10.244.1.2:8080 w2->w5']);
    let r = await cli(['status', '--json', '--mode', 'ipvs', '--netns', ns.name]);
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.out) as { state: LbState }[];
    r = await cli(['apply', '-', '--mode', 'ipvs', '--netns', ns.name], JSON.stringify(listed[0]!.state));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^no change/);
  });

  it('status without --mode shows ipvs and says which modes were not checked, exit 0', async () => {
    await using ns = await createNetns('lbre');
    await ns.exec(['ip', 'route', 'add', 'local', '10.244.0.0/16', 'dev', 'lo']);
    await ns.exec(['ip', '-6', 'route', 'add', 'local', 'fd00::/16', 'dev', 'lo']).catch(() => undefined);
    expect((await cli(['apply', '-', '--mode', 'ipvs', '--netns', ns.name], JSON.stringify(state))).code).toBe(0);
    const r = await cli(['status', '--netns', ns.name]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^mode ipvs: 2 service\(s\)/);
    // Which modes this guest lacks depends on what ran before in it: it loads x_tables only on demand
    // (iptables-legacy does, kernlb loads no modules). Before the fix, such a mode aborted the command.
    expect(r.err).toMatch(/^(\(not checked: (nftables|iptables): .*\)\n)*$/);
    const j = await cli(['status', '--json', '--netns', ns.name]);
    expect(j.code).toBe(0);
    expect((JSON.parse(j.out) as { mode: string }[]).map((x) => x.mode)).toEqual(['ipvs']);
  });
});
