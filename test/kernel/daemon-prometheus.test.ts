/**
 * kernlb run's /metrics scraped by a real Prometheus (Debian's prometheus, scrape interval 1 s, on
 * loopback), whose HTTP API then returns the endpoint counters; and `kernlb status --prometheus`
 * prints the same counters once. nftables mode on the host kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../lib/cli/command';
import { main } from '../../lib/cli/main';
import { createTopology, kernelTestsSkipReason, sendRequests } from '../../lib/testing';
import { healthState, noDist, startRun, tempDir } from '../fixtures/daemon-run';

const PROMETHEUS = '/usr/bin/prometheus';
const skip = kernelTestsSkipReason() ?? noDist ?? (existsSync(PROMETHEUS) ? undefined : `${PROMETHEUS} is not installed (apt-get install -y prometheus; scripts/setup.sh does)`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<Sample[]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data: { result: Sample[] } };
  return body.status === 'success' ? body.data.result : [];
}

/** Polls until `ok` holds for the query's result (Prometheus needs a scrape or two). */
async function until(base: string, q: string, ok: (r: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
  const end = Date.now() + timeoutMs;
  let last: Sample[] = [];
  while (Date.now() < end) {
    try {
      last = await query(base, q);
      if (ok(last)) return last;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`query ${q} never satisfied; last result ${JSON.stringify(last)}`);
}

describe.skipIf(skip)(`kernlb run metrics in Prometheus (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('Prometheus scrapes /metrics every second and its API returns the per-endpoint counters and health', async () => {
    await using topo = await createTopology({ backends: 2 });
    const tmp = tempDir('kernlb-prom-');
    let prom: ChildProcess | undefined;
    const d = await startRun([writeState(tmp.dir, JSON.stringify(healthState(topo, 'rr'))), '--mode', 'nftables', '--netns', topo.balancer.name, '--metrics', '127.0.0.1:0']);
    try {
      const r = await sendRequests(topo.client, topo.vip4, 80, 40);
      expect(r.counts).toEqual({ 'backend-1': 20, 'backend-2': 20 });

      // the exposition itself
      // (the first health check of each endpoint may still be running: its duration shows once it ended)
      let text = '';
      for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        text = await (await fetch(d.metricsUrl!)).text();
        if ((text.match(/^kernlb_endpoint_check_duration_seconds\{/gm) ?? []).length === 2) break;
      }
      expect(text).toMatch(/^# TYPE kernlb_endpoint_connections_total counter$/m);
      expect(text).toMatch(/^kernlb_endpoint_connections_total\{service="web",endpoint="10\.201\.1\.2:8080",mode="nftables"\} 20$/m);
      expect(text).toMatch(/^kernlb_endpoint_connections_total\{service="web",endpoint="10\.201\.2\.2:8080",mode="nftables"\} 20$/m);
      expect(text).toMatch(/^kernlb_endpoint_up\{service="web",endpoint="10\.201\.1\.2:8080",mode="nftables"\} 1$/m);
      expect(text).toMatch(/^kernlb_service_endpoints_up\{service="web",mode="nftables"\} 2$/m);
      expect(text).toMatch(/^kernlb_applies_total\{mode="nftables",kind="full"\} 1$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(text).toMatch(/^kernlb_endpoint_check_duration_seconds\{service="web",endpoint="10\.201\.2\.2:8080",mode="nftables"\} 0\.\d+$/m);

      // kernlb status --prometheus: the same kernel counters, once
      let out = '';
      const io: CliIO = { out: (t) => void (out += t), err: () => undefined, readInput: () => Promise.reject(new Error('no input')) };
      expect(await main(['status', '--mode', 'nftables', '--netns', topo.balancer.name, '--prometheus'], io)).toBe(0);
      const kernelLines = (s: string) => s.split('\n').filter((l) => /^kernlb_(endpoint_connections_total|endpoint_weight|service_endpoints(_active)?)\{/.test(l)).sort();
      expect(kernelLines(out)).toEqual(kernelLines(text));
      expect(kernelLines(out)).toHaveLength(6);

      // a real Prometheus scraping it
      const port = await freePort();
      const target = new URL(d.metricsUrl!).host;
      writeFileSync(path.join(tmp.dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: kernlb\n    static_configs:\n      - targets: ['${target}']\n`);
      prom = spawn(PROMETHEUS, [`--config.file=${path.join(tmp.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
      const base = `http://127.0.0.1:${port}`;
      const conns = await until(base, 'kernlb_endpoint_connections_total{job="kernlb"}', (s) => s.length === 2);
      expect(conns.map((s) => [s.metric.service, s.metric.endpoint, s.metric.mode, s.value[1]]).sort()).toEqual([
        ['web', '10.201.1.2:8080', 'nftables', '20'],
        ['web', '10.201.2.2:8080', 'nftables', '20'],
      ]);
      // more traffic shows up at the next scrapes
      await sendRequests(topo.client, topo.vip4, 80, 20);
      const after = await until(base, 'sum(kernlb_endpoint_connections_total{job="kernlb"})', (s) => s[0]?.value[1] === '60');
      expect(after[0]!.value[1]).toBe('60');
      const up = await until(base, 'kernlb_service_endpoints_up', (s) => s.length === 1);
      expect(up[0]!.value[1]).toBe('2');
    } finally {
      prom?.kill('SIGTERM');
      if (prom && prom.exitCode === null) await new Promise((r) => prom!.once('exit', r));
      await d.stop();
      tmp.remove();
    }
  }, 90_000);
});

function writeState(dir: string, text: string): string {
  const f = path.join(dir, 'state.json');
  writeFileSync(f, text);
  return f;
}
