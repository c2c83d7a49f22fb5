/**
 * Ipvs: a handle on one namespace's IPVS configuration over one generic-netlink socket with the
 * family id cached. Safe for concurrent callers (native requests hold the socket's mutex and match
 * replies by seq); many handles in different namespaces work side by side.
 */
import { fromNative, kernelError, KernelError, ValidationError } from '../errors';
import { native, type NativeHandle, type NativeIpvsListing, type NativeIpvsOp, type NativeIpvsServiceDesc } from '../native';
import { KernelHandle, NETLINK_GENERIC, openNativeHandle, type OpenOptions, type RunContext } from '../netlink/handle';
import { Cmd } from './constants';
import { parseConnections } from './connections';
import { daemonFrom } from './decode';
import { servicesFromListing } from './packed';
import { describeDestination, describeService } from './describe';
import { batchOptionsDesc, daemonDesc, destDesc, destKeyDesc, serviceDesc, serviceKeyDesc, timeoutsDesc } from './validate';
import type {
  BatchOptions,
  Connection,
  Daemon,
  DaemonSpec,
  DaemonState,
  Destination,
  DestinationKey,
  DestinationSpec,
  IpvsInfo,
  IpvsOp,
  Service,
  ServiceKey,
  ServiceSpec,
  Timeouts,
} from './types';

export interface IpvsOpenOptions extends OpenOptions {
  /**
   * Sockets that listServices() runs destination dumps on at once, driven by one io_uring (a socket
   * runs one dump at a time; each service needs its own). Default 64; 0 = the handle's own socket,
   * one service after the other (two syscalls per service). Kernels without io_uring's socket
   * operations fall back to 0 by themselves. Below 8 services the single socket is used anyway.
   */
  dumpSockets?: number;
}

export const IPVS_EPERM_HINT = 'CAP_NET_ADMIN in the initial user namespace is needed for IPVS';

/** A batch item after validation: the native op and what it concerns (for error messages). */
export interface Planned {
  op: NativeIpvsOp;
  /** Index of the IpvsOp it came from. */
  from: number;
  /** What it concerns, for an error message: built only when one is (a batch has 100k items). */
  what: () => string;
  opName: string;
}

/**
 * What a handle has sent to the kernel so far (counted where it happens, no tracing needed): what an
 * incremental apply's "one change is one message in one sendmsg, and a no-op reads nothing" is
 * checked against.
 */
export interface IpvsTraffic {
  /** Configuration messages the kernel processed (one per operation; addService: one per destination too). */
  messages: number;
  /** sendmsg calls that carried them. */
  sendCalls: number;
  /** Reads of services (listServices, getService, listDestinations): one service dump or get each, plus their destination dumps. */
  reads: number;
}

export interface BatchResult {
  /** Messages the kernel accepted. */
  applied: number;
  /** One KernelError per failed message; `index` is the IpvsOp's index, `item` what failed. */
  failures: KernelError[];
}

/**
 * The message an addService's destination j becomes: what it concerns is described from the op
 * when asked (a method of a class, not a closure per destination: a full apply has 100k of them).
 */
class DestPlanned implements Planned {
  constructor(
    readonly op: NativeIpvsOp,
    readonly from: number,
    private readonly spec: ServiceSpec,
    private readonly j: number,
  ) {}
  get opName(): string {
    return 'add';
  }
  what(): string {
    return describeDestination(this.spec, this.spec.destinations![this.j]!, this.op.dest!.port);
  }
}

/**
 * @internal Validates a batch into native ops (everything checked before the kernel); exported for the tests.
 * Validation runs with empty field names (no path string built per field of 110k messages); an op
 * that fails is validated again with its real names, so the error names the field exactly.
 */
export function plan(ops: IpvsOp[], field: (i: number) => string): Planned[] {
  if (!Array.isArray(ops)) throw new ValidationError('ops', 'must be an array', ops);
  const out: Planned[] = [];
  ops.forEach((o, i) => {
    const at = out.length;
    try {
      planOne(o, i, undefined, out);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      out.length = at;
      planOne(o, i, field(i), out); // (throws the same error with the field's path)
      throw e;
    }
  });
  return out;
}

/** One op's messages into `out`; `f`: its field path prefix (undefined: unnamed, see plan). */
function planOne(o: IpvsOp, i: number, f: string | undefined, out: Planned[]): void {
  const named = f !== undefined;
  const p = f ?? '';
  if (typeof o !== 'object' || o === null) throw new ValidationError(p.replace(/\.$/, '') || 'op', 'must be an object', o);
  switch (o.op) {
    case 'addService':
    case 'updateService': {
      const svc = serviceDesc(o.service, named ? `${p}service` : '');
      const add = o.op === 'addService';
      out.push({ op: { cmd: add ? Cmd.NEW_SERVICE : Cmd.SET_SERVICE, service: svc }, from: i, what: () => describeService(o.service), opName: add ? 'add' : 'update' });
      if (add && o.service.destinations !== undefined) {
        if (!Array.isArray(o.service.destinations))
          throw new ValidationError(`${p}service.destinations`, 'must be an array', o.service.destinations);
        const key = identity(svc);
        const dests = o.service.destinations;
        for (let j = 0; j < dests.length; j++) {
          const dd = destDesc(dests[j]!, svc, named ? `${p}service.destinations[${j}]` : '');
          out.push(new DestPlanned({ cmd: Cmd.NEW_DEST, service: key, dest: dd }, i, o.service, j));
        }
      }
      break;
    }
    case 'deleteService':
      out.push({ op: { cmd: Cmd.DEL_SERVICE, service: serviceKeyDesc(o.service, `${p}service`) }, from: i, what: () => describeService(o.service), opName: 'delete' });
      break;
    case 'addDestination':
    case 'updateDestination':
    case 'deleteDestination': {
      const svc = serviceKeyDesc(o.service, `${p}service`);
      const dd = o.op === 'deleteDestination' ? destKeyDesc(o.destination, svc, `${p}destination`) : destDesc(o.destination, svc, `${p}destination`);
      const cmd = o.op === 'addDestination' ? Cmd.NEW_DEST : o.op === 'updateDestination' ? Cmd.SET_DEST : Cmd.DEL_DEST;
      const opName = o.op === 'addDestination' ? 'add' : o.op === 'updateDestination' ? 'update' : 'delete';
      out.push({ op: { cmd, service: svc, dest: dd }, from: i, what: () => describeDestination(o.service, o.destination, dd.port), opName });
      break;
    }
    default:
      throw new ValidationError(`${p}op`, 'must be addService, updateService, deleteService, addDestination, updateDestination or deleteDestination', (o as { op?: unknown }).op);
  }
}

function identity(svc: NativeIpvsServiceDesc): NativeIpvsServiceDesc {
  const { family, protocol, address, port, fwmark } = svc;
  return fwmark ? { family, fwmark } : { family, protocol, address, port };
}

export class Ipvs extends KernelHandle {
  /** Opens a handle; a kernel without IPVS fails here with ENOENT "kernel has no IPVS". */
  static async open(opts: IpvsOpenOptions = {}): Promise<Ipvs> {
    // (null or a non-object would throw a TypeError below, not name what is wrong)
    if (typeof opts !== 'object' || opts === null) throw new ValidationError('opts', 'must be an object', opts);
    const dumpSockets = opts.dumpSockets ?? 64;
    if (!Number.isInteger(dumpSockets) || dumpSockets < 0 || dumpSockets > 1024)
      throw new ValidationError('dumpSockets', 'must be an integer from 0 to 1024', opts.dumpSockets);
    const h = await openNativeHandle(NETLINK_GENERIC, opts, 'open IPVS');
    const ipvs = new Ipvs(h, opts);
    try {
      await ipvs.run({ op: 'open IPVS', hint: IPVS_EPERM_HINT }, (nh) => native().ipvs.open(nh));
    } catch (e) {
      await ipvs.close();
      throw e;
    }
    return ipvs;
  }

  readonly #dumpSockets: number;
  /**
   * The buffer of the last listing, handed back to the next one to overwrite: a steady listing then
   * touches no fresh memory (which is what a big listing mostly cost). Taken while a listing runs, so
   * concurrent listings never share it.
   */
  #arena: ArrayBuffer | null = null;
  readonly #traffic: IpvsTraffic = { messages: 0, sendCalls: 0, reads: 0 };

  private constructor(h: NativeHandle, opts: IpvsOpenOptions) {
    super(h, opts.netns);
    this.#dumpSockets = opts.dumpSockets ?? 64;
  }

  /** A copy of what this handle has sent and read so far. */
  get traffic(): IpvsTraffic {
    return { ...this.#traffic };
  }

  #count(r: { sent: number; sends: number }): void {
    this.#traffic.messages += r.sent;
    this.#traffic.sendCalls += r.sends;
  }

  /** Also drops the reused listing buffer. */
  override close(): Promise<void> {
    this.#arena = null;
    return super.close();
  }

  // ---- batches --------------------------------------------------------------------------------

  /**
   * The bulk path: one message per item (addService with destinations: one per destination too),
   * `chunk` (1024) messages per sendmsg and no per-message ACK; the kernel answers failures only.
   * All input is validated first (a ValidationError sends nothing). IPVS has no transactions: items
   * other than the failed ones stay applied. Failures are returned, not thrown; each KernelError's
   * `index` is the item's index in `ops`.
   */
  async batch(ops: IpvsOp[], opts: BatchOptions = {}): Promise<BatchResult> {
    const o = batchOptionsDesc(opts);
    const planned = plan(ops, (i) => `ops[${i}].`);
    return this.applyPlanned(planned, o, 'IPVS batch', true);
  }

  /** `opts` as batchOptionsDesc() returned them (checked before anything is planned). */
  private async applyPlanned(planned: Planned[], opts: { chunk: number; stopOnError: boolean }, op: string, indexIsOp: boolean): Promise<BatchResult> {
    if (planned.length === 0) return { applied: 0, failures: [] };
    const r = await this.run({ op, hint: IPVS_EPERM_HINT }, (h) =>
      native().ipvs.apply(h, planned.map((p) => p.op), opts.chunk, opts.stopOnError),
    );
    this.#count(r);
    // Batch items are named by their op index and what they did; a single call's extra messages
    // (addService's destinations) by message index and the destination.
    const failures = r.failures.map((f) => {
      const p = planned[f.index]!;
      const extack = f.extack || explain(p.op, f.errno);
      const common = { errno: f.errno, ...(extack ? { extack } : {}), ...(f.errno === 1 ? { hint: IPVS_EPERM_HINT } : {}) };
      if (indexIsOp) return kernelError({ ...common, op, index: p.from, item: `${p.opName} ${p.what()}` });
      return kernelError({ ...common, op: planned[0]!.opName, object: planned[0]!.what(), index: f.index, item: p.what() });
    });
    return { applied: r.sent - failures.length, failures };
  }

  /** One logical operation (maybe several messages): throws the first failure. */
  private async single(planned: Planned[]): Promise<void> {
    const r = await this.applyPlanned(planned, { chunk: 1024, stopOnError: false }, planned[0]?.opName ?? 'IPVS', false);
    if (r.failures.length) throw stripIndex(r.failures[0]!, planned.length);
  }

  // ---- services -------------------------------------------------------------------------------

  /**
   * Adds a service and its destinations. If a destination fails, the service is removed again so
   * nothing is left half-applied, and the destination's error is thrown.
   */
  async addService(service: ServiceSpec): Promise<void> {
    const planned = plan([{ op: 'addService', service }], () => '');
    const r = await this.applyPlanned(planned, { chunk: 1024, stopOnError: true }, 'add service', false);
    if (!r.failures.length) return;
    const first = r.failures[0]!;
    if (first.index !== undefined && first.index > 0) {
      this.#count(await this.run({ op: 'delete (rollback)', object: planned[0]!.what() }, (h) =>
        native().ipvs.apply(h, [{ cmd: Cmd.DEL_SERVICE, service: identity(planned[0]!.op.service!) }], 1, true),
      ));
    }
    throw stripIndex(first, planned.length);
  }

  /** Replaces a service's attributes (scheduler, flags, persistence); destinations are untouched. */
  async updateService(service: ServiceSpec): Promise<void> {
    const p = plan([{ op: 'updateService', service }], () => '');
    return this.single(p);
  }

  async deleteService(service: ServiceKey): Promise<void> {
    return this.single(plan([{ op: 'deleteService', service }], () => ''));
  }

  /** One service with its destinations; KernelError ESRCH when it does not exist. */
  async getService(service: ServiceKey): Promise<Service> {
    const key = serviceKeyDesc(service, 'service');
    const what = describeService(service);
    const [svc] = await this.list({ op: 'get', object: what, hint: IPVS_EPERM_HINT }, { cmd: Cmd.GET_SERVICE, service: key }, servicesFromListing);
    if (!svc) throw kernelError({ errno: 3, op: 'get', object: what });
    return svc;
  }

  /**
   * The services named that exist, each with its destinations (as getService reads it), in the
   * order given; a service that does not exist is left out (no error). One read for all of them:
   * their GET_SERVICEs and destination dumps run in one job on the handle's socket, instead of a
   * round trip through the worker pool per service (~3 ms each in UML).
   */
  async getServices(services: readonly ServiceKey[]): Promise<Service[]> {
    if (!Array.isArray(services)) throw new ValidationError('services', 'must be an array of service keys', services);
    const keys = services.map((s, i) => ({ cmd: Cmd.GET_SERVICE, service: serviceKeyDesc(s, `services[${i}]`) }));
    if (!keys.length) return [];
    return this.list({ op: 'get', object: `${keys.length} services`, hint: IPVS_EPERM_HINT }, keys, servicesFromListing);
  }

  /**
   * Every service, each with its destinations and stats. The handle keeps the buffer the kernel's
   * answer was packed into (144 bytes per service and per destination) and reuses it on the next
   * listing, which then touches no fresh memory; close() lets it go.
   */
  async listServices(): Promise<Service[]> {
    return this.list({ op: 'list services', hint: IPVS_EPERM_HINT }, undefined, servicesFromListing);
  }

  /**
   * @internal Every service as listServices() reads it, but handed to `decode` in its packed form
   * (native/ipvs/packed.h, word offsets in ./packed.ts) instead of as Service objects: the load
   * balancer's status() builds its own model straight from the records. `decode` runs before this
   * returns and must not keep the buffer (the next listing overwrites it).
   */
  async decodeListing<T>(decode: (l: NativeIpvsListing) => T): Promise<T> {
    return this.list({ op: 'list services', hint: IPVS_EPERM_HINT }, undefined, decode);
  }

  private async list<T = Service[]>(ctx: RunContext, get: NativeIpvsOp | NativeIpvsOp[] | undefined, decode: (l: NativeIpvsListing) => T): Promise<T> {
    this.#traffic.reads++;
    const arena = this.#arena;
    this.#arena = null;
    let listing;
    try {
      listing = await this.run(ctx, (h) => native().ipvs.listAll(h, arena, this.#dumpSockets, get));
    } catch (e) {
      if (!this.closed) this.#arena ??= arena;
      throw e;
    }
    const services = decode(listing);
    // Keep the bigger one: a single-service get must not shrink the buffer a full listing reuses.
    const kept = this.#arena as ArrayBuffer | null; // another listing may have finished meanwhile
    if (!this.closed && (!kept || kept.byteLength < listing.buffer.byteLength)) this.#arena = listing.buffer;
    return services;
  }

  // ---- destinations ---------------------------------------------------------------------------

  async addDestination(service: ServiceKey, destination: DestinationSpec): Promise<void> {
    return this.single(plan([{ op: 'addDestination', service, destination }], () => ''));
  }

  async updateDestination(service: ServiceKey, destination: DestinationSpec): Promise<void> {
    return this.single(plan([{ op: 'updateDestination', service, destination }], () => ''));
  }

  async deleteDestination(service: ServiceKey, destination: DestinationKey): Promise<void> {
    return this.single(plan([{ op: 'deleteDestination', service, destination }], () => ''));
  }

  /** The service's destinations; a missing service is ESRCH (the kernel itself answers an empty list). */
  async listDestinations(service: ServiceKey): Promise<Destination[]> {
    return (await this.getService(service)).destinations;
  }

  // ---- global state ---------------------------------------------------------------------------

  async getTimeouts(): Promise<Timeouts> {
    const r = await this.run({ op: 'get timeouts', hint: IPVS_EPERM_HINT }, (h) => native().ipvs.query(h, { cmd: Cmd.GET_CONFIG }, false));
    const c = r.find((x) => x.kind === 'config');
    if (!c || c.kind !== 'config') throw kernelError({ errno: 71, op: 'get timeouts', extack: 'no reply' });
    return { tcp: c.tcp, tcpFin: c.tcpFin, udp: c.udp };
  }

  /** Sets the given timeouts (seconds); absent or 0 keeps the current value. */
  async setTimeouts(timeouts: Partial<Timeouts>): Promise<void> {
    const t = timeoutsDesc(timeouts, 'timeouts');
    await this.exec({ cmd: Cmd.SET_CONFIG, timeouts: t }, 'set timeouts');
  }

  async info(): Promise<IpvsInfo> {
    const r = await this.run({ op: 'get info', hint: IPVS_EPERM_HINT }, (h) => native().ipvs.query(h, { cmd: Cmd.GET_INFO }, false));
    const i = r.find((x) => x.kind === 'info');
    if (!i || i.kind !== 'info') throw kernelError({ errno: 71, op: 'get info', extack: 'no reply' });
    const v = i.version;
    return { version: `${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`, versionCode: v, connectionTableSize: i.connTabSize };
  }

  /** Starts a connection-sync daemon (ipvsadm --start-daemon). */
  async startDaemon(daemon: DaemonSpec): Promise<void> {
    const d = daemonDesc(daemon, 'daemon');
    await this.exec({ cmd: Cmd.NEW_DAEMON, daemon: d }, 'start', `sync daemon ${daemon.state} on ${daemon.interface}`);
  }

  /**
   * Stops the master or backup sync daemon; ESRCH when none runs. Kernel 6.1 was seen to block this
   * request for good when it arrives before a just-started backup thread first ran (kthread_stop);
   * the handle's timeout then ends the wait with ETIMEDOUT while the daemon is gone.
   */
  async stopDaemon(state: DaemonState): Promise<void> {
    const d = daemonDesc({ state, interface: 'x' }, 'daemon');
    await this.exec({ cmd: Cmd.DEL_DAEMON, daemon: { state: d.state } }, 'stop', `sync daemon ${state}`);
  }

  async listDaemons(): Promise<Daemon[]> {
    const r = await this.run({ op: 'list sync daemons', hint: IPVS_EPERM_HINT }, (h) => native().ipvs.query(h, { cmd: Cmd.GET_DAEMON }, true));
    return r.flatMap((x) => (x.kind === 'daemon' ? [daemonFrom(x)] : []));
  }

  /** Removes every service (and destination). */
  async flush(): Promise<void> {
    await this.exec({ cmd: Cmd.FLUSH }, 'flush');
  }

  /** Zeroes the counters of one service, or of everything. */
  async zero(service?: ServiceKey): Promise<void> {
    if (service === undefined) return this.exec({ cmd: Cmd.ZERO }, 'zero counters');
    const key = serviceKeyDesc(service, 'service');
    return this.exec({ cmd: Cmd.ZERO, service: key }, 'zero the counters of', describeService(service));
  }

  /** The namespace's connection table (/proc/net/ip_vs_conn), parsed. */
  async listConnections(): Promise<Connection[]> {
    const text = await this.run({ op: 'list connections' }, (h) => native().ipvs.readConnections(h));
    return parseConnections(text);
  }

  private async exec(op: NativeIpvsOp, opName: string, object?: string): Promise<void> {
    const ctx = { op: opName, hint: IPVS_EPERM_HINT, ...(object ? { object } : {}) };
    const r = await this.run(ctx, (h) => native().ipvs.apply(h, [op], 1, true));
    this.#count(r);
    const f = r.failures[0];
    if (f) throw fromNative({ kind: 'kernel', errno: f.errno, extack: f.extack || explain(op, f.errno) }, ctx);
  }
}

/** What an errno means for an IPVS command when the kernel gave no text (it rarely does). */
function explain(op: NativeIpvsOp, errno: number): string {
  const isSvc = op.cmd === Cmd.NEW_SERVICE || op.cmd === Cmd.SET_SERVICE;
  const isDest = op.cmd === Cmd.NEW_DEST || op.cmd === Cmd.SET_DEST || op.cmd === Cmd.DEL_DEST;
  if (errno === 2 && isSvc)
    return `unknown scheduler "${op.service?.scheduler}"${op.service?.pe ? ` or persistence engine "${op.service.pe}"` : ''} (not in this kernel)`;
  if (errno === 2 && isDest) return 'no such destination';
  if (errno === 3 && op.cmd === Cmd.DEL_DAEMON) return 'no such sync daemon is running';
  if (errno === 3) return 'no such service';
  if (errno === 22 && op.cmd === Cmd.NEW_DAEMON)
    return 'sync daemon refused: it cannot run while destinations of another address family exist (or it already runs)';
  if (errno === 22 && isDest)
    return 'destination refused: it must be a unicast address (a namespace whose loopback is down refuses all), and a different address family needs tunnel forwarding and no sync daemon';
  if (errno === 97) return 'address family not supported by this kernel';
  return '';
}

/** A single operation's error carries no batch index unless it expanded into several messages. */
function stripIndex(e: KernelError, messages: number): KernelError {
  if (messages > 1) return e;
  return kernelError({
    errno: e.errno,
    op: e.op,
    ...(e.object !== undefined ? { object: e.object } : {}),
    ...(e.extack !== undefined ? { extack: e.extack } : {}),
    ...(e.code === 'EPERM' ? { hint: IPVS_EPERM_HINT } : {}),
  });
}
