/**
 * A service's optional `healthCheck` (state file): how `kernlb run` and HealthMonitor probe each
 * endpoint from the balancer's namespace. Defaults follow keepalived's vocabulary with the values
 * the issue names: every 1000 ms, 500 ms to answer, `fall` 3 failures in a row take an endpoint out
 * of new traffic (weight 0: drained), `rise` 2 successes put it back.
 */
export type HealthCheckType = 'tcp' | 'http';

/** What a user writes. */
export interface HealthCheckSpec {
  type: HealthCheckType;
  /** Port to probe; default the endpoint's own port. */
  port?: number;
  /** http: request path (default "/"). */
  path?: string;
  /** http: the status code that means healthy (default 200). */
  expectStatus?: number;
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
}

/** Normalised: every default filled (port stays absent: the endpoint's port). */
export interface HealthCheck {
  type: HealthCheckType;
  port?: number;
  path?: string;
  expectStatus?: number;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

export const HEALTH_CHECK_DEFAULTS = { intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3, path: '/', expectStatus: 200 } as const;
const KEYS = ['type', 'port', 'path', 'expectStatus', 'intervalMs', 'timeoutMs', 'rise', 'fall'];
// (a path goes into the request line as is: no spaces, no control characters, no CR/LF injection)
const PATH_RE = /^\/[\x21-\x7e]{0,1023}$/;

function intIn(v: unknown, min: number, max: number): v is number {
  return Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
}

/**
 * Validates one service's healthCheck; `add(field, problem, value)` collects problems (fields
 * relative to `path`, e.g. "services[0].healthCheck.fall"). Returns the normalised check or
 * undefined when something was wrong.
 */
export function validateHealthCheck(v: unknown, path: string, add: (field: string, problem: string, value?: unknown) => void): HealthCheck | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    add(path, 'must be an object { type: "tcp"|"http", port?, path?, expectStatus?, intervalMs?, timeoutMs?, rise?, fall? }', v);
    return undefined;
  }
  const o = v as Record<string, unknown>;
  let ok = true;
  const bad = (k: string, problem: string) => {
    add(`${path}.${k}`, problem, o[k]);
    ok = false;
  };
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) bad(k, `unknown field (allowed: ${KEYS.join(', ')})`);
  if (o.type !== 'tcp' && o.type !== 'http') bad('type', 'must be "tcp" or "http"');
  if (o.port !== undefined && !intIn(o.port, 1, 65535)) bad('port', 'must be an integer 1..65535 (default: the endpoint\'s port)');
  if (o.type !== 'http') {
    for (const k of ['path', 'expectStatus']) if (o[k] !== undefined) bad(k, 'applies to "http" checks only');
  } else {
    if (o.path !== undefined && (typeof o.path !== 'string' || !PATH_RE.test(o.path))) bad('path', 'must start with "/" and be at most 1024 printable characters without spaces');
    if (o.expectStatus !== undefined && !intIn(o.expectStatus, 100, 599)) bad('expectStatus', 'must be an HTTP status code 100..599');
  }
  const intervalMs = o.intervalMs ?? HEALTH_CHECK_DEFAULTS.intervalMs;
  const timeoutMs = o.timeoutMs ?? HEALTH_CHECK_DEFAULTS.timeoutMs;
  if (!intIn(intervalMs, 100, 3_600_000)) bad('intervalMs', 'must be an integer number of milliseconds 100..3600000');
  if (!intIn(timeoutMs, 10, 60_000)) bad('timeoutMs', 'must be an integer number of milliseconds 10..60000');
  // (a check still running when the next is due would pile up checks of one endpoint)
  else if (intIn(intervalMs, 100, 3_600_000) && timeoutMs > intervalMs) bad('timeoutMs', `must not be longer than intervalMs (${intervalMs})`);
  const rise = o.rise ?? HEALTH_CHECK_DEFAULTS.rise;
  const fall = o.fall ?? HEALTH_CHECK_DEFAULTS.fall;
  if (!intIn(rise, 1, 100)) bad('rise', 'must be an integer 1..100 (good checks in a row to come back)');
  if (!intIn(fall, 1, 100)) bad('fall', 'must be an integer 1..100 (bad checks in a row to go out)');
  if (!ok) return undefined;
  const hc: HealthCheck = { type: o.type as HealthCheckType, intervalMs: intervalMs as number, timeoutMs: timeoutMs as number, rise: rise as number, fall: fall as number };
  if (o.port !== undefined) hc.port = o.port as number;
  if (hc.type === 'http') {
    hc.path = (o.path as string | undefined) ?? HEALTH_CHECK_DEFAULTS.path;
    hc.expectStatus = (o.expectStatus as number | undefined) ?? HEALTH_CHECK_DEFAULTS.expectStatus;
  }
  return hc;
}
