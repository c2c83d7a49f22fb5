/**
 * `kernlb clear` on the host kernel: a namespace that ran nftables and iptables modes is left with
 * nothing of kernlb's, and other users' nft tables and iptables rules are untouched byte for byte
 * (nft list ruleset, iptables-legacy-save, ip6tables-legacy-save). ipvs + iptables: test/ipvs/lb-clear.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../lib/cli/command';
import { LoadBalancer } from '../../lib/lb';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';
import { cli } from '../cli-harness';

const skip = kernelTestsSkipReason();

const FOREIGN_NFT = `table ip foreign {
  chain pre { type nat hook prerouting priority dstnat; policy accept; tcp dport 99 dnat to 10.9.9.9:99; }
}
table inet other { set s { type ipv4_addr; elements = { 10.1.1.1 }; }; chain c { ip saddr @s counter accept; }; }
`;
const FOREIGN_IPT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:FOREIGN - [0:0]
-A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.9.9.9:22
-A OUTPUT -j FOREIGN
-A POSTROUTING -s 10.8.0.0/16 -j MASQUERADE
-A FOREIGN -d 10.7.7.7/32 -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m comment --comment "someone else's" -j ACCEPT
COMMIT
`;
const FOREIGN_IP6T = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d fd00::99/128 -p udp -m udp --dport 53 -j DNAT --to-destination [fd00::9]:53
COMMIT
`;

/** What the reference tools print, without iptables-save's timestamped comment lines. */
async function snapshot(ns: TestNetns): Promise<string[]> {
  const save = async (tool: string) => (await ns.exec([tool])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return [(await ns.exec(['nft', 'list', 'ruleset'])).stdout, await save('iptables-legacy-save'), await save('ip6tables-legacy-save')];
}

describe.skipIf(skip)(`kernlb clear (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('after nftables and iptables modes ran: --all-modes leaves nothing of kernlb and the foreign objects byte for byte', async () => {
    await using ns = await createNetns('lbclr');
    await ns.exec(['nft', '-f', '-'], { input: FOREIGN_NFT });
    await ns.exec(['iptables-legacy-restore'], { input: FOREIGN_IPT });
    await ns.exec(['ip6tables-legacy-restore'], { input: FOREIGN_IP6T });
    const before = await snapshot(ns);
    for (const mode of ['nftables', 'iptables'] as const) {
      await using lb = await LoadBalancer.open({ mode, netns: ns.name, removeOtherModes: false });
      await lb.apply(demoState);
    }
    const during = await snapshot(ns);
    expect(during[0]).toMatch(/table inet kernlb/);
    expect(during[1]).toMatch(/-A PREROUTING .*-j KERNLB-SERVICES/);
    expect(during[2]).toMatch(/:KERNLB-SERVICES/);
    const r = await cli(['clear', '--all-modes', '--netns', ns.name]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('nftables: cleared\niptables: cleared\n');
    expect(await snapshot(ns)).toEqual(before);
    // and nothing is left for status to show; clearing again is a no-op
    expect(JSON.parse((await cli(['status', '--json', '--netns', ns.name])).out)).toEqual([]);
    expect((await cli(['clear', '--all-modes', '--netns', ns.name])).code).toBe(0);
    expect(await snapshot(ns)).toEqual(before);
  });

  it('--mode clears that mode only; the other mode keeps its rules', async () => {
    await using ns = await createNetns('lbclr');
    for (const mode of ['nftables', 'iptables'] as const) {
      await using lb = await LoadBalancer.open({ mode, netns: ns.name, removeOtherModes: false });
      await lb.apply(demoState);
    }
    expect((await cli(['clear', '--mode', 'iptables', '--netns', ns.name])).out).toBe('iptables: cleared\n');
    const [nft, ipt] = await snapshot(ns);
    expect(nft).toMatch(/table inet kernlb/);
    expect(ipt).not.toMatch(/KERNLB/);
  });

  it('usage: exactly one of --mode and --all-modes; a missing namespace is bad input', async () => {
    expect(await cli(['clear'])).toMatchObject({ code: ExitCode.input, err: 'kernlb: give either --mode ipvs|nftables|iptables or --all-modes\n' });
    expect((await cli(['clear', '--mode', 'nftables', '--all-modes'])).code).toBe(ExitCode.input);
    expect((await cli(['clear', '--mode', 'nftables', '--netns', 'klclr-no-such-ns'])).code).toBe(ExitCode.input);
  });
});
