/**
 * -m set: xt_set_info_match_v4 (revision 4, 48 bytes: set index, dimension, flags, counters, flags).
 * The kernel stores the set's index; iptables-save prints the set's name, which needs ipset's
 * netlink interface. kernlb keeps the index: `{ index }` (the name is resolved by ipset tooling).
 * `iptables -m set --match-set myset src,dst`
 */
import { arg, ParseProblem, type Codec } from './codec';

export interface SetMatch {
  type: 'set';
  /** ip_set index in the namespace (what the kernel stores). */
  index: number;
  /** Direction per dimension, e.g. ['src', 'dst']. */
  flags: Array<'src' | 'dst'>;
  invert?: boolean;
  returnNomatch?: boolean;
  noUpdateCounters?: boolean;
  noUpdateSubcounters?: boolean;
}

const INV_SET = 1, RETURN_NOMATCH = 8, NO_COUNTERS = 4, NO_SUBCOUNTERS = 0x40;

export const set: Codec<SetMatch> = {
  kind: 'match',
  type: 'set',
  name: 'set',
  revision: () => 4,
  size: () => 48,
  encode(v, b) {
    b.writeUInt16LE(v.index, 0);
    b[2] = v.flags.length;
    let f = 0;
    v.flags.forEach((d, i) => {
      if (d === 'src') f |= 1 << i;
    });
    b[3] = f;
    b[4] = v.invert ? INV_SET : 0;
    b[40] = (v.returnNomatch ? RETURN_NOMATCH : 0) | (v.noUpdateCounters ? NO_COUNTERS : 0) | (v.noUpdateSubcounters ? NO_SUBCOUNTERS : 0);
    // the packet and byte counter comparisons (offsets 8-39) are not typed: left "none".
  },
  decode(b, _f, revision) {
    if (revision !== 4 || b.subarray(8, 40).some((x) => x !== 0)) return undefined;
    const dim = b[2]!, f = b[3]!;
    const flags: Array<'src' | 'dst'> = [];
    for (let i = 0; i < dim; i++) flags.push(f & (1 << i) ? 'src' : 'dst');
    const fl = b[40]!;
    return {
      type: 'set', index: b.readUInt16LE(0), flags,
      ...(b[4]! & INV_SET ? { invert: true } : {}),
      ...(fl & RETURN_NOMATCH ? { returnNomatch: true } : {}),
      ...(fl & NO_COUNTERS ? { noUpdateCounters: true } : {}),
      ...(fl & NO_SUBCOUNTERS ? { noUpdateSubcounters: true } : {}),
    };
  },
  validate(v) {
    if (!(Number.isInteger(v.index) && v.index >= 0 && v.index < 65535)) return [['index', 'must be a set index 0-65534']];
    if (!Array.isArray(v.flags) || v.flags.length < 1 || v.flags.length > 6 || v.flags.some((d) => d !== 'src' && d !== 'dst'))
      return [['flags', 'must list 1-6 of "src"/"dst"']];
    return [];
  },
  save: (v) => `${v.invert ? ' !' : ''} --match-set #${v.index} ${v.flags.join(',')}${v.returnNomatch ? ' --return-nomatch' : ''}${v.noUpdateCounters ? ' ! --update-counters' : ''}${v.noUpdateSubcounters ? ' ! --update-subcounters' : ''}`,
  options: { 'match-set': 2, 'return-nomatch': 0, 'update-counters': 0, 'update-subcounters': 0 },
  parse(opts) {
    const o = opts.find((x) => x.name === 'match-set');
    if (!o || o.args.length !== 2 || !/^#\d+$/.test(arg(o))) throw new ParseProblem('-m set: only "--match-set #INDEX src,dst" is typed (set names need ipset)');
    return {
      type: 'set', index: Number(arg(o).slice(1)), flags: o.args[1]!.split(',') as Array<'src' | 'dst'>,
      ...(o.invert ? { invert: true } : {}),
      ...(opts.some((x) => x.name === 'return-nomatch') ? { returnNomatch: true } : {}),
      ...(opts.some((x) => x.name === 'update-counters' && x.invert) ? { noUpdateCounters: true } : {}),
      ...(opts.some((x) => x.name === 'update-subcounters' && x.invert) ? { noUpdateSubcounters: true } : {}),
    };
  },
};
