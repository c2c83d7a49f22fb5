/** -j CHECKSUM: xt_CHECKSUM_info (revision 0, 1 byte: operation, 1 = fill). `iptables -t mangle -p udp --dport 68 -j CHECKSUM --checksum-fill` */
import { opt, ParseProblem, VALID, type Codec } from './codec';

export interface ChecksumTarget {
  type: 'CHECKSUM';
  /** Compute the checksum of a packet that left it to the hardware (the only operation). */
  fill: true;
}

export const checksum: Codec<ChecksumTarget> = {
  kind: 'target',
  type: 'CHECKSUM',
  name: 'CHECKSUM',
  revision: () => 0,
  size: () => 1,
  encode: (_v, b) => void (b[0] = 1),
  decode: (b) => (b[0] === 1 ? { type: 'CHECKSUM', fill: true } : undefined),
  validate: (v) => (v.fill === true ? VALID : [['fill', 'must be true (the kernel refuses a CHECKSUM without it)']]),
  save: () => ' --checksum-fill',
  options: { 'checksum-fill': 0 },
  parse(opts) {
    if (!opt(opts, 'checksum-fill')) throw new ParseProblem('CHECKSUM needs --checksum-fill');
    return { type: 'CHECKSUM', fill: true };
  },
};
