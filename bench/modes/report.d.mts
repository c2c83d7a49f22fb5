// Types of report.mjs (for the unit test; the bench itself is plain JavaScript).
import type { Summary } from './stats.mjs';

export interface Row {
  mode: string;
  n: number;
  round?: number;
  rounds?: number;
  error?: string;
  /** Why the row was not measured (not a failure). */
  skipped?: string;
  applyMs?: number;
  connect?: Summary;
  firstByte?: Summary;
  rate?: { perSec: number; failed: number; concurrency?: number };
  cpu?: { procStatUs: number; clientSysUs: number; clientUserUs?: number };
  established?: { perSec: number; failed?: number };
  update?: { changeMs: number; updateMs?: number; underLoad?: { via?: string; changes: number; applyP50Ms: number; applyMaxMs: number; connections: number; failed: number; connect: Summary } };
  monitoring?: { counters: boolean; counted: number; made: number; statusMs: number };
  range?: { connectP50?: [number, number]; ratePerSec?: [number, number] };
}
export interface Results {
  kernel: string;
  label?: string;
  date?: string;
  quick?: boolean;
  load?: { before: string; after: string };
  loadedNote?: string;
  params?: Record<string, number | boolean>;
  floor?: { loopback?: Summary; path?: Summary; node?: Summary };
  rows: Row[];
}
export interface VegaLiteSpec { data: { values: Record<string, unknown>[] }; [k: string]: unknown }
export function fmtUs(v: number | undefined): string;
export function fmtMs(v: number | undefined): string;
export function fmtRate(v: number | undefined): string;
export function fmtDelta(v: number | undefined): string;
export function fmtRatio(v: number | undefined): string;
export function combineRounds(rows: Row[]): Row[];
export function connectionTable(results: Results): string;
export function updateTable(results: Results): string;
export function markdown(results: Results, opts?: { plots?: { title: string; file: string }[] }): string;
export function connectPlotSpec(results: Results): VegaLiteSpec;
export function updatePlotSpec(results: Results): VegaLiteSpec;
export function kernelLabel(release: string): string;
