/**
 * -m state: iptables 1.8 sends it as conntrack revision 3 with only the state part and the
 * STATE_ALIAS flag, and iptables-save prints it back as `-m state --state NEW`.
 */
import { arg, isStringList, shown, ParseProblem, type Codec } from './codec';
import { CT_STATES, ctStateBits, ctStateNames, F, type CtState } from './conntrack';

export interface StateMatch {
  type: 'state';
  state: Array<Exclude<CtState, 'SNAT' | 'DNAT'>>;
  invert?: boolean;
}

export const state: Codec<StateMatch> = {
  kind: 'match',
  type: 'state',
  name: 'conntrack',
  saveName: 'state',
  revision: () => 3,
  size: () => 164,
  encode(v, b) {
    b.writeUInt16LE(F.state | F.stateAlias, 146);
    b.writeUInt16LE(v.invert ? F.state : 0, 148);
    b.writeUInt16LE(ctStateBits(v.state), 150);
  },
  decode(b, _f, revision) {
    if (revision !== 3 || b.readUInt16LE(146) !== (F.state | F.stateAlias)) return undefined;
    const v: StateMatch = { type: 'state', state: ctStateNames(b.readUInt16LE(150)) as StateMatch['state'] };
    if (b.readUInt16LE(148) & F.state) v.invert = true;
    return v;
  },
  validate(v) {
    if (!isStringList(v.state) || v.state.length === 0) return [['state', 'must list at least one state']];
    for (const s of v.state)
      if (!CT_STATES.some(([n]) => n === s) || ['SNAT', 'DNAT'].includes(s)) return [['state', `unknown state ${shown(s)}`]];
    return [];
  },
  save: (v) => `${v.invert ? ' !' : ''} --state ${ctStateNames(ctStateBits(v.state)).join(',')}`,
  options: { state: 1 },
  parse(opts) {
    const o = opts[0];
    if (!o) throw new ParseProblem('-m state needs --state');
    return { type: 'state', state: arg(o).split(',').map((x) => x.toUpperCase()) as StateMatch['state'], ...(o.invert ? { invert: true } : {}) };
  },
};
