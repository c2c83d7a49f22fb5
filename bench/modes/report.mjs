// bench/modes.mjs's output, made from its results object: the Markdown tables and the Vega-Lite specs
// of the plots. Pure (no I/O); unit-tested in test/unit/bench-modes.test.ts. The results object:
//   { kernel, label, date, quick, load: { before, after }, params: {...},
//     floor: { loopback, path, node? }                     summaries (see stats.summarize), microseconds
//     rows: [{ mode, n, applyMs, connect, firstByte,      summaries
//              rate: { perSec, failed, concurrency }, cpu: { procStatUs, clientSysUs },
//              established: { perSec }, update: { changeMs, underLoad: { changes, applyP50Ms, applyMaxMs,
//              connections, failed, connect } }, monitoring: { counters, counted, made, statusMs },
//              rounds?, range?: { connectP50, ratePerSec }, error?, skipped? }] }           (see combineRounds)
import { median, ratio } from './stats.mjs';

const dash = '—';

/** Microseconds for a table: one decimal below 100, whole numbers above. */
export function fmtUs(v) {
  if (!Number.isFinite(v)) return dash;
  return v < 100 ? v.toFixed(1) : Math.round(v).toString();
}

/** Milliseconds for a table, as seconds from 1000 ms. */
export function fmtMs(v) {
  if (!Number.isFinite(v)) return dash;
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;
}

/** A count per second, rounded to three significant figures. */
export function fmtRate(v) {
  if (!Number.isFinite(v)) return dash;
  return Number(v.toPrecision(3)).toLocaleString('en-US');
}

/** A difference in microseconds with its sign. */
export function fmtDelta(v) {
  if (!Number.isFinite(v)) return dash;
  return `${v < 0 ? '−' : '+'}${fmtUs(Math.abs(v))}`;
}

export function fmtRatio(v) {
  return Number.isFinite(v) ? `${v.toFixed(2)}x` : dash;
}

/** " (lo–hi)" over the rounds of a row, or nothing for one round. */
function rangeOf(range, fmt = fmtUs) {
  return range && range.length === 2 ? ` (${fmt(range[0])}–${fmt(range[1])})` : '';
}

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The row of `mode` at `n`, if measured without error. */
function rowOf(results, mode, n) {
  return results.rows.find((r) => r.mode === mode && r.n === n && !r.error);
}

const pick = (o, keys) => keys.reduce((v, k) => (v == null ? undefined : v[k]), o);
const numbers = (rows, keys) => rows.map((r) => pick(r, keys)).filter((v) => Number.isFinite(v));

/**
 * Rows measured in several rounds (same mode and N) -> one row each: the median of each number over
 * the rounds that succeeded, the range of the connect p50 and of the connection rate when there was
 * more than one round, the updates and monitoring of the round that measured them. A row fails only
 * when every round failed.
 */
export function combineRounds(rows) {
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.mode}\u0000${r.n}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const out = [];
  for (const all of groups.values()) {
    const ok = all.filter((r) => !r.error && !r.skipped);
    if (ok.length === 0) {
      out.push(all[0]);
      continue;
    }
    if (ok.length === 1) {
      out.push({ ...ok[0], rounds: 1 });
      continue;
    }
    const med = (keys) => median(numbers(ok, keys));
    const row = { ...ok[0], rounds: ok.length };
    row.applyMs = med(['applyMs']);
    for (const f of ['connect', 'firstByte']) {
      if (!ok[0][f]) continue;
      row[f] = { ...ok[0][f] };
      for (const p of ['min', 'p50', 'p90', 'p99', 'max', 'mean']) row[f][p] = med([f, p]);
      row[f].n = numbers(ok, [f, 'n']).reduce((a, b) => a + b, 0);
    }
    if (ok[0].rate) row.rate = { ...ok[0].rate, perSec: med(['rate', 'perSec']), failed: numbers(ok, ['rate', 'failed']).reduce((a, b) => a + b, 0) };
    if (ok[0].cpu) row.cpu = { procStatUs: med(['cpu', 'procStatUs']), clientSysUs: med(['cpu', 'clientSysUs']), clientUserUs: med(['cpu', 'clientUserUs']) };
    if (ok[0].established) row.established = { ...ok[0].established, perSec: med(['established', 'perSec']) };
    row.update = ok.find((r) => r.update)?.update;
    row.monitoring = ok.find((r) => r.monitoring)?.monitoring;
    const range = (keys) => {
      const v = numbers(ok, keys);
      return v.length > 1 ? [Math.min(...v), Math.max(...v)] : undefined;
    };
    row.range = { connectP50: range(['connect', 'p50']), ratePerSec: range(['rate', 'perSec']) };
    out.push(row);
  }
  return out;
}

/** Rows sorted by mode (in the order first met) then N. */
function ordered(results) {
  const modes = [...new Set(results.rows.map((r) => r.mode))];
  return [...results.rows].sort((a, b) => modes.indexOf(a.mode) - modes.indexOf(b.mode) || a.n - b.n);
}

/** New-connection table: latency, its ratio to iptables mode at the same N, rate, CPU, kept-alive requests. */
export function connectionTable(results) {
  const floor = results.floor?.path?.p50;
  const head = ['mode', 'N', 'connect p50 / p90 / p99 (µs)', 'p50 over path floor', 'p50 vs iptables', 'first byte p50', 'new conn/s', 'kernel CPU per conn (/proc/stat)', 'client sys time per conn', 'kept-alive req/s'];
  const rows = ordered(results).map((r) => {
    if (r.error || r.skipped) return [r.mode, String(r.n), r.skipped ?? `failed: ${r.error}`, ...Array(head.length - 3).fill(dash)];
    const ipt = rowOf(results, 'iptables', r.n);
    return [
      r.mode,
      String(r.n),
      `${fmtUs(r.connect?.p50)}${rangeOf(r.range?.connectP50)} / ${fmtUs(r.connect?.p90)} / ${fmtUs(r.connect?.p99)}`,
      Number.isFinite(floor) ? fmtDelta(r.connect?.p50 - floor) : dash,
      fmtRatio(ratio(r.connect?.p50, ipt?.connect?.p50)),
      fmtUs(r.firstByte?.p50),
      r.rate ? `${fmtRate(r.rate.perSec)}${rangeOf(r.range?.ratePerSec, fmtRate)}${r.rate.failed ? ` (${r.rate.failed} failed)` : ''}` : dash,
      r.cpu ? `${fmtUs(r.cpu.procStatUs)} µs` : dash,
      r.cpu ? `${fmtUs(r.cpu.clientSysUs)} µs` : dash,
      fmtRate(r.established?.perSec),
    ];
  });
  return table(head, rows);
}

/** Update and monitoring table: full apply, one change, 100 changes under load, counters, status(). */
export function updateTable(results) {
  const head = ['mode', 'N', 'full apply', 'one endpoint change: apply(state) / update()', `${results.params?.changes ?? 100} changes under load: apply p50 / max`, 'connections (failed)', 'connect p50 / p99 during changes (µs)', 'per-endpoint counters', 'status()'];
  const rows = ordered(results).map((r) => {
    if (r.error || r.skipped) return [r.mode, String(r.n), r.skipped ?? `failed: ${r.error}`, ...Array(head.length - 3).fill(dash)];
    const u = r.update?.underLoad;
    const m = r.monitoring;
    return [
      r.mode,
      String(r.n),
      fmtMs(r.applyMs),
      r.update ? `${fmtMs(r.update.changeMs)} / ${fmtMs(r.update.updateMs)}` : dash,
      u ? `${fmtMs(u.applyP50Ms)} / ${fmtMs(u.applyMaxMs)}${u.via ? ` via ${u.via}` : ''}${u.changes !== (results.params?.changes ?? 100) ? ` (${u.changes} changes: time budget)` : ''}` : dash,
      u ? `${u.connections} (${u.failed})` : dash,
      u ? `${fmtUs(u.connect?.p50)} / ${fmtUs(u.connect?.p99)}` : dash,
      m ? (m.counters ? `yes (${m.counted} of ${m.made} counted)` : 'no') : dash,
      m && Number.isFinite(m.statusMs) ? fmtMs(m.statusMs) : dash,
    ];
  });
  return table(head, rows);
}

/** The whole Markdown file for one kernel. */
export function markdown(results, { plots = [] } = {}) {
  const f = results.floor ?? {};
  const floorLine = (name, s) => (s ? `- ${name}: p50 ${fmtUs(s.p50)} µs, p90 ${fmtUs(s.p90)} µs, p99 ${fmtUs(s.p99)} µs (${s.n} connections)` : undefined);
  const lines = [
    `# Data-plane comparison of modes, kernel ${results.kernel}`,
    '',
    `Measured ${results.date} by \`npm run bench:modes${results.quick ? ' -- --quick' : ''}\` (bench/modes.mjs). ` +
      `Load average before/after: ${results.load?.before ?? '?'} / ${results.load?.after ?? '?'}` +
      (results.loadedNote ? `; ${results.loadedNote}` : '') + '.',
    '',
    `Each row: N services x ${results.params?.endpoints ?? 10} endpoints applied in the balancer namespace; the client connects to ` +
      'the service matched last (the end of the iptables chain), whose endpoints are the real backends. ' +
      `Connect latency over ${results.params?.samples ?? '?'} sequential connections (C client: connect() and the server's first byte, ` +
      `CLOCK_MONOTONIC); new conn/s with ${results.params?.concurrency ?? '?'} in flight over ${results.params?.rateCount ?? '?'} connections; ` +
      'CPU per connection over those: kernel time from /proc/stat (all CPUs, less an idle baseline; noisy on a shared machine) and the ' +
      "client process's system time (this kernel accounts the softirq work done on its behalf to it); kept-alive: one connection, " +
      `${results.params?.requestSize ?? '?'}-byte ping-pong for ${results.params?.requestSeconds ?? '?'} s.` +
      ((results.params?.rounds ?? 1) > 1
        ? ` Each row was measured in ${results.params.rounds} rounds (all N and modes, then again): medians over the rounds, with the range of connect p50 and of new conn/s in parentheses.`
        : ''),
    ...(results.params?.realtime ? ['', 'The client and the servers ran SCHED_FIFO (chrt -f 50), so that other work on the machine preempts them less.'] : []),
    '',
    'Client floor (the same C client, no balancer rules; measured before and after the rows, the lower p50 kept, both in the JSON):',
    floorLine('loopback (client namespace to itself)', f.loopback),
    floorLine('path floor (client -> balancer routing -> backend address, no NAT rules, no conntrack)', f.path),
    floorLine('Node net.connect loop on the same path, for comparison', f.node),
    '',
    '## New connections',
    '',
    connectionTable(results),
    '',
    '## Updates and monitoring',
    '',
    `One endpoint change: median apply time of ${results.params?.idleChanges ?? 'a few'} changes of the measured service` +
      ' (remove its last endpoint / put it back) with ' +
      "no load, after status(), through apply() of the whole state and through update() of the one service (LoadBalancer.update, " +
      `where the build has it); each change's time is in the JSON. Under load: ${results.params?.changes ?? 100} such changes applied back to back (update() where there is one) ` +
      `while the C client opens connections one after another, ${results.params?.loadGapUs ?? 0} µs apart ` +
      `(fewer where they did not fit in ${Math.round((results.params?.changesBudgetMs ?? 180_000) / 1000)} s: the count is given).`,
    '',
    updateTable(results),
    '',
    ...plots.map((p) => `![${p.title}](${p.file})`),
    '',
  ];
  return lines.filter((l) => l !== undefined).join('\n');
}

const modeColors = { iptables: '#d62728', nftables: '#1f77b4', ipvs: '#2ca02c', 'kube-proxy iptables': '#ff9896', 'kube-proxy nftables': '#aec7e8' };

function colorScale(modes) {
  return { domain: modes, range: modes.map((m) => modeColors[m] ?? '#7f7f7f') };
}

/** Vega-Lite: connect latency (p50 solid, p99 dashed) against N (log scale), one colour per mode, the path floor as a rule. */
export function connectPlotSpec(results) {
  const values = [];
  for (const r of results.rows) {
    if (r.error || r.skipped || !r.connect) continue;
    values.push({ mode: r.mode, n: r.n, stat: 'p50', us: r.connect.p50 }, { mode: r.mode, n: r.n, stat: 'p99', us: r.connect.p99 });
  }
  const modes = [...new Set(values.map((v) => v.mode))];
  const layers = [{
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'services (N, log scale)' },
      y: { field: 'us', type: 'quantitative', title: 'new TCP connection (µs)', scale: { zero: true } },
      color: { field: 'mode', type: 'nominal', scale: colorScale(modes) },
      // (resvg draws vega's dashed legend symbols empty: the subtitle says which line is which)
      strokeDash: { field: 'stat', type: 'nominal', scale: { domain: ['p50', 'p99'], range: [[1, 0], [6, 3]] }, legend: null },
    },
  }];
  const floor = results.floor?.path?.p50;
  if (Number.isFinite(floor)) {
    layers.push({
      data: { values: [{ us: floor, label: 'path floor p50' }] },
      mark: { type: 'rule', color: '#555', strokeDash: [2, 2] },
      encoding: { y: { field: 'us', type: 'quantitative' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `New TCP connection to the last-matched service, kernel ${results.kernel}`, subtitle: 'solid: p50, dashed: p99; dotted grey: the client floor (p50, no NAT)' },
    width: 520,
    height: 300,
    background: 'white',
    config: { legend: { labelLimit: 400 } },
    data: { values },
    layer: layers,
  };
}

/** Vega-Lite: one endpoint change's apply time against N, both log scale, one colour per mode. */
export function updatePlotSpec(results) {
  const changes = results.params?.changes ?? 100;
  const measures = ['one change, idle, apply(state)', 'one change, idle, update()', `p50 of ${changes} under load`];
  const values = [];
  for (const r of results.rows) {
    if (r.error || !Number.isFinite(r.update?.changeMs)) continue;
    values.push({ mode: r.mode, n: r.n, what: measures[0], ms: r.update.changeMs });
    if (Number.isFinite(r.update.updateMs)) values.push({ mode: r.mode, n: r.n, what: measures[1], ms: r.update.updateMs });
    if (Number.isFinite(r.update.underLoad?.applyP50Ms)) values.push({ mode: r.mode, n: r.n, what: measures[2], ms: r.update.underLoad.applyP50Ms });
  }
  const modes = [...new Set(values.map((v) => v.mode))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Apply time of one endpoint change, kernel ${results.kernel}`, subtitle: `solid: apply(state), dashed: update(), dotted: p50 of ${changes} changes under load` },
    width: 520,
    height: 300,
    background: 'white',
    config: { legend: { labelLimit: 400 } },
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'services (N, log scale)' },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'apply (ms, log scale)' },
      color: { field: 'mode', type: 'nominal', scale: colorScale(modes) },
      strokeDash: { field: 'what', type: 'nominal', scale: { domain: measures, range: [[1, 0], [6, 3], [2, 2]] }, legend: null },
    },
  };
}

/** "6.18.0-foo" -> "6.18": the name results files carry. */
export function kernelLabel(release) {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? `${m[1]}.${m[2]}` : release.replace(/[^A-Za-z0-9.]+/g, '-');
}
