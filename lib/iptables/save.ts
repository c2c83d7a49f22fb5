/**
 * iptables-save syntax out, exactly as iptables-legacy-save 1.8.9 prints a table (without its
 * "# Generated" / "# Completed" comment lines). Raw extensions have no iptables syntax: they are
 * printed as `-m NAME --kernlb-raw REV:HEX` (targets `-j NAME --kernlb-raw ...`), which parse() reads back.
 */
import { formatCidr, parseCidr } from './addr';
import { matchByType, targetByType } from './extensions';
import { INV } from './layout';
import { orderChains } from './blob';
import { protoName, protoNumber } from './proto';
import { decodeIface, encodeIface, ifacePrinted } from './extensions/codec';
import type { IptFamily, IptMatch, IptRule, IptTable, IptTarget, RawExtension } from './types';

export interface SaveOptions {
  /** Print rule counters as "[packets:bytes] -A ..." (iptables-save -c). */
  counters?: boolean;
}

export function saveTable(t: IptTable, opts: SaveOptions = {}): string {
  const lines: string[] = [`*${t.name}`];
  const chains = orderChains(t.chains);
  for (const c of chains) {
    const cnt = opts.counters || c.policy !== undefined ? c.counters ?? { packets: 0, bytes: 0 } : { packets: 0, bytes: 0 };
    lines.push(`:${c.name} ${c.policy ?? '-'} [${cnt.packets}:${cnt.bytes}]`);
  }
  for (const c of chains) for (const r of c.rules) lines.push(saveRule(c.name, r, t.family, opts));
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

function addrText(s: string, family: IptFamily): string {
  const am = parseCidr(s, family)!;
  return formatCidr(am.addr, am.mask);
}
function ifaceText(s: string): string {
  const b = Buffer.alloc(32);
  encodeIface(b, 0, 16, s);
  return decodeIface(b, 0, 16) ?? s;
}
function raw(x: RawExtension): string {
  return ` --kernlb-raw ${x.revision}:${x.data.toString('hex')}`;
}

export function saveRule(chain: string, r: IptRule, family: IptFamily, opts: SaveOptions = {}): string {
  const iv = r.invert ?? {};
  const bang = (k: keyof typeof INV) => (iv[k] ? ' !' : '');
  let s = opts.counters ? `[${r.counters?.packets ?? 0}:${r.counters?.bytes ?? 0}] -A ${chain}` : `-A ${chain}`;
  const addr = (k: 'source' | 'destination', flag: string) => {
    const v = r[k];
    if (v === undefined) return;
    const am = parseCidr(v, family)!;
    const zeroMask = am.mask.every((x) => x === 0);
    // print_ip: IPv4 skips 0.0.0.0/0 unless inverted; IPv6 skips any /0 unless inverted.
    if (zeroMask && !iv[k] && (family === 'ipv6' || am.addr.every((x) => x === 0))) return;
    s += `${bang(k)} ${flag} ${addrText(v, family)}`;
  };
  addr('source', '-s');
  addr('destination', '-d');
  if (r.inInterface && ifacePrinted(r.inInterface)) s += `${bang('inInterface')} -i ${ifaceText(r.inInterface)}`;
  if (r.outInterface && ifacePrinted(r.outInterface)) s += `${bang('outInterface')} -o ${ifaceText(r.outInterface)}`;
  if (r.protocol !== undefined) {
    const p = protoNumber(r.protocol)!;
    if (p !== 0) s += `${bang('protocol')} -p ${protoName(p)}`;
  }
  if (r.fragment && family === 'ipv4') s += `${bang('fragment')} -f`;
  for (const m of r.matches ?? []) s += saveMatch(m, family, r);
  s += saveTarget(r.target, family, r);
  return s;
}

function saveMatch(m: IptMatch, family: IptFamily, r: IptRule): string {
  if (m.type === 'raw') return ` -m ${m.name}${raw(m)}`;
  const c = matchByType.get(m.type)!;
  return ` -m ${c.saveName ?? c.name}${c.save(m, family, r)}`;
}

function saveTarget(t: IptTarget | undefined, family: IptFamily, r: IptRule): string {
  if (!t) return '';
  switch (t.type) {
    case 'ACCEPT': case 'DROP': case 'RETURN': case 'QUEUE':
      return ` -j ${t.type}`;
    case 'jump':
      return ` -j ${t.chain}`;
    case 'goto':
      return ` -g ${t.chain}`;
    case 'raw':
      return ` -j ${t.name}${raw(t)}`;
    default: {
      const c = targetByType.get(t.type)!;
      return ` -j ${c.saveName ?? c.name}${c.save(t, family, r)}`;
    }
  }
}
