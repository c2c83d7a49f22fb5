/** iptables (legacy x_tables through the kernel's socket options, as libiptc does): typed tables, atomic replace. */
export { Iptables, type CommitOptions, type IptablesOpenOptions, type UpdateOptions } from './iptables';
export type * from './types';
export type * from './extensions/types';
export type { TcpMatch, TcpFlag } from './extensions/tcp';
export type { PortRange } from './extensions/codec';
export type { CtState, CtStatus } from './extensions/conntrack';
export type { AddrType } from './extensions/addrtype';
export type { RateUnit } from './extensions/limit';
export type { RecentCommand } from './extensions/recent';
export { probabilityToKernel, formatProbability } from './extensions/statistic';
export {
  emptyTable, getChain, appendRule, insertRule, deleteRule, replaceRule, createChain, ensureChain, flushChain, deleteChain,
  renameChain, setPolicy, zeroCounters,
} from './edit';
export { validateTable } from './validate';
export { saveTable, saveRule, type SaveOptions } from './save';
export { parseIptablesSave, parseRuleArgs, type ParsedTables } from './parse';
export { encodeTable, decodeTable } from './blob';
export { tablesToJson, tablesFromJson } from './json';
