import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  errnoName,
  fromNative,
  isConflict,
  isExists,
  isNotFound,
  isPermissionDenied,
  KernelError,
  ValidationError,
} from '../../lib/errors';
import { netnsPath } from '../../lib/netns';
import { NETLINK_NETFILTER, openNativeHandle } from '../../lib/netlink/handle';

describe('errors', () => {
  it('names errno values', () => {
    expect(errnoName(17)).toBe('EEXIST');
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(85)).toBe('ERESTART');
    expect(errnoName(9999)).toBe('E9999');
  });

  it('turns a native kernel failure into a KernelError with context and batch item', () => {
    const e = fromNative(
      { kind: 'kernel', errno: 17, op: 'NEW_SERVICE', extack: 'exists', index: 2, attrOffset: -1 },
      { op: 'add service', object: 'tcp 10.0.0.1:80', describeItem: (i) => `service #${i}` },
    );
    expect(e).toBeInstanceOf(KernelError);
    const k = e as KernelError;
    expect(k).toMatchObject({ errno: 17, code: 'EEXIST', op: 'add service', object: 'tcp 10.0.0.1:80', extack: 'exists', index: 2, item: 'service #2' });
    expect(k.attrOffset).toBeUndefined();
    expect(k.message).toBe('add service tcp 10.0.0.1:80 (item 2: service #2): EEXIST (already exists): exists');
    expect(isExists(k)).toBe(true);
    expect(isNotFound(k)).toBe(false);
  });

  it('says what is needed on EPERM, with a subsystem hint when given', () => {
    const plain = fromNative({ kind: 'kernel', errno: 1, op: 'x' }) as KernelError;
    expect(plain.message).toMatch(/CAP_NET_ADMIN is needed/);
    expect(isPermissionDenied(plain)).toBe(true);
    const ipvs = fromNative({ kind: 'kernel', errno: 1, op: 'x' }, { hint: 'IPVS needs CAP_NET_ADMIN in the initial user namespace' });
    expect(ipvs.message).toMatch(/initial user namespace/);
  });

  it('maps configured errnos to ConflictError', () => {
    const e = fromNative({ kind: 'kernel', errno: 85, op: 'commit' }, { conflictErrno: [85] });
    expect(e).toBeInstanceOf(ConflictError);
    expect(isConflict(e)).toBe(true);
    expect(isNotFound(fromNative({ kind: 'kernel', errno: 3, op: 'get' }))).toBe(true);
  });

  it('passes non-kernel errors through unchanged', () => {
    const orig = new TypeError('nope');
    expect(fromNative(orig)).toBe(orig);
  });

  it('validates namespace specs before the kernel is touched', () => {
    expect(netnsPath('blue')).toBe('/run/netns/blue');
    expect(netnsPath({ pid: 42 })).toBe('/proc/42/ns/net');
    expect(netnsPath({ path: '/proc/1/ns/net' })).toBe('/proc/1/ns/net');
    expect(netnsPath(undefined)).toBeUndefined();
    expect(() => netnsPath('../etc')).toThrow(ValidationError);
    expect(() => netnsPath({ pid: -1 })).toThrow(/netns.pid: must be a positive integer/);
    expect(() => netnsPath({ path: 'relative' })).toThrow(/absolute/);
    expect(() => netnsPath({ path: '/run/netns/a\0b' })).toThrow(/netns.path: must be an absolute path/);
  });

  it('validates the handle options every open takes, before a socket is opened', async () => {
    for (const [opts, message] of [
      [null, /opts: must be an object/],
      [{ timeoutMs: 'x' }, /timeoutMs: must be an integer/],
      [{ timeoutMs: 0 }, /timeoutMs/],
      [{ timeoutMs: 2 ** 31 }, /timeoutMs/],
      [{ receiveBufferBytes: -1 }, /receiveBufferBytes: must be an integer/],
      [{ receiveBufferBytes: 1.5 }, /receiveBufferBytes/],
    ] as const) {
      await expect(openNativeHandle(NETLINK_NETFILTER, opts as never, 'open')).rejects.toThrow(message);
      await expect(openNativeHandle(NETLINK_NETFILTER, opts as never, 'open')).rejects.toBeInstanceOf(ValidationError);
    }
  });
});
