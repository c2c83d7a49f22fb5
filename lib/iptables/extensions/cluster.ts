/**
 * -m cluster: xt_cluster_match_info (revision 0, 16 bytes: total_nodes, node_mask, hash_seed, flags).
 * `iptables -t mangle -m cluster --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 0xdeadbeef`
 */
import { arg, opt, parseNumber, u32, ParseProblem, VALID, type Codec } from './codec';

export interface ClusterMatch {
  type: 'cluster';
  totalNodes: number;
  /** The nodes this one handles, bit n-1 for node n (--cluster-local-node n is 1 << (n-1)). */
  nodeMask: number;
  hashSeed: number;
  invert?: boolean;
}

const INV = 1;
const hex8 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export const cluster: Codec<ClusterMatch> = {
  kind: 'match',
  type: 'cluster',
  name: 'cluster',
  revision: () => 0,
  size: () => 16,
  encode(v, b) {
    b.writeUInt32LE(v.totalNodes, 0);
    b.writeUInt32LE(v.nodeMask >>> 0, 4);
    b.writeUInt32LE(v.hashSeed >>> 0, 8);
    b.writeUInt32LE(v.invert ? INV : 0, 12);
  },
  decode(b) {
    const flags = b.readUInt32LE(12);
    if (flags & ~INV) return undefined;
    return { type: 'cluster', totalNodes: b.readUInt32LE(0), nodeMask: b.readUInt32LE(4), hashSeed: b.readUInt32LE(8), ...(flags ? { invert: true } : {}) };
  },
  validate(v) {
    // (The kernel's limit: XT_CLUSTER_NODES_MAX.)
    if (!(Number.isInteger(v.totalNodes) && v.totalNodes >= 1 && v.totalNodes <= 32)) return [['totalNodes', 'must be 1-32']];
    if (!u32(v.nodeMask)) return [['nodeMask', 'must be a 32-bit mask']];
    return u32(v.hashSeed) ? VALID : [['hashSeed', 'must be a 32-bit unsigned integer']];
  },
  save: (v) => `${v.invert ? ' !' : ''} --cluster-local-nodemask ${hex8(v.nodeMask)} --cluster-total-nodes ${v.totalNodes} --cluster-hash-seed ${hex8(v.hashSeed)}`,
  options: { 'cluster-total-nodes': 1, 'cluster-local-node': 1, 'cluster-local-nodemask': 1, 'cluster-hash-seed': 1 },
  parse(opts) {
    const t = opt(opts, 'cluster-total-nodes'), n = opt(opts, 'cluster-local-node'), m = opt(opts, 'cluster-local-nodemask'), s = opt(opts, 'cluster-hash-seed');
    if (!t || !(n || m) || !s) throw new ParseProblem('-m cluster needs --cluster-total-nodes, --cluster-local-node(mask) and --cluster-hash-seed');
    const node = n ? parseNumber(arg(n), 'node') : 0;
    if (n && (node < 1 || node > 32)) throw new ParseProblem('--cluster-local-node must be 1-32');
    const v: ClusterMatch = { type: 'cluster', totalNodes: parseNumber(arg(t), 'node count'), nodeMask: n ? (1 << (node - 1)) >>> 0 : parseNumber(arg(m!), 'node mask'), hashSeed: parseNumber(arg(s), 'hash seed') };
    if ((n ?? m)!.invert) v.invert = true;
    return v;
  },
};
