/** -m ipcomp: xt_ipcomp (revision 0, 10 bytes: spis[2], invflags, hdrres). Needs -p ipcomp. `iptables -p ipcomp -m ipcomp --ipcompspi 5` */
import { opt, VALID, type Codec } from './codec';
import { parseSpi, readSpis, spiText, validSpi, writeSpis, type SpiRange } from './esp';

export interface IpcompMatch {
  type: 'ipcomp';
  /** The compression parameter index (16 bits on the wire), or [low, high]. */
  spi?: SpiRange;
  /** The reserved field must be 0. */
  reserved?: boolean;
  invert?: boolean;
}

export const ipcomp: Codec<IpcompMatch> = {
  kind: 'match',
  protocols: [108],
  type: 'ipcomp',
  name: 'ipcomp',
  revision: () => 0,
  size: () => 10,
  encode(v, b) {
    writeSpis(b, v.spi);
    b[8] = v.invert ? 1 : 0;
    b[9] = v.reserved ? 1 : 0;
  },
  decode(b) {
    if (b[8]! > 1 || b[9]! > 1) return undefined;
    const v: IpcompMatch = { type: 'ipcomp' };
    const spi = readSpis(b, b[8] === 1);
    if (spi !== undefined) v.spi = spi;
    if (b[9]) v.reserved = true;
    if (b[8]) v.invert = true;
    return v;
  },
  validate: (v) => (v.spi === undefined || validSpi(v.spi) ? VALID : [['spi', 'must be a 32-bit index or [low, high]']]),
  save: (v) => `${spiText('ipcompspi', v.spi, v.invert)}${v.reserved ? ' --compres' : ''}`,
  options: { ipcompspi: 1, compres: 0 },
  parse(opts) {
    const o = opt(opts, 'ipcompspi');
    const v: IpcompMatch = { type: 'ipcomp' };
    if (o) v.spi = parseSpi(o);
    if (opt(opts, 'compres')) v.reserved = true;
    if (o?.invert) v.invert = true;
    return v;
  },
};
