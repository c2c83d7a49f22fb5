/** -m tcp: xt_tcp (revision 0, 12 bytes). `iptables -p tcp -m tcp --sport 1024:65535 ! --dport 22 --tcp-flags SYN,ACK SYN` */
import { bitNames, isStringList, namesToBits, shown, arg, parsePortRange, portRange, validPortRange, ParseProblem, VALID, getU16LE, putU16LE, type Codec, type PortRange } from './codec';

export type TcpFlag = 'FIN' | 'SYN' | 'RST' | 'PSH' | 'ACK' | 'URG';
export interface TcpMatch {
  type: 'tcp';
  sport?: PortRange;
  dport?: PortRange;
  /** Flags examined (mask) and those that must be set among them (comp). */
  flags?: { mask: TcpFlag[]; set: TcpFlag[] };
  option?: number;
  invert?: { sport?: boolean; dport?: boolean; flags?: boolean; option?: boolean };
}

export const TCP_FLAGS: Array<[string, number]> = [['FIN', 1], ['SYN', 2], ['RST', 4], ['PSH', 8], ['ACK', 16], ['URG', 32]];
const INV = { sport: 1, dport: 2, flags: 4, option: 8 } as const;

export function saveTcpFlags(m: number): string {
  return m === 0 ? 'NONE' : bitNames(m, TCP_FLAGS).join(',');
}
function parseTcpFlags(s: string): TcpFlag[] {
  if (s === 'ALL') return TCP_FLAGS.map(([n]) => n as TcpFlag);
  if (s === 'NONE') return [];
  const m = namesToBits(s.split(','), TCP_FLAGS, 'TCP flag');
  return bitNames(m, TCP_FLAGS) as TcpFlag[];
}
function flagBits(list: TcpFlag[]): number {
  return namesToBits(list, TCP_FLAGS, 'TCP flag');
}

export function writePorts(b: Buffer, off: number, p: PortRange | undefined): void {
  if (typeof p === 'number') {
    putU16LE(b, off, p);
    putU16LE(b, off + 2, p);
    return;
  }
  const [lo, hi] = p === undefined ? [0, 65535] : portRange(p);
  putU16LE(b, off, lo);
  putU16LE(b, off + 2, hi);
}
export function readPorts(b: Buffer, off: number): PortRange | undefined {
  const lo = getU16LE(b, off), hi = getU16LE(b, off + 2);
  if (lo === 0 && hi === 65535) return undefined;
  return lo === hi ? lo : [lo, hi];
}
/**
 * Whether iptables-save prints a tcp/udp port option: never for the whole range 0:65535, even
 * inverted (the kernel holds that range for "no option"; "! --sport :" is held as the range with its
 * inversion bit, which iptables-legacy-save 1.8.9 does not print).
 */
export function printsPorts(p: PortRange | undefined): p is PortRange {
  if (p === undefined) return false;
  const [lo, hi] = portRange(p);
  return lo !== 0 || hi !== 65535;
}
/** A decoded port option: the whole range stays in the model when inverted, so the inversion has its field. */
export function decodedPorts(p: PortRange | undefined, inverted: number): PortRange | undefined {
  return p === undefined && inverted ? [0, 65535] : p;
}

export function savePorts(p: PortRange): string {
  const [lo, hi] = portRange(p);
  return lo === hi ? `${lo}` : `${lo}:${hi}`;
}

export const tcp: Codec<TcpMatch> = {
  kind: 'match',
  protocols: [6],
  type: 'tcp',
  name: 'tcp',
  revision: () => 0,
  size: () => 12,
  encodeAt(v, b, off) {
    writePorts(b, off, v.sport);
    writePorts(b, off + 4, v.dport);
    b[off + 8] = v.option ?? 0;
    if (v.flags) {
      b[off + 9] = flagBits(v.flags.mask);
      b[off + 10] = flagBits(v.flags.set);
    }
    const iv = v.invert;
    if (iv) b[off + 11] = (iv.sport ? INV.sport : 0) | (iv.dport ? INV.dport : 0) | (iv.flags ? INV.flags : 0) | (iv.option ? INV.option : 0);
  },
  encode(v, b) {
    writePorts(b, 0, v.sport);
    writePorts(b, 4, v.dport);
    b[8] = v.option ?? 0;
    if (v.flags) {
      b[9] = flagBits(v.flags.mask);
      b[10] = flagBits(v.flags.set);
    }
    let inv = 0;
    for (const k of Object.keys(INV) as Array<keyof typeof INV>) if (v.invert?.[k]) inv |= INV[k];
    b[11] = inv;
  },
  decodeAt(b, off) {
    const mask = b[off + 9]!, set = b[off + 10]!, inv = b[off + 11]!, option = b[off + 8]!;
    if ((mask | set) & ~0x3f || inv & ~0xf) return undefined;
    const v: TcpMatch = { type: 'tcp' };
    const sp = decodedPorts(readPorts(b, off), inv & INV.sport), dp = decodedPorts(readPorts(b, off + 4), inv & INV.dport);
    if (sp !== undefined) v.sport = sp;
    if (dp !== undefined) v.dport = dp;
    if (option || inv & INV.option) v.option = option;
    if (mask || inv & INV.flags) v.flags = { mask: bitNames(mask, TCP_FLAGS) as TcpFlag[], set: bitNames(set, TCP_FLAGS) as TcpFlag[] };
    if (inv) {
      const invert: NonNullable<TcpMatch['invert']> = {};
      for (const k of Object.keys(INV) as Array<keyof typeof INV>) if (inv & INV[k]) invert[k] = true;
      v.invert = invert;
    }
    return v;
  },
  decode(b) {
    if ((b[9]! | b[10]!) & ~0x3f || b[11]! & ~0xf) return undefined;
    const v: TcpMatch = { type: 'tcp' };
    const inv = b[11]!;
    const sp = decodedPorts(readPorts(b, 0), inv & INV.sport), dp = decodedPorts(readPorts(b, 4), inv & INV.dport);
    if (sp !== undefined) v.sport = sp;
    if (dp !== undefined) v.dport = dp;
    if (b[8] || inv & INV.option) v.option = b[8]!;
    if (b[9] || inv & INV.flags) v.flags = { mask: bitNames(b[9]!, TCP_FLAGS) as TcpFlag[], set: bitNames(b[10]!, TCP_FLAGS) as TcpFlag[] };
    const invert: NonNullable<TcpMatch['invert']> = {};
    for (const k of Object.keys(INV) as Array<keyof typeof INV>) if (inv & INV[k]) invert[k] = true;
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.sport !== undefined && !validPortRange(v.sport)) out.push(['sport', 'must be a port 0-65535 or [low, high]']);
    if (v.dport !== undefined && !validPortRange(v.dport)) out.push(['dport', 'must be a port 0-65535 or [low, high]']);
    if (v.option !== undefined && !(Number.isInteger(v.option) && v.option >= 0 && v.option <= 255)) out.push(['option', 'must be 0-255']);
    if (v.flags !== undefined) {
      if (!v.flags || typeof v.flags !== 'object' || !isStringList(v.flags.mask) || !isStringList(v.flags.set)) out.push(['flags', 'must be { mask, set }, each a list of TCP flags']);
      else {
        for (const f of [...v.flags.mask, ...v.flags.set])
          if (!TCP_FLAGS.some(([n]) => n === f)) out.push(['flags', `unknown TCP flag ${shown(f)}`]);
        // (What the kernel would hold then, iptables-save prints otherwise: nothing for an empty mask.)
        if (!v.flags.set.every((f) => v.flags!.mask.includes(f))) out.push(['flags.set', 'must be a subset of flags.mask (flags outside it never match)']);
        if (v.flags.mask.length === 0 && !v.invert?.flags) out.push(['flags.mask', 'must name at least one flag']);
      }
    }
    return out.length ? out : VALID;
  },
  save(v) {
    let s = '';
    if (printsPorts(v.sport)) s += `${v.invert?.sport ? ' !' : ''} --sport ${savePorts(v.sport)}`;
    if (printsPorts(v.dport)) s += `${v.invert?.dport ? ' !' : ''} --dport ${savePorts(v.dport)}`;
    if (v.option !== undefined) s += `${v.invert?.option ? ' !' : ''} --tcp-option ${v.option}`;
    if (v.flags) s += `${v.invert?.flags ? ' !' : ''} --tcp-flags ${saveTcpFlags(flagBits(v.flags.mask))} ${saveTcpFlags(flagBits(v.flags.set))}`;
    return s;
  },
  options: { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1, 'tcp-flags': 2, syn: 0, 'tcp-option': 1 },
  parse(opts) {
    const v: TcpMatch = { type: 'tcp' };
    const invert: NonNullable<TcpMatch['invert']> = {};
    for (const o of opts) {
      if (o.name === 'sport' || o.name === 'source-port') {
        v.sport = parsePortRange(arg(o));
        if (o.invert) invert.sport = true;
      } else if (o.name === 'dport' || o.name === 'destination-port') {
        v.dport = parsePortRange(arg(o));
        if (o.invert) invert.dport = true;
      } else if (o.name === 'tcp-flags') {
        if (o.args.length !== 2) throw new ParseProblem('--tcp-flags needs a mask and a set');
        v.flags = { mask: parseTcpFlags(o.args[0]!), set: parseTcpFlags(o.args[1]!) };
        if (o.invert) invert.flags = true;
      } else if (o.name === 'syn') {
        v.flags = { mask: ['SYN', 'RST', 'ACK', 'FIN'], set: ['SYN'] };
        if (o.invert) invert.flags = true;
      } else if (o.name === 'tcp-option') {
        v.option = Number(arg(o));
        if (o.invert) invert.option = true;
      }
    }
    if (Object.keys(invert).length) v.invert = invert;
    return v;
  },
};
