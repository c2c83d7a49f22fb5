/** kernlb run: keep a state file applied, health-checked and observable, until SIGTERM/SIGINT. */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { LbDaemon } from '../daemon/lb-daemon';
import { acquireRunLock, AlreadyRunningError } from '../daemon/run-lock';
import { collectGarbage, keepYoungGenerationSmall, trimMalloc, tuneMalloc } from '../daemon/process-memory';
import { MODES, type Mode } from '../lb/schedulers';
import { validateState } from '../lb/state';
import { ExitCode, intOption, netnsOption, noExtraArgs, parseArgs, parseJson, readText, reportError, UsageError, type CliCommand } from './command';

function parseHostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--metrics must be HOST:PORT (e.g. 127.0.0.1:9469 or [::1]:9469), not "${v}"`);
  return { host: m[1] ?? m[2]!, port };
}

const digest = (t: string): string => createHash('sha256').update(t).digest('base64');

async function readState(io: Parameters<CliCommand['run']>[1], file: string): Promise<{ input: unknown; digest: string }> {
  const text = await readText(io, file);
  return { input: parseJson(file, text), digest: digest(text) };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const run: CliCommand = {
  name: 'run',
  summary: 'keep a state file applied with health checks, reloads and Prometheus metrics',
  help: `usage: kernlb run STATE.json --mode ipvs|nftables|iptables [--netns NAME] [--metrics HOST:PORT]
                  [--resync-interval S] [--clear-on-exit] [--health-concurrency N]

Applies the state and keeps it applied until SIGTERM or SIGINT (then exits 0 after the work in
flight, leaving the kernel as it is; --clear-on-exit removes the mode's objects first).

Health checks: a service with "healthCheck": { "type": "tcp"|"http", "port"?, "path"?: "/",
"expectStatus"?: 200, "intervalMs"?: 1000, "timeoutMs"?: 500, "rise"?: 2, "fall"?: 3 } has each
endpoint probed from inside the namespace (at most --health-concurrency, default 256, at once). After
"fall" failed checks in a row an endpoint is drained (weight 0: no new connections, established ones
finish); after "rise" good ones it gets its weight back.

Reloads: SIGHUP, or any change of STATE.json, re-reads it; a file that does not validate is logged
and the running state kept. Every --resync-interval seconds (default 60, 0: never) the whole state is
reconciled against the kernel. One line per event goes to stderr.

--metrics HOST:PORT serves Prometheus text on /metrics: per endpoint kernlb_endpoint_connections_total
(IPVS also packets, bytes, connection counts), weight, kernlb_endpoint_up and its last check's
duration; per service endpoints, active and up; applies, their duration and failures, resyncs,
reloads, health transitions; process metrics.

Memory: at 10k services x 10 endpoints a scrape is ~20 MB of text, written from packed counters
(nftables) into reused buffers. No setting is needed: kernlb run sets glibc's malloc as
MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 would (each unless
that variable is set), keeps V8's young generation at 2 MB (unless node is given a semi-space flag:
NODE_OPTIONS=--max-semi-space-size=2 keeps the first apply's peak ~10 MB lower), and collects and hands freed pages back after the first
apply and after each scrape (nftables at 10k x 10: ~125 MB after scrapes; lib/daemon/README.md).

A second "kernlb run" for the same namespace and mode refuses to start (lock under /run/kernlb).
Exit codes: 0 stopped by a signal, 1 the kernel refused the first apply or another run holds the
lock, 2 bad input, 4 unavailable here.
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['clear-on-exit'], values: ['mode', 'netns', 'metrics', 'resync-interval', 'health-concurrency'] });
    noExtraArgs(a, 1);
    const m = a.values.get('mode');
    if (m === undefined) throw new UsageError(`--mode is required (${MODES.join(', ')})`);
    if (!MODES.includes(m as Mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, not "${m}"`);
    const mode = m as Mode;
    const file = a.positional[0];
    if (!file) throw new UsageError('a STATE.json file is required');
    if (file === '-') throw new UsageError('kernlb run needs a file (it re-reads it on SIGHUP), not stdin');
    const resync = intOption(a, 'resync-interval', 0, 86400) ?? 60;
    const conc = intOption(a, 'health-concurrency', 1, 65536);
    const listen = a.values.has('metrics') ? parseHostPort(a.values.get('metrics')!) : undefined;
    // (before the state is read and applied: the arenas and thresholds apply to what is allocated after)
    tuneMalloc();
    keepYoungGenerationSmall();
    // (read in a helper: this function's frame lives as long as the process, and must not hold the
    // ~5 MB text; nor the parsed tree, ~20 MB of heap at 10k x 10: `first.input` is let go once the
    // daemon holds its validated Services)
    const first: { input: unknown; digest: string } = await readState(io, file);
    /** The file's content last reloaded or refused (the watch's reference), as a digest. */
    let seen = first.digest;
    validateState(first.input, mode); // (bad input is said as such before any namespace or lock is looked at)
    const netns = netnsOption(a);
    const log = (line: string) => io.err(`${new Date().toISOString()} kernlb run: ${line}\n`);

    let lock;
    try {
      lock = acquireRunLock(mode, netns);
    } catch (e) {
      if (e instanceof AlreadyRunningError) {
        io.err(`kernlb: ${e.message}\n`);
        return ExitCode.kernel;
      }
      throw e;
    }
    // Signals are ours from here on: one during the first apply stops right after it.
    const stopSignal = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    let hup: (() => void) | undefined;
    process.on('SIGHUP', () => hup?.());
    let daemon: LbDaemon | undefined;
    let server: Server | undefined;
    let watcher: FSWatcher | undefined;
    const clear = a.flags.has('clear-on-exit');
    try {
      // (the check above validated the whole state once already: its ~10 MB of Services are garbage,
      // collected before the first apply builds its batch on top of them)
      collectGarbage();
      daemon = await LbDaemon.start(first.input, {
        mode, ...(netns ? { netns } : {}), resyncIntervalS: resync, ...(conc !== undefined ? { healthConcurrency: conc } : {}),
      });
      first.input = undefined;
      const d = daemon;
      log(`running ${mode} in ${netns ? `netns ${netns}` : 'this namespace'}: ${d.state.services.length} service(s), pid ${process.pid}, lock ${lock.path}`);
      for (const [svc, ep] of d.startedDown) log(`endpoint ${ep} of ${svc} starts down: drained in the kernel (a previous run's health checks?); back after its good checks`);
      {
        const s = d.takeStarted()!;
        log(`applied (start): ${s.changed ? `${s.operations} kernel operation(s) in ${s.durationMs.toFixed(1)} ms` : 'no change'}${s.lines.length ? `: ${s.lines.join('; ')}` : ''}`);
      }
      // (the first apply's batch, plan and summary are garbage by now: collected, and their pages
      // handed back instead of staying as RSS)
      collectGarbage();
      trimMalloc();
      d.on('applied', (s, kind, why) => {
        if (!s.changed && kind !== 'full') return;
        log(`${kind} (${why}): ${s.changed ? `${s.operations} kernel operation(s) in ${s.durationMs.toFixed(1)} ms` : 'no change'}${s.lines.length ? `: ${s.lines.join('; ')}` : ''}`);
      });
      d.on('change', (c) => log(`endpoint ${c.endpoint} of ${c.service} ${c.healthy ? 'up, restored' : 'down, drained'}: ${c.reason}`));
      d.on('error', (e, what) => log(`${what} failed: ${errText(e)}`));

      if (listen) {
        const srv = createServer((req, res) => {
          if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('kernlb run: see /metrics\n');
            return;
          }
          // (plain text even when gzip is asked for: with a gzip scrape, V8 did not collect the first
          // scrape's garbage in a kernlb run process, which then stayed 20-60 MB larger: lib/daemon/README.md)
          // Streamed (chunked transfer): the text is rendered as the socket takes it, a few 256 KiB
          // chunks at a time, not held whole (LbDaemon.pipeMetrics).
          let begun = false;
          let collected = false;
          const collect = () => {
            if (collected) return;
            collected = true;
            // (after the response, off the scrape's time: its garbage is collected now, not after several
            // scrapes; then the read's native buffers, freed by now, go back to the system)
            setImmediate(() => {
              collectGarbage();
              trimMalloc();
            });
          };
          res.once('finish', collect).once('close', collect);
          d.pipeMetrics(res, () => {
            begun = true;
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          }).then(
            () => res.end(),
            (e) => {
              if (!begun) res.writeHead(500, { 'content-type': 'text/plain' }).end(`kernlb run: reading the counters failed: ${errText(e)}\n`);
              else res.destroy(e instanceof Error ? e : new Error(String(e)));
            },
          );
        });
        server = srv;
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(listen.port, listen.host, () => resolve());
        });
        const addr = srv.address();
        log(`metrics on http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${typeof addr === 'object' && addr ? addr.port : listen.port}/metrics`);
      }

      // Reloads: one at a time; a reload asked for while one runs happens once after it.
      let reloading: Promise<void> | undefined;
      let again = false;
      const reload = (why: string): void => {
        if (reloading) {
          again = true;
          return;
        }
        reloading = (async () => {
          let next: string;
          try {
            next = await readText(io, file);
          } catch (e) {
            d.metricsRegistry.reloads.inc({ mode, result: 'invalid' });
            log(`reload (${why}) refused, keeping the running state: ${errText(e)}`);
            return;
          }
          // A change already handled (by SIGHUP, or refused before) is not handled again: the write
          // that preceded a SIGHUP also wakes the file watch, and would log its refusal twice.
          const h = digest(next);
          if (why === 'file changed' && h === seen) return;
          seen = h;
          try {
            const s = await d.reload(parseJson(file, next));
            d.metricsRegistry.reloads.inc({ mode, result: 'applied' });
            log(`reloaded ${file} (${why}): ${d.state.services.length} service(s)${s.changed ? '' : ', no change'}`);
          } catch (e) {
            const invalid = e instanceof Error && e.name.startsWith('Validation');
            d.metricsRegistry.reloads.inc({ mode, result: invalid ? 'invalid' : 'failed' });
            log(`reload (${why}) ${invalid ? 'refused' : 'failed'}, keeping the running state: ${errText(e)}`);
          }
        })().finally(() => {
          reloading = undefined;
          if (again) {
            again = false;
            reload(why);
          }
        });
      };
      hup = () => reload('SIGHUP');
      // The directory, not the file: editors and `mv` replace the file, which ends a watch on it.
      let debounce: NodeJS.Timeout | undefined;
      const base = path.basename(file);
      watcher = watch(path.dirname(path.resolve(file)), (_ev, name) => {
        if (name !== base) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => reload('file changed'), 100);
      });

      const signal = await stopSignal;
      log(`${signal}: stopping${clear ? ' and removing the rules (--clear-on-exit)' : ', leaving the kernel as it is'}`);
      if (debounce) clearTimeout(debounce);
      watcher.close();
      await reloading;
      return ExitCode.ok;
    } catch (e) {
      return reportError(e, io);
    } finally {
      watcher?.close();
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeAllConnections(); // (Prometheus keeps its connection open between scrapes)
        await closed;
      }
      if (daemon) {
        try {
          await daemon.close({ clear });
        } catch (e) {
          log(`closing failed: ${errText(e)}`);
        }
      }
      lock.release();
    }
  },
};

export const commands: CliCommand[] = [run];
