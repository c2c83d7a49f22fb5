// A consumer of the published package, compiled by scripts/check-types.sh against the packed tarball
// in nodenext ESM, nodenext CommonJS and bundler resolution. Every import must resolve to a typed
// export: a missing or untyped one is a compile error under strict mode.
import { Iptables, Ipvs, LoadBalancer, Nftables, ValidationError, type ApplySummary, type DesiredState, type LbStatus } from 'kernlb';
import { createNetns, sendRequests, type LoadResult, type TestNetns } from 'kernlb/testing';

export async function firstHour(): Promise<[ApplySummary, LbStatus, LoadResult]> {
  const ns: TestNetns = await createNetns('consumer');
  const lb = await LoadBalancer.open({ mode: 'nftables', netns: ns.name });
  const state: DesiredState = {
    services: [{ name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }] }],
  };
  const summary = await lb.apply(state);
  const status = await lb.status();
  // what status returns is a state apply takes
  await lb.apply(status.state);
  const load = await sendRequests(ns, '10.96.0.10', 80, 10);
  await lb.close();
  const handles = [await Nftables.open({ netns: ns.name }), await Iptables.open({ netns: ns.name }), await Ipvs.open({ netns: ns.name })];
  for (const h of handles) await h.close();
  await ns.destroy();
  return [summary, status, load];
}

export function isBadInput(e: unknown): string | undefined {
  return e instanceof ValidationError ? e.field : undefined;
}
