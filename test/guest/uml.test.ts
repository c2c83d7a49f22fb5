/**
 * The IPVS tier (and the iptables tier on a second kernel, 6.1) runs inside User-mode Linux because
 * this host kernel has no IPVS. One guest boot runs them all with vitest; its result counts here: a
 * failing test inside the guest fails this test, and the IPVS probe must have passed (not skipped).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInUml, umlAvailable } from '../../lib/testing';

const insideGuest = process.env.KERNLB_IN_UML === '1';
const hostHasIpvs = existsSync('/proc/net/ip_vs');
const skip = insideGuest ? 'already inside the UML guest' : hostHasIpvs ? 'this kernel has IPVS: the IPVS tier runs directly' : umlAvailable();

// Test files that run in the guest: the whole IPVS tier, and the kernel tests that use x_tables only.
const guestFilters = ['test/ipvs/', 'test/kernel/iptables-', 'test/kernel/netns', 'test/kernel/netlink-'];

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe('UML guest tier', () => {
  it.skipIf(skip !== undefined)(`runs the IPVS and iptables tiers inside UML (kernel 6.1)${skip ? ` - skipped: ${skip}` : ''}`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-guest-'));
    const report = path.join(dir, 'report.json');
    try {
      const { code, output } = await runInUml(
        [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--reporter=verbose', '--reporter=json', `--outputFile.json=${report}`, '--pool=forks', '--poolOptions.forks.singleFork', ...guestFilters],
        { timeoutSeconds: 2400, env: { CI: 'true', NO_COLOR: '1' }, onOutput: (s) => process.stdout.write(s.replace(/^(?=.)/gm, '[uml] ')) },
      );
      expect(existsSync(report), `the guest wrote no test report:\n${output.slice(-4000)}`).toBe(true);
      const r = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
      const all = r.testResults.flatMap((f) => f.assertionResults.map((a) => ({ ...a, file: path.relative(process.cwd(), f.name) })));
      const failed = all.filter((a) => a.status === 'failed');
      process.stdout.write(`[uml] guest tier: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped\n`);
      expect(failed.map((a) => `${a.file} > ${a.fullName}: ${a.failureMessages.join('\n').slice(0, 500)}`)).toEqual([]);
      // The guest really has IPVS: the probe read /proc/net/ip_vs there.
      expect(all.find((a) => a.fullName.includes('reads /proc/net/ip_vs'))?.status).toBe('passed');
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 2_500_000);
});
