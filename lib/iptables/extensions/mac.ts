/** -m mac: xt_mac_info (revision 0, 12 bytes). `iptables -m mac --mac-source 00:11:22:33:44:55` */
import { arg, ParseProblem, type Codec } from './codec';

export interface MacMatch {
  type: 'mac';
  /** "00:11:22:33:44:55" */
  source: string;
  invert?: boolean;
}

const MAC = /^([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}$/i;

export const mac: Codec<MacMatch> = {
  kind: 'match',
  type: 'mac',
  name: 'mac',
  revision: () => 0,
  size: () => 12,
  encode(v, b) {
    v.source.split(':').forEach((x, i) => (b[i] = parseInt(x, 16)));
    b.writeInt32LE(v.invert ? 1 : 0, 8);
  },
  decode(b) {
    const source = [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
    return { type: 'mac', source, ...(b.readInt32LE(8) ? { invert: true } : {}) };
  },
  validate: (v) => (typeof v.source === 'string' && MAC.test(v.source) ? [] : [['source', 'must be a MAC address like 00:11:22:33:44:55']]),
  save: (v) => `${v.invert ? ' !' : ''} --mac-source ${v.source.split(':').map((x) => x.toLowerCase().padStart(2, '0')).join(':')}`,
  options: { 'mac-source': 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m mac needs --mac-source');
    return { type: 'mac', source: arg(o), ...(o.invert ? { invert: true } : {}) };
  },
};
