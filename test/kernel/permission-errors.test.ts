/**
 * Without CAP_NET_ADMIN every subsystem fails one way: a PermissionError (a KernelError, code EPERM
 * or EACCES as the subsystem returns it) whose message and `capability` name CAP_NET_ADMIN. Two
 * ways to lack it: an unprivileged user (setpriv as nobody), and a user namespace that has no rights
 * over the network namespace (unshare -U: root inside, nobody to the network namespace's owner).
 * Each use runs in a child process (test/kernel/permission-child.cjs) inside a fresh namespace.
 * IPVS runs in User-mode Linux (test/ipvs/permission.test.ts): the host kernel has none.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason() ?? (existsSync(join(__dirname, '../../dist/index.js')) ? undefined : 'dist/ is not built (bash scripts/setup.sh)');
const child = join(__dirname, 'permission-child.cjs');

const ways = {
  'as nobody (setpriv)': ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'],
  'in a user namespace without rights over the network namespace (unshare -U)': ['unshare', '-U'],
} as const;
const uses = ['nftables list', 'nftables commit', 'iptables read', 'iptables commit', 'lb nftables', 'lb iptables'];

describe.skipIf(skip)(`without CAP_NET_ADMIN${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('perm');
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  for (const [way, argv] of Object.entries(ways)) {
    for (const use of uses) {
      it(`${use} ${way}: PermissionError naming CAP_NET_ADMIN`, async () => {
        const r = await ns.exec([...argv, process.execPath, child, use], { allowFail: true });
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
        expect(out).toMatchObject({ ok: false, name: 'PermissionError', capability: 'CAP_NET_ADMIN', isPermissionError: true, isKernelError: true });
        expect(['EPERM', 'EACCES']).toContain(out['code']);
        expect(out['message']).toMatch(/CAP_NET_ADMIN/);
      });
    }
  }
});
