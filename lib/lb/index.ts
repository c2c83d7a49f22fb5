/**
 * The load balancer: one desired state, compiled to IPVS, nftables or iptables, applied as a
 * minimal diff.
 *
 *   import { LoadBalancer } from 'kernlb';
 *   await using lb = await LoadBalancer.open({ mode: 'nftables', netns: 'lb' });
 *   const s = await lb.apply({ services: [{ name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr',
 *     endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }] }] });
 *   s.lines;          // ['+ service web tcp/10.96.0.10:80 wrr (2 endpoints)']
 *   await lb.status(); // the same model read back from the kernel, with per-endpoint counters
 *
 * Layout per mode (details and measurements in modes/<mode>/compile.ts):
 * - nftables: `table inet kernlb`; a concatenated verdict map `daddr . l4proto . dport : goto svc-NAME`
 *   (one lookup per packet whatever the number of services), and per service one rule
 *   `dnat to numgen inc|random mod R . ip daddr . tcp dport` (or `jhash ip saddr mod R ...`) `map @ep-tcp4-K`,
 *   a slot map shared by the services of shard K (a hash of the name) whose elements are the endpoints
 *   (weights = slot counts, a counter per slot). An endpoint change is element operations (and the
 *   one rule when R changes); see modes/nftables/README.md for the measured choice.
 * - iptables: kube-proxy's chains (KERNLB-SERVICES -> KERNLB-SVC-* -> KERNLB-SEP-*, statistic
 *   random w_i/R_i or nth for rr, DNAT, hairpin masquerade mark) reached by one jump per hook.
 * - ipvs: a virtual service per service, masquerading real servers; removed endpoints drain with
 *   their drain start stored in the kernel (weight 0 + thresholds), so a restart loses nothing.
 *
 * Mode capabilities: ipvs every kernel scheduler + persistence; nftables rr, wrr, random, sh + persistence (dynamic map);
 * iptables rr, random (tcp/udp) + persistence (recent). Anything else is a ValidationError naming
 * the field.
 */
export { LoadBalancer, registerModeBackend, type LoadBalancerOptions, type ApplyOptions, type LbUpdate } from './load-balancer';
export { validateState, serviceKey, endpointKey, type DesiredState, type StateInput as LbStateInput, type ServiceSpec as LbServiceSpec, type EndpointSpec as LbEndpointSpec, type State as LbState, type Service as LbService, type Endpoint as LbEndpoint, type Protocol as LbProtocol } from './state';
export { diffStates, formatDiff, isEmptyDiff, type StateDiff, type ServiceChange, type WeightChange } from './diff';
export { MODES, supportedSchedulers, type Mode, type Scheduler, type SchedulerFor, type IpvsScheduler, type NftScheduler, type IptablesScheduler } from './schedulers';
export type { ApplySummary, LbStatus, PackedStatus, ServiceStatus, EndpointStatus, EndpointCounters, DrainingEndpoint } from './types';
export { compileNft, renderNft } from './modes/nftables/compile';
export { compileIptables, renderIptables } from './modes/iptables/compile';
export { compileIpvs, renderIpvsadm } from './modes/ipvs/compile';
