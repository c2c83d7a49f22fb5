/** -m helper: xt_helper_info (revision 0, 34 bytes: invert, name[30]). `iptables -m helper --helper ftp` */
import { arg, opt, readCString, saveString, writeCString, ParseProblem, VALID, type Codec } from './codec';

export interface HelperMatch {
  type: 'helper';
  /** The conntrack helper of the connection's master ("ftp", "sip", "ftp-2121"...). */
  helper: string;
  invert?: boolean;
}

export const helper: Codec<HelperMatch> = {
  kind: 'match',
  type: 'helper',
  name: 'helper',
  revision: () => 0,
  size: () => 34,
  encode(v, b) {
    b.writeInt32LE(v.invert ? 1 : 0, 0);
    writeCString(b, 4, 30, v.helper);
  },
  decode(b) {
    const inv = b.readInt32LE(0);
    return inv !== 0 && inv !== 1 ? undefined : { type: 'helper', helper: readCString(b, 4, 30), ...(inv ? { invert: true } : {}) };
  },
  validate: (v) =>
    typeof v.helper === 'string' && Buffer.byteLength(v.helper) <= 29 && !v.helper.includes('\0') ? VALID : [['helper', 'must be a helper name of at most 29 bytes']],
  save: (v) => `${v.invert ? ' !' : ''} --helper${saveString(v.helper)}`,
  options: { helper: 1 },
  parse(opts) {
    const o = opt(opts, 'helper');
    if (!o) throw new ParseProblem('-m helper needs --helper');
    return { type: 'helper', helper: arg(o), ...(o.invert ? { invert: true } : {}) };
  },
};
