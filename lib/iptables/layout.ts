/**
 * The kernel's table layout (linux/netfilter_ipv4/ip_tables.h, netfilter_ipv6/ip6_tables.h): entry
 * field offsets per family, verdict numbers, hooks and the built-in chains of each table.
 */
import type { IptFamily } from './types';
import { ownValue } from '../own-key';

export interface EntryLayout {
  size: number;
  addrLen: number;
  src: number;
  dst: number;
  smsk: number;
  dmsk: number;
  iniface: number;
  outiface: number;
  inifaceMask: number;
  outifaceMask: number;
  proto: number;
  flags: number;
  invflags: number;
  targetOffset: number;
  nextOffset: number;
  counters: number;
  /** ip.flags bits. */
  fFrag: number;
  fGoto: number;
  fProto: number;
}

export const IPV4: EntryLayout = {
  size: 112, addrLen: 4, src: 0, dst: 4, smsk: 8, dmsk: 12, iniface: 16, outiface: 32, inifaceMask: 48, outifaceMask: 64,
  proto: 80, flags: 82, invflags: 83, targetOffset: 88, nextOffset: 90, counters: 96, fFrag: 1, fGoto: 2, fProto: 0,
};
export const IPV6: EntryLayout = {
  size: 168, addrLen: 16, src: 0, dst: 16, smsk: 32, dmsk: 48, iniface: 64, outiface: 80, inifaceMask: 96, outifaceMask: 112,
  proto: 128, flags: 131, invflags: 132, targetOffset: 140, nextOffset: 142, counters: 152, fFrag: 0, fGoto: 4, fProto: 1,
};
export const layoutOf = (f: IptFamily): EntryLayout => (f === 'ipv4' ? IPV4 : IPV6);

/** ip.invflags bits (same values in both families). */
export const INV = { inInterface: 0x01, outInterface: 0x02, source: 0x08, destination: 0x10, fragment: 0x20, protocol: 0x40 } as const;

export const EXT_HEADER = 32;
export const STANDARD_TARGET_SIZE = 40;
export const ERROR_TARGET_SIZE = 64;
export const REPLACE_HEADER = 96;

/** Standard verdicts: -verdict - 1. */
export const VERDICT = { DROP: -1, ACCEPT: -2, QUEUE: -4, RETURN: -5 } as const;
export const VERDICT_NAME = new Map<number, 'DROP' | 'ACCEPT' | 'QUEUE' | 'RETURN'>([[-1, 'DROP'], [-2, 'ACCEPT'], [-4, 'QUEUE'], [-5, 'RETURN']]);

export const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
export type HookName = (typeof HOOKS)[number];

/** Built-in chains of the standard tables (a table's valid_hooks must match the kernel's). */
export const TABLE_HOOKS: Record<string, HookName[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** The built-in chains of a table kernlb knows; undefined for any other value ("constructor" included). */
export function tableHooks(name: unknown): HookName[] | undefined {
  return ownValue(TABLE_HOOKS, name);
}

export function isHook(name: string): name is HookName {
  return (HOOKS as readonly string[]).includes(name);
}

/** libiptc keeps user chains sorted by strcmp; so does kernlb, so that iptables-save prints the same order. */
export function compareChainNames(a: string, b: string): number {
  // UTF-16 code unit order equals byte order for the Latin-1 names x_tables stores.
  return a < b ? -1 : a > b ? 1 : 0;
}
