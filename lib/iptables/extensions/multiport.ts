/** -m multiport: xt_multiport_v1 (revision 1, 48 bytes; up to 15 ports, a range takes two). `iptables -p tcp -m multiport --dports 80,443,8000:8080` */
import { arg, parsePortRange, portRange, validPortRange, ParseProblem, type Codec, type PortRange } from './codec';
import { isOwnKey } from '../../own-key';

export interface MultiportMatch {
  type: 'multiport';
  /** Which port the list applies to. */
  direction: 'source' | 'destination' | 'either';
  ports: PortRange[];
  invert?: boolean;
}

const DIR = { source: 0, destination: 1, either: 2 } as const;
const OPT = { source: 'sports', destination: 'dports', either: 'ports' } as const;

function slots(ports: PortRange[]): number {
  return ports.reduce<number>((n, p) => n + (typeof p === 'number' || p[0] === p[1] ? 1 : 2), 0);
}

export const multiport: Codec<MultiportMatch> = {
  kind: 'match',
  type: 'multiport',
  name: 'multiport',
  revision: () => 1,
  size: () => 48,
  encode(v, b) {
    b[0] = DIR[v.direction];
    let i = 0;
    for (const p of v.ports) {
      const [lo, hi] = portRange(p);
      b.writeUInt16LE(lo, 2 + i * 2);
      if (lo !== hi) {
        b[32 + i] = 1;
        i++;
        b.writeUInt16LE(hi, 2 + i * 2);
      }
      i++;
    }
    b[1] = i;
    b[47] = v.invert ? 1 : 0;
  },
  decode(b, _f, revision) {
    if (revision !== 1 || b[0]! > 2) return undefined;
    const ports: PortRange[] = [];
    for (let i = 0; i < b[1]!; i++) {
      const lo = b.readUInt16LE(2 + i * 2);
      if (b[32 + i]) {
        i++;
        ports.push([lo, b.readUInt16LE(2 + i * 2)]);
      } else ports.push(lo);
    }
    const direction = (['source', 'destination', 'either'] as const)[b[0]!]!;
    return { type: 'multiport', direction, ports, ...(b[47] ? { invert: true } : {}) };
  },
  validate(v, _f, rule) {
    if (!isOwnKey(DIR, v.direction)) return [['direction', 'must be source, destination or either']];
    if (!Array.isArray(v.ports) || v.ports.length === 0) return [['ports', 'must list at least one port']];
    for (const p of v.ports) if (!validPortRange(p)) return [['ports', 'each must be a port 0-65535 or [low, high]']];
    if (slots(v.ports) > 15) return [['ports', 'more than 15 ports (a range counts as two)']];
    const proto = rule.protocol;
    if (!['tcp', 'udp', 'udplite', 'sctp', 'dccp', 6, 17, 136, 132, 33].includes(proto as string | number) || rule.invert?.protocol)
      return [['', 'needs the rule protocol to be tcp, udp, udplite, sctp or dccp (not inverted)']];
    return [];
  },
  save(v) {
    const list = v.ports.map((p) => {
      const [lo, hi] = portRange(p);
      return lo === hi ? `${lo}` : `${lo}:${hi}`;
    });
    return `${v.invert ? ' !' : ''} --${OPT[v.direction]} ${list.join(',')}`;
  },
  options: { sports: 1, 'source-ports': 1, dports: 1, 'destination-ports': 1, ports: 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m multiport needs --sports, --dports or --ports');
    const direction = o.name.startsWith('s') ? 'source' : o.name.startsWith('d') ? 'destination' : 'either';
    const ports = arg(o).split(',').map((x) => parsePortRange(x));
    return { type: 'multiport', direction, ports, ...(o.invert ? { invert: true } : {}) };
  },
};
