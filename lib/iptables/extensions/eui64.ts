/** -m eui64 (IPv6): the source address's interface id is the EUI-64 of the source MAC (revision 0, an int the kernel ignores). `ip6tables -m eui64` */
import { VALID, type Codec } from './codec';

export interface Eui64Match {
  type: 'eui64';
}

export const eui64: Codec<Eui64Match> = {
  kind: 'match',
  type: 'eui64',
  name: 'eui64',
  families: ['ipv6'],
  revision: () => 0,
  size: () => 4,
  encode: () => {},
  decode: (b) => (b.readInt32LE(0) === 0 ? { type: 'eui64' } : undefined),
  validate: () => VALID,
  save: () => '',
  options: {},
  parse: () => ({ type: 'eui64' }),
};
