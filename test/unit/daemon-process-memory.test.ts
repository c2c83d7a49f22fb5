/** kernlb run's process-wide memory settings (lib/daemon/process-memory.ts; issue #21). */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectGarbage, keepYoungGenerationSmall, MALLOC_SETTINGS, trimMalloc, tuneMalloc } from '../../lib/daemon/process-memory';
import { native } from '../../lib/native';

const root = path.join(__dirname, '..', '..');
const glibc = typeof (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime === 'string';
// Under scripts/sanitizers.sh the preloaded ASan runtime is the process's malloc, and its mallopt
// refuses every setting: tuneMalloc then truthfully reports that it set none.
const glibcMalloc = glibc && !/asan/i.test(process.env.LD_PRELOAD ?? '');

/** Size of V8's young generation (MiB) in a child node that keeps 3M small objects, after `setup` ran in it. */
function youngGenerationMb(setup: string, nodeArgs: string[] = []): number {
  const code = `${setup}; const keep = []; for (let i = 0; i < 3e6; i++) keep.push({ i }); process.stdout.write(String(require('v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20));`;
  return Number(execFileSync(process.execPath, [...nodeArgs, '-e', code], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
}

describe('kernlb run process memory', () => {
  it('tuneMalloc sets each glibc setting whose environment variable is absent, none that the user set', () => {
    expect(Object.keys(MALLOC_SETTINGS)).toEqual(['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']);
    expect(tuneMalloc({ MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '0' })).toEqual([]);
    expect(tuneMalloc({ MALLOC_ARENA_MAX: '4' })).toEqual(glibcMalloc ? ['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'] : []);
    expect(tuneMalloc({})).toEqual(glibcMalloc ? Object.keys(MALLOC_SETTINGS) : []);
  });

  it('the native mallopt and malloc_trim calls take numbers and answer booleans', () => {
    expect(native().netlink.mallocTune(0, 0, 0)).toBe(glibc);
    expect(typeof trimMalloc()).toBe('boolean');
    expect(() => native().netlink.mallocTune('2' as unknown as number, 0, 0)).toThrow(TypeError);
  });

  it('keepYoungGenerationSmall leaves a semi-space flag of the user alone', () => {
    expect(keepYoungGenerationSmall(['--max-semi-space-size=8'], '')).toBe(false);
    expect(keepYoungGenerationSmall([], '--max-old-space-size=512 --max_semi_space_size=8')).toBe(false);
    expect(keepYoungGenerationSmall([], '--semi-space-growth-factor=2')).toBe(false);
  });

  it('keepYoungGenerationSmall keeps V8\'s young generation at its start size where it otherwise grows to 32 MiB', () => {
    const req = `const { keepYoungGenerationSmall } = require(${JSON.stringify(path.join(root, 'dist', 'daemon', 'process-memory.js'))})`;
    expect(youngGenerationMb('0')).toBeGreaterThanOrEqual(16);
    expect(youngGenerationMb(`${req}; if (!keepYoungGenerationSmall([], '')) throw new Error('not set')`)).toBeLessThanOrEqual(4);
    // (node started with its own size: left to it)
    expect(youngGenerationMb(`${req}; if (keepYoungGenerationSmall()) throw new Error('set')`, ['--max-semi-space-size=8'])).toBe(16);
  }, 60_000);

  it('collectGarbage frees unreachable memory outside V8\'s heap now (without --expose-gc), and again on later calls', async () => {
    /** 32 MiB of Buffers that are garbage once this returns; the external memory with them. */
    const litter = (): number => {
      const junk = Array.from({ length: 32 }, () => Buffer.allocUnsafeSlow(1 << 20).fill(1));
      return process.memoryUsage().external + junk.length * 0;
    };
    for (let round = 0; round < 2; round++) {
      const before = litter();
      await new Promise((r) => setImmediate(r)); // (as kernlb run calls it: after the scrape's turn)
      collectGarbage();
      expect(before - process.memoryUsage().external).toBeGreaterThan(30 * 2 ** 20);
    }
  });
});
