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

export type ExtensionMatch =
  | TcpMatch | UdpMatch | IcmpMatch | Icmp6Match | CommentMatch | StatisticMatch | ConntrackMatch | StateMatch | MarkMatch
  | ConnmarkMatch | AddrtypeMatch | MultiportMatch | IprangeMatch | MacMatch | LimitMatch | RecentMatch | SetMatch
  | PhysdevMatch | OwnerMatch;

export type ExtensionTarget =
  | DnatTarget | SnatTarget | MasqueradeTarget | RedirectTarget | MarkTarget | ConnmarkTarget | RejectTarget | LogTarget
  | CtTarget | NotrackTarget;
