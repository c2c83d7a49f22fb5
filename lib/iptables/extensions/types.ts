/** The typed matches and targets, one union each (the model's `type` field tells them apart). */
import type { AddrtypeMatch } from './addrtype';
import type { CommentMatch } from './comment';
import type { ConnmarkTarget } from './connmark-target';
import type { ConntrackMatch } from './conntrack';
import type { CtTarget, NotrackTarget } from './ct';
import type { Icmp6Match, IcmpMatch } from './icmp';
import type { IprangeMatch } from './iprange';
import type { LimitMatch } from './limit';
import type { LogTarget } from './log';
import type { MacMatch } from './mac';
import type { ConnmarkMatch, MarkMatch } from './mark';
import type { MarkTarget } from './mark-target';
import type { MultiportMatch } from './multiport';
import type { DnatTarget, MasqueradeTarget, RedirectTarget, SnatTarget } from './nat';
import type { OwnerMatch } from './owner';
import type { PhysdevMatch } from './physdev';
import type { RecentMatch } from './recent';
import type { RejectTarget } from './reject';
import type { SetMatch } from './set';
import type { StateMatch } from './state';
import type { StatisticMatch } from './statistic';
import type { TcpMatch } from './tcp';
import type { UdpMatch } from './udp';
import type { ChecksumTarget } from './checksum';
import type { ClassifyTarget } from './classify';
import type { CpuMatch } from './cpu';
import type { DscpMatch, DscpTarget } from './dscp';
import type { EcnMatch, EcnTarget } from './ecn';
import type { HelperMatch } from './helper';
import type { LengthMatch } from './length';
import type { NflogTarget } from './nflog';
import type { PkttypeMatch } from './pkttype';
import type { QuotaMatch } from './quota';
import type { TcpmssMatch, TcpmssTarget } from './tcpmss';
import type { TosMatch, TosTarget } from './tos';
import type { HlMatch, HlTarget, TtlMatch, TtlTarget } from './ttl';
import type { CgroupMatch } from './cgroup';
import type { ConnbytesMatch } from './connbytes';
import type { ConnlimitMatch } from './connlimit';
import type { AhMatch, EspMatch } from './esp';
import type { RpfilterMatch } from './rpfilter';
import type { SocketMatch } from './socket';
import type { AuditTarget } from './audit';
import type { ClusterMatch } from './cluster';
import type { ConnsecmarkTarget } from './connsecmark';
import type { IdletimerTarget } from './idletimer';
import type { NetmapTarget } from './netmap';
import type { NfqueueTarget } from './nfqueue';
import type { DnptTarget, SnptTarget } from './npt';
import type { SynproxyTarget } from './synproxy';
import type { TcpoptstripTarget } from './tcpoptstrip';
import type { TeeTarget } from './tee';
import type { TproxyTarget } from './tproxy';
import type { TraceTarget } from './trace';
import type { Eui64Match } from './eui64';
import type { FragMatch } from './frag';
import type { IpcompMatch } from './ipcomp';
import type { Ipv6headerMatch } from './ipv6header';
import type { MhMatch } from './mh';
import type { DstMatch, HbhMatch } from './opts6';
import type { RtMatch } from './rt';
import type { BpfMatch } from './bpf';
import type { ConnlabelMatch } from './connlabel';
import type { StringMatch } from './string';
import type { TimeMatch } from './time';
import type { PolicyMatch } from './policy';
import type { HashlimitMatch } from './hashlimit';
import type { DccpMatch } from './dccp';
import type { SrhMatch } from './srh';
import type { DevgroupMatch } from './devgroup';
import type { HmarkTarget } from './hmark';
import type { OsfMatch } from './osf';
import type { RateestMatch, RateestTarget } from './rateest';
import type { RealmMatch } from './realm';
import type { SctpMatch } from './sctp';
import type { U32Match } from './u32';

export type ExtensionMatch =
  | TcpMatch | UdpMatch | IcmpMatch | Icmp6Match | CommentMatch | StatisticMatch | ConntrackMatch | StateMatch | MarkMatch
  | ConnmarkMatch | AddrtypeMatch | MultiportMatch | IprangeMatch | MacMatch | LimitMatch | RecentMatch | SetMatch
  | PhysdevMatch | OwnerMatch | TcpmssMatch | LengthMatch | PkttypeMatch | DscpMatch | TosMatch | TtlMatch | HlMatch | EcnMatch
  | QuotaMatch | CpuMatch | HelperMatch | ConnlimitMatch | ConnbytesMatch | SocketMatch | RpfilterMatch | CgroupMatch | EspMatch | AhMatch
  | ClusterMatch | IpcompMatch | FragMatch | HbhMatch | DstMatch | RtMatch | Ipv6headerMatch | MhMatch | Eui64Match
  | ConnlabelMatch | TimeMatch | StringMatch | BpfMatch | PolicyMatch | HashlimitMatch | DccpMatch | SrhMatch
  | SctpMatch | U32Match | RateestMatch | DevgroupMatch | RealmMatch | OsfMatch;

export type ExtensionTarget =
  | DnatTarget | SnatTarget | MasqueradeTarget | RedirectTarget | MarkTarget | ConnmarkTarget | RejectTarget | LogTarget
  | CtTarget | NotrackTarget | TcpmssTarget | DscpTarget | TosTarget | TtlTarget | HlTarget | EcnTarget | ClassifyTarget
  | ChecksumTarget | NflogTarget | NetmapTarget | SnptTarget | DnptTarget | TproxyTarget | TeeTarget | AuditTarget | IdletimerTarget
  | SynproxyTarget | ConnsecmarkTarget | TcpoptstripTarget | TraceTarget | NfqueueTarget
  | RateestTarget | HmarkTarget;
