/**
 * vitest for `npm run test:sanitizers` (scripts/sanitizers.sh): the project's config, with the tests
 * in worker threads of one process instead of child processes, so that LeakSanitizer's check at exit
 * really runs and sees what they allocated. vitest ends its forks with SIGTERM (LSan's exit-time
 * check never runs there) but ends its own process with exit(); a thread's environment is torn down
 * when it ends, which runs the addon's finalizers (every handle, every instance's data), so what is
 * left at exit and allocated under kernlb's code is a leak, not an object the JS heap still held.
 */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      pool: 'threads',
      globalSetup: ['scripts/sanitizers/hold-addon.ts'],
    },
  }),
);
