/**
 * One `kernlb run` per namespace and mode: a lock file under /run/kernlb named after the mode and
 * the namespace's inode (two names of one namespace are one lock), held with flock(LOCK_EX) for the
 * life of the process. The kernel drops a flock when its holder dies, so a crash leaves no stale
 * lock: the file stays behind and the next run simply locks it again (and rewrites the pid in it,
 * which is only there for the message a second run prints).
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { native } from '../native';
import { netnsPath, type NetnsSpec } from '../netns';

export interface RunLock {
  path: string;
  release(): void;
}

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
}

export const RUN_LOCK_DIR = '/run/kernlb';

/** The lock file of (mode, namespace). */
export function runLockPath(mode: string, netns: NetnsSpec | undefined, dir = RUN_LOCK_DIR): string {
  const ino = statSync(netnsPath(netns) ?? '/proc/self/ns/net').ino;
  return `${dir}/run-${mode}-netns-${ino}.lock`;
}

/** Takes the lock or throws AlreadyRunningError naming the holder's pid. */
export function acquireRunLock(mode: string, netns: NetnsSpec | undefined, dir = RUN_LOCK_DIR): RunLock {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = runLockPath(mode, netns, dir);
  const fd = openSync(path, 'a+', 0o644);
  let locked = false;
  try {
    locked = native().netlink.flockExclusive(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) {
    let holder = '';
    try {
      holder = readFileSync(path, 'utf8').trim();
    } catch {
      // the message just says less
    }
    throw new AlreadyRunningError(`another kernlb run (${holder || 'pid unknown'}) is running for mode ${mode} in this namespace (lock ${path})`);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `pid ${process.pid}\n`);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}
