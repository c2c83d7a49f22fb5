/** State generators shared by the load-balancer IPVS tests and the crash child. */
import type { DesiredState } from '../../lib/lb/state';

/** n services x 5 endpoints, deterministic. */
export function bigState(n: number, weight = 1): DesiredState {
  return {
    services: Array.from({ length: n }, (_, i) => ({
      name: `s${i}`,
      vip: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      port: 80,
      scheduler: 'wrr',
      endpoints: Array.from({ length: 5 }, (_, j) => ({ address: `10.250.${j}.${(i % 250) + 1}`, port: 8000 + j, weight })),
    })),
  };
}
