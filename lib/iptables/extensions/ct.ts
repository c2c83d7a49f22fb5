/**
 * -j CT and -j NOTRACK: xt_ct_target_info_v1 (revision 2, 72 bytes; the kernel's ct pointer is not
 * copied back). NOTRACK is CT with the NOTRACK and NOTRACK_ALIAS flags, printed as `-j NOTRACK`.
 * `iptables -t raw -A PREROUTING -j CT --notrack`, `-j CT --zone 5`, `-j CT --helper ftp`
 */
import { arg, bitNames, isStringList, namesToBits, opt, readCString, shown, writeCString, ParseProblem, type Codec } from './codec';

export interface CtTarget {
  type: 'CT';
  notrack?: boolean;
  helper?: string;
  timeout?: string;
  /** The conntrack zone, or 'mark': the packet's mark is the zone. */
  zone?: number | 'mark';
  /** The zone applies to one direction only (--zone-orig / --zone-reply); absent: both. */
  zoneDirection?: 'original' | 'reply';
  ctEvents?: string[];
  expEvents?: string[];
}
export interface NotrackTarget {
  type: 'NOTRACK';
}

const NOTRACK = 1, ALIAS = 2, ZONE_ORIG = 4, ZONE_REPLY = 8, ZONE_MARK = 16;
const CT_EVENTS: Array<[string, number]> = ['new', 'related', 'destroy', 'reply', 'assured', 'protoinfo', 'helper', 'mark', 'natseqinfo', 'secmark']
  .map((n, i) => [n.toUpperCase(), 1 << i]);
const EXP_EVENTS: Array<[string, number]> = [['NEW', 1]];
const lower = (l: string[]) => l.map((x) => x.toLowerCase());

export const ct: Codec<CtTarget> = {
  kind: 'target',
  type: 'CT',
  name: 'CT',
  revision: () => 2,
  size: () => 72,
  encode(v, b) {
    const dir = v.zoneDirection === 'original' ? ZONE_ORIG : v.zoneDirection === 'reply' ? ZONE_REPLY : 0;
    b.writeUInt16LE((v.notrack ? NOTRACK : 0) | (v.zone === 'mark' ? ZONE_MARK : 0) | dir, 0);
    b.writeUInt16LE(typeof v.zone === 'number' ? v.zone : 0, 2);
    b.writeUInt32LE(v.ctEvents ? namesToBits(v.ctEvents, CT_EVENTS, 'ct event') : 0, 4);
    b.writeUInt32LE(v.expEvents ? namesToBits(v.expEvents, EXP_EVENTS, 'expectation event') : 0, 8);
    if (v.helper) writeCString(b, 12, 16, v.helper);
    if (v.timeout) writeCString(b, 28, 32, v.timeout);
  },
  decode(b, _f, revision) {
    const flags = b.readUInt16LE(0);
    // (Both direction bits is what "--zone" alone means to iptables, but it writes neither: kept raw.)
    if (revision !== 2 || flags & ~(NOTRACK | ZONE_ORIG | ZONE_REPLY | ZONE_MARK) || (flags & ZONE_ORIG && flags & ZONE_REPLY)) return undefined;
    if (flags & ZONE_MARK && b.readUInt16LE(2)) return undefined;
    if (flags & (ZONE_ORIG | ZONE_REPLY) && !(flags & ZONE_MARK) && !b.readUInt16LE(2)) return undefined;
    const v: CtTarget = { type: 'CT' };
    if (flags & NOTRACK) v.notrack = true;
    const helper = readCString(b, 12, 16), timeout = readCString(b, 28, 32);
    if (helper) v.helper = helper;
    if (timeout) v.timeout = timeout;
    if (flags & ZONE_MARK) v.zone = 'mark';
    else if (b.readUInt16LE(2)) v.zone = b.readUInt16LE(2);
    if (flags & ZONE_ORIG) v.zoneDirection = 'original';
    if (flags & ZONE_REPLY) v.zoneDirection = 'reply';
    if (b.readUInt32LE(4)) v.ctEvents = lower(bitNames(b.readUInt32LE(4), CT_EVENTS));
    if (b.readUInt32LE(8)) v.expEvents = lower(bitNames(b.readUInt32LE(8), EXP_EVENTS));
    return v;
  },
  validate(v) {
    const out: Array<[string, string]> = [];
    if (v.helper !== undefined && (typeof v.helper !== 'string' || !/^[\w-]{1,15}$/.test(v.helper))) out.push(['helper', 'must be 1-15 characters']);
    if (v.timeout !== undefined && (typeof v.timeout !== 'string' || !/^[\w-]{1,31}$/.test(v.timeout))) out.push(['timeout', 'must be 1-31 characters']);
    if (v.zone !== undefined && v.zone !== 'mark' && !(Number.isInteger(v.zone) && v.zone >= 0 && v.zone <= 65535)) out.push(['zone', 'must be 0-65535 or "mark"']);
    if (v.zoneDirection !== undefined) {
      if (v.zoneDirection !== 'original' && v.zoneDirection !== 'reply') out.push(['zoneDirection', 'must be "original" or "reply" (absent: both)']);
      // (iptables writes a direction with zone 0 as no zone at all.)
      else if (!v.zone) out.push(['zoneDirection', 'needs a zone other than 0']);
    }
    if (v.ctEvents !== undefined && !isStringList(v.ctEvents)) out.push(['ctEvents', 'must be a list of events']);
    else for (const e of v.ctEvents ?? []) if (!CT_EVENTS.some(([n]) => n === e.toUpperCase())) out.push(['ctEvents', `unknown event ${shown(e)}`]);
    if (v.expEvents !== undefined && !isStringList(v.expEvents)) out.push(['expEvents', 'must be a list of events']);
    else for (const e of v.expEvents ?? []) if (e.toUpperCase() !== 'NEW') out.push(['expEvents', `unknown event ${shown(e)}`]);
    return out;
  },
  save(v) {
    let s = v.notrack ? ' --notrack' : '';
    if (v.helper) s += ` --helper ${v.helper}`;
    if (v.timeout) s += ` --timeout ${v.timeout}`;
    if (v.ctEvents?.length) s += ` --ctevents ${lower(bitNames(namesToBits(v.ctEvents, CT_EVENTS, 'event'), CT_EVENTS)).join(',')}`;
    if (v.expEvents?.length) s += ' --expevents new';
    if (v.zone) s += ` --zone${v.zoneDirection === 'original' ? '-orig' : v.zoneDirection === 'reply' ? '-reply' : ''} ${v.zone}`;
    return s;
  },
  options: { notrack: 0, helper: 1, timeout: 1, ctevents: 1, expevents: 1, zone: 1, 'zone-orig': 1, 'zone-reply': 1 },
  parse(opts) {
    const v: CtTarget = { type: 'CT' };
    if (opt(opts, 'notrack')) v.notrack = true;
    const h = opt(opts, 'helper'), t = opt(opts, 'timeout'), c = opt(opts, 'ctevents'), e = opt(opts, 'expevents');
    const z = opts.find((o) => o.name === 'zone' || o.name === 'zone-orig' || o.name === 'zone-reply');
    if (h) v.helper = arg(h);
    if (t) v.timeout = arg(t);
    if (z) {
      const n = arg(z) === 'mark' ? 'mark' : Number(arg(z));
      if (n !== 'mark' && !(Number.isInteger(n) && n >= 0 && n <= 65535)) throw new ParseProblem(`bad --${z.name} "${arg(z)}" (a number 0-65535 or mark)`);
      // (A direction with zone 0 is no zone, as iptables writes it.)
      if (n) {
        v.zone = n;
        if (z.name !== 'zone') v.zoneDirection = z.name === 'zone-orig' ? 'original' : 'reply';
      }
    }
    if (c) v.ctEvents = arg(c).split(',');
    if (e) v.expEvents = arg(e).split(',');
    return v;
  },
};

export const notrack: Codec<NotrackTarget> = {
  kind: 'target',
  type: 'NOTRACK',
  name: 'CT',
  saveName: 'NOTRACK',
  revision: () => 2,
  size: () => 72,
  encode: (_v, b) => b.writeUInt16LE(NOTRACK | ALIAS, 0),
  decode: (b, _f, revision) => (revision === 2 && b.readUInt16LE(0) === (NOTRACK | ALIAS) ? { type: 'NOTRACK' } : undefined),
  validate: () => [],
  save: () => '',
  options: {},
  parse: () => ({ type: 'NOTRACK' }),
};
