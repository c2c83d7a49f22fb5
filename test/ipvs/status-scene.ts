/**
 * The kernel state the IPVS status tests read (lb-ipvs-status, lb-ipvs-counters): three services
 * applied (endpoints out of order, IPv6 with persistence), traffic through one of them, then what
 * kernlb must tell apart behind its back.
 */
import type { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import type { Topology } from '../../lib/testing';

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** web (endpoints in descending order: the kernel lists them in its own order, status() sorts), six (IPv6, udp, sh, persistence), alt. */
export function statusState(topo: Topology): DesiredState {
  const b = topo.backends;
  return {
    services: [
      { name: 'web', vip: topo.vip4, port: 80, scheduler: 'wrr', endpoints: [...b].reverse().map((x, i) => ({ address: x.ipv4, port: x.port, weight: i + 1 })) },
      { name: 'six', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', persistence: { timeout: 60 }, endpoints: [{ address: 'fd00::1:2', port: 5353 }, { address: 'fd00::1:1', port: 5353 }] },
      { name: 'alt', vip: '10.96.7.7', port: 443, scheduler: 'rr', endpoints: [{ address: b[0]!.ipv4, port: 8443 }] },
    ],
  };
}

/** Waits for IPVS's estimator (it sums the per-CPU counters every 2 s) to show `n` connections of service `name`. */
export async function counted(lb: LoadBalancer, name: string, n: number, ms = 8000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
    const w = (await lb.status()).services.find((s) => s.name === name);
    if (w && w.endpoints.reduce((k, e) => k + e.counters.connections, 0) >= n) return;
  }
}

/** Behind kernlb's back: a draining destination as a crashed kernlb leaves it on alt, another client's service (no tag) and a fwmark service; returns the drain's stamp. */
export async function addOutsideObjects(topo: Topology): Promise<number> {
  const b = topo.backends;
  const since = Math.floor(Date.now() / 1000);
  const ex = (argv: string[]) => topo.balancer.exec(['ipvsadm', ...argv]);
  await ex(['-a', '-t', '10.96.7.7:443', '-r', `${b[2]!.ipv4}:9443`, '-m', '-w', '0', '-x', String(since), '-y', String(since)]);
  await ex(['-A', '-t', '10.96.8.8:80', '-s', 'rr']);
  await ex(['-a', '-t', '10.96.8.8:80', '-r', `${b[1]!.ipv4}:80`, '-m']);
  await ex(['-A', '-f', '7', '-s', 'rr']);
  return since;
}
