/**
 * The load balancer's incremental calls, when this build has them: `update({ upsert })` applies only
 * the services named (a health transition costs one service, not the whole state) and `resync()`
 * reconciles against the kernel in full. Without them, both are a full apply of the state, which
 * the validation cache and the diff keep cheap for the services that did not change.
 */
import type { LoadBalancer } from '../lb/load-balancer';
import type { DesiredState, ServiceSpec } from '../lb/state';
import type { ApplySummary } from '../lb/types';

interface Incremental {
  update?(changes: { upsert?: ServiceSpec[]; remove?: string[] }): Promise<ApplySummary>;
  resync?(): Promise<ApplySummary | unknown>;
}

/** Applies `upsert` (services of `whole`, already changed in it). */
export function updateServices(lb: LoadBalancer, whole: DesiredState, upsert: ServiceSpec[]): Promise<ApplySummary> {
  const inc = lb as unknown as Incremental;
  return typeof inc.update === 'function' ? inc.update({ upsert }) : lb.apply(whole);
}

/** A full reconcile: forget what was applied last and make the kernel match `whole` again. */
export async function resyncAll(lb: LoadBalancer, whole: DesiredState): Promise<ApplySummary> {
  const inc = lb as unknown as Incremental;
  if (typeof inc.resync === 'function') await inc.resync();
  return lb.apply(whole);
}
