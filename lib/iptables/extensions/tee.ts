/**
 * -j TEE: xt_tee_tginfo (revision 1, 40 bytes: gateway, oif[16], the kernel's private pointer).
 * `iptables -t mangle -A PREROUTING -j TEE --gateway 10.0.0.2 --oif eth0`
 */
import { formatAddr, parseAddr } from '../addr';
import { arg, opt, readCString, validIface, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface TeeTarget {
  type: 'TEE';
  /** Where the clone is sent. */
  gateway: string;
  /** Send it out of this interface. */
  oif?: string;
}

export const tee: Codec<TeeTarget> = {
  kind: 'target',
  type: 'TEE',
  name: 'TEE',
  revision: () => 1,
  size: () => 40,
  encode(v, b, f) {
    parseAddr(v.gateway, f)!.copy(b, 0);
    if (v.oif) writeCString(b, 16, 16, v.oif);
  },
  decode(b, f, rev) {
    if (rev !== 1 || (f === 'ipv4' && b.subarray(4, 16).some((x) => x !== 0))) return undefined;
    const oif = readCString(b, 16, 16);
    return { type: 'TEE', gateway: formatAddr(b.subarray(0, f === 'ipv4' ? 4 : 16)), ...(oif ? { oif } : {}) };
  },
  validate(v, f) {
    if (!parseAddr(v.gateway, f)) return [['gateway', `not an ${f} address`]];
    return v.oif === undefined || (validIface(v.oif) && !v.oif.endsWith('+')) ? VALID : [['oif', 'must be an interface name of 1-15 characters']];
  },
  save: (v, f) => ` --gateway ${formatAddr(parseAddr(v.gateway, f)!)}${v.oif ? ` --oif ${v.oif}` : ''}`,
  options: { gateway: 1, oif: 1 },
  parse(opts, f) {
    const g = opt(opts, 'gateway'), o = opt(opts, 'oif');
    const a = g && parseAddr(arg(g), f);
    if (!a) throw new ParseProblem('TEE needs --gateway ADDRESS');
    return { type: 'TEE', gateway: formatAddr(a), ...(o ? { oif: arg(o) } : {}) };
  },
};
