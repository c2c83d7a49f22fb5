/** Shared bits of the IPVS tier: a fresh namespace with an Ipvs handle, and ipvsadm inside it. */
import { readdirSync, readFileSync } from 'node:fs';
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

function backupThreads(): Set<string> {
  const out = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('ipvs-b:')) out.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Starts a backup sync daemon with `start` and waits until its kernel thread (ipvs-b:<gen>:<n>)
 * exists. On kernel 6.1 (UML) a DEL_DAEMON sent before a freshly started backup thread first ran
 * blocks in kthread_stop() and never answers; ipvsadm never hits this only because starting a
 * process takes longer.
 */
export async function startBackupDaemon(start: () => Promise<unknown>): Promise<void> {
  const before = backupThreads();
  await start();
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    for (const pid of backupThreads()) if (!before.has(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no new ipvs-b kernel thread within 5 s');
}
