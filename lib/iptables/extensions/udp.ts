/** -m udp: xt_udp (revision 0, 10 bytes). `iptables -p udp -m udp --dport 53` */
import { arg, parsePortRange, validPortRange, VALID, type Codec, type PortRange } from './codec';
import { decodedPorts, printsPorts, readPorts, savePorts, writePorts } from './tcp';

export interface UdpMatch {
  type: 'udp';
  sport?: PortRange;
  dport?: PortRange;
  invert?: { sport?: boolean; dport?: boolean };
}

export const udp: Codec<UdpMatch> = {
  kind: 'match',
  protocols: [17, 136], // (udp and udplite)
  type: 'udp',
  name: 'udp',
  revision: () => 0,
  size: () => 10,
  encode(v, b) {
    writePorts(b, 0, v.sport);
    writePorts(b, 4, v.dport);
    b[8] = (v.invert?.sport ? 1 : 0) | (v.invert?.dport ? 2 : 0);
  },
  decode(b) {
    const v: UdpMatch = { type: 'udp' };
    const sp = decodedPorts(readPorts(b, 0), b[8]! & 1), dp = decodedPorts(readPorts(b, 4), b[8]! & 2);
    if (sp !== undefined) v.sport = sp;
    if (dp !== undefined) v.dport = dp;
    if (b[8]) v.invert = { ...(b[8]! & 1 ? { sport: true } : {}), ...(b[8]! & 2 ? { dport: true } : {}) };
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.sport !== undefined && !validPortRange(v.sport)) out.push(['sport', 'must be a port 0-65535 or [low, high]']);
    if (v.dport !== undefined && !validPortRange(v.dport)) out.push(['dport', 'must be a port 0-65535 or [low, high]']);
    return out.length ? out : VALID;
  },
  save(v) {
    let s = '';
    if (printsPorts(v.sport)) s += `${v.invert?.sport ? ' !' : ''} --sport ${savePorts(v.sport)}`;
    if (printsPorts(v.dport)) s += `${v.invert?.dport ? ' !' : ''} --dport ${savePorts(v.dport)}`;
    return s;
  },
  options: { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1 },
  parse(opts) {
    const v: UdpMatch = { type: 'udp' };
    const invert: NonNullable<UdpMatch['invert']> = {};
    for (const o of opts) {
      const src = o.name === 'sport' || o.name === 'source-port';
      const r = parsePortRange(arg(o));
      if (src) v.sport = r;
      else v.dport = r;
      if (o.invert) invert[src ? 'sport' : 'dport'] = true;
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
