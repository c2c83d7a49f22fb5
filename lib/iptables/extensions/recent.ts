/** -m recent: xt_recent_mtinfo_v1 (revision 1, 228 bytes). `iptables -m recent --update --seconds 60 --hitcount 4 --name SSH --rsource` */
import { formatAddr, parseAddr } from '../addr';
import { arg, u32, readCString, writeCString, ParseProblem, type Codec } from './codec';
import { isOwnKey } from '../../own-key';

export type RecentCommand = 'set' | 'rcheck' | 'update' | 'remove';
export interface RecentMatch {
  type: 'recent';
  command: RecentCommand;
  /** List name (default "DEFAULT"). */
  name?: string;
  seconds?: number;
  hitcount?: number;
  rttl?: boolean;
  reap?: boolean;
  /** Address mask applied before lookup (default all ones). */
  mask?: string;
  side?: 'source' | 'dest';
  invert?: boolean;
}

const CMD: Record<RecentCommand, number> = { rcheck: 1, set: 2, update: 4, remove: 8 };
const TTL = 16, REAP = 32;

export const recent: Codec<RecentMatch> = {
  kind: 'match',
  type: 'recent',
  name: 'recent',
  revision: () => 1,
  size: () => 228,
  encode(v, b, family) {
    b.writeUInt32LE(v.seconds ?? 0, 0);
    b.writeUInt32LE(v.hitcount ?? 0, 4);
    b[8] = CMD[v.command] | (v.rttl ? TTL : 0) | (v.reap ? REAP : 0);
    b[9] = v.invert ? 1 : 0;
    writeCString(b, 10, 200, v.name ?? 'DEFAULT');
    b[210] = v.side === 'dest' ? 1 : 0;
    const m = v.mask ? parseAddr(v.mask, family)! : Buffer.alloc(family === 'ipv4' ? 4 : 16, 0xff);
    m.copy(b, 212);
  },
  decode(b, family, revision) {
    if (revision !== 1) return undefined;
    const cs = b[8]!;
    const command = (Object.keys(CMD) as RecentCommand[]).find((k) => cs & CMD[k]);
    if (!command) return undefined;
    const v: RecentMatch = { type: 'recent', command, name: readCString(b, 10, 200) };
    const seconds = b.readUInt32LE(0), hit = b.readUInt32LE(4);
    if (seconds) v.seconds = seconds;
    if (hit) v.hitcount = hit;
    if (cs & TTL) v.rttl = true;
    if (cs & REAP) v.reap = true;
    v.mask = formatAddr(b.subarray(212, 212 + (family === 'ipv4' ? 4 : 16)));
    v.side = b[210] ? 'dest' : 'source';
    if (b[9]) v.invert = true;
    return v;
  },
  validate(v, family) {
    const out: Array<[string, string]> = [];
    if (!isOwnKey(CMD, v.command)) out.push(['command', 'must be set, rcheck, update or remove']);
    if (v.name !== undefined && (typeof v.name !== 'string' || !/^[\w.-]{1,199}$/.test(v.name))) out.push(['name', 'must be 1-199 characters [A-Za-z0-9_.-]']);
    if (v.mask !== undefined && (typeof v.mask !== 'string' || !parseAddr(v.mask, family))) out.push(['mask', `must be an ${family} address`]);
    if (v.seconds !== undefined && !u32(v.seconds)) out.push(['seconds', 'must be a 32-bit unsigned integer']);
    if (v.hitcount !== undefined && !u32(v.hitcount)) out.push(['hitcount', 'must be a 32-bit unsigned integer']);
    if ((v.seconds !== undefined || v.hitcount !== undefined) && v.command !== 'rcheck' && v.command !== 'update')
      out.push(['command', 'seconds/hitcount need rcheck or update']);
    return out;
  },
  save(v, family) {
    let s = v.invert ? ' !' : '';
    s += ` --${v.command}`;
    if (v.seconds) s += ` --seconds ${v.seconds}`;
    if (v.reap) s += ' --reap';
    if (v.hitcount) s += ` --hitcount ${v.hitcount}`;
    if (v.rttl) s += ' --rttl';
    s += ` --name ${v.name ?? 'DEFAULT'}`;
    s += ` --mask ${v.mask ? formatAddr(parseAddr(v.mask, family)!) : family === 'ipv4' ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'}`;
    s += v.side === 'dest' ? ' --rdest' : ' --rsource';
    return s;
  },
  options: { set: 0, rcheck: 0, update: 0, remove: 0, seconds: 1, reap: 0, hitcount: 1, rttl: 0, name: 1, mask: 1, rsource: 0, rdest: 0 },
  parse(opts) {
    let command: RecentCommand | undefined;
    const v: Omit<RecentMatch, 'command'> = { type: 'recent' };
    for (const o of opts) {
      if (o.name in CMD) {
        command = o.name as RecentCommand;
        if (o.invert) v.invert = true;
      } else if (o.name === 'seconds') v.seconds = Number(arg(o));
      else if (o.name === 'hitcount') v.hitcount = Number(arg(o));
      else if (o.name === 'reap') v.reap = true;
      else if (o.name === 'rttl') v.rttl = true;
      else if (o.name === 'name') v.name = arg(o);
      else if (o.name === 'mask') v.mask = arg(o);
      else if (o.name === 'rsource') v.side = 'source';
      else if (o.name === 'rdest') v.side = 'dest';
    }
    if (!command) throw new ParseProblem('-m recent needs --set, --rcheck, --update or --remove');
    return { ...v, command };
  },
};
