/**
 * `kernlb clear --all-modes` in a kernel with IPVS (UML here): a namespace that ran ipvs and iptables
 * modes is left with nothing of kernlb's; another user's fwmark IPVS service and iptables rules are
 * untouched byte for byte (ipvsadm -Sn, iptables-legacy-save): an address-based and a fwmark IPVS
 * service (kernlb's carry its tag; see lib/lb/modes/ipvs/README.md).
 */
import { describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';
import { cli } from '../cli-harness';

const skip = ipvsSkipReason();
const t = (s: string) => (skip ? `${s} - skipped: ${skip}` : s);

const state: DesiredState = {
  services: [
    { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'rr', endpoints: [{ address: '10.244.1.2', port: 8080 }, { address: '10.244.1.3', port: 8080 }] },
    { name: 'dns', protocol: 'udp', vip: '10.96.0.53', port: 53, scheduler: 'rr', endpoints: [{ address: '10.244.1.4', port: 5353 }] },
  ],
};
const FOREIGN_IPT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:FOREIGN - [0:0]
-A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.9.9.9:22
-A OUTPUT -j FOREIGN
-A FOREIGN -d 10.7.7.7/32 -j RETURN
COMMIT
`;

async function snapshot(ns: TestNetns): Promise<string[]> {
  const save = (await ns.exec(['iptables-legacy-save'])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return [(await ns.exec(['ipvsadm', '-Sn'])).stdout, save];
}

describe.skipIf(skip)(t('kernlb clear with ipvs'), () => {
  it('after ipvs and iptables modes ran: --all-modes leaves nothing of kernlb, foreign objects byte for byte', async () => {
    await using ns = await createNetns('lbclv');
    await ns.exec(['ip', 'route', 'add', 'local', '10.244.0.0/16', 'dev', 'lo']);
    await ns.exec(['iptables-legacy-restore'], { input: FOREIGN_IPT });
    // (a guest kernel loads ip6_tables on demand only, as ip6tables-legacy does it: kernlb does not load modules)
    await ns.exec(['ip6tables-legacy', '-t', 'nat', '-S']);
    await ns.exec(['ipvsadm', '-A', '-f', '7', '-s', 'wlc']);
    await ns.exec(['ipvsadm', '-a', '-f', '7', '-r', '10.244.2.7', '-m', '-w', '3']);
    await ns.exec(['ipvsadm', '-A', '-t', '10.96.0.99:80', '-s', 'rr']);
    await ns.exec(['ipvsadm', '-a', '-t', '10.96.0.99:80', '-r', '10.244.2.9:80', '-m']);
    const before = await snapshot(ns);
    for (const mode of ['ipvs', 'iptables'] as const) {
      await using lb = await LoadBalancer.open({ mode, netns: ns.name, removeOtherModes: false });
      await lb.apply(state);
    }
    const [ipvs, ipt] = await snapshot(ns);
    expect(ipvs).toMatch(/-A -t 10\.96\.0\.10:80 -s rr/);
    expect(ipt).toMatch(/-j KERNLB-SERVICES/);
    const r = await cli(['clear', '--all-modes', '--netns', ns.name]);
    expect(r.code).toBe(0);
    // (this guest's nf_tables has no inet family: nothing of kernlb's can be there, nothing to clear)
    expect(r.out).toMatch(/^ipvs: cleared\n(nftables: cleared\n)?iptables: cleared\n$/);
    expect(await snapshot(ns)).toEqual(before);
  });
});
