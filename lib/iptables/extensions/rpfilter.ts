/** -m rpfilter: xt_rpfilter_info (revision 0, 1 byte of flags). `iptables -t raw -m rpfilter --loose --invert -j DROP` */
import { opt, VALID, type Codec } from './codec';

export interface RpfilterMatch {
  type: 'rpfilter';
  /** Any route back to the source will do, not only through the incoming interface. */
  loose?: boolean;
  /** Use the packet's mark for the reverse lookup. */
  validmark?: boolean;
  /** Accept local addresses as sources. */
  acceptLocal?: boolean;
  /** Match packets that fail the check. */
  invert?: boolean;
}

const BITS = [['loose', 1, 'loose'], ['validmark', 2, 'validmark'], ['acceptLocal', 4, 'accept-local'], ['invert', 8, 'invert']] as const;

export const rpfilter: Codec<RpfilterMatch> = {
  kind: 'match',
  type: 'rpfilter',
  name: 'rpfilter',
  revision: () => 0,
  size: () => 1,
  encode(v, b) {
    for (const [k, bit] of BITS) if (v[k]) b[0]! |= bit;
  },
  decode(b) {
    if (b[0]! & ~0xf) return undefined;
    const v: RpfilterMatch = { type: 'rpfilter' };
    for (const [k, bit] of BITS) if (b[0]! & bit) v[k] = true;
    return v;
  },
  validate(v) {
    for (const [k] of BITS) if (v[k] !== undefined && typeof v[k] !== 'boolean') return [[k, 'must be true or false']];
    return VALID;
  },
  save: (v) => BITS.map(([k, , o]) => (v[k] ? ` --${o}` : '')).join(''),
  options: { loose: 0, validmark: 0, 'accept-local': 0, invert: 0 },
  parse(opts) {
    const v: RpfilterMatch = { type: 'rpfilter' };
    for (const [k, , o] of BITS) if (opt(opts, o)) v[k] = true;
    return v;
  },
};
