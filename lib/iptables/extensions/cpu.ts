/** -m cpu: xt_cpu_info (revision 0, 8 bytes: cpu, invert). `iptables -m cpu --cpu 0` */
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';

export interface CpuMatch {
  type: 'cpu';
  /** The CPU handling the packet. */
  cpu: number;
  invert?: boolean;
}

export const cpu: Codec<CpuMatch> = {
  kind: 'match',
  type: 'cpu',
  name: 'cpu',
  revision: () => 0,
  size: () => 8,
  encode(v, b) {
    b.writeUInt32LE(v.cpu, 0);
    b.writeUInt32LE(v.invert ? 1 : 0, 4);
  },
  decode(b) {
    const inv = b.readUInt32LE(4);
    return inv > 1 ? undefined : { type: 'cpu', cpu: b.readUInt32LE(0), ...(inv ? { invert: true } : {}) };
  },
  validate: (v) => (u32(v.cpu) ? VALID : [['cpu', 'must be a CPU number']]),
  save: (v) => `${v.invert ? ' !' : ''} --cpu ${v.cpu}`,
  options: { cpu: 1 },
  parse(opts) {
    const o = opt(opts, 'cpu');
    const n = o && /^\d+$/.test(arg(o)) ? Number(arg(o)) : NaN;
    if (!o || !u32(n)) throw new ParseProblem('-m cpu needs --cpu N');
    return { type: 'cpu', cpu: n, ...(o.invert ? { invert: true } : {}) };
  },
};
