/**
 * -j NETMAP: maps a whole network one to one. IPv4: revision 0, nf_nat_ipv4_multi_range_compat
 * (20 bytes); IPv6: revision 0 too, nf_nat_range (40 bytes); the range is the target network's first
 * and last address. `iptables -t nat -A PREROUTING -d 10.1.0.0/24 -j NETMAP --to 192.168.1.0/24`
 */
import type { IptFamily } from '../types';
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';
import { netBounds, netOfBounds, netText, parseNet, parseNetOrThrow } from './prefix';

export interface NetmapTarget {
  type: 'NETMAP';
  /** The network addresses are mapped into, "192.168.1.0/24" (same host part). */
  to: string;
}

const MAP_IPS = 1;

export const netmap: Codec<NetmapTarget> = {
  kind: 'target',
  type: 'NETMAP',
  name: 'NETMAP',
  revision: () => 0,
  size: (f) => (f === 'ipv4' ? 20 : 40),
  encode(v, b, f) {
    const [lo, hi] = netBounds(parseNet(v.to, f)!);
    if (f === 'ipv4') {
      b.writeUInt32LE(1, 0);
      b.writeUInt32LE(MAP_IPS, 4);
      lo.copy(b, 8);
      hi.copy(b, 12);
    } else {
      b.writeUInt32LE(MAP_IPS, 0);
      lo.copy(b, 4);
      hi.copy(b, 20);
    }
  },
  decode(b, f: IptFamily, rev) {
    if (f === 'ipv4') {
      if (rev !== 0 || b.readUInt32LE(0) !== 1 || b.readUInt32LE(4) !== MAP_IPS || b.readUInt32LE(16)) return undefined;
      const n = netOfBounds(b.subarray(8, 12), b.subarray(12, 16));
      return n && { type: 'NETMAP', to: netText(n) };
    }
    if (rev !== 0 || b.readUInt32LE(0) !== MAP_IPS || b.readUInt32LE(36)) return undefined;
    const n = netOfBounds(b.subarray(4, 20), b.subarray(20, 36));
    return n && { type: 'NETMAP', to: netText(n) };
  },
  validate: (v, f) => (parseNet(v.to, f) ? VALID : [['to', `must be an ${f} network like ${f === 'ipv4' ? '192.168.1.0/24' : 'fd00::/64'}`]]),
  // (The network is printed with its host bits cleared, as the kernel holds it.)
  save: (v, f) => ` --to ${netText({ addr: netBounds(parseNet(v.to, f)!)[0], bits: parseNet(v.to, f)!.bits })}`,
  options: { to: 1 },
  parse(opts, f) {
    const o = opt(opts, 'to');
    if (!o) throw new ParseProblem('NETMAP needs --to');
    const n = parseNetOrThrow(arg(o), f, '--to');
    return { type: 'NETMAP', to: netText({ addr: netBounds(n)[0], bits: n.bits }) };
  },
};
