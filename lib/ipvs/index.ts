/** IPVS: the kernel's layer-4 load balancer, spoken to directly over generic netlink. */
export { Ipvs, IPVS_EPERM_HINT, type BatchResult, type IpvsOpenOptions, type IpvsTraffic } from './ipvs';
export * from './types';
export { describeService, describeDestination } from './describe';
export { parseConnections } from './connections';
export { formatIpvsadm, formatIpvsadmConnections, type IpvsadmFormat } from './format';
