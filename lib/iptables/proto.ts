/**
 * Protocol names as iptables-save prints them: getprotobynumber() via /etc/protocols, whose Debian
 * content is fixed here (library code reads no system files). Parsing also takes iptables' own
 * spellings ("icmpv6", "all").
 */
const NAMES: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 3: 'ggp', 4: 'ipencap', 5: 'st', 6: 'tcp', 8: 'egp', 9: 'igp', 12: 'pup', 17: 'udp', 20: 'hmp',
  22: 'xns-idp', 27: 'rdp', 29: 'iso-tp4', 33: 'dccp', 36: 'xtp', 37: 'ddp', 38: 'idpr-cmtp', 41: 'ipv6', 43: 'ipv6-route',
  44: 'ipv6-frag', 45: 'idrp', 46: 'rsvp', 47: 'gre', 50: 'esp', 51: 'ah', 57: 'skip', 58: 'ipv6-icmp', 59: 'ipv6-nonxt',
  60: 'ipv6-opts', 73: 'rspf', 81: 'vmtp', 88: 'eigrp', 89: 'ospf', 93: 'ax.25', 94: 'ipip', 97: 'etherip', 98: 'encap',
  103: 'pim', 108: 'ipcomp', 112: 'vrrp', 115: 'l2tp', 124: 'isis', 132: 'sctp', 133: 'fc', 135: 'mobility-header',
  136: 'udplite', 137: 'mpls-in-ip', 138: 'manet', 139: 'hip', 140: 'shim6', 141: 'wesp', 142: 'rohc', 143: 'ethernet',
};
const NUMBERS = new Map<string, number>(Object.entries(NAMES).map(([n, name]) => [name, Number(n)]));
NUMBERS.set('icmpv6', 58);
NUMBERS.set('ipv6-mh', 135);
NUMBERS.set('mh', 135);
NUMBERS.set('all', 0);

export function protoName(n: number): string {
  return NAMES[n] ?? String(n);
}

/** The name of a protocol number, undefined when it has none. */
export function knownProtoName(n: number): string | undefined {
  return NAMES[n];
}

/** A protocol name or number to its number; undefined when unknown. */
export function protoNumber(p: string | number): number | undefined {
  if (typeof p === 'number') return Number.isInteger(p) && p >= 0 && p <= 255 ? p : undefined;
  if (typeof p !== 'string') return undefined;
  // The usual spelling first: one Map lookup (this runs for every rule on validate and encode).
  const known = NUMBERS.get(p);
  if (known !== undefined) return known;
  if (/^\d+$/.test(p)) return protoNumber(Number(p));
  return NUMBERS.get(p.toLowerCase());
}
