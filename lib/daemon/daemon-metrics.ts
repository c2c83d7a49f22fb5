/** The daemon's own counters (applies, resyncs, reloads, transitions) and prom-client's process metrics. */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly applies: Counter<'mode' | 'kind'>;
  readonly applyFailures: Counter<'mode' | 'kind'>;
  readonly applyDuration: Histogram<'mode' | 'kind'>;
  readonly resyncs: Counter<'mode'>;
  readonly reloads: Counter<'mode' | 'result'>;
  readonly transitions: Counter<'mode' | 'to'>;
  readonly statusRead: Gauge<'mode'>;

  constructor(readonly mode: string, opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.applies = new Counter({ name: 'kernlb_applies_total', help: 'Changes sent to the kernel (kind: full apply, update of changed services, resync).', labelNames: ['mode', 'kind'], registers });
    this.applyFailures = new Counter({ name: 'kernlb_apply_failures_total', help: 'Applies the kernel or validation refused.', labelNames: ['mode', 'kind'], registers });
    this.applyDuration = new Histogram({
      name: 'kernlb_apply_duration_seconds', help: 'Wall time of one apply (read, diff, commit).', labelNames: ['mode', 'kind'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.resyncs = new Counter({ name: 'kernlb_resyncs_total', help: 'Full reconciles against what the kernel holds.', labelNames: ['mode'], registers });
    this.reloads = new Counter({ name: 'kernlb_reloads_total', help: 'State file reloads (result: applied, invalid, failed).', labelNames: ['mode', 'result'], registers });
    this.transitions = new Counter({ name: 'kernlb_health_transitions_total', help: 'Endpoints going down (drained) or up (restored) by health checks.', labelNames: ['mode', 'to'], registers });
    this.statusRead = new Gauge({ name: 'kernlb_status_read_seconds', help: 'Time the last scrape took to read the counters from the kernel.', labelNames: ['mode'], registers });
    // zero series exist from the start, so a rate() over them has a beginning
    for (const kind of ['full', 'update', 'resync']) {
      this.applies.inc({ mode, kind }, 0);
      this.applyFailures.inc({ mode, kind }, 0);
    }
    this.resyncs.inc({ mode }, 0);
    for (const to of ['up', 'down']) this.transitions.inc({ mode, to }, 0);
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
