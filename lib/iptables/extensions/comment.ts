/** -m comment: xt_comment_info (revision 0, 256 bytes, NUL-terminated). `iptables -m comment --comment "ns/svc:http"` */
import { VALID, arg, readCString, readCStringAt, saveString, writeCString, writeCStringAt, ParseProblem, type Codec } from './codec';

export interface CommentMatch {
  type: 'comment';
  comment: string;
}

let lastComment = '';

export const comment: Codec<CommentMatch> = {
  kind: 'match',
  type: 'comment',
  name: 'comment',
  revision: () => 0,
  size: () => 256,
  encode: (v, b) => writeCString(b, 0, 256, v.comment),
  encodeAt: (v, b, off) => writeCStringAt(b, off, 256, v.comment),
  decode: (b) => ({ type: 'comment', comment: readCString(b, 0, 256) }),
  decodeAt(b, off) {
    // Neighbouring rules often carry the same comment (kube-proxy: both rules of an endpoint's
    // chain): the last string is reused when the bytes spell it exactly (ASCII only, so that the
    // answer is always what readCStringAt gives). Strings are immutable: sharing one is invisible.
    const s = lastComment, n = s.length;
    if (n && b[off + n] === 0) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80 || b[off + i] !== c) break;
      }
      if (i === n) return { type: 'comment', comment: s };
    }
    return { type: 'comment', comment: (lastComment = readCStringAt(b, off, 256)) };
  },
  validate(v) {
    if (typeof v.comment !== 'string') return [['comment', 'must be a string']];
    // A UTF-16 unit is at most 3 UTF-8 bytes: short comments need no byte count.
    if (v.comment.length > 85 && Buffer.byteLength(v.comment) > 255) return [['comment', 'longer than 255 bytes']];
    if (v.comment.includes('\0')) return [['comment', 'contains a NUL character']];
    return VALID;
  },
  save: (v) => ` --comment${saveString(v.comment)}`,
  options: { comment: 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m comment needs --comment');
    return { type: 'comment', comment: arg(o) };
  },
};
