/** kernlb apply | status | diff | demo: the load-balancer commands. */
import { isConflict, isPermissionDenied, KernelError } from '../errors';
import { LoadBalancer } from '../lb/load-balancer';
import { MODES, type Mode } from '../lb/schedulers';
import type { ApplySummary, LbStatus } from '../lb/types';
import { endpointKey, serviceKey, validateState, type State } from '../lb/state';
import { renderStatusMetrics } from '../daemon/endpoint-metrics';
import { ExitCode, intOption, netnsOption, noExtraArgs, parseArgs, parseJson, readText, UsageError, type CliCommand, type CliIO } from './command';

const STATE_HELP = `The state file is JSON:
  { "services": [ { "name": "web", "protocol": "tcp", "vip": "10.96.0.10", "port": 80,
                    "scheduler": "rr", "persistence": { "timeout": 300 },
                    "endpoints": [ { "address": "10.244.1.2", "port": 8080, "weight": 1 } ] } ] }
protocol: tcp (default), udp, sctp. scheduler (default rr):
  ipvs      rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos; persistence
  nftables  rr wrr random sh
  iptables  rr random (tcp and udp); persistence (recent match, like kube-proxy)
weight: 0..65535 (default 1; 0 = no new connections). family (ipv4/ipv6) is optional and only
checked against the vip: status --json prints it, so its "state" applies as it is. rr gives every
endpoint of weight > 0 the same share: other weights are ignored, with a warning on stderr.`;

function mode(v: string | undefined, required: boolean, option = '--mode'): Mode | undefined {
  if (v === undefined) {
    if (required) throw new UsageError(`${option} is required (${MODES.join(', ')})`);
    return undefined;
  }
  if (!MODES.includes(v as Mode)) throw new UsageError(`${option} must be one of ${MODES.join(', ')}, not "${v}"`);
  return v as Mode;
}

/** The state file, parsed and validated for the mode before any namespace is looked at. */
async function readState(io: CliIO, a: ReturnType<typeof parseArgs>, m: Mode): Promise<State> {
  noExtraArgs(a, 1);
  const file = a.positional[0];
  if (!file) throw new UsageError('a state FILE (or - for stdin) is required');
  const input = parseJson(file, await readText(io, file));
  return validateState(input, m);
}

function printSummary(io: CliIO, s: ApplySummary): void {
  const head = s.dryRun ? 'dry run: would apply' : s.changed ? 'applied' : 'no change';
  io.out(`${head} (${s.mode}): ${s.operations} kernel operation(s) in ${s.durationMs.toFixed(1)} ms\n`);
  for (const l of s.lines) io.out(`  ${l}\n`);
  for (const d of s.draining) io.out(`  draining ${d.service} -> ${endpointKey(d)} since ${new Date(d.since * 1000).toISOString()}\n`);
  if (s.removedModes.length) io.out(`  removed the rules of: ${s.removedModes.join(', ')}\n`);
}

function printWarnings(io: CliIO, warnings: string[]): void {
  for (const w of warnings) io.err(`kernlb: warning: ${w}\n`);
}

export function formatStatus(st: LbStatus): string {
  const out: string[] = [`mode ${st.mode}: ${st.services.length} service(s)`];
  for (const s of st.services) {
    out.push(`  ${s.name}  ${serviceKey(s)}  ${s.scheduler}${s.persistence ? ` persistent ${s.persistence.timeout}s` : ''}`);
    for (const e of s.endpoints) {
      const c = e.counters;
      const conns = c.activeConnections !== undefined ? `  active ${c.activeConnections} inactive ${c.inactiveConnections}` : '';
      const drain = e.drainingSince !== undefined ? `  draining since ${new Date(e.drainingSince * 1000).toISOString()}` : '';
      out.push(`    -> ${endpointKey(e).padEnd(28)} weight ${String(e.weight).padEnd(5)} conns ${c.connections} pkts ${c.packets} bytes ${c.bytes}${conns}${drain}`);
    }
  }
  return out.join('\n') + '\n';
}

const apply: CliCommand = {
  name: 'apply',
  summary: 'make the kernel match a load-balancer state file (minimal diff)',
  help: `usage: kernlb apply FILE|- --mode ipvs|nftables|iptables [--netns NAME] [--dry-run] [--resync] [--json] [--drain-timeout S]

Validates the state, compares it with what the kernel has, and applies only the difference:
nftables and iptables in one atomic commit (none when nothing changed), IPVS as ordered single
operations (adds before removes; removed endpoints drain at weight 0 and are deleted once idle or
after --drain-timeout seconds, default 300, by this or a later apply). Rules another mode left in
the namespace are removed once this mode is live.

  --dry-run   compute (nftables: and let the kernel validate) without changing anything
  --resync    read everything the mode has in the kernel before deciding (no shortcut such as
              iptables' lazy check): repairs any change made behind kernlb's back
  --json      print the change summary as JSON

${STATE_HELP}

Exit codes: 0 ok, 1 kernel refused, 2 bad input, 3 conflict (retry), 4 unavailable here.
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['dry-run', 'json', 'resync'], values: ['mode', 'netns', 'drain-timeout'] });
    const m = mode(a.values.get('mode'), true)!;
    const dt = intOption(a, 'drain-timeout', 0, 0x7fffffff);
    const input = await readState(io, a, m);
    const netns = netnsOption(a);
    await using lb = await LoadBalancer.open({ mode: m, ...(netns ? { netns } : {}), ...(dt !== undefined ? { drainTimeout: dt } : {}) });
    const s = await lb.apply(input, { dryRun: a.flags.has('dry-run'), resync: a.flags.has('resync') });
    if (a.flags.has('json')) io.out(JSON.stringify(s, null, 2) + '\n');
    else printSummary(io, s);
    printWarnings(io, s.warnings);
    return ExitCode.ok;
  },
};

const status: CliCommand = {
  name: 'status',
  summary: 'show the load balancer the kernel runs, with per-endpoint counters',
  help: `usage: kernlb status [--mode ipvs|nftables|iptables] [--netns NAME|PATH] [--json|--prometheus]

Reads the kernel back into the state model plus per-endpoint counters: IPVS stats and connection
counts, nftables rule counters, iptables rule counters (nftables/iptables count new connections).
Without --mode, every mode that has rules in the namespace is shown; a mode this kernel cannot do
(no IPVS, no nftables inet family) is reported on stderr as "not checked".

  --netns     a named namespace (/run/netns/NAME) or an absolute path to a namespace file
  --json      an array with one { mode, state, services } per mode shown (with --mode: exactly
              that mode's entry, even when it has no services). "state" is the JSON apply takes:
              kernlb status --json --mode M | jq '.[0].state' | kernlb apply - --mode M
  --prometheus  the counters once in Prometheus' text format, as kernlb run serves them on
              /metrics (for node_exporter's textfile collector)
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['json', 'prometheus'], values: ['mode', 'netns'] });
    noExtraArgs(a, 0);
    if (a.flags.has('json') && a.flags.has('prometheus')) throw new UsageError('--json and --prometheus: choose one');
    const m = mode(a.values.get('mode'), false);
    // checked here: each mode alone would only be "not checked" and the status "no rules"
    const netns = netnsOption(a);
    const results: LbStatus[] = [];
    const unavailable: string[] = [];
    for (const mm of m ? [m] : MODES) {
      try {
        await using lb = await LoadBalancer.open({ mode: mm, ...(netns ? { netns } : {}) });
        const st = await lb.status();
        if (m || st.services.length) results.push(st);
      } catch (e) {
        // Without --mode, what this kernel lacks (no IPVS family; UML's nf_tables has no inet family)
        // is "not checked"; anything else (permissions, a conflict, bad input) fails the command.
        if (m || !(e instanceof KernelError) || isConflict(e) || isPermissionDenied(e)) throw e;
        unavailable.push(`${mm}: ${e.message}`);
      }
    }
    if (a.flags.has('json')) io.out(JSON.stringify(results, null, 2) + '\n');
    else if (a.flags.has('prometheus')) io.out(renderStatusMetrics(results));
    else {
      if (!results.length) io.out(unavailable.length ? 'no load-balancer rules in the modes checked\n' : 'no load-balancer rules in this namespace\n');
      for (const r of results) io.out(formatStatus(r));
    }
    for (const u of unavailable) io.err(`(not checked: ${u})\n`);
    return ExitCode.ok;
  },
};

const diff: CliCommand = {
  name: 'diff',
  summary: 'show what apply would change',
  help: `usage: kernlb diff FILE|- --mode ipvs|nftables|iptables [--netns NAME] [--json]

Prints one line per change: "+ service ..." added, "- service ..." removed, "~ service ...: ..."
changed endpoints (+added, -removed, weight a->b) or fields. Nothing is changed.

${STATE_HELP}
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['json'], values: ['mode', 'netns'] });
    const m = mode(a.values.get('mode'), true)!;
    const input = await readState(io, a, m);
    const netns = netnsOption(a);
    await using lb = await LoadBalancer.open({ mode: m, ...(netns ? { netns } : {}) });
    const d = await lb.diff(input);
    if (a.flags.has('json')) io.out(JSON.stringify(d.diff, null, 2) + '\n');
    else io.out(d.empty ? 'no change\n' : d.lines.join('\n') + '\n');
    return ExitCode.ok;
  },
};

const clear: CliCommand = {
  name: 'clear',
  summary: "remove everything kernlb created in a mode (or all modes), nothing of anyone else's",
  help: `usage: kernlb clear --mode ipvs|nftables|iptables | --all-modes [--netns NAME|PATH]

Removes what kernlb's load balancer created in the namespace (LoadBalancer.clear()):
  nftables  the table inet kernlb
  iptables  the KERNLB-* chains of the nat tables (IPv4 and IPv6) and the jumps into them from
            PREROUTING, OUTPUT and POSTROUTING; every other chain and rule stays as it is
  ipvs      the virtual services kernlb created (they carry its tag in the flags' upper half, which
            ipvsadm does not show); every other service stays
With --all-modes, a mode this kernel cannot do (no IPVS; no nftables inet family) is skipped and
said so on stderr. Prints one line per mode.

Exit codes: 0 ok, 1 kernel refused, 2 bad input, 3 conflict (retry), 4 unavailable here.
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['all-modes'], values: ['mode', 'netns'] });
    noExtraArgs(a, 0);
    const all = a.flags.has('all-modes');
    const m = mode(a.values.get('mode'), false);
    if (all === (m !== undefined)) throw new UsageError('give either --mode ipvs|nftables|iptables or --all-modes');
    const netns = netnsOption(a);
    for (const mm of m ? [m] : MODES) {
      try {
        await using lb = await LoadBalancer.open({ mode: mm, ...(netns ? { netns } : {}) });
        await lb.clear();
        io.out(`${mm}: cleared\n`);
      } catch (e) {
        // as in status: with --all-modes, what this kernel lacks is skipped, anything else fails
        if (m || !(e instanceof KernelError) || isConflict(e) || isPermissionDenied(e)) throw e;
        io.err(`(skipped ${mm}: ${e.message})\n`);
      }
    }
    return ExitCode.ok;
  },
};

const demo: CliCommand = {
  name: 'demo',
  summary: 'build a throwaway client/balancer/backends topology and balance real traffic in every mode',
  help: `usage: kernlb demo [--requests N] [--modes ipvs,nftables,iptables] [--no-uml]

Builds network namespaces (a client, a balancer, three backends running small HTTP servers),
applies one service in each mode in turn, sends N (default 300) real HTTP requests through the
VIP, and prints per mode the requests per backend, the kernel's view as its own tool prints it
(ipvsadm -Ln, nft list ruleset, iptables-legacy-save) and how long the apply took. IPVS runs inside
a User-mode Linux guest (scripts/uml-run.sh) when this kernel has no IPVS (--no-uml: skip it).
Everything is removed at the end, also on Ctrl-C. Needs root.
`,
  async run(args, io) {
    const a = parseArgs(args, { flags: ['no-uml', 'in-guest'], values: ['requests', 'modes'] });
    noExtraArgs(a, 0);
    const requests = intOption(a, 'requests', 1, 100000) ?? 300;
    const modes = (a.values.get('modes') ?? MODES.join(',')).split(',').map((x) => mode(x, true, '--modes')!);
    const { runDemo } = await import('./demo');
    return runDemo(io, { requests, modes, uml: !a.flags.has('no-uml'), inGuest: a.flags.has('in-guest') });
  },
};

export const commands: CliCommand[] = [apply, status, diff, clear, demo];
