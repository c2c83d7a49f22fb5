// The test kit's cleanup handlers are process-wide: evaluating lib/testing/netns.ts again (what
// vitest's singleFork does per test file, as in the UML guest) adds no further signal listeners.
import { describe, expect, it, vi } from 'vitest';

describe('test kit signal handlers', () => {
  it('installs one SIGHUP/SIGINT/SIGTERM/exit handler per process, however often the module is loaded', async () => {
    const before = ['SIGHUP', 'SIGINT', 'SIGTERM', 'exit'].map((s) => process.listenerCount(s));
    for (let i = 0; i < 12; i++) {
      vi.resetModules();
      const mod = await import('../../lib/testing/netns');
      mod.hookExit();
    }
    const after = ['SIGHUP', 'SIGINT', 'SIGTERM', 'exit'].map((s) => process.listenerCount(s));
    expect(after.map((n, i) => n - before[i]!).every((d) => d <= 1)).toBe(true);
    expect(process.listenerCount('SIGHUP')).toBeLessThanOrEqual(before[0]! + 1);
  });
});
