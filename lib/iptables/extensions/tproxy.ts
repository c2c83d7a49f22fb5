/**
 * -j TPROXY: xt_tproxy_target_info_v1 (revision 1 in both families, 26 bytes: mark mask, mark value,
 * local address, local port in network order). Needs -p tcp or -p udp.
 * `iptables -t mangle -A PREROUTING -p tcp --dport 80 -j TPROXY --on-port 3129 --on-ip 127.0.0.1 --tproxy-mark 0x1/0x1`
 */
import { formatAddr, parseAddr } from '../addr';
import type { IptFamily, IptRule } from '../types';
import { arg, hex, opt, parseValueMask, port, u32, ParseProblem, VALID, type Codec } from './codec';
import { protoNumber } from '../proto';

export interface TproxyTarget {
  type: 'TPROXY';
  port: number;
  /** The local address to divert to (default 0.0.0.0 / ::: the address the packet came for). */
  address?: string;
  /** Mark the packet: (mark & ~mask) ^ value (default value 0, mask 0xffffffff, as iptables writes it). */
  mark?: number;
  mask?: number;
}

const any = (f: IptFamily) => (f === 'ipv4' ? '0.0.0.0' : '::');

export const tproxy: Codec<TproxyTarget> = {
  kind: 'target',
  type: 'TPROXY',
  name: 'TPROXY',
  revision: () => 1,
  size: () => 26,
  encode(v, b, f) {
    b.writeUInt32LE(v.mask ?? 0xffffffff, 0);
    b.writeUInt32LE(v.mark ?? 0, 4);
    parseAddr(v.address ?? any(f), f)!.copy(b, 8);
    b.writeUInt16BE(v.port, 24);
  },
  decode(b, f, rev) {
    if (rev !== 1 || (f === 'ipv4' && b.subarray(12, 24).some((x) => x !== 0))) return undefined;
    return { type: 'TPROXY', port: b.readUInt16BE(24), address: formatAddr(b.subarray(8, f === 'ipv4' ? 12 : 24)), mark: b.readUInt32LE(4), mask: b.readUInt32LE(0) };
  },
  validate(v, f, rule: IptRule) {
    const out: Array<[string, string]> = [];
    if (!port(v.port)) out.push(['port', 'must be 0-65535']);
    if (v.address !== undefined && !parseAddr(v.address, f)) out.push(['address', `not an ${f} address`]);
    if (v.mark !== undefined && !u32(v.mark)) out.push(['mark', 'must be a 32-bit unsigned integer']);
    if (v.mask !== undefined && !u32(v.mask)) out.push(['mask', 'must be a 32-bit unsigned integer']);
    const p = protoNumber(rule.protocol as string);
    if ((p !== 6 && p !== 17) || rule.invert?.protocol) out.push(['', 'needs the rule protocol tcp or udp (not inverted)']);
    return out.length ? out : VALID;
  },
  save: (v, f) => ` --on-port ${v.port} --on-ip ${formatAddr(parseAddr(v.address ?? any(f), f)!)} --tproxy-mark ${hex(v.mark ?? 0)}/${hex(v.mask ?? 0xffffffff)}`,
  options: { 'on-port': 1, 'on-ip': 1, 'tproxy-mark': 1 },
  parse(opts, f) {
    const p = opt(opts, 'on-port'), a = opt(opts, 'on-ip'), m = opt(opts, 'tproxy-mark');
    const n = p ? Number(arg(p)) : NaN;
    if (!port(n)) throw new ParseProblem('TPROXY needs --on-port 0-65535');
    const address = a ? arg(a) : any(f);
    if (!parseAddr(address, f)) throw new ParseProblem(`bad --on-ip "${address}"`);
    const mv = m ? parseValueMask(arg(m), 'mark') : { value: 0, mask: 0xffffffff };
    // (A mark without a mask sets the whole mark, as iptables does.)
    return { type: 'TPROXY', port: n, address: formatAddr(parseAddr(address, f)!), mark: mv.value, mask: mv.mask ?? 0xffffffff };
  },
};
