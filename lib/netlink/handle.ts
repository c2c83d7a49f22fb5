/**
 * Base of every kernlb handle: a native handle fixed to one namespace, a count of work in flight,
 * and close() that waits for that work before releasing the socket.
 */
import { fromNative, ValidationError } from '../errors';
import { native, type NativeHandle, type RawRequestResult, type RequestMode } from '../native';
import { netnsPath, type NetnsSpec } from '../netns';

export const NETLINK_GENERIC = 16;
export const NETLINK_NETFILTER = 12;
/** A handle without a socket: work only enters its namespace (libiptc opens its own socket). */
export const NO_SOCKET = -1;

export interface OpenOptions {
  /** Network namespace: a name under /run/netns, { path } or { pid }. Default: the caller's. */
  netns?: NetnsSpec;
  /** Upper bound for one kernel operation, in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Socket receive buffer (default 8 MiB): room for the replies of pipelined bulk requests. */
  receiveBufferBytes?: number;
}

export async function openNativeHandle(protocol: number, opts: OpenOptions, op: string): Promise<NativeHandle> {
  if (!opts || typeof opts !== 'object') throw new ValidationError('opts', 'must be an object', opts);
  const timeout = opts.timeoutMs ?? 30000;
  // (Native takes both as int32 and would silently read anything else as a default or a wrapped value.)
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 0x7fffffff) throw new ValidationError('timeoutMs', 'must be an integer number of milliseconds, 1 to 2^31-1', opts.timeoutMs);
  const rcvbuf = opts.receiveBufferBytes ?? 0;
  if (!Number.isInteger(rcvbuf) || rcvbuf < 0 || rcvbuf > 0x7fffffff) throw new ValidationError('receiveBufferBytes', 'must be an integer number of bytes, 0 to 2^31-1', opts.receiveBufferBytes);
  const p = netnsPath(opts.netns);
  try {
    return await native().netlink.openHandle(protocol, p ?? null, timeout, rcvbuf);
  } catch (e) {
    throw fromNative(e, { op, ...(p ? { object: p } : {}) });
  }
}

export interface RunContext {
  op: string;
  object?: string;
  describeItem?: (index: number) => string | undefined;
  hint?: string;
  conflictErrno?: number[];
}

export abstract class KernelHandle implements AsyncDisposable {
  #native: NativeHandle | undefined;
  #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  readonly netns: NetnsSpec | undefined;

  protected constructor(handle: NativeHandle, netns: NetnsSpec | undefined) {
    this.#native = handle;
    this.netns = netns;
  }

  get closed(): boolean {
    return this.#native === undefined || this.#closing !== undefined;
  }

  /** Runs one native call, tracked for close(), with native failures turned into typed errors. */
  protected run<T>(ctx: RunContext, fn: (h: NativeHandle) => Promise<T>): Promise<T> {
    const h = this.#native;
    if (!h || this.#closing) return Promise.reject(new Error(`${ctx.op}: handle is closed`));
    let p: Promise<T>;
    try {
      p = fn(h);
    } catch (e) {
      return Promise.reject(fromNative(e, ctx));
    }
    const tracked = p.then(
      (v) => v,
      (e) => {
        throw fromNative(e, ctx);
      },
    );
    this.#inflight.add(tracked);
    const done = () => this.#inflight.delete(tracked);
    tracked.then(done, done);
    return tracked;
  }

  /** Namespace inode as seen from a worker thread inside it. */
  netnsInode(): Promise<number> {
    return this.run({ op: 'netns inode' }, (h) => h.netnsInode());
  }

  /** Waits for work in flight, then releases the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
      this.#native?.close();
      this.#native = undefined;
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A bare handle used by tests and diagnostics: one socket of any netlink protocol in a namespace. */
export class NetlinkHandle extends KernelHandle {
  static async open(protocol: number, opts: OpenOptions = {}): Promise<NetlinkHandle> {
    return new NetlinkHandle(await openNativeHandle(protocol, opts, 'open netlink socket'), opts.netns);
  }
  /**
   * Sends raw netlink bytes (one message, or many for 'pipeline'/'batch'); sequence numbers are
   * stamped by the socket. See RequestMode for what each mode waits for.
   */
  request(bytes: Buffer, mode: RequestMode, chunk?: number): Promise<RawRequestResult> {
    return this.run({ op: `netlink ${mode} request` }, (h) => native().netlink.request(h, bytes, mode, chunk));
  }

  resolveFamily(name: string) {
    return this.run({ op: 'resolve generic netlink family', object: name }, (h) => native().netlink.resolveFamily(h, name));
  }
}
