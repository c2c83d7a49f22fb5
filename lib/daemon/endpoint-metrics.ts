/**
 * The per-endpoint and per-service series in Prometheus' text format (0.0.4), written straight from
 * a status() read and the health monitor. At 10k services x 10 endpoints that is ~100k series per
 * metric: they are written as one string per line with the label set built once per endpoint, not
 * handed to prom-client as label objects (which hashes and escapes every label set on every
 * scrape). The daemon's own counters and the process metrics stay in prom-client's registry.
 */
import type { LbStatus } from '../lb/types';
import { endpointKey } from '../lb/state';
import type { HealthMonitor } from './health-monitor';

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  lines: string[];
}

function family(name: string, type: Family['type'], help: string): Family {
  return { name, help, type, lines: [] };
}

const NEEDS_ESCAPE = /[\\"\n]/;
function label(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function write(fams: Family[]): string {
  let out = '';
  for (const f of fams) {
    if (!f.lines.length) continue;
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    out += f.lines.join('\n');
    out += '\n';
  }
  return out;
}

/**
 * Counters and weights the kernel holds (what `kernlb status --prometheus` prints): per endpoint new
 * connections (IPVS also packets, bytes and connection counts), weight; per service endpoints.
 */
export function renderStatusMetrics(statuses: LbStatus | LbStatus[]): string {
  const f: StatusFamilies = {
    conns: family('kernlb_endpoint_connections_total', 'counter', 'New connections sent to the endpoint (nftables/iptables: hits of its DNAT rule; IPVS: connections scheduled to it).'),
    weight: family('kernlb_endpoint_weight', 'gauge', 'Weight the kernel holds for the endpoint (0: drained, no new connections).'),
    total: family('kernlb_service_endpoints', 'gauge', 'Endpoints the kernel holds for the service.'),
    active: family('kernlb_service_endpoints_active', 'gauge', 'Endpoints of the service with a weight above 0 (receiving new connections).'),
    packets: family('kernlb_endpoint_packets_total', 'counter', 'Packets to and from the endpoint (IPVS).'),
    bytes: family('kernlb_endpoint_bytes_total', 'counter', 'Bytes to and from the endpoint (IPVS).'),
    act: family('kernlb_endpoint_active_connections', 'gauge', 'Established connections to the endpoint (IPVS).'),
    inact: family('kernlb_endpoint_inactive_connections', 'gauge', 'Other connections to the endpoint (IPVS).'),
  };
  // (several modes of one namespace share each family: a metric's HELP and TYPE come once)
  for (const st of Array.isArray(statuses) ? statuses : [statuses]) addStatus(f, st);
  return write(Object.values(f)); // (families without lines, e.g. IPVS's in other modes, are left out)
}

interface StatusFamilies {
  conns: Family;
  weight: Family;
  total: Family;
  active: Family;
  packets: Family;
  bytes: Family;
  act: Family;
  inact: Family;
}

function addStatus(f: StatusFamilies, st: LbStatus): void {
  const mode = label(st.mode);
  const ipvs = st.mode === 'ipvs';
  for (const s of st.services) {
    const svc = label(s.name);
    let up = 0;
    for (const e of s.endpoints) {
      const l = `{service="${svc}",endpoint="${endpointKey(e)}",mode="${mode}"}`;
      const c = e.counters;
      f.conns.lines.push(`kernlb_endpoint_connections_total${l} ${c.connections}`);
      f.weight.lines.push(`kernlb_endpoint_weight${l} ${e.weight}`);
      if (e.weight > 0) up++;
      if (ipvs) {
        f.packets.lines.push(`kernlb_endpoint_packets_total${l} ${c.packets}`);
        f.bytes.lines.push(`kernlb_endpoint_bytes_total${l} ${c.bytes}`);
        f.act.lines.push(`kernlb_endpoint_active_connections${l} ${c.activeConnections ?? 0}`);
        f.inact.lines.push(`kernlb_endpoint_inactive_connections${l} ${c.inactiveConnections ?? 0}`);
      }
    }
    const l = `{service="${svc}",mode="${mode}"}`;
    f.total.lines.push(`kernlb_service_endpoints${l} ${s.endpoints.length}`);
    f.active.lines.push(`kernlb_service_endpoints_active${l} ${up}`);
  }
}

/** Health of every checked endpoint: up (1/0), the last check's duration, and per service the endpoints up. */
export function renderHealthMetrics(mode: string, health: HealthMonitor, services: Iterable<string>): string {
  const m = label(mode);
  const up = family('kernlb_endpoint_up', 'gauge', 'Health-check verdict for the endpoint: 1 up, 0 down (drained).');
  const dur = family('kernlb_endpoint_check_duration_seconds', 'gauge', 'Duration of the endpoint\'s last health check.');
  const svcUp = family('kernlb_service_endpoints_up', 'gauge', 'Endpoints of the service its health checks find up.');
  const svcChecked = family('kernlb_service_endpoints_checked', 'gauge', 'Endpoints of the service under health checks.');
  for (const name of services) {
    const eps = health.service(name);
    if (!eps) continue;
    const svc = label(name);
    let n = 0;
    for (const e of eps.values()) {
      const l = `{service="${svc}",endpoint="${e.endpoint}",mode="${m}"}`;
      up.lines.push(`kernlb_endpoint_up${l} ${e.healthy ? 1 : 0}`);
      if (e.last) dur.lines.push(`kernlb_endpoint_check_duration_seconds${l} ${(e.last.durationMs / 1000).toFixed(6)}`);
      if (e.healthy) n++;
    }
    const l = `{service="${svc}",mode="${m}"}`;
    svcUp.lines.push(`kernlb_service_endpoints_up${l} ${n}`);
    svcChecked.lines.push(`kernlb_service_endpoints_checked${l} ${eps.size}`);
  }
  return write([up, dur, svcUp, svcChecked]);
}
