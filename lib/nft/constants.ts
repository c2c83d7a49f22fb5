/**
 * Kernel numbers of nf_tables (linux/netfilter/nf_tables.h, linux/netfilter.h) and nft's datatype
 * ids (nft src/datatype.h), named once so the model can speak in names.
 */

export const FAMILIES = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const;
export type Family = keyof typeof FAMILIES;
export const familyName = (n: number): Family | undefined =>
  (Object.keys(FAMILIES) as Family[]).find((k) => FAMILIES[k] === n);

/** Hook numbers per family: inet/ip/ip6/bridge use the NF_INET_* numbers, arp and netdev their own. */
export const HOOKS: Record<Family, Record<string, number>> = {
  ip: { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 },
  ip6: { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 },
  inet: { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4, ingress: 5 },
  bridge: { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 },
  arp: { input: 0, output: 1, forward: 2 },
  netdev: { ingress: 0, egress: 1 },
};
export type ChainType = 'filter' | 'nat' | 'route';

/** Verdict codes (NF_DROP, NF_ACCEPT, NFT_*) as the kernel stores them in a verdict register. */
export const VERDICTS = { drop: 0, accept: 1, continue: -1, break: -2, jump: -3, goto: -4, return: -5 } as const;
export type VerdictName = keyof typeof VERDICTS;
export const verdictName = (n: number): VerdictName | undefined =>
  (Object.keys(VERDICTS) as VerdictName[]).find((k) => VERDICTS[k] === n);

/** Registers: 0 = verdict, 1..4 = 128-bit, 8..23 = 32-bit (NFT_REG32_00..15). */
export const REG = { verdict: 0, r1: 1, r2: 2, r3: 3, r4: 4, r32base: 8 } as const;

export const PAYLOAD_BASE = { link: 0, network: 1, transport: 2, inner: 3 } as const;
export const CMP_OP = { eq: 0, neq: 1, lt: 2, lte: 3, gt: 4, gte: 5 } as const;
export type CmpOpName = keyof typeof CMP_OP;

export const META_KEY = {
  len: 0, protocol: 1, priority: 2, mark: 3, iif: 4, oif: 5, iifname: 6, oifname: 7, iiftype: 8, oiftype: 9,
  skuid: 10, skgid: 11, nftrace: 12, rtclassid: 13, secmark: 14, nfproto: 15, l4proto: 16, bri_iifname: 17,
  bri_oifname: 18, pkttype: 19, cpu: 20, iifgroup: 21, oifgroup: 22, cgroup: 23, prandom: 24,
} as const;
export type MetaKeyName = keyof typeof META_KEY;

export const CT_KEY = {
  state: 0, direction: 1, status: 2, mark: 3, secmark: 4, expiration: 5, helper: 6, l3protocol: 7, saddr: 8,
  daddr: 9, protocol: 10, proto_src: 11, proto_dst: 12, labels: 13, pkts: 14, bytes: 15, avgpkt: 16, zone: 17,
  eventmask: 18,
} as const;
export const CT_STATE = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 } as const;
export type CtStateName = keyof typeof CT_STATE;

export const NAT_TYPE = { snat: 0, dnat: 1 } as const;
/** NF_NAT_RANGE_* flags. */
export const NAT_FLAG = {
  mapIps: 0x1, protoSpecified: 0x2, protoRandom: 0x4, persistent: 0x8, protoRandomFully: 0x10, protoOffset: 0x20,
  netmap: 0x40,
} as const;

export const SET_FLAG = {
  anonymous: 0x1, constant: 0x2, interval: 0x4, map: 0x8, timeout: 0x10, eval: 0x20, object: 0x40, concat: 0x80,
  expr: 0x100,
} as const;
export type SetFlagName = keyof typeof SET_FLAG;
/** nft calls NFT_SET_EVAL "dynamic". */
export const SET_FLAG_NAMES: Record<string, SetFlagName> = { dynamic: 'eval' };

export const OBJ_TYPE = { counter: 1, quota: 2, 'ct helper': 3, limit: 4, connlimit: 5, tunnel: 6, 'ct timeout': 7, secmark: 8, 'ct expectation': 9, synproxy: 10 } as const;
export type ObjTypeName = keyof typeof OBJ_TYPE;

export const TABLE_FLAG = { dormant: 0x1, owner: 0x2, persist: 0x4 } as const;
export const CHAIN_FLAG_BASE = 0x1;

/** NFT_DATA_VERDICT: the data type of verdict maps. */
export const DATA_VERDICT = 0xffffff00;
/** nft packs the datatypes of a concatenation 6 bits per field (TYPE_BITS). */
export const TYPE_BITS = 6;

/** nft's byteorder enum, stored in set userdata so nft prints host-endian keys (marks, numgen) right. */
export const BYTEORDER = { invalid: 0, host: 1, big: 2 } as const;

export const LIMIT_TYPE = { pkts: 0, bytes: 1 } as const;
export const NUMGEN_TYPE = { inc: 0, random: 1 } as const;
export const HASH_TYPE = { jenkins: 0, sym: 1 } as const;
export const LOOKUP_F_INV = 0x1;
export const DYNSET_OP = { add: 0, update: 1, delete: 2 } as const;

/** The longest timeout the kernel takes, in ms (nf_msecs_to_jiffies64: ERANGE from U64_MAX / NSEC_PER_MSEC on). */
export const MAX_TIMEOUT_MS = 18446744073708;
