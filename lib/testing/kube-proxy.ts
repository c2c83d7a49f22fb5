/**
 * kube-proxy's own rule layouts for n services x e endpoints, as the text its reference tool loads:
 * realistic large tables for kernlb's tests, and reference rows for the data-plane benchmark
 * (bench/modes.mjs), which points the last service at real backends through the options.
 */

export interface KubeProxyLayoutOptions {
  /** Cluster IP of service s (default 10.96.<s/256>.<s%256>). */
  vip?: (s: number) => string;
  /** Endpoint i of service s (default 10.<s/256>.<s%256>.<i+1>:8080). */
  endpoint?: (s: number, i: number) => { address: string; port: number };
  /** Service port (default 80). */
  port?: number;
  /** Pod network: connections from outside it are masqueraded (default 10.244.0.0/16). */
  clusterCidr?: string;
}

interface Layout {
  vip: (s: number) => string;
  endpoint: (s: number, i: number) => { address: string; port: number };
  port: number;
  clusterCidr: string;
}

function layout(o: KubeProxyLayoutOptions): Layout {
  return {
    vip: o.vip ?? ((s) => `10.96.${(s >> 8) & 255}.${s & 255}`),
    endpoint: o.endpoint ?? ((s, i) => ({ address: `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`, port: 8080 })),
    port: o.port ?? 80,
    clusterCidr: o.clusterCidr ?? '10.244.0.0/16',
  };
}

/**
 * kube-proxy's iptables-mode nat table, as iptables-save text:
 * KUBE-SERVICES -> KUBE-SVC-* (statistic random cascade) -> KUBE-SEP-* (mark + DNAT), KUBE-MARK-MASQ,
 * KUBE-POSTROUTING with MASQUERADE --random-fully. Feed it to iptables-legacy-restore or
 * parseIptablesSave(). KUBE-SERVICES is walked rule by rule: service n-1 is matched last.
 */
export function kubeProxyIptablesText(n: number, e: number, opts: KubeProxyLayoutOptions = {}): string {
  const { vip: vipOf, endpoint, port, clusterCidr } = layout(opts);
  const chains: string[] = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-SERVICES - [0:0]'];
  const rules: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  for (let s = 0; s < n; s++) {
    const vip = vipOf(s);
    const svc = `KUBE-SVC-${String(s).padStart(16, '0')}`;
    const name = `ns${s % 7}/svc-${s}:http`;
    chains.push(`:${svc} - [0:0]`);
    rules.push(`-A KUBE-SERVICES -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport ${port} -j ${svc}`);
    rules.push(`-A ${svc} ! -s ${clusterCidr} -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport ${port} -j KUBE-MARK-MASQ`);
    for (let i = 0; i < e; i++) {
      const ep = endpoint(s, i);
      const sep = `KUBE-SEP-${String(s * e + i).padStart(16, '0')}`;
      chains.push(`:${sep} - [0:0]`);
      const left = e - i;
      const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
      rules.push(`-A ${svc} -m comment --comment "${name} -> ${ep.address}:${ep.port}"${stat} -j ${sep}`);
      rules.push(`-A ${sep} -s ${ep.address}/32 -m comment --comment "${name}" -j KUBE-MARK-MASQ`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "${name}" -m tcp -j DNAT --to-destination ${ep.address}:${ep.port}`);
    }
  }
  return [...chains, ...rules, 'COMMIT', ''].join('\n');
}

/**
 * kube-proxy's nftables-mode nat layout (its documented structure, IPv4 cluster IPs), as an `nft -f`
 * script: table ip kube-proxy; the dstnat hooks jump to `services`, which looks the packet up in one
 * verdict map `ip daddr . meta l4proto . th dport vmap @service-ips`; each service chain marks
 * connections from outside the pod network for masquerading and picks an endpoint chain with
 * `numgen random mod e vmap`; each endpoint chain DNATs. Masquerading in postrouting by the 0x4000
 * mark, as in the iptables layout. (kube-proxy's filter-side chains are left out: they do not touch
 * a new connection to a service with endpoints.)
 */
export function kubeProxyNftablesText(n: number, e: number, opts: KubeProxyLayoutOptions = {}): string {
  const { vip: vipOf, endpoint, port, clusterCidr } = layout(opts);
  const out: string[] = [
    'table ip kube-proxy {',
    '\tchain mark-for-masquerade {', '\t\tmeta mark set meta mark | 0x4000', '\t}',
    '\tchain masquerading {', '\t\tmeta mark & 0x4000 == 0 return', '\t\tmeta mark set meta mark ^ 0x4000', '\t\tmasquerade fully-random', '\t}',
  ];
  const elements: string[] = [];
  for (let s = 0; s < n; s++) {
    const vip = vipOf(s);
    const svcName = `ns${s % 7}/svc-${s}/tcp/http`;
    const svc = `service-${String(s).padStart(8, '0')}-${svcName}`;
    elements.push(`${vip} . tcp . ${port} : goto ${svc}`);
    const picks: string[] = [];
    const chains: string[] = [];
    for (let i = 0; i < e; i++) {
      const ep = endpoint(s, i);
      const epChain = `endpoint-${String(s * e + i).padStart(8, '0')}-${svcName}__${ep.address}/${ep.port}`;
      picks.push(`${i} : goto ${epChain}`);
      chains.push(`\tchain ${epChain} {`, `\t\tip saddr ${ep.address} jump mark-for-masquerade`, `\t\tmeta l4proto tcp dnat to ${ep.address}:${ep.port}`, '\t}');
    }
    out.push(...chains, `\tchain ${svc} {`, `\t\tip daddr ${vip} tcp dport ${port} ip saddr != ${clusterCidr} jump mark-for-masquerade`);
    if (e > 0) out.push(`\t\tnumgen random mod ${e} vmap { ${picks.join(', ')} }`);
    out.push('\t}');
  }
  // Everything is declared before what refers to it (a script is read in order): endpoint and service
  // chains, the map of services, the chain that looks it up, and the hooks last.
  out.push('\tmap service-ips {', '\t\ttype ipv4_addr . inet_proto . inet_service : verdict');
  if (elements.length > 0) out.push(`\t\telements = { ${elements.join(',\n\t\t\t')} }`);
  out.push('\t}', '\tchain services {', '\t\tip daddr . meta l4proto . th dport vmap @service-ips', '\t}',
    '\tchain nat-prerouting {', '\t\ttype nat hook prerouting priority dstnat; policy accept;', '\t\tjump services', '\t}',
    '\tchain nat-output {', '\t\ttype nat hook output priority -100; policy accept;', '\t\tjump services', '\t}',
    '\tchain nat-postrouting {', '\t\ttype nat hook postrouting priority srcnat; policy accept;', '\t\tjump masquerading', '\t}',
    '}', '');
  return out.join('\n');
}
