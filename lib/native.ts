/**
 * The one place that loads the addon and types its whole surface. Nothing else touches the raw
 * binding; every subsystem imports `native` from here. Sections are per subsystem (netlink core,
 * ipvs, nft, iptables) and mirror native/<subsystem>/binding.cc.
 */
import * as path from 'node:path';

// ---------------------------------------------------------------------------------------------
// netlink core (native/netlink)

/** Opaque handle: a namespace fixed at open time and, for netlink subsystems, one socket in it. */
export interface NativeHandle {
  close(): void;
  portid(): number;
  /** Inode of the namespace, read from inside it on a worker thread. */
  netnsInode(): Promise<number>;
  readonly __nativeHandle: unique symbol;
}

export interface GenlFamilyInfo {
  id: number;
  version: number;
  hdrsize: number;
  maxattr: number;
}

export interface DecodedNlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
  error?: { errno: number; seq: number; extack: string; attrOffset: number };
  family?: GenlFamilyInfo;
}

export type RequestMode = 'ack' | 'get' | 'dump' | 'exchange' | 'pipeline' | 'batch';

export interface RawRequestResult {
  /** Reply messages, each a whole netlink message (header included). */
  messages: Buffer[];
  /** For 'pipeline' and 'batch': the messages the kernel refused, by index. */
  failures: { index: number; errno: number; extack: string }[];
}

export interface NativeNetlink {
  /** protocol: NETLINK_* number, or -1 for a handle without a socket (libiptc). */
  openHandle(protocol: number, netnsPath: string | null, timeoutMs: number, rcvbufBytes?: number): Promise<NativeHandle>;
  request(handle: NativeHandle, bytes: Buffer, mode: RequestMode, chunk?: number): Promise<RawRequestResult>;
  resolveFamily(handle: NativeHandle, name: string): Promise<GenlFamilyInfo>;
  encodeGetFamily(name: string, seq: number): Buffer;
  decodeMessages(buf: Buffer): DecodedNlMessage[];
  currentNetnsInode(): number;
  /** An unconnected non-blocking TCP socket (fd) created inside the handle's namespace (lib/daemon's health checks). */
  tcpSocketIn(handle: NativeHandle, ipv6: boolean): Promise<number>;
  /** flock(fd, LOCK_EX | LOCK_NB): false when another process holds the lock. */
  flockExclusive(fd: number): boolean;
  /** glibc mallopt of M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (0: leave it); false off glibc or when one is refused. */
  mallocTune(arenaMax: number, mmapThreshold: number, trimThreshold: number): boolean;
  /** glibc malloc_trim(0): free pages handed back (true when some were); false off glibc. */
  mallocTrim(): boolean;
}

// ---------------------------------------------------------------------------------------------
// ipvs (native/ipvs)

/** A service as the codec takes it: identity, plus attributes when `scheduler` is set (NEW/SET). */
export interface NativeIpvsServiceDesc {
  /** AF_INET (2) or AF_INET6 (10). */
  family: number;
  /** IPPROTO_*; absent for a fwmark service. */
  protocol?: number;
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler?: string;
  /** IP_VS_SVC_F_* bits (sent with a full mask). */
  flags?: number;
  /** Persistence timeout, seconds. */
  timeout?: number;
  /** IPv4: the mask as a number (0xffffff00); IPv6: a prefix length. */
  netmask?: number;
  /** Persistence engine name ("sip"). */
  pe?: string;
}

export interface NativeIpvsDestDesc {
  /** Address family of the destination itself. */
  family: number;
  address: string;
  port: number;
  /** IP_VS_CONN_F_MASQ (0), _TUNNEL (2), _DROUTE (3). */
  fwd: number;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  /** IP_VS_CONN_F_TUNNEL_TYPE_*: present only for tunnel forwarding. */
  tunType?: number;
  tunPort?: number;
  tunFlags?: number;
}

export interface NativeIpvsDaemonDesc {
  /** IP_VS_STATE_MASTER (1) or _BACKUP (2). */
  state: number;
  ifname?: string;
  syncId?: number;
  syncMaxLen?: number;
  /** Multicast group, IPv4 or IPv6. */
  group?: string;
  port?: number;
  ttl?: number;
}

export interface NativeIpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

/** One request: an IPVS_CMD_* number and the parts it carries. */
export interface NativeIpvsOp {
  cmd: number;
  service?: NativeIpvsServiceDesc;
  dest?: NativeIpvsDestDesc;
  daemon?: NativeIpvsDaemonDesc;
  timeouts?: NativeIpvsTimeouts;
}

/** Counters in the public shape (lib/ipvs/types.ts Stats), built natively to spare a copy. */
export interface NativeIpvsRates {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface NativeIpvsStats extends NativeIpvsRates {
  rates: NativeIpvsRates;
}

export interface NativeIpvsServiceOut {
  family: number;
  protocol: number;
  address: string;
  port: number;
  fwmark: number;
  scheduler: string;
  flags: number;
  timeout: number;
  netmask: number;
  pe: string;
  stats: NativeIpvsStats;
}

/** A destination as dumped: what addDestination takes, plus connection counts and stats. */
export interface NativeIpvsDestOut extends NativeIpvsDestDesc {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats: NativeIpvsStats;
}

export interface NativeIpvsDaemonOut {
  state: number;
  ifname: string;
  syncId: number;
  syncMaxLen: number;
  group?: string;
  port: number;
  ttl: number;
}

export interface NativeIpvsInfo {
  version: number;
  connTabSize: number;
}

export type NativeIpvsReply =
  | ({ kind: 'service' } & NativeIpvsServiceOut)
  | ({ kind: 'dest' } & NativeIpvsDestOut)
  | ({ kind: 'daemon' } & NativeIpvsDaemonOut)
  | ({ kind: 'config' } & NativeIpvsTimeouts)
  | ({ kind: 'info' } & NativeIpvsInfo)
  | { kind: 'none' };

/**
 * Services with their destinations as fixed-size records in one buffer (native/ipvs/packed.h,
 * decoded by lib/ipvs/packed.ts): `services` service records, then the destination records.
 */
export interface NativeIpvsListing {
  buffer: ArrayBuffer;
  services: number;
  /** Scheduler and persistence-engine names the records index ("" is index 0). */
  strings: string[];
}

export interface NativeIpvsBatchFailure {
  index: number;
  errno: number;
  extack: string;
}

export interface NativeIpvs {
  /** The bytes of one request (seq 0); flags default to NLM_F_REQUEST|NLM_F_ACK. */
  encode(op: NativeIpvsOp, familyId: number, flags?: number): Buffer;
  /** Decodes kernel reply messages. */
  decode(buf: Buffer): NativeIpvsReply[];
  /** Resolves the IPVS family for this handle; ENOENT "kernel has no IPVS" when absent. */
  open(handle: NativeHandle): Promise<GenlFamilyInfo>;
  /** Ops without ACKs, `chunk` per sendmsg (genl processes a sendmsg synchronously); failures by op index. */
  apply(handle: NativeHandle, ops: NativeIpvsOp[], chunk: number, stopOnError: boolean): Promise<{ sent: number; sends: number; failures: NativeIpvsBatchFailure[] }>;
  /** A GET command as a dump (dump=true) or a single request. */
  query(handle: NativeHandle, op: NativeIpvsOp, dump: boolean): Promise<NativeIpvsReply[]>;
  /**
   * All services (or the one a GET_SERVICE `get` names; ESRCH if missing), each with its destinations,
   * packed. `reuse`: the buffer of an earlier listing nobody reads any more, overwritten when large
   * enough. `dumpSockets`: destination dumps run over that many sockets at once through io_uring (0:
   * one socket, one dump after the other).
   */
  listAll(handle: NativeHandle, reuse: ArrayBuffer | null, dumpSockets: number, get?: NativeIpvsOp | NativeIpvsOp[]): Promise<NativeIpvsListing>;
  /** Kernel reply messages (each NEW_SERVICE followed by its NEW_DEST) packed as listAll packs them. */
  pack(replies: Buffer): NativeIpvsListing;
  /** Text of the namespace's /proc/net/ip_vs_conn. */
  readConnections(handle: NativeHandle): Promise<string>;
}

// ---------------------------------------------------------------------------------------------
// nft (native/nft)

/**
 * Kernel-level nftables descriptions exchanged with native/nft (see lib/nft/kernel.ts for the
 * documented types built on these). Binary values are lowercase hex strings; u64 values are numbers.
 */
export interface NativeNftExpr {
  /** Expression name as the kernel knows it: payload, cmp, meta, immediate, lookup, ... */
  type: string;
  /** Attributes of that expression (numbers, strings, hex data) and, for dynset, nested `exprs`. */
  [attr: string]: string | number | NativeNftExpr[] | undefined;
}

export interface NativeNftTable { family: number; name: string; flags?: number; handle?: number; userdata?: string }
export interface NativeNftChain {
  family: number; table: string; name: string; handle?: number; id?: number;
  hook?: number; priority?: number; type?: string; policy?: number; device?: string; devices?: string[];
  flags?: number; userdata?: string;
}
export interface NativeNftRule {
  family: number; table: string; chain: string; handle?: number; position?: number; id?: number;
  positionId?: number; userdata?: string; exprs: NativeNftExpr[];
}
export interface NativeNftElem {
  key?: string; keyEnd?: string; data?: string; verdict?: number; chain?: string; objref?: string;
  timeout?: number; expiration?: number; flags?: number; userdata?: string; exprs?: NativeNftExpr[];
}
export interface NativeNftSet {
  family: number; table: string; name: string; handle?: number; id?: number; flags?: number;
  keyType?: number; keyLen?: number; dataType?: number; dataLen?: number; objType?: number; policy?: number;
  size?: number; concat?: number[]; timeout?: number; gcInterval?: number; userdata?: string; exprs?: NativeNftExpr[];
}
export interface NativeNftObject {
  family: number; table: string; name: string; objType: number; handle?: number; userdata?: string;
  packets?: number; bytes?: number; consumed?: number; flags?: number; rate?: number; unit?: number;
  burst?: number; limitType?: number;
  helper?: string; l3proto?: number; l4proto?: number; timeouts?: number[]; dport?: number; timeout?: number; size?: number;
  mss?: number; wscale?: number; context?: string;
}

export type NativeNftOp = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'destroy' | 'flush';
/** One transaction item; the native side maps (kind, op) to an NFT_MSG_* type and netlink flags. */
export type NativeNftItem =
  | ({ kind: 'table'; op: NativeNftOp } & NativeNftTable)
  | ({ kind: 'chain'; op: NativeNftOp } & NativeNftChain)
  | ({ kind: 'rule'; op: NativeNftOp } & NativeNftRule)
  | ({ kind: 'set'; op: NativeNftOp } & NativeNftSet)
  | ({ kind: 'elements'; op: NativeNftOp; family: number; table: string; set: string; setId?: number } & (
      | { elements: NativeNftElem[] }
      /** The bulk form: elements packed as lib/nft/pack.ts describes. */
      | { packed: Buffer; count: number }))
  | ({ kind: 'object'; op: NativeNftOp } & NativeNftObject)
  /** A run of `count` rules and chains, each a record packed as lib/nft/pack.ts describes (op inside). */
  | { kind: 'packed'; packed: Buffer; count: number };

export interface NativeNftBatchOptions { generation?: number; dryRun?: boolean }

export interface NativeNftListing {
  generation: number;
  /** How many reads it took to see one consistent generation. */
  attempts: number;
  tables: NativeNftTable[];
  chains: NativeNftChain[];
  objects: NativeNftObject[];
  sets: (NativeNftSet & { elements: NativeNftElem[] })[];
  rules: NativeNftRule[];
}

export interface NativeNft {
  /** The batch exactly as commit() would send it (seq 0), and the item index of every message. */
  encodeBatch(items: NativeNftItem[], options: NativeNftBatchOptions): { buffer: Buffer; itemOfMessage: number[] };
  /**
   * One nfnetlink batch, one sendmsg. Resolves with the ms from sendmsg to the last ack (the kernel's
   * share); rejects with the failing item's index (-1: the batch itself).
   */
  commit(handle: NativeHandle, items: NativeNftItem[], options: NativeNftBatchOptions): Promise<number>;
  generation(handle: NativeHandle): Promise<number>;
  /** family: NFPROTO_* or 0 for all; table: null for all. */
  list(handle: NativeHandle, family: number, table: string | null, maxAttempts: number): Promise<NativeNftListing>;
  /** Per set (in the order given) one element dump, decoded into packed arrays (native/nft/counters.cc). */
  setCounters(handle: NativeHandle, family: number, table: string, sets: string[]): Promise<NativeNftSetCounters>;
}

/** Element counters of some sets: the elements of set i are [sum(count[0..i)), +count[i]) in the other arrays. */
export interface NativeNftSetCounters {
  generation: number;
  /** False when the ruleset changed during the read (a reply of another generation, a set gone). */
  same: boolean;
  count: Uint32Array;
  /** A key's first 4 bytes in host order (the slot); 0xffffffff for a shorter key. */
  keys: Uint32Array;
  /** The key bytes after those 4 (a shard map's `VIP . port`): element i's are rest[restEnd[i-1] .. restEnd[i]). */
  rest: Uint8Array;
  restEnd: Uint32Array;
  packets: Float64Array;
  bytes: Float64Array;
}

// ---------------------------------------------------------------------------------------------
// iptables (native/iptables)

/** An x_tables table's header as the kernel reports it (IPT_SO_GET_INFO). Offsets are into the entries. */
export interface NativeIptTableInfo {
  validHooks: number;
  /** Offset of each hook's first entry (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING). */
  hookEntry: number[];
  /** Offset of each hook's policy entry. */
  underflow: number[];
  numEntries: number;
  size: number;
}

export interface NativeIptTable extends NativeIptTableInfo {
  /**
   * The block IPT_SO_GET_ENTRIES filled (ipt_get_entries header, the ipt_entry/ip6t_entry blob, spare
   * room); null when it was read into the scratch Buffer instead.
   */
  block: Buffer | null;
  /** Where the entries start in the block (sizeof ipt_get_entries); `size` bytes long. */
  entriesOffset: number;
  /** 16 hex digits over the entries without counters: what expectUnchanged compares. */
  digest: string;
  /** Time in the IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES calls themselves (CLOCK_MONOTONIC), ms. */
  kernelMs: number;
}

export interface NativeIptEntryCounters {
  numEntries: number;
  digest: string;
  /** Time in the IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES calls themselves, ms. */
  kernelMs: number;
  /** Read over the `over` buffer given (its entries are the kernel's table's now), not into a fresh block. */
  over: boolean;
  counters: Float64Array;
}

/** What a replace left in the kernel: entry count and digest of the new table, and the kernel's time. */
export interface NativeIptReplaceResult {
  numEntries: number;
  /** Of the entries sent, computed like NativeIptTable.digest (a read of the table returns the same). */
  digest: string;
  /** Time in the IPT_SO_SET_REPLACE (+ IPT_SO_SET_ADD_COUNTERS) calls themselves (CLOCK_MONOTONIC), ms. */
  kernelMs: number;
  /** Entries whose old counters were carried over (the `carry` argument). */
  carried: number;
}

/**
 * iptables' lock file, flock()ed (LOCK_EX) around a commit's check-then-replace; the wait for another
 * holder is bounded by timeoutMs (then ETIMEDOUT).
 */
export interface NativeXtablesLock {
  path: string;
  timeoutMs: number;
}

/**
 * Both engines' commit: (handle, v6, table, blob, expect, counters, lock, carry, scratch) -> what
 * the kernel now holds. `carry` (direct engine only): per new entry, the old entry whose counters,
 * as the kernel hands them back at the replace, it counts on from (-1: from `counters`, or zero).
 * `scratch`: where expect's read of the current table goes when it fits (no fresh pages).
 */
export type NativeIptCommit = (
  handle: NativeHandle,
  v6: boolean,
  table: string,
  blob: Buffer,
  expect: { numEntries: number; digest: string } | null,
  counters: Buffer | null,
  lock?: NativeXtablesLock | null,
  carry?: Int32Array | null,
  scratch?: Buffer | null,
) => Promise<NativeIptReplaceResult>;

export interface NativeIptables {
  /** 1: the kernel has this match/target at this revision; 0: only other revisions; -1: not at all. */
  extensionKnown(handle: NativeHandle, v6: boolean, target: boolean, name: string, revision: number): Promise<number>;
  /** Tables instantiated in the namespace, in the kernel's order (what iptables-save walks). */
  tableNames(handle: NativeHandle, v6: boolean): Promise<string[]>;
  getInfo(handle: NativeHandle, v6: boolean, table: string): Promise<NativeIptTableInfo>;
  /** With `scratch` at least size + entriesOffset bytes long, the entries are read into it (entries: null). */
  getTable(handle: NativeHandle, v6: boolean, table: string, scratch?: Buffer | null): Promise<NativeIptTable>;
  /**
   * The counters of the entries at `entries` (ascending indices) as [packets, bytes] pairs, with the
   * entry count and digest of the table they were read from; nothing else of the table is kept
   * (native/iptables/counters.cc). `over`: a whole ipt_replace this process committed; when the
   * kernel's table has its size, the entries are read over its entries (its header is kept).
   */
  readCounters(handle: NativeHandle, v6: boolean, table: string, entries: Uint32Array, over?: Buffer | null): Promise<NativeIptEntryCounters>;
  /**
   * One IPT_SO_SET_REPLACE with `blob` (a whole ipt_replace; native fills num_counters and the
   * counters pointer in place, so the buffer must be built for this call only), then, when
   * `counters` is given, IPT_SO_SET_ADD_COUNTERS with those xt_counters. With `expect`, fails with
   * EAGAIN when the table's entry count or digest differ from it.
   */
  replaceTable: NativeIptCommit;
  /**
   * The libiptc engine's read: the table as iptc_init/iptc_first_chain/iptc_first_rule/
   * iptc_get_policy/iptc_get_target see it, laid out as the kernel's entries in a new `block`, with
   * the entry count and digest of the kernel's copy read in the same locked section (which must
   * match libiptc's; EAGAIN after retries otherwise). Takes `lock` like a commit.
   */
  readLibiptc(handle: NativeHandle, v6: boolean, table: string, lock?: NativeXtablesLock | null): Promise<NativeIptTable>;
  /**
   * The libiptc engine: the same arguments as replaceTable, applied with iptc_init, flush and delete
   * of what is there, iptc_create_chain, iptc_append_entry per rule, iptc_set_policy, iptc_commit
   * (ip6tc_* when v6). The blob's entries are patched in place (built for this call only). A failure
   * names the libiptc call (op), its iptc_strerror text (extack) and the blob entry index it
   * concerned (index) when there is one; EAGAIN when `expect` no longer holds or the kernel's
   * num_counters check fails at iptc_commit. kernelMs is all of iptc_commit (libiptc's compile too).
   */
  commitLibiptc: NativeIptCommit;
  /**
   * A direct compare-and-swap commit in two steps: takes the xtables lock and the process's x_tables
   * mutex on a worker and checks `expect` (reading into `scratch` when it fits) right away; the blob
   * follows with sendReplace, or abortReplace drops the commit (done then rejects). Neither within
   * waitMs: done rejects with ETIMEDOUT. `done` settles like replaceTable.
   */
  beginReplace(
    handle: NativeHandle, v6: boolean, table: string, expect: { numEntries: number; digest: string }, lock: NativeXtablesLock | null,
    scratch: Buffer | null, waitMs: number,
  ): { tx: NativeIptPendingReplace; done: Promise<NativeIptReplaceResult> };
  sendReplace(tx: NativeIptPendingReplace, blob: Buffer, counters: Buffer | null, carry: Int32Array | null): void;
  abortReplace(tx: NativeIptPendingReplace): void;
}

/** A commit begun with beginReplace (opaque). */
export interface NativeIptPendingReplace {
  readonly __pendingReplace: unique symbol;
}

// ---------------------------------------------------------------------------------------------

export interface NativeBinding {
  netlink: NativeNetlink;
  ipvs: NativeIpvs;
  nft: NativeNft;
  iptables: NativeIptables;
}

/** Shared libraries the addon links, and the Debian packages that provide them at run time. */
const runtimePackages: Record<string, string> = {
  'libnftnl.so': 'libnftnl11',
  'libmnl.so': 'libmnl0',
  'libip4tc.so': 'libip4tc2',
  'libip6tc.so': 'libip6tc2',
};

/** Turns a failure to load the addon into a message naming the Debian package that fixes it. */
export function explainLoadError(message: string): string | undefined {
  for (const [lib, pkg] of Object.entries(runtimePackages)) {
    if (message.includes(lib)) return `kernlb: cannot load the native addon: ${lib} is missing; install it with: apt-get install -y ${pkg}\n(${message})`;
  }
  if (/No native build was found/.test(message))
    return `kernlb: no native build found; build it with "npm run build:native" (needs: apt-get install -y g++ make pkg-config libnftnl-dev libmnl-dev libip4tc-dev libip6tc-dev)\n(${message})`;
  return undefined;
}

function load(): NativeBinding {
  const root = path.join(__dirname, '..');
  // Another build of the same addon (the sanitizer build of scripts/sanitizers.sh), by path.
  const override = process.env['KERNLB_NATIVE_PATH'];
  if (override) return require(path.resolve(override)) as NativeBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const gypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return gypBuild(root) as NativeBinding;
  } catch (e) {
    const explained = explainLoadError(e instanceof Error ? e.message : String(e));
    if (explained) throw new Error(explained);
    throw e;
  }
}

let cached: NativeBinding | undefined;

/** The typed binding, loaded on first use so that pure modules (validation, compilers) work without it. */
export function native(): NativeBinding {
  return (cached ??= load());
}
