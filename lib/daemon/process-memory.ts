/**
 * The process-wide memory settings `kernlb run` takes for a long-running daemon (issue #21: <= 150 MB
 * RSS at 10k services x 10 endpoints). Process-wide, so the CLI calls them, never the library on its own.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from '../native';

/** What `kernlb run --help` documents as environment variables, and what tuneMalloc() sets when they are absent. */
export const MALLOC_SETTINGS = { MALLOC_ARENA_MAX: 2, MALLOC_MMAP_THRESHOLD_: 131072, MALLOC_TRIM_THRESHOLD_: 131072 } as const;

/**
 * glibc's malloc as MALLOC_SETTINGS say, each unless its environment variable is set (the user's
 * choice wins): at most 2 arenas (the health checks' and netlink's worker threads each got their
 * own, each keeping its freed blocks), blocks of 128 KiB and more mmap'ed (freed: unmapped), and
 * the heap's free top handed back above 128 KiB. Measured at 10k x 10 (lib/daemon/README.md):
 * the first apply's and the scrapes' freed buffers otherwise stay in the arenas, ~50 MB of RSS.
 * Returns the names set. (Node's own flags, V8's semi-space above all, cannot be changed once the
 * process runs: v8.setFlagsFromString('--max-semi-space-size=2') leaves the young generation at
 * its default 32 MB, measured; they stay NODE_OPTIONS.)
 */
export function tuneMalloc(env: NodeJS.ProcessEnv = process.env): string[] {
  const set = (Object.keys(MALLOC_SETTINGS) as (keyof typeof MALLOC_SETTINGS)[]).filter((k) => env[k] === undefined);
  if (!set.length) return [];
  const v = (k: keyof typeof MALLOC_SETTINGS) => (set.includes(k) ? MALLOC_SETTINGS[k] : 0);
  return native().netlink.mallocTune(v('MALLOC_ARENA_MAX'), v('MALLOC_MMAP_THRESHOLD_'), v('MALLOC_TRIM_THRESHOLD_')) ? set : [];
}

/** Hands malloc's free pages back to the system (after the first apply, after a scrape): false when there were none or this is not glibc. */
export function trimMalloc(): boolean {
  return native().netlink.mallocTrim();
}

/**
 * Keeps V8's young generation at its starting size (two 1 MiB semi-spaces) instead of letting it grow
 * to 2 x 16 MiB, unless node was started with a semi-space flag of its own (NODE_OPTIONS or argv).
 * --max-semi-space-size cannot be changed once the process runs (set then, the young generation still
 * grew to 32 MiB, measured), but the growth factor is read each time V8 grows the space: at 1 it never
 * grows. Returns whether it was set.
 */
export function keepYoungGenerationSmall(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const own = (a: string) => /^--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor)\b/.test(a.replace(/_/g, '-'));
  if (execArgv.some(own) || nodeOptions.split(/\s+/).some(own)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

let gc: (() => void) | undefined;

/**
 * One full collection now (after the first apply, after a scrape is sent). A scrape at 10k x 10
 * leaves ~5 MB of typed arrays (the kernel's counters as read, then summed per endpoint) outside
 * V8's heap; V8 collects for external memory only once it grew by tens of MB, so without this the
 * process's RSS rose scrape after scrape (external 57 -> 68 MB over 4 scrapes 15 s apart, measured).
 * node's own gc() is exposed to a new context only (--expose-gc set at run time reaches new contexts).
 */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
