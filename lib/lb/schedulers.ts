/**
 * Which schedulers each mode can express, and why not when it cannot. A scheduler a mode cannot do
 * is a ValidationError, never a silent approximation.
 *
 * - rr: equal share over the endpoints whose weight is > 0 (weights are otherwise ignored, as IPVS rr does).
 * - wrr: weighted round robin (exact proportions over each cycle of sum(weights) connections);
 *   iptables does it with one rule per unit of the gcd-reduced weights (see weightsProblem).
 * - random: weighted random (each connection picks endpoint i with probability w_i / sum(w)).
 * - sh: source hashing (the same client address always lands on the same endpoint while the set is stable).
 * - persistence (client affinity, every mode): a client that connected within `timeout` seconds goes
 *   to the endpoint it went to last; the others are balanced by the scheduler.
 * - every other IPVS scheduler (lc, wlc, lblc, lblcr, dh, sed, nq, mh, fo, ovf, twos) is IPVS-only.
 */
export type Mode = 'ipvs' | 'nftables' | 'iptables';
export const MODES: readonly Mode[] = ['ipvs', 'nftables', 'iptables'];

export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'] as const;
export const NFT_SCHEDULERS = ['rr', 'wrr', 'random', 'sh'] as const;
export const IPTABLES_SCHEDULERS = ['rr', 'wrr', 'random'] as const;

/** Scheduler names each mode takes, as types: `LoadBalancer<'iptables'>` narrows its input to these. */
export type IpvsScheduler = (typeof IPVS_SCHEDULERS)[number];
export type NftScheduler = (typeof NFT_SCHEDULERS)[number];
export type IptablesScheduler = (typeof IPTABLES_SCHEDULERS)[number];
export type Scheduler = IpvsScheduler | NftScheduler | IptablesScheduler;
export type SchedulerFor<M extends Mode> = M extends 'ipvs' ? IpvsScheduler : M extends 'nftables' ? NftScheduler : M extends 'iptables' ? IptablesScheduler : never;

export const ALL_SCHEDULERS: readonly string[] = [...new Set<string>([...IPVS_SCHEDULERS, ...NFT_SCHEDULERS, ...IPTABLES_SCHEDULERS])];

const supported: Record<Mode, readonly string[]> = {
  ipvs: IPVS_SCHEDULERS,
  nftables: NFT_SCHEDULERS,
  iptables: IPTABLES_SCHEDULERS,
};

const whyNot: Record<Mode, Record<string, string>> = {
  ipvs: { random: 'IPVS has no weighted-random scheduler; use wrr (weighted round robin) or mh' },
  nftables: {},
  iptables: {
    sh: 'iptables (x_tables) has no hash match to pick an endpoint by source address; use nftables or ipvs',
  },
};

/** undefined when `mode` can do `scheduler`, else the reason it cannot. */
export function schedulerProblem(mode: Mode, scheduler: string): string | undefined {
  if (supported[mode].includes(scheduler)) return undefined;
  return (
    whyNot[mode][scheduler] ??
    `${mode} mode cannot do scheduler "${scheduler}" (it can do: ${supported[mode].join(', ')})`
  );
}

/**
 * undefined when `mode` can keep client affinity (persistence), else why not. Every mode can:
 * ipvs with persistent services, iptables with the recent match, nftables with a dynamic map per
 * service (client -> endpoint, the service's timeout) filled after the DNAT, as kube-proxy's
 * nftables mode keeps affinity in dynamic sets (lib/lb/modes/nftables/rules.ts).
 */
export function persistenceProblem(_mode: Mode): string | undefined {
  return undefined;
}

export function supportedSchedulers(mode: Mode): readonly string[] {
  return supported[mode];
}

/** undefined when `mode` can balance `protocol`, else why not. */
export function protocolProblem(mode: Mode, protocol: string): string | undefined {
  if (mode === 'iptables' && protocol === 'sctp')
    return 'iptables mode does not do sctp (kernlb has no typed sctp match); use nftables or ipvs mode';
  return undefined;
}

/** Most rules an iptables wrr service's cycle may take (kept in step with IPT_WRR_MAX_SLOTS). */
export const IPTABLES_WRR_MAX_CYCLE = 256;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * undefined when `mode` can balance over these endpoint weights with `scheduler`, else why not.
 * iptables wrr is an rr cascade over the cycle's slots, one rule per slot: the weights' sum after
 * dividing by their gcd must stay small.
 */
export function weightsProblem(mode: Mode, scheduler: string, weights: readonly number[]): string | undefined {
  if (mode !== 'iptables' || scheduler !== 'wrr') return undefined;
  const g = weights.reduce((a, w) => (w > 0 ? gcd(a, w) : a), 0);
  if (!g) return undefined;
  const cycle = weights.reduce((a, w) => a + w / g, 0);
  if (cycle <= IPTABLES_WRR_MAX_CYCLE) return undefined;
  return `iptables wrr takes one rule per unit of weight after dividing the weights by their gcd (${g}): these sum to ${cycle}, the limit is ${IPTABLES_WRR_MAX_CYCLE}; use smaller or more even weights, or scheduler "random" (weighted, any weights)`;
}
