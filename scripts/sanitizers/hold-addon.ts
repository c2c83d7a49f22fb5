/**
 * Loaded by vitest's own process before the tests (scripts/sanitizers/vitest.config.ts): loads the
 * sanitizer build of the addon there too, so that it stays mapped until the process exits. Node
 * unloads an addon when the last environment that loaded it ends, and the worker threads end before
 * LeakSanitizer's check at exit: its leak stacks would then show "<unknown module>" where kernlb's
 * frames are, and the verdict (scripts/sanitizers/verdict.mjs) could not tell kernlb's leaks.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

export default function setup(): void {
  const addon = process.env['KERNLB_NATIVE_PATH'];
  if (!addon) throw new Error('hold-addon: KERNLB_NATIVE_PATH is not set (run through scripts/sanitizers.sh)');
  createRequire(path.join(process.cwd(), 'package.json'))(path.resolve(addon));
}
