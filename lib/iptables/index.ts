/**
 * iptables (the legacy x_tables interface, through the kernel socket options libiptc uses, or through
 * libiptc itself with engine 'libiptc'): typed tables read exactly and replaced atomically. Generic
 * names carry an Ipt/iptables prefix so that lib/index.ts's `export *` never clashes with another
 * subsystem.
 */
export {
  Iptables, type CommitOptions as IptCommitOptions, type IptablesOpenOptions, type UpdateOptions as IptUpdateOptions,
} from './iptables';
export { type IptEngine, XTABLES_LOCK_PATH as IPT_XTABLES_LOCK_PATH } from './engine';
export type {
  IptFamily, IptTable, IptChain, IptRule, IptMatch, IptTarget, Counters as IptCounters, RawExtension as IptRawExtension,
  StandardVerdict as IptVerdict, RuleInversions as IptRuleInversions, BuiltinTableName as IptTableName, TableReadState as IptReadState, TableInfo as IptTableInfo,
  CommitResult as IptCommitResult,
} from './types';
export type { ExtensionMatch as IptExtensionMatch, ExtensionTarget as IptExtensionTarget } from './extensions/types';
export type { PortRange as IptPortRange } from './extensions/codec';
export type { TcpMatch as IptTcpMatch, TcpFlag as IptTcpFlag } from './extensions/tcp';
export type { UdpMatch as IptUdpMatch } from './extensions/udp';
export type { CommentMatch as IptCommentMatch } from './extensions/comment';
export type { StatisticMatch as IptStatisticMatch } from './extensions/statistic';
export type { MarkMatch as IptMarkMatch, ConnmarkMatch as IptConnmarkMatch } from './extensions/mark';
export type { ConntrackMatch as IptConntrackMatch, CtState as IptCtState, CtStatus as IptCtStatus } from './extensions/conntrack';
export type { AddrType as IptAddrType, AddrtypeMatch as IptAddrtypeMatch } from './extensions/addrtype';
export type { DnatTarget as IptDnatTarget, SnatTarget as IptSnatTarget, MasqueradeTarget as IptMasqueradeTarget, RedirectTarget as IptRedirectTarget } from './extensions/nat';
export type { MarkTarget as IptMarkTarget } from './extensions/mark-target';
export type { ConnmarkTarget as IptConnmarkTarget } from './extensions/connmark-target';
export type { TcpmssMatch as IptTcpmssMatch, TcpmssTarget as IptTcpmssTarget } from './extensions/tcpmss';
export type { CtTarget as IptCtTarget } from './extensions/ct';
export type { NflogTarget as IptNflogTarget } from './extensions/nflog';
export type { NfqueueTarget as IptNfqueueTarget } from './extensions/nfqueue';
export type { TproxyTarget as IptTproxyTarget } from './extensions/tproxy';
export type { ConnlimitMatch as IptConnlimitMatch } from './extensions/connlimit';
export type { HashlimitMatch as IptHashlimitMatch } from './extensions/hashlimit';
export type { PolicyMatch as IptPolicyMatch, PolicyElement as IptPolicyElement } from './extensions/policy';
export type { TimeMatch as IptTimeMatch } from './extensions/time';
export type { StringMatch as IptStringMatch } from './extensions/string';
export type { SctpMatch as IptSctpMatch, SctpChunk as IptSctpChunk } from './extensions/sctp';
export type { U32Match as IptU32Match, U32Test as IptU32Test } from './extensions/u32';
export type { RateestMatch as IptRateestMatch, RateestTarget as IptRateestTarget } from './extensions/rateest';
export type { HmarkTarget as IptHmarkTarget } from './extensions/hmark';
export {
  emptyTable as iptEmptyTable, getChain as iptGetChain, appendRule as iptAppendRule, insertRule as iptInsertRule,
  deleteRule as iptDeleteRule, replaceRule as iptReplaceRule, createChain as iptCreateChain, ensureChain as iptEnsureChain,
  flushChain as iptFlushChain, deleteChain as iptDeleteChain, renameChain as iptRenameChain, setPolicy as iptSetPolicy,
  zeroCounters as iptZeroCounters,
} from './edit';
export { validateTable as validateIptTable } from './validate';
export { freezeRule as iptFreezeRule, freezeRules as iptFreezeRules } from './rule-cache';
export { saveTable as iptablesSave, saveRule as iptablesSaveRule, type SaveOptions as IptSaveOptions } from './save';
export { parseIptablesSave, parseRuleArgs as parseIptablesRule, type ParsedTables as IptParsedTables } from './parse';
export { encodeTable as encodeIptTable, decodeTable as decodeIptTable } from './blob';
export { tablesToJson as iptTablesToJson, tablesFromJson as iptTablesFromJson } from './json';
export { probabilityToKernel as iptProbabilityToKernel, formatProbability as iptFormatProbability } from './extensions/statistic';
