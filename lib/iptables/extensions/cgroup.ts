/**
 * -m cgroup: xt_cgroup_info_v2 (revision 2, 528 bytes: has_path, has_classid, invert_path,
 * invert_classid, path[512] or the net_cls classid, the kernel's private pointer).
 * `iptables -m cgroup --cgroup 0x100001`, `iptables -m cgroup --path system.slice/ssh.service`
 */
import { arg, opt, readCString, saveString, u32, writeCString, ParseProblem, VALID, type Codec } from './codec';

export type CgroupMatch =
  | { type: 'cgroup'; classid: number; invert?: boolean }
  | { type: 'cgroup'; path: string; invert?: boolean };

const PATH_MAX = 512;

export const cgroup: Codec<CgroupMatch> = {
  kind: 'match',
  type: 'cgroup',
  name: 'cgroup',
  revision: () => 2,
  size: () => 528,
  encode(v, b) {
    if ('path' in v) {
      b[0] = 1;
      b[2] = v.invert ? 1 : 0;
      writeCString(b, 4, PATH_MAX, v.path);
    } else {
      b[1] = 1;
      b[3] = v.invert ? 1 : 0;
      b.writeUInt32LE(v.classid, 4);
    }
  },
  decode(b, _f, rev) {
    // (The path and the classid share their bytes: a rule has one or the other.)
    if (rev !== 2 || b[0]! + b[1]! !== 1 || b[2]! > b[0]! || b[3]! > b[1]!) return undefined;
    if (b[0]) return { type: 'cgroup', path: readCString(b, 4, PATH_MAX), ...(b[2] ? { invert: true } : {}) };
    if (b.subarray(8, 4 + PATH_MAX).some((x) => x !== 0)) return undefined;
    return { type: 'cgroup', classid: b.readUInt32LE(4), ...(b[3] ? { invert: true } : {}) };
  },
  validate(v) {
    if ('path' in v && 'classid' in v) return [['', 'takes path or classid, not both']];
    if ('path' in v) return typeof v.path === 'string' && v.path && Buffer.byteLength(v.path) < PATH_MAX && !v.path.includes('\0') ? VALID : [['path', 'must be a cgroup path of 1-511 bytes']];
    return u32((v as { classid?: unknown }).classid) ? VALID : [['classid', 'must be a 32-bit net_cls classid (or give path)']];
  },
  save: (v) => ('path' in v ? `${v.invert ? ' !' : ''} --path${saveString(v.path)}` : `${v.invert ? ' !' : ''} --cgroup ${v.classid}`),
  options: { cgroup: 1, path: 1 },
  parse(opts) {
    const p = opt(opts, 'path'), c = opt(opts, 'cgroup');
    if (p) return { type: 'cgroup', path: arg(p), ...(p.invert ? { invert: true } : {}) };
    const n = c && /^(0x[0-9a-f]+|\d+)$/i.test(arg(c)) ? Number(arg(c)) : NaN;
    if (!c || !u32(n)) throw new ParseProblem('-m cgroup needs --cgroup CLASSID or --path PATH');
    return { type: 'cgroup', classid: n, ...(c.invert ? { invert: true } : {}) };
  },
};
