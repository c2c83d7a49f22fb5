/** -m pkttype: xt_pkttype_info (revision 0, 8 bytes: the skb's pkt_type, invert). `iptables -m pkttype --pkt-type broadcast` */
import { arg, opt, shown, ParseProblem, VALID, type Codec } from './codec';

export type PktType = 'unicast' | 'broadcast' | 'multicast' | 'otherhost';
export interface PkttypeMatch {
  type: 'pkttype';
  pktType: PktType;
  invert?: boolean;
}

// PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST (linux/if_packet.h).
const TYPES: PktType[] = ['unicast', 'broadcast', 'multicast', 'otherhost'];
/** Other names iptables accepts for the same values. */
const ALIASES: Record<string, PktType> = { host: 'unicast' };

export const pkttype: Codec<PkttypeMatch> = {
  kind: 'match',
  type: 'pkttype',
  name: 'pkttype',
  revision: () => 0,
  size: () => 8,
  encode(v, b) {
    b.writeInt32LE(TYPES.indexOf(v.pktType), 0);
    b.writeInt32LE(v.invert ? 1 : 0, 4);
  },
  decode(b) {
    const t = TYPES[b.readInt32LE(0)], inv = b.readInt32LE(4);
    if (!t || (inv !== 0 && inv !== 1)) return undefined;
    return { type: 'pkttype', pktType: t, ...(inv ? { invert: true } : {}) };
  },
  validate: (v) => (TYPES.includes(v.pktType) ? VALID : [['pktType', `must be one of ${TYPES.join(', ')}, not ${shown(v.pktType)}`]]),
  save: (v) => `${v.invert ? ' !' : ''} --pkt-type ${v.pktType}`,
  options: { 'pkt-type': 1 },
  parse(opts) {
    const o = opt(opts, 'pkt-type');
    if (!o) throw new ParseProblem('-m pkttype needs --pkt-type');
    const a = arg(o).toLowerCase();
    const t = (TYPES as string[]).includes(a) ? (a as PktType) : ALIASES[a];
    if (!t) throw new ParseProblem(`unknown --pkt-type "${arg(o)}"`);
    return { type: 'pkttype', pktType: t, ...(o.invert ? { invert: true } : {}) };
  },
};
