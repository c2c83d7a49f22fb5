/**
 * Throwaway network namespaces for integration tests. Every namespace and child process created here
 * is registered, and removed on destroy(), on process exit and on SIGINT/SIGTERM, so a failing or
 * interrupted test leaves nothing behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { run, runSync, type ExecResult } from './exec';

/**
 * Namespaces still to remove, shared by every copy of this module in the process: a runner that
 * evaluates the test kit once per test file in one process (vitest's singleFork, used in UML) would
 * otherwise add its exit and signal handlers once per file ("MaxListenersExceededWarning: 11 SIGHUP
 * listeners"). One registry on globalThis, one set of handlers.
 */
const registryKey = Symbol.for('kernlb.testing.netns');
const hookedKey = Symbol.for('kernlb.testing.netns.hooked');
interface Registry {
  live: Set<{ destroySync(): void }>;
}

function registry(): Registry {
  const g = globalThis as { [registryKey]?: Registry };
  return (g[registryKey] ??= { live: new Set() });
}

/** Installs the process-wide cleanup (exit, SIGINT, SIGTERM, SIGHUP) once per process. */
export function hookExit(): void {
  const g = globalThis as { [hookedKey]?: boolean };
  if (g[hookedKey]) return;
  g[hookedKey] = true;
  const cleanup = () => {
    for (const ns of registry().live) ns.destroySync();
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig);
    });
  }
}
const live = registry().live;

export interface VethEnd {
  /** Namespace of this end; undefined = the caller's namespace. */
  ns?: TestNetns;
  name: string;
  /** Addresses with prefix, e.g. "10.0.0.1/24" or "fd00::1/64". */
  addresses?: string[];
}

export class TestNetns implements AsyncDisposable {
  readonly path: string;
  #children = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(readonly name: string) {
    this.path = `/run/netns/${name}`;
  }

  /** Creates a namespace with a unique name (prefix-<random>) and brings its loopback up. */
  static async create(prefix = 'kl'): Promise<TestNetns> {
    hookExit();
    const name = `${prefix}-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
    await run(['ip', 'netns', 'add', name]);
    const ns = new TestNetns(name);
    live.add(ns);
    await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs argv inside the namespace (ip netns exec). Rejects on a non-zero exit unless allowFail. */
  exec(argv: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', this.name, ...argv], opts);
  }

  /** Starts a long-running process inside the namespace; it is killed on destroy(). */
  spawn(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return child;
  }

  async sysctl(key: string, value: string | number): Promise<void> {
    await this.exec(['sysctl', '-qw', `${key}=${value}`]);
  }

  async addAddress(dev: string, cidr: string): Promise<void> {
    const v6 = cidr.includes(':');
    await this.exec(['ip', ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }

  async addRoute(dest: string, via: string): Promise<void> {
    await this.exec(['ip', ...(dest.includes(':') || via.includes(':') ? ['-6'] : []), 'route', 'replace', dest, 'via', via]);
  }

  /**
   * A dummy-like interface with addresses. Uses the dummy driver when the kernel has it, otherwise a
   * veth pair whose both ends stay in this namespace (this host kernel has no dummy devices).
   */
  async addDummy(name: string, addresses: string[] = []): Promise<void> {
    const r = await this.exec(['ip', 'link', 'add', name, 'type', 'dummy'], { allowFail: true });
    if (r.code !== 0) {
      await this.exec(['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name.slice(0, 11)}-p`]);
      await this.exec(['ip', 'link', 'set', `${name.slice(0, 11)}-p`, 'up']);
    }
    await this.exec(['ip', 'link', 'set', name, 'up']);
    for (const a of addresses) await this.addAddress(name, a);
  }

  /** Kills the namespace's children and deletes it. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    await Promise.all([...this.#children].map((c) => stopChild(c)));
    await run(['ip', 'netns', 'del', this.name], { allowFail: true });
  }

  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    for (const c of this.#children) c.kill('SIGKILL');
    runSync(['ip', 'netns', 'del', this.name]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 2000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

export function createNetns(prefix?: string): Promise<TestNetns> {
  return TestNetns.create(prefix);
}

let vethCounter = 0;
/** A unique interface name (<= 15 chars) for veth ends. */
export function ifname(prefix = 'kv'): string {
  return `${prefix}${process.pid.toString(36).slice(-4)}${(vethCounter++).toString(36)}`.slice(0, 15);
}

/** Creates a veth pair between two namespaces (or a namespace and the caller's), with addresses, up. */
export async function addVeth(a: VethEnd, b: VethEnd): Promise<void> {
  await run(['ip', 'link', 'add', a.name, ...(a.ns ? ['netns', a.ns.name] : []), 'type', 'veth', 'peer', 'name', b.name, ...(b.ns ? ['netns', b.ns.name] : [])]);
  for (const end of [a, b]) {
    const inNs = (argv: string[]) => (end.ns ? end.ns.exec(argv) : run(argv));
    await inNs(['ip', 'link', 'set', end.name, 'up']);
    for (const addr of end.addresses ?? []) {
      const v6 = addr.includes(':');
      await inNs(['ip', ...(v6 ? ['-6'] : []), 'addr', 'add', addr, 'dev', end.name, ...(v6 ? ['nodad'] : [])]);
    }
  }
}

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelTestsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) to create network namespaces';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'iproute2 (ip) is not installed';
  return undefined;
}

/** Why IPVS tests cannot run in this kernel, or undefined when it has IPVS. */
export function ipvsSkipReason(): string | undefined {
  const k = kernelTestsSkipReason();
  if (k) return k;
  if (!existsSync('/proc/net/ip_vs')) return 'no IPVS in this kernel: the IPVS tier runs inside User-mode Linux (test/guest)';
  return undefined;
}
