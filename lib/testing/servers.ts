/**
 * Small programs run inside namespaces: an HTTP server that answers with its own name, and HTTP
 * clients that open a new TCP connection per request and count who answered. They are plain
 * JavaScript given to `node -e`, so they run anywhere node does (host or UML guest).
 */
import type { ChildProcess } from 'node:child_process';
import type { TestNetns } from './netns';

const serverJs = `
const http = require('http');
const [name, port] = [process.argv[1], Number(process.argv[2])];
const s = http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name); });
s.listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

// Sends `count` requests (a new connection each), `concurrency` at a time, or runs until SIGTERM when
// count is 0 (churn tests). Prints one JSON line: { counts, failures, errors }.
const clientJs = `
const http = require('http');
const [url, count, concurrency, timeoutMs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const counts = {}; let failures = 0; const errors = []; let sent = 0; let stop = false;
process.on('SIGTERM', () => { stop = true; });
function one() {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''; res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => { counts[body] = (counts[body] || 0) + 1; resolve(); });
      res.on('error', (e) => { failures++; if (errors.length < 20) errors.push(String(e.message)); resolve(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { failures++; if (errors.length < 20) errors.push(String(e.message)); resolve(); });
  });
}
async function worker() {
  while (!stop && (count === 0 || sent < count)) { sent++; await one(); }
}
Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
  process.stdout.write(JSON.stringify({ counts, failures, errors, sent }) + '\\n');
  process.exit(0);
});
`;

export interface LoadResult {
  /** Responses per backend name. */
  counts: Record<string, number>;
  failures: number;
  errors: string[];
  sent: number;
}

/** Starts an HTTP server named `name` on `port` (all addresses) inside `ns`; resolves once listening. */
export function startHttpServer(ns: TestNetns, name: string, port: number): Promise<ChildProcess> {
  const child = ns.spawn([process.execPath, '-e', serverJs, name, String(port)]);
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`http server ${name} did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`http server ${name} exited (${code}): ${out}`));
    });
  });
}

/** The URL for host:port; an IPv6 host may come bare (fd00::10) or bracketed as in URLs ([fd00::10]). */
function hostUrl(host: string, port: number): string {
  const bare = /^\[.*\]$/.test(host) ? host.slice(1, -1) : host;
  return bare.includes(':') ? `http://[${bare}]:${port}/` : `http://${bare}:${port}/`;
}

/**
 * Runs the inline client program in `ns`. A failure says what was asked and the client's own error
 * line, not the whole command line (which holds the program text).
 */
async function runClient(ns: TestNetns, what: string, args: string[]): Promise<LoadResult> {
  const r = await ns.exec([process.execPath, '-e', clientJs, ...args], { timeoutMs: 600_000, allowFail: true });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code === 0 && last.startsWith('{')) return JSON.parse(last) as LoadResult;
  const why = r.stderr.split('\n').find((l) => /^\w*Error\b|^Error:|^\s*code:/.test(l.trim())) ?? r.stderr.trim().split('\n').pop() ?? '';
  throw new Error(`sendRequests ${what} from ${ns.name}: the client failed (exit ${r.code}): ${why.trim() || 'no output'}`);
}

/** Sends `count` HTTP requests from `ns` to host:port, each on a new connection. */
export async function sendRequests(
  ns: TestNetns,
  host: string,
  port: number,
  count: number,
  opts: { concurrency?: number; timeoutMs?: number } = {},
): Promise<LoadResult> {
  const url = hostUrl(host, port);
  return runClient(ns, url, [url, String(count), String(opts.concurrency ?? 4), String(opts.timeoutMs ?? 3000)]);
}

/** Starts a client that keeps opening connections until stop(); for "no failed connection during churn". */
export function startContinuousLoad(
  ns: TestNetns,
  host: string,
  port: number,
  opts: { concurrency?: number; timeoutMs?: number } = {},
): { stop(): Promise<LoadResult> } {
  const child = ns.spawn([process.execPath, '-e', clientJs, hostUrl(host, port), '0', String(opts.concurrency ?? 2), String(opts.timeoutMs ?? 3000)]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      // ip netns exec forwards the signal to the node child (exec replaces the process)
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadResult;
    },
  };
}
