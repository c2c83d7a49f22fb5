/**
 * Renders services the way `ipvsadm -Ln` prints them (ipvsadm 1.31), byte for byte: the same column
 * widths, number abbreviations, sort order and truncation. Pure: the CLI and the load-balancer demo
 * feed it what listServices()/info() returned.
 */
import type { Connection, Destination, IpvsInfo, Service } from './types';

export interface IpvsadmFormat {
  /** --stats: totals; --rate: per-second rates. */
  mode?: 'default' | 'stats' | 'rate' | 'persistent-conn' | 'thresholds' | 'tun-info';
  /** --exact: numbers unabbreviated. */
  exact?: boolean;
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}
function lpad(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

/** ipvsadm's print_largenum: 9 columns, K/M/G/T above 100 million unless exact. */
export function largeNum(i: number, exact = false): string {
  if (exact) {
    const s = String(i);
    return lpad(s, s.length <= 8 ? 9 : s.length + 1);
  }
  if (i < 1e8) return lpad(String(i), 9);
  if (i < 1e9) return lpad(String(Math.floor(i / 1e3)), 8) + 'K';
  if (i < 1e11) return lpad(String(Math.floor(i / 1e6)), 8) + 'M';
  if (i < 1e14) return lpad(String(Math.floor(i / 1e9)), 8) + 'G';
  return lpad(String(Math.floor(i / 1e12)), 8) + 'T';
}

function addrPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`; // inet_ntop text: only IPv6 has ':'
}

/** Address as 32-bit words (network order) for ipvsadm's comparisons. */
function words(address: string): number[] {
  if (!address.includes(':')) return [address.split('.').reduce((a, b) => a * 256 + Number(b), 0)];
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  let groups = h;
  if (tail !== undefined) groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  // an embedded IPv4 tail (::ffff:1.2.3.4) is two groups
  const flat = groups.flatMap((g) => {
    if (!g.includes('.')) return [parseInt(g || '0', 16)];
    const n = g.split('.').map(Number);
    return [n[0]! * 256 + n[1]!, n[2]! * 256 + n[3]!];
  });
  const out: number[] = [];
  for (let i = 0; i < 8; i += 2) out.push((flat[i] ?? 0) * 65536 + (flat[i + 1] ?? 0));
  return out;
}

/** C's `int r = (u32)a - (u32)b`: ipvsadm compares with wrapping subtraction, reproduce it. */
function cdiff(a: number, b: number): number {
  return (a - b) | 0;
}

function cmpWords(wa: number[], wb: number[]): number {
  for (let i = 0; i < Math.max(wa.length, wb.length); i++) {
    const r = cdiff(wa[i] ?? 0, wb[i] ?? 0);
    if (r) return r;
  }
  return 0;
}

const protoNum = { tcp: 6, udp: 17, sctp: 132 } as const;

/** What ipvsadm compares, computed once per item (not once per comparison: 10k services sort in n log n). */
interface SortKey {
  fwmark: number;
  af: number;
  proto: number;
  words: number[];
  port: number;
}

function serviceKey(s: Service): SortKey {
  const af = s.family === 'inet6' ? 10 : 2;
  if ('fwmark' in s) return { fwmark: s.fwmark, af, proto: 0, words: words(s.family === 'inet6' ? '::' : '0.0.0.0'), port: 0 };
  return { fwmark: 0, af, proto: protoNum[s.protocol], words: words(s.address), port: s.port };
}

// Destination addresses repeat across services: their words are made once per formatting.
let destWords = new Map<string, number[]>();

function destKey(d: Destination): SortKey {
  let w = destWords.get(d.address);
  if (!w) destWords.set(d.address, (w = words(d.address)));
  return { fwmark: 0, af: d.family === 'inet6' ? 10 : 2, proto: 0, words: w, port: d.port };
}

function cmpServices(x: SortKey, y: SortKey): number {
  return cdiff(x.fwmark, y.fwmark) || x.af - y.af || x.proto - y.proto || cmpWords(x.words, y.words) || x.port - y.port;
}

function cmpDests(x: SortKey, y: SortKey): number {
  return x.af - y.af || cmpWords(x.words, y.words) || x.port - y.port;
}

/** Items in ipvsadm's order: glibcSort over keys computed once. */
function sorted<T>(items: T[], key: (v: T) => SortKey, cmp: (a: SortKey, b: SortKey) => number): T[] {
  if (items.length <= 1) return items.slice();
  const keyed = items.map((v) => ({ v, k: key(v) }));
  return glibcSort(keyed, (a, b) => cmp(a.k, b.k)).map((e) => e.v);
}

/**
 * glibc's qsort (a top-down merge sort, n/2 split, left wins ties). ipvsadm's comparators subtract
 * unsigned values into an int, which is not a total order when values are 2^31 apart; the order it
 * prints then depends on this exact algorithm and on the kernel's dump order, so both are kept.
 */
function glibcSort<T>(items: T[], cmp: (a: T, b: T) => number): T[] {
  if (items.length <= 1) return items.slice();
  const n1 = Math.floor(items.length / 2);
  const left = glibcSort(items.slice(0, n1), cmp);
  const right = glibcSort(items.slice(n1), cmp);
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) out.push(cmp(left[i]!, right[j]!) <= 0 ? left[i++]! : right[j++]!);
  while (i < left.length) out.push(left[i++]!);
  while (j < right.length) out.push(right[j++]!);
  return out;
}

function svcName(s: Service): string {
  // %d of an unsigned mark: marks above 2^31 print negative, as ipvsadm does
  if ('fwmark' in s) return s.family === 'inet6' ? `FWM  ${s.fwmark | 0} IPv6` : `FWM  ${s.fwmark | 0}`;
  const name = `${pad(s.protocol.toUpperCase(), 4)} ${addrPort(s.address, s.port)}`;
  return s.family === 'inet6' ? name : name.slice(0, 33);
}

function schedFlags(s: Service): string {
  if (!s.schedulerFlags.length) return '';
  return ` (${s.schedulerFlags.join(',')})`;
}

function serviceLine(s: Service, f: IpvsadmFormat): string {
  const name = svcName(s);
  const exact = f.exact ?? false;
  if (f.mode === 'stats') {
    const st = s.stats;
    return pad(name, 33) + [st.connections, st.packetsIn, st.packetsOut, st.bytesIn, st.bytesOut].map((n) => largeNum(n, exact)).join('');
  }
  if (f.mode === 'rate') {
    const r = s.stats.rates;
    return pad(name, 33) + [r.connections, r.packetsIn, r.packetsOut, r.bytesIn, r.bytesOut].map((n) => largeNum(n, exact)).join('');
  }
  let line = `${name} ${s.scheduler}${schedFlags(s)}`;
  if (s.persistence) {
    line += ` persistent ${s.persistence.timeout}`;
    const m = s.persistence.netmask;
    if (s.family === 'inet6' ? m !== 128 : m !== '255.255.255.255') line += ` mask ${m}`;
    if (s.persistenceEngine) line += ` pe ${s.persistenceEngine}`;
  }
  if (s.onePacket) line += ' ops';
  return line;
}

const fwdNames = { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route' } as const;

function destLine(s: Service, d: Destination, f: IpvsadmFormat): string {
  let dname = addrPort(d.address, d.port);
  if (s.family !== 'inet6') dname = dname.slice(0, 28);
  const exact = f.exact ?? false;
  const head = `  -> ${pad(dname, 28)}`;
  switch (f.mode) {
    case 'stats': {
      const st = d.stats;
      return head + [st.connections, st.packetsIn, st.packetsOut, st.bytesIn, st.bytesOut].map((n) => largeNum(n, exact)).join('');
    }
    case 'rate': {
      const r = d.stats.rates;
      return `${head} ${lpad(String(r.connections), 8)} ${lpad(String(r.packetsIn), 8)} ${lpad(String(r.packetsOut), 8)}` +
        largeNum(r.bytesIn, exact) + largeNum(r.bytesOut, exact);
    }
    case 'thresholds':
      return `${head} ${pad(String(d.upperThreshold), 10)} ${pad(String(d.lowerThreshold), 10)} ${pad(String(d.activeConnections), 10)} ${pad(String(d.inactiveConnections), 10)}`;
    case 'persistent-conn':
      return `${head} ${pad(String(d.weight), 9)} ${pad(String(d.persistentConnections), 11)} ${pad(String(d.activeConnections), 10)} ${pad(String(d.inactiveConnections), 10)}`;
    case 'tun-info':
      return `${head} ${pad(fwdNames[d.forwarding], 7)} ${pad(tunInfo(d), 13)} ${pad(String(d.weight), 6)} ${pad(String(d.activeConnections), 10)} ${pad(String(d.inactiveConnections), 10)}`;
    default:
      return `${head} ${pad(fwdNames[d.forwarding], 7)} ${pad(String(d.weight), 6)} ${pad(String(d.activeConnections), 10)} ${pad(String(d.inactiveConnections), 10)}`;
  }
}

/** ipvsadm --tun-info: "ipip", "gue:PORT:-c|+c|r+c", "gre:-c|+c|r+c", "n/a" without a tunnel. */
function tunInfo(d: Destination): string {
  if (!d.tunnel) return 'n/a';
  const c = { none: '-c', csum: '+c', remcsum: 'r+c' }[d.tunnel.checksum ?? 'none'];
  if (d.tunnel.type === 'ipip') return 'ipip';
  if (d.tunnel.type === 'gue') return `gue:${d.tunnel.port ?? 0}:${c}`;
  return `gre:${c}`;
}

function title(f: IpvsadmFormat): string {
  const first = pad('Prot LocalAddress:Port', 33);
  const cols = (names: string[], w: number, left: boolean) => names.map((n) => ' ' + (left ? pad(n, w) : lpad(n, w))).join('');
  switch (f.mode) {
    case 'stats':
      return `${first}${cols(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'], 8, false)}\n  -> RemoteAddress:Port\n`;
    case 'rate':
      return `${first}${cols(['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'], 8, false)}\n  -> RemoteAddress:Port\n`;
    case 'thresholds':
      return `${first}${cols(['Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'], 10, true)}\n  -> RemoteAddress:Port\n`;
    case 'persistent-conn':
      return `${first} ${pad('Weight', 9)} ${pad('PersistConn', 11)} ${pad('ActiveConn', 10)} ${pad('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
    case 'tun-info':
      return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n';
    default:
      return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  }
}

/** The full `ipvsadm -Ln [--stats|--rate|--persistent-conn|--thresholds] [--exact]` output. */
export function formatIpvsadm(info: IpvsInfo, services: Service[], format: IpvsadmFormat = {}): string {
  let out = `IP Virtual Server version ${info.version} (size=${info.connectionTableSize})\n`;
  out += title(format);
  destWords = new Map();
  for (const s of sorted(services, serviceKey, cmpServices)) {
    out += serviceLine(s, format) + '\n';
    for (const d of sorted(s.destinations, destKey, cmpDests)) out += destLine(s, d, format) + '\n';
  }
  destWords = new Map();
  return out;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `ipvsadm -Lnc`: the connection table. */
export function formatIpvsadmConnections(conns: Connection[]): string {
  let out = 'IPVS connection entries\n';
  out += `pro expire ${pad('state', 11)} ${pad('source', 18)} ${pad('virtual', 18)} destination\n`;
  for (const c of conns) {
    const exp = `${two(Math.floor(c.expiresSeconds / 60))}:${two(c.expiresSeconds % 60)}`;
    out += `${pad(c.protocol.toUpperCase(), 3)} ${pad(exp, 6)} ${pad(c.state, 11)} ${pad(addrPort(c.client.address, c.client.port), 18)} ${pad(addrPort(c.virtual.address, c.virtual.port), 18)} ${addrPort(c.destination.address, c.destination.port)}\n`;
  }
  return out;
}
