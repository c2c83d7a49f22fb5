/**
 * IPVS without CAP_NET_ADMIN in the initial user namespace (GENL_ADMIN_PERM): a PermissionError
 * naming the capability, like every other subsystem (test/kernel/permission-errors.test.ts), for the
 * Ipvs handle and for the load balancer in ipvs mode. Runs where the kernel has IPVS (inside UML).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, ipvsSkipReason, type TestNetns } from '../../lib/testing';

const skip = ipvsSkipReason() ?? (existsSync(join(__dirname, '../../dist/index.js')) ? undefined : 'dist/ is not built (bash scripts/setup.sh)');
const child = join(__dirname, '../kernel/permission-child.cjs');

const ways = {
  'as nobody (setpriv)': ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'],
  'in a user namespace (unshare -U)': ['unshare', '-U'],
} as const;

describe.skipIf(skip)(`IPVS without CAP_NET_ADMIN${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createNetns('perm');
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  for (const [way, argv] of Object.entries(ways)) {
    for (const use of ['ipvs list', 'lb ipvs']) {
      it(`${use} ${way}: PermissionError naming CAP_NET_ADMIN`, async () => {
        const r = await ns.exec([...argv, process.execPath, child, use], { allowFail: true });
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
        expect(out).toMatchObject({ ok: false, name: 'PermissionError', code: 'EPERM', capability: 'CAP_NET_ADMIN', isPermissionError: true });
        expect(out['message']).toMatch(/CAP_NET_ADMIN/);
      });
    }
  }
});
