/** -j REJECT: ipt_reject_info / ip6t_reject_info (revision 0, 4 bytes: the reply). `iptables -j REJECT --reject-with tcp-reset` */
import type { IptFamily } from '../types';
import { arg, opt, shown, ParseProblem, type Codec } from './codec';
import { isOwnKey } from '../../own-key';

export interface RejectTarget {
  type: 'REJECT';
  /** Default: icmp-port-unreachable / icmp6-port-unreachable. */
  with?: string;
}

const V4 = ['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-proto-unreachable', 'icmp-port-unreachable', 'echo-reply',
  'icmp-net-prohibited', 'icmp-host-prohibited', 'tcp-reset', 'icmp-admin-prohibited'];
const V6 = ['icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-not-neighbour', 'icmp6-addr-unreachable', 'icmp6-port-unreachable',
  'echo-reply', 'tcp-reset', 'icmp6-policy-fail', 'icmp6-reject-route'];
const ALIAS: Record<string, string> = {
  'net-unreach': 'icmp-net-unreachable', 'host-unreach': 'icmp-host-unreachable', 'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable', 'net-prohib': 'icmp-net-prohibited', 'host-prohib': 'icmp-host-prohibited',
  'admin-prohib': 'icmp-admin-prohibited', 'no-route': 'icmp6-no-route', 'adm-prohibited': 'icmp6-adm-prohibited',
  'addr-unreach': 'icmp6-addr-unreachable', 'policy-fail': 'icmp6-policy-fail', 'reject-route': 'icmp6-reject-route',
};
const table = (f: IptFamily) => (f === 'ipv4' ? V4 : V6);
const dflt = (f: IptFamily) => (f === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable');
const norm = (w: string, f: IptFamily) => {
  const a = isOwnKey(ALIAS, w) ? ALIAS[w] : w;
  return f === 'ipv6' && a.startsWith('icmp-') && a.endsWith('port-unreachable') ? 'icmp6-port-unreachable' : a;
};

export const reject: Codec<RejectTarget> = {
  kind: 'target',
  type: 'REJECT',
  name: 'REJECT',
  revision: () => 0,
  size: () => 4,
  encode: (v, b, f) => b.writeUInt32LE(table(f).indexOf(norm(v.with ?? dflt(f), f)), 0),
  decode(b, f) {
    const w = table(f)[b.readUInt32LE(0)];
    return w ? { type: 'REJECT', with: w } : undefined;
  },
  validate(v, f, rule) {
    if (v.with !== undefined && typeof v.with !== 'string') return [['with', `must be a reply name such as ${dflt(f)}`]];
    const w = norm(v.with ?? dflt(f), f);
    if (!table(f).includes(w) || w === 'echo-reply') return [['with', `unknown reply ${shown(v.with)} for ${f}`]];
    if (w === 'tcp-reset' && !(rule.protocol === 'tcp' || rule.protocol === 6) || (w === 'tcp-reset' && rule.invert?.protocol))
      return [['with', 'tcp-reset needs the rule protocol tcp']];
    return [];
  },
  save: (v, f) => ` --reject-with ${norm(v.with ?? dflt(f), f)}`,
  options: { 'reject-with': 1 },
  parse(opts, f) {
    const o = opt(opts, 'reject-with');
    if (!o) return { type: 'REJECT' };
    const w = norm(arg(o), f);
    if (!table(f).includes(w)) throw new ParseProblem(`unknown --reject-with "${arg(o)}"`);
    return { type: 'REJECT', with: w };
  },
};
