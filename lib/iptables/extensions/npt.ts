/**
 * -j SNPT / -j DNPT (IPv6 network prefix translation, RFC 6296): ip6t_npt_tginfo (revision 0,
 * 40 bytes: src_pfx, dst_pfx, their lengths, and the checksum adjustment the kernel computes and
 * never copies back). `ip6tables -t mangle -A POSTROUTING -s fd00::/64 -j SNPT --src-pfx fd00::/64 --dst-pfx 2001:db8::/64`
 */
import { arg, opt, ParseProblem, VALID, type Codec } from './codec';
import { netBounds, netText, parseNet, parseNetOrThrow } from './prefix';

export interface SnptTarget {
  type: 'SNPT';
  srcPrefix: string;
  dstPrefix: string;
}
export interface DnptTarget {
  type: 'DNPT';
  srcPrefix: string;
  dstPrefix: string;
}

function nptCodec<T extends SnptTarget | DnptTarget>(type: T['type']): Codec<T> {
  return {
    kind: 'target',
    type,
    name: type,
    families: ['ipv6'],
    revision: () => 0,
    size: () => 40,
    encode(v, b) {
      const s = parseNet(v.srcPrefix, 'ipv6')!, d = parseNet(v.dstPrefix, 'ipv6')!;
      s.addr.copy(b, 0);
      d.addr.copy(b, 16);
      b[32] = s.bits;
      b[33] = d.bits;
    },
    decode(b) {
      if (b[32]! > 128 || b[33]! > 128 || b.readUInt16LE(34) || b.readUInt32LE(36)) return undefined;
      return { type, srcPrefix: netText({ addr: Buffer.from(b.subarray(0, 16)), bits: b[32]! }), dstPrefix: netText({ addr: Buffer.from(b.subarray(16, 32)), bits: b[33]! }) } as T;
    },
    validate(v) {
      const out: Array<[string, string]> = [];
      for (const k of ['srcPrefix', 'dstPrefix'] as const) {
        const n = parseNet(v[k], 'ipv6');
        // The kernel takes prefixes of at most 64 bits without host bits set.
        if (!n || n.bits > 64 || !netBounds(n)[0].equals(n.addr)) out.push([k, 'must be an IPv6 prefix of at most 64 bits, host bits clear, like fd00::/64']);
      }
      return out.length ? out : VALID;
    },
    save: (v) => ` --src-pfx ${netText(parseNet(v.srcPrefix, 'ipv6')!)} --dst-pfx ${netText(parseNet(v.dstPrefix, 'ipv6')!)}`,
    options: { 'src-pfx': 1, 'dst-pfx': 1 },
    parse(opts) {
      const s = opt(opts, 'src-pfx'), d = opt(opts, 'dst-pfx');
      if (!s || !d) throw new ParseProblem(`${type} needs --src-pfx and --dst-pfx`);
      return { type, srcPrefix: netText(parseNetOrThrow(arg(s), 'ipv6', '--src-pfx')), dstPrefix: netText(parseNetOrThrow(arg(d), 'ipv6', '--dst-pfx')) } as T;
    },
  };
}

export const snpt = nptCodec<SnptTarget>('SNPT');
export const dnpt = nptCodec<DnptTarget>('DNPT');
