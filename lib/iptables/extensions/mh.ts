/** -m mh (IPv6 mobility header): xt_mh (revision 0, 3 bytes: types[2], invflags). Needs -p mobility-header. `ip6tables -p mh -m mh --mh-type 1` */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';

export interface MhMatch {
  type: 'mh';
  /** The mobility header type, or [low, high] (0-255; ip6tables prints numbers). */
  mhType?: number | [number, number];
  invert?: boolean;
}

const NAMES: Record<string, number> = {
  'binding-refresh-request': 0, brr: 0, 'home-test-init': 1, hoti: 1, 'careof-test-init': 2, coti: 2, 'home-test': 3, hot: 3, 'careof-test': 4, cot: 4,
  'binding-update': 5, bu: 5, 'binding-acknowledgement': 6, ba: 6, 'binding-error': 7, be: 7,
};
const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;

export const mh: Codec<MhMatch> = {
  kind: 'match',
  protocols: [135],
  type: 'mh',
  name: 'mh',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 3,
  encode(v, b) {
    const [lo, hi] = v.mhType === undefined ? [0, 255] : typeof v.mhType === 'number' ? [v.mhType, v.mhType] : v.mhType;
    b[0] = lo;
    b[1] = hi;
    b[2] = v.invert ? 1 : 0;
  },
  decode(b) {
    if (b[2]! > 1 || b[0]! > b[1]!) return undefined;
    const whole = b[0] === 0 && b[1] === 255;
    return { type: 'mh', ...(whole && !b[2] ? {} : { mhType: b[0] === b[1] ? b[0]! : [b[0]!, b[1]!] }), ...(b[2] ? { invert: true } : {}) };
  },
  validate(v) {
    const t = v.mhType;
    return t === undefined || byte(t) || (Array.isArray(t) && t.length === 2 && byte(t[0]) && byte(t[1]) && t[0] <= t[1]) ? VALID : [['mhType', 'must be 0-255 or [low, high]']];
  },
  save(v) {
    const [lo, hi] = v.mhType === undefined ? [0, 255] : typeof v.mhType === 'number' ? [v.mhType, v.mhType] : v.mhType;
    if (lo === 0 && hi === 255) return '';
    return `${v.invert ? ' !' : ''} --mh-type ${lo === hi ? lo : `${lo}:${hi}`}`;
  },
  options: { 'mh-type': 1 },
  parse(opts) {
    const o = opt(opts, 'mh-type');
    if (!o) return { type: 'mh' };
    const one = (s: string) => {
      const n = /^\d+$/.test(s) ? Number(s) : NAMES[s.toLowerCase()];
      if (!byte(n)) throw new ParseProblem(`bad mobility header type "${s}"`);
      return n!;
    };
    const [a, z] = arg(o).split(':');
    const lo = a === '' ? 0 : one(a!), hi = z === undefined ? lo : z === '' ? 255 : one(z);
    return { type: 'mh', mhType: lo === hi ? lo : [lo, hi], ...(o.invert ? { invert: true } : {}) };
  },
};
