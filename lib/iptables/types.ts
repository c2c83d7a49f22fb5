/**
 * The typed model of an x_tables table. A table is a list of chains; built-in chains carry a policy
 * and counters; each rule has the standard part (addresses, interfaces, protocol, fragment flag and
 * their inversions), a list of matches and a target. Matches and targets kernlb does not type are
 * kept as `{ type: 'raw', name, revision, data }` so a read-modify-write never loses them.
 */
import type { ExtensionMatch, ExtensionTarget } from './extensions/types';

export type IptFamily = 'ipv4' | 'ipv6';
export type BuiltinTableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

export interface Counters {
  packets: number;
  bytes: number;
}

/** A match or target kept as bytes: the kernel's name, revision and data (without the 32-byte header). */
export interface RawExtension {
  type: 'raw';
  name: string;
  revision: number;
  data: Buffer;
}

export type IptMatch = ExtensionMatch | RawExtension;

export type StandardVerdict = 'ACCEPT' | 'DROP' | 'RETURN' | 'QUEUE';
export type IptTarget =
  | { type: StandardVerdict }
  | { type: 'jump'; chain: string }
  | { type: 'goto'; chain: string }
  | ExtensionTarget
  | RawExtension;

export interface RuleInversions {
  source?: boolean;
  destination?: boolean;
  inInterface?: boolean;
  outInterface?: boolean;
  protocol?: boolean;
  fragment?: boolean;
}

export interface IptRule {
  /** "10.0.0.0/8", "10.0.0.1" (= /32), "10.0.0.0/255.0.255.0"; IPv6 likewise. */
  source?: string;
  destination?: string;
  /** Interface name; a trailing "+" matches every name with that prefix. */
  inInterface?: string;
  outInterface?: string;
  /** "tcp", "udp", "icmp", "icmpv6", ... or a protocol number. */
  protocol?: string | number;
  /** IPv4 only: match second and further fragments (with invert.fragment: only unfragmented/first). */
  fragment?: boolean;
  invert?: RuleInversions;
  matches?: IptMatch[];
  /** Absent: the rule only counts (no verdict, evaluation continues). */
  target?: IptTarget;
  counters?: Counters;
}

export interface IptChain {
  name: string;
  /** Built-in chains only. */
  policy?: 'ACCEPT' | 'DROP';
  /** Built-in chains only: the policy's counters. */
  counters?: Counters;
  rules: IptRule[];
}

/** What a read saw, for commit(..., { expectUnchanged }): entry count and digest of the entries. */
export interface TableReadState {
  numEntries: number;
  digest: string;
}

/**
 * What commit() resolves to: the committed table's readState (so the same model can be committed
 * again with expectUnchanged without a read) and the kernel's own time for the replace.
 */
/**
 * What IPT_SO_GET_INFO says of a table without reading its entries (Iptables.info): a few hundred
 * bytes, however big the table. Any commit that adds or removes an entry, or changes a rule's size,
 * changes numEntries or size; a rule replaced by one of the same size changes neither.
 */
export interface TableInfo {
  numEntries: number;
  size: number;
  /** Offset of each hook's first entry and of its policy entry (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING). */
  hookEntry: number[];
  underflow: number[];
}

export interface CommitResult extends TableReadState {
  /** Milliseconds inside the IPT_SO_SET_REPLACE (+ IPT_SO_SET_ADD_COUNTERS) calls (CLOCK_MONOTONIC). */
  kernelMs: number;
  /** Bytes of the committed entries (what Iptables.info reports as size while the kernel holds them). */
  size: number;
  /** Entries that count on from the old table's counters (CommitOptions.counters 'carry'), else 0. */
  carried: number;
  /** Entries of frozen rules (iptFreezeRule) and their chains taken from an earlier commit's blob instead of encoded again. */
  reused: number;
  /**
   * Whether the blob was the last commit's, with only what changed written over it: every reused
   * entry was already where it had to be (a controller's recommit that changed rules, not sizes).
   */
  inPlace: boolean;
}

export interface IptTable {
  family: IptFamily;
  name: string;
  chains: IptChain[];
  /** Set by read(); a commit with expectUnchanged compares the kernel's table with it. */
  readState?: TableReadState;
}
