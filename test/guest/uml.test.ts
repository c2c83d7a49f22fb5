/**
 * The IPVS tier (and the iptables tier on a second kernel, 6.1) runs inside User-mode Linux because
 * this host kernel has no IPVS. One guest boot runs them all with vitest; its result counts here: a
 * failing test inside the guest fails this test.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runInUml, umlAvailable } from '../../lib/testing';

const insideGuest = process.env.KERNLB_IN_UML === '1';
const hostHasIpvs = existsSync('/proc/net/ip_vs');
const skip = insideGuest
  ? 'already inside the UML guest'
  : hostHasIpvs
    ? 'this kernel has IPVS: the IPVS tier runs directly'
    : umlAvailable();

// Test files that run in the guest: the whole IPVS tier, and the kernel tests that use x_tables only.
const guestFiles = ['test/ipvs/', 'test/kernel/iptables-', 'test/kernel/netns'];

describe('UML guest tier', () => {
  it.skipIf(skip !== undefined)(`runs the IPVS and iptables tiers inside UML (kernel 6.1)${skip ? ` - skipped: ${skip}` : ''}`, async () => {
    const filters = guestFiles.filter((f) => existsSync(f.endsWith('/') ? f : f.slice(0, f.lastIndexOf('/') + 1)));
    const { code, output } = await runInUml(
      [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--reporter=verbose', '--pool=forks', '--poolOptions.forks.singleFork', ...filters],
      { timeoutSeconds: 1500, onOutput: (s) => process.stdout.write(s.replace(/^/gm, '[uml] ')) },
    );
    // The guest must really have IPVS: the probe test in test/ipvs reads /proc/net/ip_vs there.
    expect(output).toMatch(/IP Virtual Server version/);
    expect(code, `vitest inside the guest failed:\n${output.slice(-4000)}`).toBe(0);
  }, 1_600_000);
});
