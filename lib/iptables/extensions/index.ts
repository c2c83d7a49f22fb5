/** The registry of typed extensions: by model type for encoding, by kernel name for decoding, by save name for parsing. */
import { addrtype } from './addrtype';
import type { Codec } from './codec';
import { comment } from './comment';
import { connmarkTarget } from './connmark-target';
import { conntrack } from './conntrack';
import { ct, notrack } from './ct';
import { icmp, icmp6 } from './icmp';
import { iprange } from './iprange';
import { limit } from './limit';
import { log } from './log';
import { mac } from './mac';
import { connmark, mark } from './mark';
import { markTarget } from './mark-target';
import { multiport } from './multiport';
import { dnat, masquerade, redirect, snat } from './nat';
import { owner } from './owner';
import { physdev } from './physdev';
import { recent } from './recent';
import { reject } from './reject';
import { set } from './set';
import { state } from './state';
import { statistic } from './statistic';
import { tcp } from './tcp';
import { udp } from './udp';
import { checksum } from './checksum';
import { classify } from './classify';
import { cpu } from './cpu';
import { dscp, dscpTarget } from './dscp';
import { ecn, ecnTarget } from './ecn';
import { helper } from './helper';
import { length } from './length';
import { nflog } from './nflog';
import { pkttype } from './pkttype';
import { quota } from './quota';
import { tcpmss, tcpmssTarget } from './tcpmss';
import { tos, tosTarget } from './tos';
import { hl, hlTarget, ttl, ttlTarget } from './ttl';
import { cgroup } from './cgroup';
import { connbytes } from './connbytes';
import { connlimit } from './connlimit';
import { ah, esp } from './esp';
import { rpfilter } from './rpfilter';
import { socket } from './socket';
import { audit } from './audit';
import { cluster } from './cluster';
import { connsecmark } from './connsecmark';
import { idletimer } from './idletimer';
import { netmap } from './netmap';
import { nfqueue } from './nfqueue';
import { dnpt, snpt } from './npt';
import { synproxy } from './synproxy';
import { tcpoptstrip } from './tcpoptstrip';
import { tee } from './tee';
import { tproxy } from './tproxy';
import { trace } from './trace';
import { eui64 } from './eui64';
import { frag } from './frag';
import { ipcomp } from './ipcomp';
import { ipv6header } from './ipv6header';
import { mh } from './mh';
import { dst, hbh } from './opts6';
import { rt } from './rt';
import { bpf } from './bpf';
import { connlabel } from './connlabel';
import { string } from './string';
import { time } from './time';
import { policy } from './policy';
import { hashlimit } from './hashlimit';
import { dccp } from './dccp';
import { srh } from './srh';
import { devgroup } from './devgroup';
import { hmark } from './hmark';
import { osf } from './osf';
import { rateest, rateestTarget } from './rateest';
import { realm } from './realm';
import { sctp } from './sctp';
import { u32 } from './u32';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCodec = Codec<{ type: string } & Record<string, any>>;

// Aliases first: state before conntrack, NOTRACK before CT (each declines the other's bytes).
export const MATCH_CODECS = [tcp, udp, icmp, icmp6, comment, statistic, state, conntrack, mark, connmark, addrtype, multiport, iprange, mac, limit, recent, set, physdev, owner,
  tcpmss, length, pkttype, dscp, tos, ttl, hl, ecn, quota, cpu, helper,
  connlimit, connbytes, socket, rpfilter, cgroup, esp, ah, cluster,
  ipcomp, frag, hbh, dst, rt, ipv6header, mh, eui64,
  connlabel, time, string, bpf, policy, hashlimit, dccp, srh,
  sctp, u32, rateest, devgroup, realm, osf] as unknown as AnyCodec[];
export const TARGET_CODECS = [dnat, snat, masquerade, redirect, markTarget, connmarkTarget, reject, log, notrack, ct,
  tcpmssTarget, dscpTarget, tosTarget, ttlTarget, hlTarget, ecnTarget, classify, checksum, nflog,
  netmap, snpt, dnpt, tproxy, tee, audit, idletimer, synproxy, connsecmark, tcpoptstrip, trace, nfqueue,
  rateestTarget, hmark] as unknown as AnyCodec[];

const byType = (list: AnyCodec[]) => new Map(list.map((c) => [c.type, c]));
const byName = (list: AnyCodec[]) => {
  const m = new Map<string, AnyCodec[]>();
  for (const c of list) m.set(c.name, [...(m.get(c.name) ?? []), c]);
  return m;
};
const bySave = (list: AnyCodec[]) => new Map(list.map((c) => [c.saveName ?? c.name, c]));

export const matchByType = byType(MATCH_CODECS);
export const targetByType = byType(TARGET_CODECS);
export const matchByName = byName(MATCH_CODECS);
export const targetByName = byName(TARGET_CODECS);
export const matchBySaveName = bySave(MATCH_CODECS);
export const targetBySaveName = bySave(TARGET_CODECS);
