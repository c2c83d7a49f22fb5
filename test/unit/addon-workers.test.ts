/**
 * The addon loaded by several threads of one process (worker_threads, as a proxy's worker pool
 * would): each environment keeps its own Handle class. Regression: the class was kept in a C++
 * static, overwritten by the last environment to load the addon, so the main thread's handles were
 * checked against a worker's class after that worker had ended (a crash or "expected a kernlb native
 * handle"), and every environment's reference to it leaked (found by LeakSanitizer).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native';

const NETLINK_GENERIC = 16;

/** The file lib/native.ts loads (the sanitizer build when KERNLB_NATIVE_PATH names it). */
function addonPath(): string {
  const override = process.env['KERNLB_NATIVE_PATH'];
  if (override) return path.resolve(override);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('node-gyp-build') as { path(dir: string): string }).path(path.join(__dirname, '../..'));
}

/** A worker thread that loads the addon, opens and uses a handle of its own, closes it and ends. */
function workerUsingTheAddon(): Promise<{ family: string; exitCode: number }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const nl = require(workerData).netlink;
    nl.openHandle(${NETLINK_GENERIC}, null, 5000).then(async (h) => {
      const f = await nl.resolveFamily(h, 'nlctrl');
      h.close();
      parentPort.postMessage(f.id === 16 ? 'nlctrl' : 'wrong id ' + f.id);
    }, (e) => parentPort.postMessage('failed: ' + e.message));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: addonPath() });
    let family = '';
    w.on('message', (m: string) => (family = m));
    w.on('error', reject);
    w.on('exit', (exitCode) => resolve({ family, exitCode }));
  });
}

describe('the addon in worker threads', () => {
  it("keeps the main thread's handles usable after workers loaded the addon and ended", async () => {
    const nl = native().netlink;
    const before = await nl.openHandle(NETLINK_GENERIC, null, 5000);
    try {
      for (let i = 0; i < 3; i++) expect(await workerUsingTheAddon()).toEqual({ family: 'nlctrl', exitCode: 0 });
      // A handle opened before the workers and one opened after: both are the main thread's class.
      expect((await nl.resolveFamily(before, 'nlctrl')).id).toBe(16);
      const after = await nl.openHandle(NETLINK_GENERIC, null, 5000);
      try {
        expect((await nl.resolveFamily(after, 'nlctrl')).id).toBe(16);
      } finally {
        after.close();
      }
    } finally {
      before.close();
    }
  });

  it('still refuses what is not a handle', () => {
    expect(() => native().netlink.resolveFamily({} as never, 'nlctrl')).toThrow(/expected a kernlb native handle/);
  });
});
