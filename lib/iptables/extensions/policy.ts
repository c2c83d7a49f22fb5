/**
 * -m policy: xt_policy_info (revision 0, 308 bytes: 4 elements of 76 bytes (saddr, smask, daddr,
 * dmask, spi (held as iptables writes it: host order, though the kernel declares __be32), reqid, proto, mode, match and invert bits), flags, len).
 * `iptables -m policy --dir out --pol ipsec --strict --reqid 1 --proto esp --mode tunnel --tunnel-dst 10.0.0.2`
 */
import { formatAddr, maskPrefix, parseCidr } from '../addr';
import type { IptFamily } from '../types';
import { arg, parseNumber, shown, u32, ParseProblem, VALID, type Codec, type ParsedOption } from './codec';
import { protoName, protoNumber } from '../proto';

export interface PolicyElement {
  reqid?: number;
  spi?: number;
  /** The IPsec protocol number (50 esp, 51 ah, 108 ipcomp). */
  proto?: number;
  mode?: 'transport' | 'tunnel';
  /** Tunnel mode: the tunnel's endpoints, "10.0.0.1" or "10.0.0.0/8". */
  tunnelSrc?: string;
  tunnelDst?: string;
  invert?: { reqid?: boolean; spi?: boolean; proto?: boolean; mode?: boolean; tunnelSrc?: boolean; tunnelDst?: boolean };
}
export interface PolicyMatch {
  type: 'policy';
  dir: 'in' | 'out';
  pol: 'ipsec' | 'none';
  /** The elements must describe the whole policy, in order. */
  strict?: boolean;
  /** Up to 4 (ipsec only); iptables always writes at least one for ipsec. */
  elements?: PolicyElement[];
}

const IN = 1, OUT = 2, NONE = 4, STRICT = 8, ELEM = 76, MAX = 4;
// The match/invert bitfields: saddr, daddr, proto, mode, spi, reqid.
const B = { tunnelSrc: 1, tunnelDst: 2, proto: 4, mode: 8, spi: 16, reqid: 32 } as const;
type Key = keyof typeof B;

function addrOf(b: Buffer, off: number, family: IptFamily): string {
  const len = family === 'ipv4' ? 4 : 16;
  const a = b.subarray(off, off + len), m = b.subarray(off + 16, off + 16 + len);
  const p = maskPrefix(m);
  return p === len * 8 ? formatAddr(a) : `${formatAddr(a)}/${p >= 0 ? p : formatAddr(m)}`;
}
function writeAddr(b: Buffer, off: number, s: string, family: IptFamily): void {
  const am = parseCidr(s, family)!;
  am.addr.copy(b, off);
  am.mask.copy(b, off + 16);
}
const addrOk = (s: unknown, f: IptFamily) => typeof s === 'string' && parseCidr(s, f) !== undefined;

export const policy: Codec<PolicyMatch> = {
  kind: 'match',
  type: 'policy',
  name: 'policy',
  revision: () => 0,
  size: () => 308,
  encode(v, b, f) {
    const els = v.elements ?? [];
    els.forEach((e, i) => {
      const o = i * ELEM;
      let m = 0, inv = 0;
      const mark = (k: Key) => {
        m |= B[k];
        if (e.invert?.[k]) inv |= B[k];
      };
      if (e.tunnelSrc !== undefined) writeAddr(b, o, e.tunnelSrc, f), mark('tunnelSrc');
      if (e.tunnelDst !== undefined) writeAddr(b, o + 32, e.tunnelDst, f), mark('tunnelDst');
      if (e.spi !== undefined) b.writeUInt32LE(e.spi, o + 64), mark('spi');
      if (e.reqid !== undefined) b.writeUInt32LE(e.reqid, o + 68), mark('reqid');
      if (e.proto !== undefined) (b[o + 72] = e.proto), mark('proto');
      if (e.mode !== undefined) (b[o + 73] = e.mode === 'tunnel' ? 1 : 0), mark('mode');
      b[o + 74] = m;
      b[o + 75] = inv;
    });
    b.writeUInt16LE((v.dir === 'in' ? IN : OUT) | (v.pol === 'none' ? NONE : 0) | (v.strict ? STRICT : 0), 304);
    b.writeUInt16LE(els.length, 306);
  },
  decode(b, f) {
    const flags = b.readUInt16LE(304), len = b.readUInt16LE(306);
    if (flags & ~15 || (flags & 3) === 0 || (flags & 3) === 3 || len > MAX || (flags & NONE && len)) return undefined;
    const v: PolicyMatch = { type: 'policy', dir: flags & IN ? 'in' : 'out', pol: flags & NONE ? 'none' : 'ipsec' };
    if (flags & STRICT) v.strict = true;
    if (b.subarray(len * ELEM, MAX * ELEM).some((x) => x !== 0)) return undefined;
    if (len) v.elements = [];
    for (let i = 0; i < len; i++) {
      const o = i * ELEM, m = b[o + 74]!, inv = b[o + 75]!;
      if (m & ~63 || inv & ~m || b[o + 73]! > 1) return undefined;
      const e: PolicyElement = {};
      if (m & B.reqid) e.reqid = b.readUInt32LE(o + 68);
      if (m & B.spi) e.spi = b.readUInt32LE(o + 64);
      if (m & B.proto) e.proto = b[o + 72]!;
      if (m & B.mode) e.mode = b[o + 73] ? 'tunnel' : 'transport';
      if (m & B.tunnelDst) e.tunnelDst = addrOf(b, o + 32, f);
      if (m & B.tunnelSrc) e.tunnelSrc = addrOf(b, o, f);
      if (inv) {
        const iv: NonNullable<PolicyElement['invert']> = {};
        for (const k of Object.keys(B) as Key[]) if (inv & B[k]) iv[k] = true;
        e.invert = iv;
      }
      v.elements!.push(e);
    }
    return v;
  },
  validate(v, f) {
    if (v.dir !== 'in' && v.dir !== 'out') return [['dir', `must be "in" or "out", not ${shown(v.dir)}`]];
    if (v.pol !== 'ipsec' && v.pol !== 'none') return [['pol', `must be "ipsec" or "none", not ${shown(v.pol)}`]];
    const els = v.elements;
    if (els === undefined) return VALID;
    if (!Array.isArray(els) || els.length > MAX) return [['elements', `must be a list of at most ${MAX} elements`]];
    if (v.pol === 'none' && els.length) return [['elements', 'only with pol "ipsec"']];
    for (let i = 0; i < els.length; i++) {
      const e = els[i]!, at = `elements[${i}]`;
      if (!e || typeof e !== 'object') return [[at, 'must be an object']];
      if (e.reqid !== undefined && !u32(e.reqid)) return [[`${at}.reqid`, 'must be a 32-bit unsigned integer']];
      if (e.spi !== undefined && !u32(e.spi)) return [[`${at}.spi`, 'must be a 32-bit unsigned integer']];
      if (e.proto !== undefined && ![50, 51, 108].includes(e.proto)) return [[`${at}.proto`, 'must be 50 (esp), 51 (ah) or 108 (ipcomp)']];
      if (e.mode !== undefined && e.mode !== 'tunnel' && e.mode !== 'transport') return [[`${at}.mode`, 'must be "tunnel" or "transport"']];
      for (const k of ['tunnelSrc', 'tunnelDst'] as const) if (e[k] !== undefined && !addrOk(e[k], f)) return [[`${at}.${k}`, `not an ${f} address or network`]];
      if (e.invert) for (const k of Object.keys(e.invert) as Key[]) if (e.invert[k] && e[k] === undefined) return [[`${at}.invert.${k}`, `needs ${k}`]];
    }
    return VALID;
  },
  save(v, f) {
    let s = ` --dir ${v.dir} --pol ${v.pol}${v.strict ? ' --strict' : ''}`;
    (v.elements ?? []).forEach((e, i) => {
      if (i) s += ' --next';
      const bang = (k: Key) => (e.invert?.[k] ? ' !' : '');
      if (e.reqid !== undefined) s += `${bang('reqid')} --reqid ${e.reqid}`;
      if (e.spi !== undefined) s += `${bang('spi')} --spi 0x${e.spi.toString(16)}`;
      if (e.proto !== undefined) s += `${bang('proto')} --proto ${protoName(e.proto)}`;
      if (e.mode !== undefined) s += `${bang('mode')} --mode ${e.mode}`;
      const addr = (a: string) => {
        const b = Buffer.alloc(32);
        writeAddr(b, 0, a, f);
        return addrOf(b, 0, f);
      };
      if (e.tunnelDst !== undefined) s += `${bang('tunnelDst')} --tunnel-dst ${addr(e.tunnelDst)}`;
      if (e.tunnelSrc !== undefined) s += `${bang('tunnelSrc')} --tunnel-src ${addr(e.tunnelSrc)}`;
    });
    return s;
  },
  options: { dir: 1, pol: 1, strict: 0, reqid: 1, spi: 1, proto: 1, mode: 1, 'tunnel-src': 1, 'tunnel-dst': 1, next: 0 },
  parse(opts: ParsedOption[], f) {
    let dir: PolicyMatch['dir'] | undefined, pol: PolicyMatch['pol'] | undefined, strict = false;
    const els: PolicyElement[] = [];
    let cur: PolicyElement | undefined;
    const el = () => (cur ??= (els.push({}), els[els.length - 1]!));
    const set = <K extends Key>(k: K, val: PolicyElement[K], inv: boolean) => {
      const e = el();
      e[k] = val;
      if (inv) (e.invert ??= {})[k] = true;
    };
    for (const o of opts) {
      const a = o.args[0];
      switch (o.name) {
        case 'dir': if (a !== 'in' && a !== 'out') throw new ParseProblem(`bad --dir "${a}"`); dir = a; break;
        case 'pol': if (a !== 'ipsec' && a !== 'none') throw new ParseProblem(`bad --pol "${a}"`); pol = a; break;
        case 'strict': strict = true; break;
        case 'next': if (!cur) throw new ParseProblem('--next before any element option'); cur = undefined; break;
        case 'reqid': set('reqid', parseNumber(arg(o), 'reqid'), o.invert); break;
        case 'spi': set('spi', parseNumber(arg(o), 'spi'), o.invert); break;
        case 'proto': {
          const p = protoNumber(arg(o).toLowerCase());
          if (p !== 50 && p !== 51 && p !== 108) throw new ParseProblem(`bad --proto "${arg(o)}" (esp, ah or ipcomp)`);
          set('proto', p, o.invert);
          break;
        }
        case 'mode': if (a !== 'tunnel' && a !== 'transport') throw new ParseProblem(`bad --mode "${a}"`); set('mode', a, o.invert); break;
        default: {
          if (!addrOk(arg(o), f)) throw new ParseProblem(`bad --${o.name} "${arg(o)}"`);
          set(o.name === 'tunnel-src' ? 'tunnelSrc' : 'tunnelDst', arg(o), o.invert);
        }
      }
    }
    if (!dir || !pol) throw new ParseProblem('-m policy needs --dir and --pol');
    // iptables writes one empty element for an ipsec policy given without element options.
    if (pol === 'ipsec' && !els.length) els.push({});
    const v: PolicyMatch = { type: 'policy', dir, pol };
    if (strict) v.strict = true;
    if (els.length) v.elements = els.map((e) => {
      // (The model's key order is the decoder's.)
      const out: PolicyElement = {};
      for (const k of ['reqid', 'spi', 'proto', 'mode', 'tunnelDst', 'tunnelSrc'] as const) if (e[k] !== undefined) (out as Record<string, unknown>)[k] = k === 'tunnelDst' || k === 'tunnelSrc' ? normAddr(e[k] as string, f) : e[k];
      if (e.invert) out.invert = e.invert;
      return out;
    });
    return v;
  },
};

/** The address as the decoder spells it (masked, the prefix only when not a single address). */
function normAddr(s: string, f: IptFamily): string {
  const b = Buffer.alloc(32);
  writeAddr(b, 0, s, f);
  return addrOf(b, 0, f);
}
