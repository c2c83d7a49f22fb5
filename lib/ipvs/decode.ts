/**
 * Kernel replies (native descriptions) into the public model: the inverse of validate.ts. Services
 * and destinations come packed and are decoded by packed.ts.
 */
import type { NativeIpvsDaemonOut } from '../native';
import type { Daemon } from './types';

export function daemonFrom(d: NativeIpvsDaemonOut): Daemon {
  const out: Daemon = {
    state: d.state === 2 ? 'backup' : 'master',
    interface: d.ifname,
    syncId: d.syncId,
    maxLength: d.syncMaxLen,
    port: d.port,
    ttl: d.ttl,
  };
  if (d.group !== undefined) out.group = d.group;
  return out;
}
