/** The load balancer: one desired state compiled to IPVS, nftables or iptables, applied as a minimal diff. */
export { LoadBalancer, registerModeBackend, type LoadBalancerOptions, type ApplyOptions } from './load-balancer';
export { validateState, serviceKey, endpointKey, type DesiredState, type ServiceSpec as LbServiceSpec, type EndpointSpec as LbEndpointSpec, type State as LbState, type Service as LbService, type Endpoint as LbEndpoint, type Protocol as LbProtocol } from './state';
export { diffStates, formatDiff, isEmptyDiff, type StateDiff, type ServiceChange, type WeightChange } from './diff';
export { MODES, supportedSchedulers, type Mode } from './schedulers';
export type { ApplySummary, LbStatus, ServiceStatus, EndpointStatus, EndpointCounters, DrainingEndpoint } from './types';
export { compileNft, renderNft } from './modes/nftables/compile';
export { compileIptables, renderIptables } from './modes/iptables/compile';
export { compileIpvs, renderIpvsadm } from './modes/ipvs/compile';
