/**
 * -m bpf: xt_bpf_info_v1 (revision 1, 520 bytes: mode, program length, fd, program[64] or a pinned
 * path, then the kernel's private pointer). Typed in bytecode mode (a classic BPF program inline);
 * pinned eBPF objects need a file descriptor and stay raw.
 * `iptables -m bpf --bytecode "4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0"` (what nfbpf_compile prints)
 */
import { arg, opt, u32, ParseProblem, VALID, type Codec } from './codec';

/** One classic BPF instruction: [code, jt, jf, k]. */
export type BpfInsn = [number, number, number, number];
export interface BpfMatch {
  type: 'bpf';
  /** 1-64 instructions. */
  bytecode: BpfInsn[];
  invert?: boolean;
}

const MAX = 64, MODE_BYTECODE = 0;
const insnOk = (i: unknown) =>
  Array.isArray(i) && i.length === 4 && Number.isInteger(i[0]) && i[0] >= 0 && i[0] <= 0xffff && [i[1], i[2]].every((x) => Number.isInteger(x) && x >= 0 && x <= 255) && u32(i[3]);

export const bpf: Codec<BpfMatch> = {
  kind: 'match',
  type: 'bpf',
  name: 'bpf',
  revision: () => 1,
  size: () => 528,
  encode(v, b) {
    b.writeUInt16LE(MODE_BYTECODE, 0);
    b.writeUInt16LE(v.bytecode.length, 2);
    v.bytecode.forEach(([code, jt, jf, k], i) => {
      const o = 8 + 8 * i;
      b.writeUInt16LE(code, o);
      b[o + 2] = jt;
      b[o + 3] = jf;
      b.writeUInt32LE(k, o + 4);
    });
  },
  decode(b, _f, rev) {
    const n = b.readUInt16LE(2);
    if (rev !== 1 || b.readUInt16LE(0) !== MODE_BYTECODE || !n || n > MAX || b.readInt32LE(4) || b.subarray(8 + 8 * n, 520).some((x) => x !== 0)) return undefined;
    const bytecode: BpfInsn[] = [];
    for (let i = 0; i < n; i++) {
      const o = 8 + 8 * i;
      bytecode.push([b.readUInt16LE(o), b[o + 2]!, b[o + 3]!, b.readUInt32LE(o + 4)]);
    }
    return { type: 'bpf', bytecode };
  },
  validate(v) {
    if (v.invert) return [['invert', 'the bpf match cannot be inverted']];
    return Array.isArray(v.bytecode) && v.bytecode.length >= 1 && v.bytecode.length <= MAX && v.bytecode.every(insnOk)
      ? VALID : [['bytecode', `must be 1-${MAX} instructions [code, jt, jf, k]`]];
  },
  save: (v) => ` --bytecode "${v.bytecode.length},${v.bytecode.map((i) => i.join(' ')).join(',')}"`,
  options: { bytecode: 1 },
  parse(opts) {
    const o = opt(opts, 'bytecode');
    if (!o) throw new ParseProblem('-m bpf needs --bytecode (pinned objects are not typed)');
    const [count, ...rest] = arg(o).split(',');
    const bytecode = rest.map((s) => s.trim().split(/\s+/).map(Number) as BpfInsn);
    if (Number(count) !== bytecode.length || !bytecode.length || bytecode.length > MAX || !bytecode.every(insnOk)) throw new ParseProblem(`bad --bytecode "${arg(o)}"`);
    return { type: 'bpf', bytecode };
  },
};
