/**
 * Reading rules back as statements: the kernel-level expressions of a rule are matched, left to
 * right, against the patterns the statement builder emits (nft's own bytecode), and printed the way
 * `nft list ruleset` prints them. A rule with any unrecognised expression gets no statements (its
 * exprs are always there).
 */
import { CMP_OP, CT_KEY, CT_STATE, META_KEY, NAT_FLAG, OBJ_TYPE, familyName, verdictName } from './constants';
import { align4, type Datatype } from './datatypes';
import type { Expr } from './model';
import { timeText } from './print';
import { FIELDS, type FieldName } from './statements';

interface Hit {
  text: string;
  n: number;
}
type Matcher = (e: Expr[], i: number) => Hit | undefined;

const num = (x: Expr | undefined, k: string) => (x && typeof x[k] === 'number' ? (x[k] as number) : undefined);
const le32 = (hex: unknown) => (typeof hex === 'string' && hex.length === 8 ? Buffer.from(hex, 'hex').readUInt32LE(0) : undefined);
const mark = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

type FieldHit = { readonly name: FieldName; readonly len: number } | undefined;

/**
 * The field a load expression reads (with the given destination register), if it is one kernlb knows.
 * A listing has 10^4-10^5 loads of a handful of kinds: each kind's answer is kept, by everything
 * scanFields looks at (the load's attributes, the register, l4), and scanned for once.
 */
function fieldOf(load: Expr | undefined, dreg: number, l4 = false): FieldHit {
  if (!load || (load.type !== 'payload' && load.type !== 'meta' && load.type !== 'ct')) return undefined;
  let key = `${dreg}${l4 ? '+' : '-'}`;
  for (const k in load) {
    const v = load[k];
    if (typeof v !== 'number' && typeof v !== 'string') return scanFields(load, dreg, l4);
    key += `|${k}=${typeof v}:${v}`;
  }
  let hit = fieldMemo.get(key);
  if (hit === undefined && !fieldMemo.has(key)) {
    hit = scanFields(load, dreg, l4);
    if (fieldMemo.size >= FIELD_MEMO_MAX) fieldMemo.clear(); // (a bound for odd rulesets: any load from the kernel is a key)
    fieldMemo.set(key, hit);
  }
  return hit;
}
const fieldMemo = new Map<string, FieldHit>();
const FIELD_MEMO_MAX = 4096;

/** fieldOf's answer, by trying every field kernlb knows in turn (the first that fits). */
function scanFields(load: Expr, dreg: number, l4: boolean): FieldHit {
  for (const [name, f] of Object.entries(FIELDS) as [FieldName, (typeof FIELDS)[FieldName]][]) {
    // "tcp dport" only right after its `meta l4proto tcp` dependency; elsewhere nft says "th dport"
    if (!l4 && (name.startsWith('tcp ') || name.startsWith('udp '))) continue;
    const ref = f.load(dreg);
    if (ref.type !== load.type) continue;
    const keys = Object.keys(ref).filter((k) => k !== 'len');
    if (keys.every((k) => ref[k] === load[k]) && Object.keys(load).every((k) => k in ref)) {
      const len = load.type === 'payload' ? Number(load.len) : f.type.len;
      if (load.type === 'payload' && len > f.type.len) continue;
      return { name, len };
    }
  }
  return undefined;
}

/** How nft prints a field in a rule ("iifname", not "meta iifname"). */
const printed = (f: FieldName) => (f === 'meta iifname' ? 'iifname' : f === 'meta oifname' ? 'oifname' : f);

function valueText(t: Datatype, bytes: Buffer): string {
  const v = t.decode(bytes);
  if (v === 'icmpv6') return 'ipv6-icmp'; // (nft's name for protocol 58, /etc/protocols')
  if (t.name === 'ifname') return `"${v}"`;
  if (t.name === 'mark') return mark(Number(v));
  return String(v);
}

const transportField: Matcher = (e, i) => {
  // meta l4proto tcp|udp; <tcp|udp field> <op> <value>: nft prints only the second part
  if (e[i]?.type !== 'meta' || e[i]!.key !== META_KEY.l4proto || e[i + 1]?.type !== 'cmp') return undefined;
  const proto = e[i + 1]!.data === '06' ? 'tcp' : e[i + 1]!.data === '11' ? 'udp' : undefined;
  const f = fieldOf(e[i + 2], 1, true);
  if (!proto || e[i + 1]!.op !== CMP_OP.eq || !f || !f.name.startsWith(`${proto} `)) return undefined;
  const m = fieldMatch(e, i + 2, true);
  return m && { text: m.text, n: m.n + 2 };
};

const fieldMatch = (e: Expr[], i: number, l4 = false): Hit | undefined => {
  const f = fieldOf(e[i], 1, l4);
  if (!f) return undefined;
  const def = FIELDS[f.name];
  const t = def.type;
  const op = (x: Expr) => (x.op === CMP_OP.neq ? '!= ' : x.op === CMP_OP.eq ? '' : undefined);
  const c = e[i + 1];
  if (c?.type === 'cmp' && c.sreg === 1 && typeof c.data === 'string' && op(c) !== undefined) {
    const b = Buffer.from(c.data, 'hex');
    if (f.len < t.len && (t.name === 'ipv4_addr' || t.name === 'ipv6_addr')) {
      const full = Buffer.alloc(t.len);
      b.copy(full);
      return { text: `${printed(f.name)} ${op(c)}${valueText(t, full)}/${f.len * 8}`, n: 2 };
    }
    if (b.length !== t.len) return undefined;
    return { text: `${printed(f.name)} ${op(c)}${valueText(t, b)}`, n: 2 };
  }
  // prefix through a mask: load, bitwise (mask, xor 0), cmp
  const bw = e[i + 1], c2 = e[i + 2];
  if (bw?.type === 'bitwise' && c2?.type === 'cmp' && (t.name === 'ipv4_addr' || t.name === 'ipv6_addr') && op(c2) !== undefined) {
    const mask = Buffer.from(String(bw.mask), 'hex');
    let bits = 0;
    for (const byte of mask) for (let k = 7; k >= 0; k--) if (byte & (1 << k)) bits++;
    return { text: `${printed(f.name)} ${op(c2)}${valueText(t, Buffer.from(String(c2.data), 'hex'))}/${bits}`, n: 3 };
  }
  return undefined;
};

const ctState: Matcher = (e, i) => {
  const [a, b, c] = [e[i], e[i + 1], e[i + 2]];
  if (a?.type !== 'ct' || a.key !== CT_KEY.state || b?.type !== 'bitwise' || c?.type !== 'cmp' || c.op !== CMP_OP.neq) return undefined;
  const bits = le32(b.mask);
  if (bits === undefined) return undefined;
  const names = (Object.keys(CT_STATE) as (keyof typeof CT_STATE)[]).filter((k) => bits & CT_STATE[k]);
  return { text: `ct state ${names.join(',')}`, n: 3 };
};

const markOps: Matcher = (e, i) => {
  const [a, b, c] = [e[i], e[i + 1], e[i + 2]];
  if (a?.type === 'immediate' && a.dreg === 1 && b?.type === 'meta' && b.key === META_KEY.mark && b.sreg === 1)
    return { text: `meta mark set ${mark(le32(a.data) ?? 0)}`, n: 2 };
  if (a?.type !== 'meta' || a.key !== META_KEY.mark || a.dreg !== 1 || b?.type !== 'bitwise') return undefined;
  const m = le32(b.mask), x = le32(b.xor);
  if (m === undefined || x === undefined) return undefined;
  if (c?.type === 'meta' && c.key === META_KEY.mark && c.sreg === 1) {
    if (m === 0xffffffff) return { text: `meta mark set meta mark ^ ${mark(x)}`, n: 3 };
    if (((~m) >>> 0) === x) return { text: `meta mark set meta mark | ${mark(x)}`, n: 3 };
    return undefined;
  }
  if (c?.type === 'cmp' && x === 0 && (c.op === CMP_OP.eq || c.op === CMP_OP.neq))
    return { text: `meta mark & ${mark(m)} ${c.op === CMP_OP.eq ? '==' : '!='} ${mark(le32(c.data) ?? 0)}`, n: 3 };
  return undefined;
};

/** A lookup key: field loads into consecutive registers, numgen, jhash. Returns text and count. */
function keyAt(e: Expr[], i: number): { text: string; n: number } | undefined {
  const parts: string[] = [];
  let j = i;
  let unit = 0;
  for (;;) {
    const x = e[j];
    const single = parts.length === 0;
    const reg = unit % 4 === 0 ? 1 + unit / 4 : 8 + unit;
    if (x?.type === 'numgen' && x.dreg === reg) {
      parts.push(`numgen ${x.ngType === 0 ? 'inc' : 'random'} mod ${x.modulus}${x.offset ? ` offset ${x.offset}` : ''}`);
      j++;
      unit++;
      continue;
    }
    if (single && x?.type === 'payload' && e[j + 1]?.type === 'hash' && e[j + 1]!.dreg === 1) {
      const f = fieldOf(x, Number(e[j + 1]!.sreg));
      if (!f) return undefined;
      const h = e[j + 1]!;
      parts.push(`jhash ${f.name} mod ${h.modulus}${h.seed ? ` seed 0x${Number(h.seed).toString(16)}` : ''}${h.offset ? ` offset ${h.offset}` : ''}`);
      j += 2;
      break;
    }
    const f = fieldOf(x, reg);
    if (!f || f.len !== FIELDS[f.name].type.len) break;
    parts.push(printed(f.name));
    j++;
    unit += align4(f.len) / 4;
  }
  return parts.length ? { text: parts.join(' . '), n: j - i } : undefined;
}

const lookup: Matcher = (e, i) => {
  const k = keyAt(e, i);
  if (!k) return undefined;
  const l = e[i + k.n];
  if (l?.type !== 'lookup' || l.sreg !== 1) return undefined;
  if (l.dreg === 0) return { text: `${k.text} vmap @${l.set}`, n: k.n + 1 };
  if (l.dreg === undefined) return { text: `${k.text} ${l.flags === 1 ? '!= ' : ''}@${l.set}`, n: k.n + 1 };
  const nat = e[i + k.n + 1];
  if (l.dreg === 1 && nat?.type === 'nat' && nat.regAddrMin === 1) {
    // nft names the family in an inet table, and where the map gives address and port
    const fam = tableFamily === 'inet' || nat.regProtoMin !== undefined ? `${familyName(Number(nat.family))} ` : '';
    return { text: `${nat.natType === 1 ? 'dnat' : 'snat'} ${fam}to ${k.text} map @${l.set}`, n: k.n + 2 };
  }
  return undefined;
};

const dynset: Matcher = (e, i) => {
  const k = keyAt(e, i);
  const d = k && e[i + k.n];
  if (!k || d?.type !== 'dynset' || d.sregKey !== 1 || d.exprs) return undefined;
  const op = d.op === 0 ? 'add' : d.op === 1 ? 'update' : 'delete';
  return { text: `${op} @${d.set} { ${k.text}${d.timeout ? ` timeout ${timeText(Number(d.timeout))}` : ''} }`, n: k.n + 1 };
};

const natImmediate: Matcher = (e, i) => {
  let j = i;
  let addr: string | undefined, port: number | undefined;
  const nat = () => e[j];
  while (e[j]?.type === 'immediate' && (e[j]!.dreg === 1 || e[j]!.dreg === 2)) j++;
  const n = nat();
  if (n?.type !== 'nat') return undefined;
  for (let k = i; k < j; k++) {
    const b = Buffer.from(String(e[k]!.data), 'hex');
    if (e[k]!.dreg === n.regAddrMin && (b.length === 4 || b.length === 16)) addr = FIELDS[b.length === 4 ? 'ip daddr' : 'ip6 daddr'].type.decode(b) as string;
    else if (e[k]!.dreg === n.regProtoMin && b.length === 2) port = b.readUInt16BE(0);
    else return undefined;
  }
  if (!addr && port === undefined) return undefined;
  const v6 = addr?.includes(':');
  const target = `${addr ? (v6 && port !== undefined ? `[${addr}]` : addr) : ''}${port !== undefined ? `:${port}` : ''}`;
  const fam = tableFamily === 'inet' ? `${familyName(Number(n.family))} ` : '';
  return { text: `${n.natType === 1 ? 'dnat' : 'snat'} ${fam}to ${target}`, n: j - i + 1 };
};

const simple: Matcher = (e, i) => {
  const x = e[i]!;
  if (x.type === 'counter') return { text: `counter packets ${x.packets ?? 0} bytes ${x.bytes ?? 0}`, n: 1 };
  if (x.type === 'objref' && typeof x.name === 'string') {
    const kind = Object.entries(OBJ_TYPE).find(([, v]) => v === x.objType)?.[0];
    if (!kind) return undefined;
    // (conntrack objects are assigned to the connection: nft words them as a set)
    if (kind.startsWith('ct ')) return { text: `${kind} set "${x.name}"`, n: 1 };
    return { text: kind === 'secmark' ? `meta secmark set "${x.name}"` : `${kind} name "${x.name}"`, n: 1 };
  }
  if (x.type === 'immediate' && x.dreg === 0 && typeof x.verdict === 'number') {
    const v = verdictName(x.verdict);
    return v ? { text: x.chain !== undefined ? `${v} ${x.chain}` : v, n: 1 } : undefined;
  }
  if (x.type === 'notrack') return { text: 'notrack', n: 1 };
  if (x.type === 'limit' && typeof x.rate === 'number' && typeof x.unit === 'number') {
    // nft's words: rate [over] N/unit, a packet burst only when not its default 5, a byte burst when set
    const per = ({ 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day', 604800: 'week' } as Record<number, string>)[x.unit];
    if (!per || (x.flags !== undefined && x.flags !== 0 && x.flags !== 1)) return undefined;
    const over = x.flags === 1 ? 'over ' : '';
    const burst = num(x, 'burst') ?? 0;
    if (x.limitType === 1) {
      const [n, u] = bytesUnit(x.rate);
      return { text: `limit rate ${over}${n} ${u}/${per}${burst ? ` burst ${bytesUnit(burst).join(' ')}` : ''}`, n: 1 };
    }
    return { text: `limit rate ${over}${x.rate}/${per}${burst && burst !== 5 ? ` burst ${burst} packets` : ''}`, n: 1 };
  }
  // (the kernel lists level 4, warn, where none was given; nft leaves it out)
  if (x.type === 'log' && Object.keys(x).every((k) => k === 'type' || k === 'prefix' || (k === 'level' && x.level === 4))) {
    return { text: x.prefix !== undefined ? `log prefix "${x.prefix}"` : 'log', n: 1 };
  }
  if (x.type === 'masq') {
    const f = num(x, 'flags') ?? 0;
    const opts = [f & NAT_FLAG.protoRandom ? 'random' : '', f & NAT_FLAG.protoRandomFully ? 'fully-random' : '', f & NAT_FLAG.persistent ? 'persistent' : ''].filter(Boolean);
    return { text: ['masquerade', ...opts].join(' '), n: 1 };
  }
  return undefined;
};

/** Bytes in the largest of nft's units that holds them exactly. */
function bytesUnit(n: number): [number, string] {
  const units = ['bytes', 'kbytes', 'mbytes', 'gbytes'];
  let i = 0;
  while (i < units.length - 1 && n !== 0 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return [n, units[i]!];
}

const MATCHERS: Matcher[] = [transportField, ctState, markOps, lookup, dynset, (e, i) => fieldMatch(e, i), natImmediate, simple];

/** The family of the table of the rule being read (nft words nat statements by it). */
let tableFamily: string | undefined;

/** The rule as nft statements, or undefined when some expression is not a pattern kernlb knows. */
export function recognize(exprs: Expr[], family?: string): string[] | undefined {
  tableFamily = family;
  const out: string[] = [];
  for (let i = 0; i < exprs.length; ) {
    let hit: Hit | undefined;
    for (const m of MATCHERS) if ((hit = m(exprs, i))) break;
    if (!hit) return undefined;
    // nft folds a bare `meta l4proto tcp` into a following transport field: "... tcp dport ..."
    const prev = out[out.length - 1];
    const proto = prev === 'meta l4proto tcp' ? 'tcp' : prev === 'meta l4proto udp' ? 'udp' : undefined;
    if (proto && / th [sd]port|^th [sd]port/.test(hit.text)) {
      out.pop();
      out.push(hit.text.replace(/(^| )th ([sd]port)/g, `$1${proto} $2`));
    } else if ((prev === 'meta nfproto ipv4' && hit.text.startsWith('ip ')) || (prev === 'meta nfproto ipv6' && hit.text.startsWith('ip6 '))) {
      // nft leaves out the dependency it adds before an ip/ip6 match in an inet table
      out.pop();
      out.push(hit.text);
    } else out.push(hit.text);
    i += hit.n;
  }
  // nft leaves out an inet rule's `meta nfproto` where what follows names the family itself
  for (let j = out.length - 2; j >= 0; j--) {
    if ((out[j] === 'meta nfproto ipv4' && IMPLIES_V4.test(out[j + 1]!)) || (out[j] === 'meta nfproto ipv6' && IMPLIES_V6.test(out[j + 1]!))) out.splice(j, 1);
  }
  return out;
}
const IMPLIES_V4 = /(^|[ {.])ip (saddr|daddr|protocol)\b|^[ds]nat ip to /;
const IMPLIES_V6 = /(^|[ {.])ip6 (saddr|daddr|nexthdr)\b|^[ds]nat ip6 to /;
