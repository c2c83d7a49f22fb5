/** Shared bits of the IPVS tier: a fresh namespace with an Ipvs handle, and ipvsadm inside it. */
import { Ipvs, type Service } from '../../lib/ipvs';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';

export const skip = ipvsSkipReason();
export const title = (t: string) => (skip ? `${t} - skipped: ${skip}` : t);

export interface Bed {
  ns: TestNetns;
  ipvs: Ipvs;
  ipvsadm(...args: string[]): Promise<string>;
  destroy(): Promise<void>;
}

export async function bed(): Promise<Bed> {
  const ns = await createNetns('klipvs');
  const ipvs = await Ipvs.open({ netns: ns.name });
  return {
    ns,
    ipvs,
    ipvsadm: async (...args) => (await ns.exec(['ipvsadm', ...args])).stdout,
    destroy: async () => {
      await ipvs.close();
      await ns.destroy();
    },
  };
}

/** Drops the live parts (stats, counters) so configurations can be compared. */
export function config<T>(v: T): T {
  return JSON.parse(
    JSON.stringify(v, (k, x) => (['stats', 'activeConnections', 'inactiveConnections', 'persistentConnections'].includes(k) ? undefined : x)),
  ) as T;
}

function key(x: { address?: string; fwmark?: number; protocol?: string; port?: number }): string {
  return `${x.fwmark ?? ''}/${x.protocol ?? ''}/${x.address ?? ''}/${x.port ?? ''}`;
}

/** Configuration only, services and destinations in a stable order (the kernel dumps in hash order). */
export function normalized(services: Service[]): Service[] {
  return config(services)
    .map((s) => ({ ...s, destinations: [...s.destinations].sort((a, b) => (key(a) < key(b) ? -1 : 1)) }))
    .sort((a, b) => (key(a) < key(b) ? -1 : 1));
}
