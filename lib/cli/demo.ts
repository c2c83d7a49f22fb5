/**
 * `kernlb demo`: the README's main job. Builds a throwaway topology with the kernlb/testing kit
 * (client, balancer, three backends with HTTP servers), applies one service per mode, sends real
 * requests through the VIP and prints the distribution, the kernel's view as the reference tool
 * prints it, and the apply time. CLI code (it runs tools and prints), which is why it lives in
 * lib/cli and not in lib/lb: the library proper never shells out or prints.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { CliIO } from './command';
import { ExitCode } from './command';
import { createTopology, kernelTestsSkipReason, runInUml, sendRequests, umlAvailable, type Topology } from '../testing';
import { LoadBalancer } from '../lb/load-balancer';
import type { Mode, Scheduler } from '../lb/schedulers';
import type { DesiredState } from '../lb/state';

export interface DemoOptions {
  requests: number;
  modes: Mode[];
  /** Run IPVS in a UML guest when this kernel lacks it. */
  uml: boolean;
  /** Set when this process is the UML guest's copy of the demo. */
  inGuest: boolean;
}

/** The service each mode balances: a scheduler that shows what the mode does well. */
const PLAN: Record<Mode, { scheduler: Scheduler; weights: [number, number, number]; tool: string[]; why: string }> = {
  nftables: { scheduler: 'wrr', weights: [1, 2, 3], tool: ['nft', 'list', 'ruleset'], why: 'numgen inc cascade: exact weighted round robin' },
  iptables: { scheduler: 'random', weights: [1, 1, 2], tool: ['iptables-legacy-save', '-t', 'nat'], why: 'statistic random (kube-proxy layout): weighted random' },
  ipvs: { scheduler: 'wrr', weights: [1, 2, 3], tool: ['ipvsadm', '-Ln'], why: 'IPVS virtual service, masquerading real servers' },
};

function hasIpvs(): boolean {
  return existsSync('/proc/net/ip_vs');
}

function bar(n: number, total: number): string {
  return '#'.repeat(Math.round((40 * n) / Math.max(total, 1)));
}

async function demoMode(io: CliIO, topo: Topology, mode: Mode, requests: number): Promise<boolean> {
  const p = PLAN[mode];
  const total = p.weights.reduce((a, b) => a + b, 0);
  const state: DesiredState = {
    services: [
      {
        name: 'web',
        vip: topo.vip4,
        port: 80,
        scheduler: p.scheduler,
        endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: p.weights[i]! })),
      },
    ],
  };
  io.out(`\n=== ${mode}: ${p.why}\n`);
  io.out(`service web ${topo.vip4}:80 scheduler ${p.scheduler}, weights ${p.weights.join(':')} over ${topo.backends.map((b) => `${b.name} ${b.ipv4}:${b.port}`).join(', ')}\n`);
  const lb = await LoadBalancer.open({ mode, netns: topo.balancer.name });
  try {
    const s = await lb.apply(state);
    io.out(`apply: ${s.durationMs.toFixed(1)} ms (${s.operations} kernel operation(s)${mode === 'ipvs' ? '' : ', one atomic commit'})\n`);
    const again = await lb.apply(state);
    io.out(`apply again (same state): ${again.changed ? 'CHANGED (unexpected)' : 'no change'}, ${again.durationMs.toFixed(1)} ms\n`);
    const t0 = performance.now();
    const r = await sendRequests(topo.client, topo.vip4, 80, requests, { concurrency: 4 });
    const secs = (performance.now() - t0) / 1000;
    io.out(`${requests} HTTP requests from the client namespace to ${topo.vip4}:80 in ${secs.toFixed(1)} s: ${r.failures} failed\n`);
    topo.backends.forEach((b, i) => {
      const n = r.counts[b.name] ?? 0;
      const expect = (100 * p.weights[i]!) / total;
      io.out(`  ${b.name}  ${String(n).padStart(5)}  ${((100 * n) / requests).toFixed(1).padStart(5)}%  (weight ${p.weights[i]}: ${expect.toFixed(1)}%)  ${bar(n, requests)}\n`);
    });
    const st = await lb.status();
    const conns = (e: (typeof st.services)[number]['endpoints'][number]) =>
      e.counters.activeConnections !== undefined ? `active+inactive=${e.counters.activeConnections + (e.counters.inactiveConnections ?? 0)}` : `conns=${e.counters.connections}`;
    io.out(`kernlb status: ${st.services[0]?.endpoints.map((e) => `${e.address} ${conns(e)}`).join(', ')}\n`);
    const view = await topo.balancer.exec(p.tool, { allowFail: true });
    io.out(`kernel's view (${p.tool.join(' ')}):\n${(view.stdout || view.stderr).replace(/^/gm, '  ').trimEnd()}\n`);
    await lb.clear();
    return r.failures === 0;
  } finally {
    await lb.close();
  }
}

/** How to start this same CLI again (inside the UML guest). */
function selfCommand(): string[] {
  const compiled = path.join(__dirname, 'main.js');
  if (existsSync(compiled)) return [process.execPath, compiled];
  const root = path.join(__dirname, '..', '..');
  return [path.join(root, 'node_modules', '.bin', 'vite-node'), path.join(root, 'lib', 'cli', 'main.ts'), '--'];
}

export async function runDemo(io: CliIO, opts: DemoOptions): Promise<number> {
  const why = kernelTestsSkipReason();
  if (why) {
    io.err(`kernlb demo: ${why}\n`);
    return ExitCode.unavailable;
  }
  let ok = true;
  const local = opts.modes.filter((m) => m !== 'ipvs' || hasIpvs());
  if (local.length) {
    io.out(`kernlb demo: building namespaces (client, balancer, 3 backends with HTTP servers)...\n`);
    const topo = await createTopology({ backends: 3 });
    try {
      io.out(`client ${topo.client.name}, balancer ${topo.balancer.name}, backends ${topo.backends.map((b) => b.ns.name).join(', ')}\n`);
      for (const m of local) ok = (await demoMode(io, topo, m, opts.requests)) && ok;
    } finally {
      await topo.destroy();
    }
  }
  if (opts.modes.includes('ipvs') && !hasIpvs() && !opts.inGuest) {
    const noUml = !opts.uml ? 'disabled with --no-uml' : umlAvailable();
    if (noUml) {
      io.out(`\n=== ipvs: skipped: this kernel has no IPVS (CONFIG_IP_VS) and the UML guest cannot run (${noUml})\n`);
    } else {
      io.out(`\n=== ipvs: this kernel has no IPVS; running the IPVS part in a User-mode Linux guest (kernel 6.1 with IPVS)...\n`);
      const r = await runInUml([...selfCommand(), 'demo', '--in-guest', '--modes', 'ipvs', '--requests', String(opts.requests)], {
        timeoutSeconds: 600,
        onOutput: (s) => io.out(s.replace(/^kernlb demo: building[^\n]*\n/m, '')),
      });
      if (r.code !== 0) {
        io.out(`(the UML guest exited with ${r.code})\n`);
        ok = false;
      }
    }
  }
  if (!opts.inGuest) io.out(`\nkernlb demo: ${ok ? 'done' : 'finished with failures'}; all namespaces removed.\n`);
  return ok ? ExitCode.ok : ExitCode.kernel;
}
