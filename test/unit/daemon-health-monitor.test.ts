/**
 * HealthMonitor against real sockets on this host's loopback (the caller's namespace): fall and rise
 * counted in a row, each transition an event with its reason, HTTP status checked, checks bounded by
 * the concurrency limit, and drained() setting exactly the down endpoints to weight 0.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthMonitor, type HealthChange } from '../../lib/daemon/health-monitor';
import { Semaphore } from '../../lib/daemon/semaphore';
import type { HealthCheckSpec } from '../../lib/lb/health-check';
import type { DesiredState } from '../../lib/lb/state';

const servers: (Server | TcpServer)[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const c of sockets) c.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen<S extends Server | TcpServer>(s: S): Promise<number> {
  servers.push(s);
  s.on('connection', (c: Socket) => {
    sockets.add(c);
    c.once('close', () => sockets.delete(c));
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createTcpServer();
  const p = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
  await new Promise((r) => s.close(r));
  return p;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function state(port: number, healthCheck: HealthCheckSpec, more: { address: string; port: number }[] = []): DesiredState {
  return { services: [{ name: 'web', vip: '10.96.0.10', port: 80, endpoints: [{ address: '127.0.0.1', port }, ...more], healthCheck }] };
}

describe('HealthMonitor (loopback)', () => {
  it('goes down after `fall` failures in a row and up after `rise` successes, one event each with the reason', async () => {
    let status = 200;
    const port = await listen(createServer((_q, r) => r.writeHead(status).end('x')));
    await using mon = await HealthMonitor.open();
    const changes: HealthChange[] = [];
    let checks = 0;
    mon.on('change', (c) => changes.push(c));
    mon.on('check', () => checks++);
    mon.watch(state(port, { type: 'http', path: '/healthz', intervalMs: 100, timeoutMs: 80, rise: 2, fall: 3 }));
    await wait(450);
    expect(changes).toEqual([]);
    expect(checks).toBeGreaterThanOrEqual(3);
    status = 503;
    const before = checks;
    while (!changes.length) await wait(20);
    // exactly `fall` bad checks: the 3rd failure is the transition
    expect(checks - before).toBeGreaterThanOrEqual(3);
    expect(checks - before).toBeLessThanOrEqual(4); // (one check may have been in flight)
    expect(changes).toEqual([{ service: 'web', address: '127.0.0.1', port, endpoint: `127.0.0.1:${port}`, healthy: false, reason: '3 failed checks in a row (last: HTTP 503 (expected 200))' }]);
    expect(mon.isHealthy('web', '127.0.0.1', port)).toBe(false);
    status = 200;
    while (changes.length < 2) await wait(20);
    expect(changes[1]).toMatchObject({ healthy: true, reason: '2 good checks in a row (HTTP 200)' });
    await wait(300);
    expect(changes).toHaveLength(2);
  });

  it('a failure streak broken by one success starts again (fall counts in a row)', async () => {
    let n = 0;
    // fail, fail, ok, fail, fail, ok ...: never three in a row
    const port = await listen(createServer((_q, r) => r.writeHead(++n % 3 === 0 ? 200 : 500).end()));
    await using mon = await HealthMonitor.open();
    const changes: HealthChange[] = [];
    mon.on('change', (c) => changes.push(c));
    mon.watch(state(port, { type: 'http', intervalMs: 100, timeoutMs: 80, fall: 3 }));
    await wait(1000);
    expect(n).toBeGreaterThanOrEqual(6);
    expect(changes).toEqual([]);
  });

  it('tcp: refused and timed-out connections fail with their reason; drained() zeroes exactly the down endpoint', async () => {
    const live = await listen(createTcpServer((c) => c.end()));
    const dead = await deadPort();
    await using mon = await HealthMonitor.open();
    const changes: HealthChange[] = [];
    mon.on('change', (c) => changes.push(c));
    const input = state(live, { type: 'tcp', intervalMs: 100, timeoutMs: 50, fall: 2 }, [{ address: '127.0.0.1', port: dead }]);
    mon.watch(input);
    while (!changes.length) await wait(20);
    expect(changes).toEqual([expect.objectContaining({ endpoint: `127.0.0.1:${dead}`, healthy: false, reason: '2 failed checks in a row (last: ECONNREFUSED)' })]);
    const drained = mon.drained(input);
    expect(drained.services[0]!.endpoints).toEqual([{ address: '127.0.0.1', port: live }, { address: '127.0.0.1', port: dead, weight: 0 }]);
    expect(input.services[0]!.endpoints[1]).toEqual({ address: '127.0.0.1', port: dead }); // the caller's state untouched
    // a service with every endpoint up comes back as the very same object
    mon.watch(state(live, { type: 'tcp', intervalMs: 100, timeoutMs: 50 }));
    const again = state(live, { type: 'tcp' });
    expect(mon.drained(again).services[0]).toBe(again.services[0]);
  });

  it('a server that accepts but never answers is a timeout', async () => {
    const port = await listen(createTcpServer(() => undefined));
    await using mon = await HealthMonitor.open();
    const changes: HealthChange[] = [];
    mon.on('change', (c) => changes.push(c));
    mon.watch(state(port, { type: 'http', intervalMs: 100, timeoutMs: 60, fall: 1 }));
    while (!changes.length) await wait(20);
    expect(changes[0]!.reason).toBe('1 failed check in a row (last: timeout after 60 ms)');
  });

  it('never has more than `concurrency` checks open, however many endpoints', async () => {
    let open = 0;
    let peak = 0;
    // 40 servers answering after 40 ms, so checks overlap
    const handler = (_q: unknown, r: { end(): void }) => {
      open++;
      peak = Math.max(peak, open);
      setTimeout(() => {
        open--;
        r.end();
      }, 40);
    };
    const ports = await Promise.all(Array.from({ length: 40 }, () => listen(createServer(handler))));
    await using mon = await HealthMonitor.open({ concurrency: 5 });
    let checks = 0;
    mon.on('check', () => checks++);
    mon.watch({ services: [{ name: 'many', vip: '10.96.0.10', port: 80, healthCheck: { type: 'http', intervalMs: 200, timeoutMs: 200 },
      endpoints: ports.map((port) => ({ address: '127.0.0.1', port })) }] });
    await wait(1500);
    expect(checks).toBeGreaterThan(80);
    expect(peak).toBeLessThanOrEqual(5);
    expect(peak).toBe(5);
  });

  it('close() stops the checks', async () => {
    let hits = 0;
    const port = await listen(createServer((_q, r) => {
      hits++;
      r.end();
    }));
    const mon = await HealthMonitor.open();
    mon.watch(state(port, { type: 'http', intervalMs: 100, timeoutMs: 50 }));
    await wait(350);
    await mon.close();
    const n = hits;
    await wait(300);
    expect(hits).toBe(n);
    expect(() => mon.watch(state(port, { type: 'tcp' }))).toThrow(/closed/);
  });
});

describe('Semaphore', () => {
  it('hands slots out in arrival order and never more than the limit', async () => {
    const sem = new Semaphore(2);
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const take = async (i: number) => {
      releases[i] = await sem.acquire();
      order.push(i);
    };
    const all = [0, 1, 2, 3].map(take);
    await wait(0);
    expect(order).toEqual([0, 1]);
    expect(sem.inUse).toBe(2);
    expect(sem.waiting).toBe(2);
    releases[0]!();
    releases[0]!(); // twice: still one slot
    await wait(0);
    expect(order).toEqual([0, 1, 2]);
    expect(sem.waiting).toBe(1);
    releases[1]!();
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3]);
    releases[2]!();
    releases[3]!();
    expect(sem.inUse).toBe(0);
  });
});
