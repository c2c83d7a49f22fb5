/** kernlb: drive the Linux kernel's load balancers (IPVS, nftables, iptables) from Node.js. */
export * from './errors';
export type { NetnsSpec } from './netns';
export { NetlinkHandle, type OpenOptions } from './netlink/handle';
export * from './ipvs';
export * from './nft';
export * from './iptables';
export * from './lb';
export * from './daemon';
