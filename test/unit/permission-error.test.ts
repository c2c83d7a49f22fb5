// Native rejections for want of privilege become one class whatever errno the subsystem used
// (nftables and IPVS say EPERM; iptables' lock file says EACCES), and name the capability.
import { describe, expect, it } from 'vitest';
import { fromNative, isPermissionDenied, KernelError, PermissionError } from '../../lib/errors';

describe('PermissionError', () => {
  for (const [errno, code] of [[1, 'EPERM'], [13, 'EACCES']] as const) {
    it(`${code} from native is a PermissionError naming CAP_NET_ADMIN`, () => {
      const e = fromNative({ kind: 'kernel', errno, op: 'commit' });
      expect(e).toBeInstanceOf(PermissionError);
      expect(e).toBeInstanceOf(KernelError);
      expect(e).toMatchObject({ name: 'PermissionError', code, capability: 'CAP_NET_ADMIN' });
      expect(e.message).toMatch(/CAP_NET_ADMIN/);
      expect(isPermissionDenied(e)).toBe(true);
    });
  }
  it('a subsystem hint (where the capability is needed) replaces the default text for both errnos', () => {
    const hint = 'CAP_NET_ADMIN in the initial user namespace is needed (IPVS)';
    expect(fromNative({ kind: 'kernel', errno: 13, op: 'x' }, { hint }).message).toContain(hint);
    expect(fromNative({ kind: 'kernel', errno: 1, op: 'x' }, { hint }).message).toContain(hint);
  });
  it('other errnos stay plain KernelErrors', () => {
    const e = fromNative({ kind: 'kernel', errno: 2, op: 'get' });
    expect(e).toBeInstanceOf(KernelError);
    expect(e).not.toBeInstanceOf(PermissionError);
  });
});
