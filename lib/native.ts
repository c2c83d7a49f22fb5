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
}

// ---------------------------------------------------------------------------------------------
// ipvs (native/ipvs)

// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface NativeIpvs {}

// ---------------------------------------------------------------------------------------------
// nft (native/nft)

// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface NativeNft {}

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
  /** The ipt_entry/ip6t_entry blob (IPT_SO_GET_ENTRIES). */
  entries: Buffer;
  /** 16 hex digits over the entries without counters: what expectUnchanged compares. */
  digest: string;
}

export interface NativeIptables {
  /** 1: the kernel has this match/target at this revision; 0: only other revisions; -1: not at all. */
  extensionKnown(handle: NativeHandle, v6: boolean, target: boolean, name: string, revision: number): Promise<number>;
  /** Tables instantiated in the namespace, in the kernel's order (what iptables-save walks). */
  tableNames(handle: NativeHandle, v6: boolean): Promise<string[]>;
  getInfo(handle: NativeHandle, v6: boolean, table: string): Promise<NativeIptTableInfo>;
  getTable(handle: NativeHandle, v6: boolean, table: string): Promise<NativeIptTable>;
  /**
   * One IPT_SO_SET_REPLACE with `blob` (a whole ipt_replace; native fills num_counters and the
   * counters pointer in place, so the buffer must be built for this call only), then, when
   * `counters` is given, IPT_SO_SET_ADD_COUNTERS with those xt_counters. With `expect`, fails with
   * EAGAIN when the table's entry count or digest differ from it.
   */
  replaceTable(
    handle: NativeHandle,
    v6: boolean,
    table: string,
    blob: Buffer,
    expect: { numEntries: number; digest: string } | null,
    counters: Buffer | null,
  ): Promise<void>;
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
