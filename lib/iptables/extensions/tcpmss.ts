/**
 * -m tcpmss: xt_tcpmss_match_info (revision 0, 6 bytes: mss_min, mss_max, invert) and -j TCPMSS:
 * xt_tcpmss_info (revision 0, 2 bytes: the MSS, 0xffff = clamp to the path MTU). Both need -p tcp.
 * `iptables -p tcp -m tcpmss --mss 1400:1500`, `iptables -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu`
 */
import { arg, opt, parsePortRange, port, portRange, validPortRange, ParseProblem, VALID, type Codec, type PortRange } from './codec';

export interface TcpmssMatch {
  type: 'tcpmss';
  /** An MSS or [low, high]. */
  mss: PortRange;
  invert?: boolean;
}
export type TcpmssTarget = { type: 'TCPMSS'; mss: number } | { type: 'TCPMSS'; clampToPmtu: true };

const CLAMP = 0xffff;

export const tcpmss: Codec<TcpmssMatch> = {
  kind: 'match',
  protocols: [6],
  type: 'tcpmss',
  name: 'tcpmss',
  revision: () => 0,
  size: () => 6,
  encode(v, b) {
    const [lo, hi] = portRange(v.mss);
    b.writeUInt16LE(lo, 0);
    b.writeUInt16LE(hi, 2);
    b[4] = v.invert ? 1 : 0;
  },
  decode(b) {
    if (b[4]! > 1) return undefined;
    const lo = b.readUInt16LE(0), hi = b.readUInt16LE(2);
    if (lo > hi) return undefined;
    return { type: 'tcpmss', mss: lo === hi ? lo : [lo, hi], ...(b[4] ? { invert: true } : {}) };
  },
  validate: (v) => (validPortRange(v.mss) ? VALID : [['mss', 'must be an MSS 0-65535 or [low, high]']]),
  save(v) {
    const [lo, hi] = portRange(v.mss);
    return `${v.invert ? ' !' : ''} --mss ${lo === hi ? lo : `${lo}:${hi}`}`;
  },
  options: { mss: 1 },
  parse(opts) {
    const o = opt(opts, 'mss');
    if (!o) throw new ParseProblem('-m tcpmss needs --mss');
    return { type: 'tcpmss', mss: parsePortRange(arg(o)), ...(o.invert ? { invert: true } : {}) };
  },
};

export const tcpmssTarget: Codec<TcpmssTarget> = {
  kind: 'target',
  protocols: [6],
  type: 'TCPMSS',
  name: 'TCPMSS',
  revision: () => 0,
  size: () => 2,
  encode: (v, b) => b.writeUInt16LE('clampToPmtu' in v && v.clampToPmtu ? CLAMP : (v as { mss: number }).mss, 0),
  decode(b) {
    const mss = b.readUInt16LE(0);
    return mss === CLAMP ? { type: 'TCPMSS', clampToPmtu: true } : { type: 'TCPMSS', mss };
  },
  validate(v) {
    const clamp = 'clampToPmtu' in v ? v.clampToPmtu : undefined, mss = 'mss' in v ? v.mss : undefined;
    if (clamp !== undefined && mss !== undefined) return [['', 'takes mss or clampToPmtu, not both']];
    if (clamp !== undefined) return clamp === true ? VALID : [['clampToPmtu', 'must be true (or give mss)']];
    return port(mss) && mss !== CLAMP ? VALID : [['mss', 'must be 0-65534 (or clampToPmtu: true)']];
  },
  save: (v) => ('clampToPmtu' in v && v.clampToPmtu ? ' --clamp-mss-to-pmtu' : ` --set-mss ${(v as { mss: number }).mss}`),
  options: { 'set-mss': 1, 'clamp-mss-to-pmtu': 0 },
  parse(opts) {
    if (opt(opts, 'clamp-mss-to-pmtu')) return { type: 'TCPMSS', clampToPmtu: true };
    const o = opt(opts, 'set-mss');
    const mss = o ? Number(arg(o)) : NaN;
    if (!port(mss) || mss === CLAMP) throw new ParseProblem('TCPMSS needs --set-mss 0-65534 or --clamp-mss-to-pmtu');
    return { type: 'TCPMSS', mss };
  },
};
