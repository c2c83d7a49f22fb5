/**
 * One health check of one endpoint: a TCP connect, or an HTTP/1.0 GET whose status line is compared
 * with the expected code. Sockets come from a SocketSource, which makes them inside the balancer's
 * network namespace (a socket stays in the namespace it was created in, so Node's own event loop
 * can then connect it: no thread or process has to live in that namespace).
 */
import { Socket } from 'node:net';
import { fromNative } from '../errors';
import type { HealthCheck } from '../lb/health-check';
import { native, type NativeHandle } from '../native';
import { NO_SOCKET, openNativeHandle } from '../netlink/handle';
import { describeNetns, type NetnsSpec } from '../netns';

export interface ProbeResult {
  ok: boolean;
  /** What happened, for events and logs: "connected", "HTTP 200", "ECONNREFUSED", "timeout after 500 ms". */
  reason: string;
  durationMs: number;
}

export interface ProbeTarget {
  address: string;
  port: number;
  ipv6: boolean;
}

/** Makes unconnected TCP sockets in one namespace. */
export interface SocketSource {
  socket(ipv6: boolean): Promise<Socket>;
  close(): Promise<void>;
}

/** The caller's namespace: plain sockets. */
const localSource: SocketSource = {
  socket: () => Promise.resolve(new Socket()),
  close: () => Promise.resolve(),
};

/** A SocketSource for `netns` (undefined: the caller's namespace). */
export async function openSocketSource(netns: NetnsSpec | undefined): Promise<SocketSource> {
  if (netns === undefined) return localSource;
  const h: NativeHandle = await openNativeHandle(NO_SOCKET, { netns }, 'open health-check namespace');
  const inflight = new Set<Promise<unknown>>();
  let closed = false;
  return {
    async socket(ipv6) {
      if (closed) throw new Error('health checks: socket source is closed');
      const p = native().netlink.tcpSocketIn(h, ipv6);
      inflight.add(p);
      try {
        return new Socket({ fd: await p });
      } catch (e) {
        throw fromNative(e, { op: 'socket', object: describeNetns(netns) });
      } finally {
        inflight.delete(p);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inflight]);
      h.close();
    },
  };
}

const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})/;
/** Enough for any status line; a server sending more without a CRLF is not speaking HTTP. */
const MAX_HEAD = 4096;

/** Runs one check; never rejects (a failure is a result with its reason). */
export async function probe(src: SocketSource, t: ProbeTarget, hc: HealthCheck): Promise<ProbeResult> {
  const started = performance.now();
  const done = (ok: boolean, reason: string): ProbeResult => ({ ok, reason, durationMs: performance.now() - started });
  let sock: Socket;
  try {
    sock = await src.socket(t.ipv6);
  } catch (e) {
    return done(false, `no socket: ${e instanceof Error ? e.message : String(e)}`);
  }
  const port = hc.port ?? t.port;
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const finish = (ok: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(done(ok, reason));
    };
    const timer = setTimeout(() => finish(false, `timeout after ${hc.timeoutMs} ms`), hc.timeoutMs);
    sock.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    sock.once('close', () => finish(false, 'connection closed before an answer'));
    sock.connect(port, t.address, () => {
      if (hc.type === 'tcp') return finish(true, 'connected');
      const host = t.ipv6 ? `[${t.address}]` : t.address;
      sock.write(`GET ${hc.path ?? '/'} HTTP/1.0\r\nHost: ${host}:${port}\r\nUser-Agent: kernlb-health\r\nConnection: close\r\n\r\n`);
      let head = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        head += d;
        const eol = head.indexOf('\r\n');
        if (eol < 0 && head.length < MAX_HEAD) return;
        const m = STATUS_LINE.exec(head);
        if (!m) return finish(false, 'not an HTTP answer');
        const status = Number(m[1]);
        finish(status === hc.expectStatus, status === hc.expectStatus ? `HTTP ${status}` : `HTTP ${status} (expected ${hc.expectStatus})`);
      });
    });
  });
}
