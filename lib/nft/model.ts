/**
 * The typed nftables model: what a transaction writes and what list() returns. Rules hold
 * kernel-level expressions (`Expr`); the statement builder (statements.ts) produces them the way
 * nft 1.0.6 does. Binary data (cmp values, raw keys, userdata) is lowercase hex.
 */
import type { ChainType, Family, ObjTypeName, SetFlagName, VerdictName } from './constants';
import type { ScalarValue } from './datatypes';
import type { KeySource } from './statements';

/** A kernel-level expression: `type` is the kernel's expression name, the rest its attributes. */
export interface Expr {
  type: string;
  [attr: string]: string | number | Expr[] | undefined;
}

export interface Table {
  family: Family;
  name: string;
  /** NFT_TABLE_F_* bits (dormant 1, owner 2, persist 4). */
  flags?: number;
  comment?: string;
  /** Raw userdata; wins over `comment` when both are given (kept by list() for exact round trips). */
  userdata?: string;
  handle?: number;
}

export interface BaseChainSpec {
  type: ChainType;
  hook: string;
  /**
   * A number, or nft's name for the family and hook with an optional offset: 'raw', 'mangle',
   * 'dstnat' (prerouting), 'filter', 'security', 'srcnat' (postrouting), e.g. 'dstnat + 10'; bridge:
   * 'dstnat', 'filter', 'out', 'srcnat' with bridge values. Listings give the number.
   */
  priority: number | string;
  policy?: 'accept' | 'drop';
  device?: string;
  devices?: string[];
}

export interface Chain {
  family: Family;
  table: string;
  name: string;
  /** Present for base chains (attached to a hook). */
  base?: BaseChainSpec;
  /** NFT_CHAIN_* flags other than BASE (hw-offload 2, binding 4). */
  flags?: number;
  comment?: string;
  userdata?: string;
  handle?: number;
}

export interface Rule {
  family: Family;
  table: string;
  chain: string;
  /** Kernel-level expressions; nested arrays (statement builder output) are flattened. */
  exprs: (Expr | Expr[])[];
  comment?: string;
  userdata?: string;
  handle?: number;
  /** For insert/add relative to an existing rule handle. */
  position?: number;
  /**
   * Read back only: the rule as nft statements (what `nft list ruleset` prints) when every
   * expression is a pattern kernlb knows; ignored when committing (exprs are what counts).
   */
  statements?: string[];
}

/** A key or data type: one nft datatype name, a concatenation of them, or raw kernel numbers. */
export type TypeSpec = string | string[] | { id: number; len: number };

export interface Verdict {
  verdict: VerdictName;
  /** Target of jump / goto. */
  chain?: string;
}

export interface Element {
  /** Typed key (one value per concatenated field), or use keyHex for raw bytes. */
  key?: ScalarValue | ScalarValue[];
  keyHex?: string;
  /** End of an interval (interval sets with concatenations). */
  keyEnd?: ScalarValue | ScalarValue[];
  keyEndHex?: string;
  /** Map data: typed value(s), raw hex, a verdict, or an object name (object maps). */
  data?: ScalarValue | ScalarValue[];
  dataHex?: string;
  verdict?: Verdict;
  object?: string;
  /** Milliseconds. */
  timeout?: number;
  expiration?: number;
  /** NFT_SET_ELEM_INTERVAL_END etc. */
  flags?: number;
  /** Per-element counter (sets declared with `counter`). */
  counter?: { packets: number; bytes: number };
  exprs?: Expr[];
  comment?: string;
  userdata?: string;
}

export interface NftSet {
  family: Family;
  table: string;
  name: string;
  /** Key datatype(s); may be left out when `typeof` gives the key. */
  key?: TypeSpec;
  /**
   * nft's `typeof`: key (and data) described by the expressions that produce them, e.g.
   * { key: ['ip daddr', 'th dport', { numgen: { mod: 4 } }], data: ['ip daddr', 'th dport'] }.
   * Needed for nft to print keys with numgen/jhash fields. Datatypes follow from it.
   */
  typeof?: { key: KeySource | KeySource[]; data?: KeySource | KeySource[] | 'verdict' };
  /** Maps: data type, or 'verdict' for verdict maps. */
  data?: TypeSpec | 'verdict';
  /** Object maps: the named object type their elements refer to. */
  objectType?: ObjTypeName;
  flags?: (SetFlagName | 'dynamic')[];
  /** Default element timeout, milliseconds. */
  timeout?: number;
  gcInterval?: number;
  size?: number;
  policy?: 'performance' | 'memory';
  /** Field lengths of a concatenated key (sent by nft for interval concatenations). */
  concat?: number[];
  /** Stateful expressions attached to every element (e.g. a counter). */
  exprs?: Expr[];
  comment?: string;
  userdata?: string;
  handle?: number;
  /** Set id used for in-batch references (anonymous sets); assigned by the transaction if absent. */
  id?: number;
  elements?: Element[];
}

export type NamedObject =
  | { family: Family; table: string; name: string; type: 'counter'; packets?: number; bytes?: number; comment?: string; userdata?: string; handle?: number }
  | { family: Family; table: string; name: string; type: 'quota'; bytes: number; consumed?: number; over?: boolean; comment?: string; userdata?: string; handle?: number }
  | { family: Family; table: string; name: string; type: 'limit'; rate: number; unit: number; burst?: number; limitType?: 'pkts' | 'bytes'; over?: boolean; comment?: string; userdata?: string; handle?: number }
  /** A conntrack helper: `helper` is the kernel helper's name ("ftp", "sip"); l3proto an NFPROTO_* number (inet 1, ip 2, ip6 10), l4proto an IP protocol. */
  | { family: Family; table: string; name: string; type: 'ct helper'; helper: string; l3proto: number; l4proto: number; comment?: string; userdata?: string; handle?: number }
  /** Conntrack timeouts in seconds, indexed by the kernel's state numbers for l4proto (tcp: syn_sent, syn_recv, established, ...). */
  | { family: Family; table: string; name: string; type: 'ct timeout'; l3proto: number; l4proto: number; timeouts?: number[]; comment?: string; userdata?: string; handle?: number }
  /** An expectation template: timeout in ms, size = the most expectations at once. */
  | { family: Family; table: string; name: string; type: 'ct expectation'; l3proto: number; l4proto: number; dport: number; timeout: number; size: number; comment?: string; userdata?: string; handle?: number }
  /** flags: NF_SYNPROXY_OPT_* (timestamp 0x4, sack-perm 0x8; mss 0x1 and wscale 0x2 are set by the kernel). */
  | { family: Family; table: string; name: string; type: 'synproxy'; mss: number; wscale: number; flags?: number; comment?: string; userdata?: string; handle?: number }
  /** An LSM security context (needs a kernel with one, e.g. SELinux). */
  | { family: Family; table: string; name: string; type: 'secmark'; context: string; comment?: string; userdata?: string; handle?: number }
  /** Read back only: an object kind kernlb does not model (tunnel, connlimit); committing it is refused. */
  | { family: Family; table: string; name: string; type: 'unsupported'; objType: number; comment?: string; userdata?: string; handle?: number };

/** Everything in one namespace (or one table), in an order that can be committed as is. */
export interface Ruleset {
  generation: number;
  tables: Table[];
  chains: Chain[];
  objects: NamedObject[];
  sets: NftSet[];
  rules: Rule[];
}
