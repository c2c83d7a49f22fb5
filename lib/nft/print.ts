/**
 * A listing printed in nft's own syntax, the way `nft list ruleset` (nft 1.0.6) prints it: tables
 * with their flags and comments, named objects, named sets and maps with their elements, chains with
 * their hooks and priorities by name, rules as the statements recognize.ts reads (anonymous sets
 * inline, binding chains as `jump { ... }`). What kernlb cannot print as nft does (a rule with an
 * expression pattern it does not know, a `typeof` set, an object kind without a printer) is printed
 * as a `#` line naming it, and listed in `gaps`: the text is then not nft's.
 */
import { BYTEORDER, type Family } from './constants';
import { DATATYPES, type ScalarValue } from './datatypes';
import type { Chain, Element, NamedObject, NftSet, Rule, Ruleset } from './model';
import { priorityText } from './priority';
import { decodeTlvs, UDATA } from './udata';

export interface Printed {
  text: string;
  /** What is not printed as nft prints it ("rule 2 of chain ip/t/c: ..."); empty when the text is nft's. */
  gaps: string[];
}

const TABLE_FLAGS = ['dormant', 'owner', 'persist'];
const CHAIN_BINDING = 0x4;
const ELEM_INTERVAL_END = 0x1;
const ELEM_CATCHALL = 0x2;

/** nft's time_print: days, hours, minutes, seconds and milliseconds, each only when not 0. */
export function timeText(ms: number): string {
  const parts: [number, string][] = [[86400000, 'd'], [3600000, 'h'], [60000, 'm'], [1000, 's'], [1, 'ms']];
  let rest = ms, out = '';
  for (const [unit, suffix] of parts) {
    const n = Math.floor(rest / unit);
    rest -= n * unit;
    if (n) out += `${n}${suffix}`;
  }
  return out || '0ms';
}

/** Bytes in the largest of nft's units that holds them exactly (nft get_rate). */
function bytesText(n: number): string {
  const units = ['bytes', 'kbytes', 'mbytes', 'gbytes'];
  let i = 0;
  while (i < units.length - 1 && n !== 0 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n} ${units[i]}`;
}

const TIME_UNITS: Record<number, string> = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day', 604800: 'week' };

/** A named object's body lines, or undefined for kinds without a printer. */
function objectBody(o: NamedObject): string[] | undefined {
  if (o.type === 'counter') return [`packets ${o.packets ?? 0} bytes ${o.bytes ?? 0}`];
  if (o.type === 'quota') return [`${o.over ? 'over ' : ''}${bytesText(o.bytes)}${o.consumed ? ` used ${bytesText(o.consumed)}` : ''}`];
  if (o.type === 'limit') {
    const per = TIME_UNITS[o.unit];
    if (!per) return undefined;
    if (o.limitType === 'bytes') {
      const [n, u] = bytesText(o.rate).split(' ');
      return [`rate ${o.over ? 'over ' : ''}${n} ${u}/${per}${o.burst ? ` burst ${bytesText(o.burst)}` : ''}`];
    }
    return [`rate ${o.over ? 'over ' : ''}${o.rate}/${per}${o.burst && o.burst !== 5 ? ` burst ${o.burst} packets` : ''}`];
  }
  if (o.type === 'ct helper') return [`type "${o.helper}" protocol ${protoName(o.l4proto)}`, `l3proto ${l3Name(o.l3proto)}`];
  if (o.type === 'ct expectation')
    return [`protocol ${protoName(o.l4proto)}`, `dport ${o.dport}`, `timeout ${timeText(o.timeout)}`, `size ${o.size}`, `l3proto ${l3Name(o.l3proto)}`];
  if (o.type === 'synproxy') {
    const f = o.flags ?? 0;
    const opts = [f & 0x4 ? 'timestamp' : '', f & 0x8 ? 'sack-perm' : ''].filter(Boolean); // NF_SYNPROXY_OPT_TIMESTAMP, _SACK_PERM
    return [`mss ${o.mss}`, `wscale ${o.wscale}`, ...(opts.length ? [opts.join(' ')] : [])];
  }
  return undefined; // (ct timeout: nft prints only the states that differ from the kernel's defaults)
}
const protoName = (n: number) => ({ 6: 'tcp', 17: 'udp', 33: 'dccp', 132: 'sctp', 136: 'udplite' } as Record<number, string>)[n] ?? String(n);
const l3Name = (n: number) => ({ 1: 'inet', 2: 'ip', 10: 'ip6' } as Record<number, string>)[n] ?? String(n);

/** A typed value as nft prints it in a set, or undefined for a type kernlb does not print. */
function valueText(type: string, v: ScalarValue): string | undefined {
  switch (type) {
    case 'ipv4_addr': case 'ipv6_addr': case 'ether_addr':
      return String(v);
    case 'inet_proto':
      return v === 'icmpv6' ? 'ipv6-icmp' : String(v); // (nft's name, /etc/protocols')
    case 'inet_service': case 'integer':
      return String(v);
    case 'mark':
      return `0x${Number(v).toString(16).padStart(8, '0')}`;
    case 'ifname':
      return `"${String(v)}"`;
    default:
      return undefined;
  }
}

/** Key types as names, or undefined when a field is no type kernlb prints. */
function typeNames(spec: NftSet['key'] | NftSet['data']): string[] | undefined {
  if (typeof spec === 'string') return spec in DATATYPES || spec === 'verdict' ? [spec] : undefined;
  if (Array.isArray(spec) && spec.every((s) => s in DATATYPES)) return spec;
  return undefined;
}

/** nft's delimiter between the elements of a named set (calculate_delim). */
function delimiter(keyTypes: string[], count: number, anonymous: boolean): { text: string; reset: boolean } {
  const single = { text: ', ', reset: false }, newline = { text: ',\n\t\t\t     ', reset: true };
  if (anonymous) return single;
  if (keyTypes.length !== 1) return newline;
  const t = keyTypes[0]!;
  if (['integer', 'inet_proto', 'inet_service', 'mark'].includes(t)) return count < 5 ? single : newline;
  if (t === 'ipv4_addr' || t === 'ct_state') return count < 2 ? single : newline;
  return newline;
}

/** The number an address or port is, for telling prefixes from ranges. */
function asBig(type: string, v: ScalarValue): bigint | undefined {
  if (type === 'ipv4_addr') return String(v).split('.').reduce((n, x) => (n << 8n) | BigInt(Number(x)), 0n);
  if (type === 'inet_service' || type === 'integer' || type === 'mark') return BigInt(Number(v));
  return undefined;
}

/**
 * A key as the number nft sorts it by (list_expr_sort): a single value is its value (a host-endian
 * type's bytes read little-endian); a concatenation is its fields' bytes, unpadded, read as one
 * little-endian number, so its last field counts most.
 */
function orderKey(types: string[], key: ScalarValue | ScalarValue[]): bigint {
  const vals = types.length > 1 ? (key as ScalarValue[]) : [key as ScalarValue];
  const parts = types.map((t, i) => DATATYPES[t]!.encode(vals[i]!));
  const bytes = Buffer.concat(parts);
  const le = types.length > 1 || DATATYPES[types[0]!]!.byteorder === BYTEORDER.host;
  const hex = (le ? Buffer.from(bytes).reverse() : bytes).toString('hex');
  return hex ? BigInt(`0x${hex}`) : 0n;
}
/** Elements in nft's order (it sorts what it lists); keyless ones (catch-all) last. */
function sortByKey(els: Element[], types: string[]): Element[] {
  const keyed = els.map((e) => ({ e, k: e.key === undefined ? undefined : orderKey(types, e.key) }));
  keyed.sort((a, b) => (a.k === undefined || b.k === undefined ? (a.k === undefined ? 1 : 0) - (b.k === undefined ? 1 : 0) : a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((x) => x.e);
}

/** One key (single or concatenated), or undefined when a field is not printable. */
function keyText(types: string[], key: ScalarValue | ScalarValue[]): string | undefined {
  const vals = types.length > 1 ? (key as ScalarValue[]) : [key as ScalarValue];
  const parts = types.map((t, i) => valueText(t, vals[i]!));
  return parts.every((p) => p !== undefined) ? parts.join(' . ') : undefined;
}

/** An interval [start, end) of one field as nft prints it: a value, a prefix or a range. */
function intervalText(type: string, start: ScalarValue, end: ScalarValue | undefined): string | undefined {
  const s = asBig(type, start);
  const bits = type === 'ipv4_addr' ? 32 : type === 'inet_service' ? 16 : 32;
  const e = end === undefined ? 1n << BigInt(bits) : asBig(type, end);
  if (s === undefined || e === undefined) return undefined;
  const size = e - s;
  if (size === 1n) return valueText(type, start);
  const last = e - 1n;
  const lastText = type === 'ipv4_addr' ? [24n, 16n, 8n, 0n].map((sh) => String((last >> sh) & 255n)).join('.') : String(last);
  // a prefix: a power-of-two block aligned to its size (addresses only, as nft prints them)
  if (type === 'ipv4_addr' && (size & (size - 1n)) === 0n && s % size === 0n) return `${String(start)}/${bits - size.toString(2).length + 1}`;
  return `${valueText(type, start)}-${lastText}`;
}

interface SetText {
  elements: string[];
  ok: boolean;
}

/** The elements of a set as nft prints them (without the braces), or ok=false. */
function elementsText(s: NftSet, keyTypes: string[], dataTypes: string[] | undefined, chainBody: (c: string) => string | undefined): SetText {
  const els = s.elements ?? [];
  const interval = s.flags?.includes('interval') ?? false;
  const out: string[] = [];
  const data = (e: Element): string | undefined => {
    if (e.verdict) {
      const v = e.verdict;
      if (v.chain === undefined) return v.verdict;
      const inner = chainBody(v.chain);
      return inner !== undefined ? `${v.verdict} ${inner}` : `${v.verdict} ${v.chain}`;
    }
    if (e.object !== undefined) return `"${e.object}"`;
    if (e.data === undefined) return undefined;
    return dataTypes ? keyText(dataTypes, e.data) : undefined;
  };
  const tail = (e: Element): string | undefined => {
    let t = '';
    if (e.counter) t += ` counter packets ${e.counter.packets} bytes ${e.counter.bytes}`;
    if (e.exprs?.length) return undefined;
    if (e.timeout !== undefined) t += ` timeout ${timeText(e.timeout)}`;
    if (e.expiration !== undefined) t += ` expires ${timeText(e.expiration)}`;
    if (e.comment !== undefined) t += ` comment "${e.comment}"`;
    return t;
  };
  const isMap = s.data !== undefined || s.objectType !== undefined;
  if (!interval) {
    for (const e of sortByKey(els, keyTypes)) {
      const k = e.flags && e.flags & ELEM_CATCHALL ? '*' : e.key !== undefined ? keyText(keyTypes, e.key) : undefined;
      const d = isMap ? data(e) : '';
      const t = tail(e);
      if (k === undefined || d === undefined || t === undefined) return { elements: [], ok: false };
      out.push(`${k}${t}${isMap ? ` : ${d}` : ''}`);
    }
    return { elements: out, ok: true };
  }
  // intervals: one field, starts and ends in key order (the kernel lists them in reverse)
  if (keyTypes.length !== 1 || els.some((e) => e.keyEnd !== undefined || e.keyHex !== undefined)) return { elements: [], ok: false };
  const type = keyTypes[0]!;
  const keyed = els.filter((e) => !(e.flags && e.flags & ELEM_CATCHALL));
  const sorted = keyed
    .map((e) => ({ e, n: asBig(type, e.key as ScalarValue) }))
    .sort((a, b) => (a.n! < b.n! ? -1 : a.n! > b.n! ? 1 : (a.e.flags ?? 0) & ELEM_INTERVAL_END ? -1 : 1));
  if (sorted.some((x) => x.n === undefined)) return { elements: [], ok: false };
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i]!.e;
    if ((start.flags ?? 0) & ELEM_INTERVAL_END) continue; // (the 0 end nft adds before a first range)
    const next = sorted[i + 1]?.e;
    const end = next && (next.flags ?? 0) & ELEM_INTERVAL_END ? next : undefined;
    const k = intervalText(type, start.key as ScalarValue, end?.key as ScalarValue | undefined);
    const d = isMap ? data(start) : '';
    const t = tail(start);
    if (k === undefined || d === undefined || t === undefined) return { elements: [], ok: false };
    out.push(`${k}${t}${isMap ? ` : ${d}` : ''}`);
    if (end) i++;
  }
  for (const e of els.filter((e) => e.flags && e.flags & ELEM_CATCHALL)) {
    const d = isMap ? data(e) : '';
    if (d === undefined) return { elements: [], ok: false };
    out.push(`*${isMap ? ` : ${d}` : ''}`);
  }
  return { elements: out, ok: true };
}

/** Whether a set's userdata says `typeof` with fields (nft then prints expressions kernlb does not rebuild). */
function hasTypeof(s: NftSet): boolean {
  if (!s.userdata) return false;
  for (const t of decodeTlvs(s.userdata)) {
    if (t.type !== UDATA.setKeyTypeof && t.type !== UDATA.setDataTypeof) continue;
    const inner = decodeTlvs(t.value.toString('hex'));
    const expr = inner.find((x) => x.type === 0)?.value.readUInt32LE(0);
    const params = inner.find((x) => x.type === 1);
    if (expr !== 13 || (params && params.value.length > 0)) return true; // (13: a plain concatenation, no fields)
  }
  return false;
}
function autoMerge(s: NftSet): boolean {
  return !!s.userdata && decodeTlvs(s.userdata).some((t) => t.type === UDATA.setMergeElements);
}

function setLines(s: NftSet, chainBody: (c: string) => string | undefined): { lines: string[]; ok: boolean } {
  const keyTypes = typeNames(s.key);
  const dataTypes = s.data === 'verdict' ? ['verdict'] : s.data !== undefined ? typeNames(s.data) : undefined;
  const isMap = s.data !== undefined || s.objectType !== undefined;
  const kind = s.flags?.includes('anonymous') ? 'meter' : isMap ? 'map' : 'set';
  if (!keyTypes || (s.data !== undefined && !dataTypes) || hasTypeof(s) || kind === 'meter' || s.exprs?.length)
    return { lines: [`\t# ${kind} ${s.name}: not printed as nft prints it (typeof, meters, set statements or types kernlb does not print)`], ok: false };
  const lines = [`\t${kind} ${s.name} {`];
  const dataName = s.objectType ?? dataTypes?.join(' . ');
  lines.push(`\t\ttype ${keyTypes.join(' . ')}${isMap ? ` : ${dataName}` : ''}`);
  const flags = s.flags ?? [];
  if (!flags.includes('constant')) {
    if (s.policy === 'memory') lines.push('\t\tpolicy memory');
    if (s.size) lines.push(`\t\tsize ${s.size}`);
  }
  // (nft prints the line when a flag other than a timeout implied by the set's timeout is there, and then all of them)
  const shown = [flags.includes('constant') && 'constant', flags.includes('eval') && 'dynamic', flags.includes('interval') && 'interval', flags.includes('timeout') && 'timeout'].filter(Boolean);
  if (shown.some((f) => f !== 'timeout' || !s.timeout)) lines.push(`\t\tflags ${shown.join(',')}`);
  if (autoMerge(s)) lines.push('\t\tauto-merge');
  if (s.timeout) lines.push(`\t\ttimeout ${timeText(s.timeout)}`);
  if (s.gcInterval) lines.push(`\t\tgc-interval ${timeText(s.gcInterval)}`);
  if (s.comment !== undefined) lines.push(`\t\tcomment "${s.comment}"`);
  const els = elementsText(s, keyTypes, dataTypes, chainBody);
  if (!els.ok) return { lines: [`\t# ${kind} ${s.name}: elements not printed as nft prints them`], ok: false };
  if (els.elements.length) {
    let text = '', count = 0;
    els.elements.forEach((e, i) => {
      if (i > 0) {
        const d = delimiter(keyTypes, count, false);
        text += d.text;
        if (d.reset) count = 0;
      }
      text += e;
      count++;
    });
    lines.push(`\t\telements = { ${text} }`);
  }
  lines.push('\t}');
  return { lines, ok: true };
}

/** Prints a listing as nft's text. */
export function printRuleset(rs: Omit<Ruleset, 'generation'>): Printed {
  const gaps: string[] = [];
  const out: string[] = [];
  for (const t of rs.tables) {
    const mine = <X extends { family: Family; table: string }>(xs: X[]) => xs.filter((x) => x.family === t.family && x.table === t.name);
    const chains = mine(rs.chains), rules = mine(rs.rules), sets = mine(rs.sets), objects = mine(rs.objects);
    const setByName = new Map(sets.map((s) => [s.name, s]));
    const chainByName = new Map(chains.map((c) => [c.name, c]));
    const rulesOf = (c: string) => rules.filter((r) => r.chain === c);
    out.push(`table ${t.family} ${t.name} {`);
    let delim = '';
    const flags = TABLE_FLAGS.filter((_f, i) => (t.flags ?? 0) & (1 << i));
    if (flags.length) {
      out.push(`\tflags ${flags.join(',')}`);
      delim = '\n';
    }
    if (t.comment !== undefined) out.push(`\tcomment "${t.comment}"`);
    const block = (lines: string[]) => {
      if (delim) out.push('');
      out.push(...lines);
      delim = '\n';
    };
    for (const o of objects) {
      const body = objectBody(o);
      if (!body) {
        gaps.push(`${o.type} ${t.family}/${t.name}/${o.name}: no printer for this object kind`);
        block([`\t# ${o.type} ${o.name}: not printed`]);
        continue;
      }
      block([`\t${o.type} ${o.name} {`, ...(o.comment !== undefined ? [`\t\tcomment "${o.comment}"`] : []), ...body.map((l) => `\t\t${l}`), '\t}']);
    }
    // a rule's statements with anonymous sets inline and binding chains as blocks
    const ruleText = (r: Rule, depth: number, where: string): string => {
      const tabs = '\t'.repeat(depth);
      if (!r.statements) {
        gaps.push(`${where}: expressions kernlb does not print as nft statements (${(r.exprs as { type: string }[]).flat().map((e) => e.type).join(' ')})`);
        return `${tabs}# ${(r.exprs as { type: string }[]).flat().map((e) => e.type).join(' ')}${r.comment !== undefined ? ` comment "${r.comment}"` : ''}`;
      }
      let text = r.statements.join(' ').replace(/@(__(?:set|map)\d+)/g, (m, name: string) => {
        const s = setByName.get(name);
        const keyTypes = s && typeNames(s.key);
        if (!s || !keyTypes) return m;
        const dataTypes = s.data === 'verdict' ? ['verdict'] : s.data !== undefined ? typeNames(s.data) : undefined;
        const els = elementsText(s, keyTypes, dataTypes, () => undefined);
        if (!els.ok) {
          gaps.push(`${where}: anonymous set ${name} not printed`);
          return m;
        }
        return `{ ${els.elements.join(', ')} }`; // (sorted as named ones)
      });
      text = text.replace(/\b(jump|goto) (__chain\d+)\b/g, (m, verdict: string, name: string) => {
        const c = chainByName.get(name);
        if (!c || !((c.flags ?? 0) & CHAIN_BINDING)) return m;
        const inner = rulesOf(name).map((x, i) => ruleText(x, depth + 1, `rule ${i + 1} of chain ${t.family}/${t.name}/${name}`));
        return `${verdict} {\n${inner.join('\n')}\n${tabs}}`;
      });
      return `${tabs}${text}${r.comment !== undefined ? ` comment "${r.comment}"` : ''}`;
    };
    for (const s of sets) {
      if (s.flags?.includes('anonymous') && /^__(set|map)\d+$/.test(s.name)) continue;
      const { lines, ok } = setLines(s, () => undefined);
      if (!ok) gaps.push(`set ${t.family}/${t.name}/${s.name}: not printed as nft prints it`);
      block(lines);
    }
    for (const c of chains) {
      if ((c.flags ?? 0) & CHAIN_BINDING) continue;
      block(chainLines(c, rulesOf(c.name).map((r, i) => ruleText(r, 2, `rule ${i + 1} of chain ${t.family}/${t.name}/${c.name}`))));
    }
    out.push('}');
  }
  return { text: out.length ? out.join('\n') + '\n' : '', gaps };
}

function chainLines(c: Chain, rules: string[]): string[] {
  const lines = [`\tchain ${c.name} {`];
  if (c.comment !== undefined) lines.push(`\t\tcomment "${c.comment}"`);
  const b = c.base;
  if (b) {
    const devs = b.devices && b.devices.length > 1 ? ` devices = { ${[...b.devices].sort().join(', ')} }` : b.device !== undefined ? ` device "${b.device}"` : b.devices?.length === 1 ? ` device "${b.devices[0]}"` : '';
    const prio = typeof b.priority === 'number' ? priorityText(c.family, b.hook, b.priority) : b.priority;
    lines.push(`\t\ttype ${b.type} hook ${b.hook}${devs} priority ${prio};${b.policy ? ` policy ${b.policy};` : ''}${(c.flags ?? 0) & 0x2 ? ' flags offload;' : ''}`);
  }
  lines.push(...rules, '\t}');
  return lines;
}
