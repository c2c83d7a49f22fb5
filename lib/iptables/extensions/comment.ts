/** -m comment: xt_comment_info (revision 0, 256 bytes, NUL-terminated). `iptables -m comment --comment "ns/svc:http"` */
import { arg, readCString, readCStringAt, saveString, writeCString, writeCStringAt, ParseProblem, type Codec } from './codec';

export interface CommentMatch {
  type: 'comment';
  comment: string;
}

export const comment: Codec<CommentMatch> = {
  kind: 'match',
  type: 'comment',
  name: 'comment',
  revision: () => 0,
  size: () => 256,
  encode: (v, b) => writeCString(b, 0, 256, v.comment),
  encodeAt: (v, b, off) => writeCStringAt(b, off, 256, v.comment),
  decode: (b) => ({ type: 'comment', comment: readCString(b, 0, 256) }),
  decodeAt: (b, off) => ({ type: 'comment', comment: readCStringAt(b, off, 256) }),
  validate(v) {
    if (typeof v.comment !== 'string') return [['comment', 'must be a string']];
    // A UTF-16 unit is at most 3 UTF-8 bytes: short comments need no byte count.
    if (v.comment.length > 85 && Buffer.byteLength(v.comment) > 255) return [['comment', 'longer than 255 bytes']];
    if (v.comment.includes('\0')) return [['comment', 'contains a NUL character']];
    return [];
  },
  save: (v) => ` --comment${saveString(v.comment)}`,
  options: { comment: 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m comment needs --comment');
    return { type: 'comment', comment: arg(o) };
  },
};
