// Data-plane comparison of kernlb's modes (issue #18), against dist/ (run `bash scripts/setup.sh` first):
//   npm run bench:modes [-- --quick] [--n 10,1000,10000] [--modes iptables,nftables,kube-iptables,kube-nftables]
//                       [--rounds 2] [--no-rt] [--where host,uml] [--render results.json] [--uml-n 10,1000] [--uml-modes ipvs,iptables,kube-iptables] [--out bench/results]
// A client / balancer / ten backends topology in network namespaces (kernlb/testing); per mode and N,
// N services x 10 endpoints applied in the balancer, and from the client (a C helper, bench/modes/connect.c,
// built here with the system cc): new-connection latency to the service matched last, new connections per
// second at 16 in flight with the kernel CPU they cost, kept-alive requests per second; for kernlb's modes
// also one endpoint change's apply time, 100 changes under load (failed connections, connect p99), and
// status() with its per-endpoint counters. kube-proxy's own iptables and nftables layouts are reference rows.
// IPVS exists only in the User-mode Linux guest (kernel 6.1): the guest runs IPVS and iptables rows (and
// kube-proxy's iptables layout); compare modes only within one kernel.
// Writes bench/results/modes-<kernel>.{md,json} and the plots modes-<kernel>-connect.png, -update.png
// (--quick: N up to 1000, fewer samples, files named modes-<kernel>-quick.*).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildHelpers, loadAverage, measureFloor, measureRow, setUp, useRealtime } from './modes/measure.mjs';
import { plotProblem, renderPlot } from './modes/plot.mjs';
import { combineRounds, connectPlotSpec, kernelLabel, markdown, updatePlotSpec } from './modes/report.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const has = (k) => args.includes(`--${k}`);
const opt = (k, d) => (has(k) ? args[args.indexOf(`--${k}`) + 1] : d);
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const quick = has('quick');
const inUml = !!process.env.KERNLB_IN_UML;

const params = quick
  ? { samples: 1000, warmup: 100, rateCount: 4000, concurrency: 16, requestSeconds: 1, requestSize: 64, idleMs: 500, idleChanges: 4, changes: 20, changesBudgetMs: 30_000, loadGapUs: 500, statusRuns: 3 }
  : { samples: 3000, warmup: 300, rateCount: 20000, concurrency: 16, requestSeconds: 3, requestSize: 64, idleMs: 1000, idleChanges: 6, changes: 100, changesBudgetMs: 180_000, loadGapUs: 500, statusRuns: 3 };
params.endpoints = 10;
// The guest's system calls are slow (about 450 new connections a second): fewer for the rate there.
// The guest has one CPU and a connection costs it ~200 us: the load beside the changes is paced wider.
if (inUml) Object.assign(params, { rateCount: quick ? 1000 : 4000, loadGapUs: 2000 });
const rounds = Number(opt('rounds', quick ? 1 : 2));
params.realtime = !has('no-rt');
useRealtime(params.realtime);
// kube-proxy's nftables layout loads slowly with nft -f (104-177 s at 10k services here, nearly all in
// the kernel): its reference row stops at this N.
const kubeNftMax = Number(opt('kube-nft-max', 1000));

const log = (s) => process.stderr.write(`[modes ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** Measures the given modes at the given Ns in this kernel. */
async function runHere(modes, ns, note) {
  const bins = buildHelpers();
  const load = { before: loadAverage() };
  log(`kernel ${os.release()}, modes ${modes.join(',')}, N ${ns.join(',')}${quick ? ' (quick)' : ''}; load ${load.before}`);
  const { topo, floor } = await setUp(bins, params);
  log(`floor: loopback p50 ${floor.loopback.p50.toFixed(1)} us, path p50 ${floor.path.p50.toFixed(1)} us, node loop p50 ${floor.node.p50.toFixed(1)} us`);
  const rows = [];
  try {
    // Rounds outermost, then N: the modes' rows at one N are measured close together, under the same
    // load, and again later. Updates and monitoring are measured in the first round only.
    for (let round = 1; round <= rounds; round++) {
      for (const n of ns) {
        for (const mode of modes) {
          if (mode === 'kube-nftables' && n > kubeNftMax) {
            if (round === 1) rows.push({ mode: 'kube-proxy nftables', n, round, skipped: `not run above N=${kubeNftMax}: nft -f loads this layout in 104-177 s at 10k` });
            continue;
          }
          const row = await measureRow(mode, n, { topo, bins }, { ...params, updates: round === 1 }, log);
          rows.push({ ...row, round });
        }
      }
    }
    // The floor again at the end (the rows removed their rules; a nat table emptied may still keep
    // conntrack running in the balancer): the lower of the two is the floor
    // the rows are compared with (a guest just booted is slower for a while), both are kept.
    const again = await measureFloor(topo, bins, params);
    log(`floor again: loopback p50 ${again.loopback.p50.toFixed(1)} us, path p50 ${again.path.p50.toFixed(1)} us`);
    floor.pathRuns = [floor.path, again.path];
    floor.loopbackRuns = [floor.loopback, again.loopback];
    if (again.path.p50 < floor.path.p50) floor.path = again.path;
    if (again.loopback.p50 < floor.loopback.p50) floor.loopback = again.loopback;
  } finally {
    await topo.destroy();
  }
  load.after = loadAverage();
  const busy = Math.max(...[load.before, load.after].map((l) => Number(l.split(' ')[0])));
  return {
    kernel: os.release(),
    label: kernelLabel(os.release()),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    quick,
    load,
    loadedNote: note ?? (busy > 1 ? `the machine (${os.cpus().length} CPUs) was shared with other work: absolute numbers are noisy, compare rows of one table` : undefined),
    params: { ...params, rounds },
    floor,
    rows: combineRounds(rows),
    roundRows: rows,
  };
}

/** Writes the JSON, the Markdown and the plots of one kernel's results. */
async function writeOutputs(results, outDir) {
  mkdirSync(outDir, { recursive: true });
  const base = `modes-${results.label}${results.quick ? '-quick' : ''}`;
  writeFileSync(path.join(outDir, `${base}.json`), JSON.stringify(results, null, 1) + '\n');
  const plots = [];
  const problem = plotProblem();
  if (problem) log(`no plots: ${problem}`);
  else {
    for (const [suffix, spec, title] of [['connect', connectPlotSpec(results), 'connect latency vs N'], ['update', updatePlotSpec(results), 'update apply time vs N']]) {
      if (spec.data.values.length === 0) continue;
      const { png } = await renderPlot(spec);
      writeFileSync(path.join(outDir, `${base}-${suffix}.png`), png);
      plots.push({ title, file: `${base}-${suffix}.png` });
    }
  }
  writeFileSync(path.join(outDir, `${base}.md`), markdown(results, { plots }));
  log(`wrote ${path.join(outDir, base)}.{json,md}${plots.length ? ' and plots' : ''}`);
}

/** Runs this script inside the UML guest and returns the guest's results. */
function runInGuest(modes, ns) {
  const json = path.join(os.tmpdir(), `kernlb-modes-${process.pid}.json`);
  const argv = ['bash', path.join(root, 'scripts/uml-run.sh'), '--timeout', '3000', '--', process.execPath, path.join(root, 'bench/modes.mjs'),
    '--inner', '--modes', modes.join(','), '--n', ns.join(','), '--json', json, '--rounds', String(rounds), ...(quick ? ['--quick'] : []), ...(params.realtime ? [] : ['--no-rt']),
    // the guest's load average says nothing of the host's, which is what slows the guest down
    '--note', `the host's load average was ${loadAverage()} when the guest started: absolute numbers are noisy, compare rows of one table`];
  log(`booting User-mode Linux for ${modes.join(',')} at N ${ns.join(',')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || !existsSync(json)) return reject(new Error(`the guest run failed (exit ${code})`));
      resolve(JSON.parse(readFileSync(json, 'utf8')));
    });
  });
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  if (!existsSync(path.join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run bash scripts/setup.sh');
  const out = path.resolve(root, opt('out', 'bench/results'));
  if (has('render')) {
    // Tables and plots again from a results file (no measuring): --render bench/results/modes-6.18.json
    const file = path.resolve(root, opt('render'));
    await writeOutputs(JSON.parse(readFileSync(file, 'utf8')), path.dirname(file));
    return;
  }
  if (has('inner')) {
    // Inside the guest: measure and hand the results back as JSON (the host draws the plots).
    const r = await runHere(list(opt('modes', 'ipvs,iptables')), list(opt('n', '10,1000')).map(Number), opt('note', undefined));
    writeFileSync(opt('json', path.join(os.tmpdir(), 'kernlb-modes.json')), JSON.stringify(r));
    return;
  }
  const defaultN = quick ? '10,1000' : '10,1000,10000';
  const ns = list(opt('n', defaultN)).map(Number).filter((n) => !quick || n <= 1000);
  const where = list(opt('where', inUml ? 'host' : 'host,uml'));
  buildHelpers();
  if (where.includes('host')) {
    const modes = list(opt('modes', existsSync('/proc/net/ip_vs') ? 'iptables,nftables,ipvs,kube-iptables' : 'iptables,nftables,kube-iptables,kube-nftables'));
    await writeOutputs(await runHere(modes, ns, opt('note', undefined)), out);
  }
  if (where.includes('uml') && !inUml) {
    const problem = createRequire(import.meta.url)(path.join(root, 'dist/testing/index.js')).umlAvailable();
    if (problem) log(`skipped the guest kernel: ${problem}`);
    else {
      const umlN = list(opt('uml-n', '10,1000')).map(Number).filter((n) => !quick || n <= 1000);
      // (--quick leaves kube-proxy's layout out of the guest: the guest is slow, quick must stay under 10 minutes)
      await writeOutputs(await runInGuest(list(opt('uml-modes', quick ? 'ipvs,iptables' : 'ipvs,iptables,kube-iptables')), umlN), out);
    }
  }
}

main().catch((e) => {
  log(`failed: ${e.stack ?? e}`);
  process.exit(1);
});
