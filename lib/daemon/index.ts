/** The daemon layer: health checks, the kept-applied load balancer behind `kernlb run`, and its metrics. */
export { HealthMonitor, type HealthMonitorOptions, type HealthChange, type EndpointHealth } from './health-monitor';
export { LbDaemon, type LbDaemonOptions, type ApplyKind } from './lb-daemon';
export { renderStatusMetrics } from './endpoint-metrics';
export type { ProbeResult } from './probe';
export { HEALTH_CHECK_DEFAULTS, type HealthCheck, type HealthCheckSpec, type HealthCheckType } from '../lb/health-check';
