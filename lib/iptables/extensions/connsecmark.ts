/** -j CONNSECMARK: xt_connsecmark_target_info (revision 0, 1 byte: 1 save, 2 restore). `iptables -t mangle -j CONNSECMARK --save` */
import { opt, shown, ParseProblem, VALID, type Codec } from './codec';

export interface ConnsecmarkTarget {
  type: 'CONNSECMARK';
  /** save: the packet's security mark to its connection; restore: back. */
  mode: 'save' | 'restore';
}

export const connsecmark: Codec<ConnsecmarkTarget> = {
  kind: 'target',
  type: 'CONNSECMARK',
  name: 'CONNSECMARK',
  revision: () => 0,
  size: () => 1,
  encode: (v, b) => void (b[0] = v.mode === 'save' ? 1 : 2),
  decode: (b) => (b[0] === 1 || b[0] === 2 ? { type: 'CONNSECMARK', mode: b[0] === 1 ? 'save' : 'restore' } : undefined),
  validate: (v) => (v.mode === 'save' || v.mode === 'restore' ? VALID : [['mode', `must be "save" or "restore", not ${shown(v.mode)}`]]),
  save: (v) => ` --${v.mode}`,
  options: { save: 0, restore: 0 },
  parse(opts) {
    const mode = opt(opts, 'save') ? 'save' : opt(opts, 'restore') ? 'restore' : undefined;
    if (!mode) throw new ParseProblem('CONNSECMARK needs --save or --restore');
    return { type: 'CONNSECMARK', mode };
  },
};
