import { defineConfig } from 'vitest/config';

// Tiers by folder: test/unit (no privileges), test/kernel (fresh netns on the host kernel),
// test/ipvs (needs a kernel with IPVS: skipped visibly on the host, run inside UML by test/guest).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
