/** Handles are fixed to a namespace at open; work runs inside it and never moves the caller. */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, KernelError, NetlinkHandle, ValidationError } from '../../lib';
import { native } from '../../lib/native';
import { NETLINK_GENERIC } from '../../lib/netlink/handle';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const callerInode = () => statSync('/proc/self/ns/net').ino;

describe.skipIf(skip !== undefined)(`netlink handles in namespaces${skip ? ` - skipped: ${skip}` : ''}`, () => {
  const spaces: TestNetns[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) spaces.push(await createNetns('kltest'));
  });
  afterAll(async () => {
    await Promise.all(spaces.map((s) => s.destroy()));
  });

  it('opens a socket inside a named namespace and leaves the caller where it was', async () => {
    const before = callerInode();
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: spaces[0]!.name });
    expect(await h.netnsInode()).toBe(statSync(spaces[0]!.path).ino);
    expect(await h.resolveFamily('nlctrl')).toMatchObject({ id: 16 });
    expect(callerInode()).toBe(before);
    expect(native().netlink.currentNetnsInode()).toBe(before);
  });

  it('accepts { path } and { pid } specs and defaults to the caller namespace', async () => {
    await using byPath = await NetlinkHandle.open(NETLINK_GENERIC, { netns: { path: spaces[1]!.path } });
    expect(await byPath.netnsInode()).toBe(statSync(spaces[1]!.path).ino);
    await using byPid = await NetlinkHandle.open(NETLINK_GENERIC, { netns: { pid: process.pid } });
    expect(await byPid.netnsInode()).toBe(callerInode());
    await using dflt = await NetlinkHandle.open(NETLINK_GENERIC);
    expect(await dflt.netnsInode()).toBe(callerInode());
  });

  it('runs concurrent handles in different namespaces side by side', async () => {
    const before = callerInode();
    const handles = await Promise.all(spaces.map((s) => NetlinkHandle.open(NETLINK_GENERIC, { netns: s.name })));
    // Many concurrent jobs on the libuv pool: each must land in its own namespace.
    const seen = await Promise.all(Array.from({ length: 60 }, (_, i) => handles[i % 3]!.netnsInode().then((ino) => [i % 3, ino] as const)));
    for (const [k, ino] of seen) expect(ino).toBe(statSync(spaces[k]!.path).ino);
    const fams = await Promise.all(handles.flatMap((h) => [h.resolveFamily('nlctrl'), h.resolveFamily('nlctrl')]));
    expect(fams.every((f) => f.id === 16)).toBe(true);
    expect(callerInode()).toBe(before);
    await Promise.all(handles.map((h) => h.close()));
  });

  it('reports a missing namespace as a KernelError at open', async () => {
    const err = await NetlinkHandle.open(NETLINK_GENERIC, { netns: 'kl-does-not-exist' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe('ENOENT');
    expect((err as KernelError).message).toMatch(/\/run\/netns\/kl-does-not-exist/);
  });

  it('rejects a bad namespace spec before touching the kernel', async () => {
    await expect(NetlinkHandle.open(NETLINK_GENERIC, { netns: 'bad/name' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('reports an absent generic netlink family as not found, with the kernel-side reason', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: spaces[2]!.name });
    const err = await h.resolveFamily('KERNLB_NOFAM').catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toMatch(/no generic netlink family "KERNLB_NOFAM"/);
  });

  it('close() waits for work in flight and later calls are refused', async () => {
    const h = await NetlinkHandle.open(NETLINK_GENERIC, { netns: spaces[0]!.name });
    const pending = Array.from({ length: 20 }, () => h.resolveFamily('nlctrl'));
    await h.close();
    const results = await Promise.allSettled(pending);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    await expect(h.resolveFamily('nlctrl')).rejects.toThrow(/handle is closed/);
    expect(h.closed).toBe(true);
  });

  it('the test kit creates and removes namespaces', async () => {
    const ns = await createNetns('kltmp');
    expect(statSync(ns.path).isFile()).toBe(true);
    const r = await ns.exec(['ip', '-o', 'link', 'show', 'lo']);
    expect(r.stdout).toMatch(/state UNKNOWN|LOOPBACK,UP/);
    await ns.destroy();
    expect(() => statSync(ns.path)).toThrow();
  });
});

describe.skipIf(skip !== undefined)(`kernel extended acks${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('carries the kernel text and the offending attribute offset', async () => {
    await using h = await NetlinkHandle.open(NETLINK_GENERIC);
    // A family name longer than GENL_NAMSIZ fails the controller's attribute policy.
    const err = (await h.resolveFamily('X'.repeat(20)).catch((e: unknown) => e)) as KernelError;
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('EINVAL');
    expect(err.extack).toMatch(/policy/);
    expect(err.attrOffset).toBe(20); // nlmsghdr (16) + genlmsghdr (4): the name attribute
  });
});
