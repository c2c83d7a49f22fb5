/**
 * kernlb/testing: the namespace kit kernlb's own tests use, for your integration tests too.
 * Throwaway namespaces with unique names, veth pairs, dummy interfaces, servers and clients running
 * inside namespaces, and a ready-made client/balancer/backends topology. Everything is cleaned up on
 * destroy(), on process exit and on SIGINT/SIGTERM. Needs root and iproute2.
 */
export { TestNetns, createNetns, addVeth, ifname, kernelTestsSkipReason, ipvsSkipReason, type VethEnd } from './netns';
export { run, type ExecResult } from './exec';
export { startHttpServer, sendRequests, startContinuousLoad, type LoadResult } from './servers';
export { createTopology, type Topology, type Backend, type TopologyOptions } from './topology';
export { umlAvailable, runInUml, type UmlResult } from './uml';
export { kubeProxyIptablesText, kubeProxyNftablesText, type KubeProxyLayoutOptions } from './kube-proxy';
