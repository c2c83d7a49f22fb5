/** -j TRACE: no data (revision 0); the raw table only. `iptables -t raw -A PREROUTING -p tcp --dport 80 -j TRACE` */
import { VALID, type Codec } from './codec';

export interface TraceTarget {
  type: 'TRACE';
}

export const trace: Codec<TraceTarget> = {
  kind: 'target',
  type: 'TRACE',
  name: 'TRACE',
  revision: () => 0,
  size: () => 0,
  encode: () => {},
  decode: () => ({ type: 'TRACE' }),
  validate: () => VALID,
  save: () => '',
  options: {},
  parse: () => ({ type: 'TRACE' }),
};
