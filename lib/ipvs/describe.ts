/** Human-readable names of IPVS objects, used in error messages ("service tcp 10.0.0.1:80"). */
import { isIPv6 } from 'node:net';
import type { DestinationKey, ServiceKey } from './types';

export function hostPort(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

export function describeService(key: ServiceKey): string {
  if ('fwmark' in key && key.fwmark !== undefined) return `service fwmark ${key.fwmark}${key.family === 'inet6' ? ' (inet6)' : ''}`;
  const k = key as { protocol?: unknown; address?: unknown; port?: unknown };
  return `service ${String(k.protocol)} ${hostPort(String(k.address), Number(k.port))}`;
}

export function describeDestination(service: ServiceKey, dest: DestinationKey, port?: number): string {
  return `destination ${hostPort(String(dest.address), port ?? dest.port ?? 0)} of ${describeService(service)}`;
}
