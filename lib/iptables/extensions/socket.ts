/** -m socket: xt_socket_mtinfo3 (revision 3, 1 byte of flags). `iptables -t mangle -m socket --transparent --nowildcard` */
import { opt, VALID, type Codec } from './codec';

export interface SocketMatch {
  type: 'socket';
  /** Only transparent sockets (IP_TRANSPARENT). */
  transparent?: boolean;
  /** Not sockets bound to the wildcard address. */
  nowildcard?: boolean;
  /** Set the packet's mark from the socket's. */
  restoreSkmark?: boolean;
}

const TRANSPARENT = 1, NOWILDCARD = 2, RESTORE = 4;

export const socket: Codec<SocketMatch> = {
  kind: 'match',
  type: 'socket',
  name: 'socket',
  revision: () => 3,
  size: () => 1,
  encode: (v, b) => void (b[0] = (v.transparent ? TRANSPARENT : 0) | (v.nowildcard ? NOWILDCARD : 0) | (v.restoreSkmark ? RESTORE : 0)),
  decode(b, _f, rev) {
    const f = b[0]!;
    if (rev !== 3 || f & ~7) return undefined;
    const v: SocketMatch = { type: 'socket' };
    if (f & TRANSPARENT) v.transparent = true;
    if (f & NOWILDCARD) v.nowildcard = true;
    if (f & RESTORE) v.restoreSkmark = true;
    return v;
  },
  validate(v) {
    for (const k of ['transparent', 'nowildcard', 'restoreSkmark'] as const) if (v[k] !== undefined && typeof v[k] !== 'boolean') return [[k, 'must be true or false']];
    return VALID;
  },
  save: (v) => `${v.transparent ? ' --transparent' : ''}${v.nowildcard ? ' --nowildcard' : ''}${v.restoreSkmark ? ' --restore-skmark' : ''}`,
  options: { transparent: 0, nowildcard: 0, 'restore-skmark': 0 },
  parse(opts) {
    const v: SocketMatch = { type: 'socket' };
    if (opt(opts, 'transparent')) v.transparent = true;
    if (opt(opts, 'nowildcard')) v.nowildcard = true;
    if (opt(opts, 'restore-skmark')) v.restoreSkmark = true;
    return v;
  },
};
