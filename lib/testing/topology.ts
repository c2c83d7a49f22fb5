/**
 * A load-balancing test bed: a client namespace, a balancer namespace that routes between the client
 * link and one link per backend, and backend namespaces each running an HTTP server that answers with
 * its name. Dual stack. Replies from backends route back through the balancer (default route), as
 * masquerading IPVS and DNAT need.
 *
 *   client (10.200.0.2, fd00:200::2) --- (10.200.0.1, fd00:200::1) balancer [VIP 10.96.0.10, fd00:96::10 on lo]
 *   balancer (10.201.i.1, fd00:201:i::1) --- (10.201.i.2, fd00:201:i::2) backend-i :port
 */
import type { ChildProcess } from 'node:child_process';
import { addVeth, createNetns, ifname, type TestNetns } from './netns';
import { startHttpServer } from './servers';

export interface Backend {
  name: string;
  ns: TestNetns;
  ipv4: string;
  ipv6: string;
  port: number;
  server?: ChildProcess;
}

export interface Topology extends AsyncDisposable {
  client: TestNetns;
  balancer: TestNetns;
  backends: Backend[];
  vip4: string;
  vip6: string;
  /** Adds one more backend (same addressing scheme) at run time. */
  addBackend(): Promise<Backend>;
  destroy(): Promise<void>;
}

export interface TopologyOptions {
  backends?: number;
  /** Port the backends' HTTP servers listen on. */
  port?: number;
  /** Start HTTP servers in the backends (default true). */
  servers?: boolean;
  vip4?: string;
  vip6?: string;
}

export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const port = opts.port ?? 8080;
  const vip4 = opts.vip4 ?? '10.96.0.10';
  const vip6 = opts.vip6 ?? 'fd00:96::10';
  const all: TestNetns[] = [];
  const track = async (p: Promise<TestNetns>) => {
    const ns = await p;
    all.push(ns);
    return ns;
  };
  try {
    const client = await track(createNetns('klc'));
    const balancer = await track(createNetns('klb'));
    await balancer.sysctl('net.ipv4.ip_forward', 1);
    await balancer.sysctl('net.ipv6.conf.all.forwarding', 1);
    await balancer.exec(['ip', 'addr', 'add', `${vip4}/32`, 'dev', 'lo']);
    await balancer.exec(['ip', '-6', 'addr', 'add', `${vip6}/128`, 'dev', 'lo']);
    await addVeth(
      { ns: client, name: 'eth0', addresses: ['10.200.0.2/24', 'fd00:200::2/64'] },
      { ns: balancer, name: 'client0', addresses: ['10.200.0.1/24', 'fd00:200::1/64'] },
    );
    await client.exec(['ip', 'route', 'add', 'default', 'via', '10.200.0.1']);
    await client.exec(['ip', '-6', 'route', 'add', 'default', 'via', 'fd00:200::1']);

    const backends: Backend[] = [];
    const addBackend = async (): Promise<Backend> => {
      const i = backends.length + 1;
      const ns = await track(createNetns(`klb${i}`));
      const b: Backend = { name: `backend-${i}`, ns, ipv4: `10.201.${i}.2`, ipv6: `fd00:201:${i}::2`, port };
      await addVeth(
        { ns, name: 'eth0', addresses: [`${b.ipv4}/24`, `${b.ipv6}/64`] },
        { ns: balancer, name: ifname(`be${i}x`), addresses: [`10.201.${i}.1/24`, `fd00:201:${i}::1/64`] },
      );
      await ns.exec(['ip', 'route', 'add', 'default', 'via', `10.201.${i}.1`]);
      await ns.exec(['ip', '-6', 'route', 'add', 'default', 'via', `fd00:201:${i}::1`]);
      if (opts.servers !== false) b.server = await startHttpServer(ns, b.name, port);
      backends.push(b);
      return b;
    };
    for (let i = 0; i < (opts.backends ?? 3); i++) await addBackend();

    const destroy = async () => {
      await Promise.all(all.map((ns) => ns.destroy()));
    };
    return { client, balancer, backends, vip4, vip6, addBackend, destroy, [Symbol.asyncDispose]: destroy };
  } catch (e) {
    await Promise.all(all.map((ns) => ns.destroy()));
    throw e;
  }
}
