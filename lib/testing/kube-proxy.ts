/**
 * kube-proxy's iptables-mode nat table for n services x e endpoints, as iptables-save text:
 * KUBE-SERVICES -> KUBE-SVC-* (statistic random cascade) -> KUBE-SEP-* (mark + DNAT), KUBE-MARK-MASQ,
 * KUBE-POSTROUTING with MASQUERADE --random-fully. Feed it to iptables-legacy-restore or
 * parseIptablesSave(); kernlb's tests and benchmarks use it as their large realistic table.
 */
export function kubeProxyIptablesText(n: number, e: number): string {
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
    const vip = `10.96.${(s >> 8) & 255}.${s & 255}`;
    const svc = `KUBE-SVC-${String(s).padStart(16, '0')}`;
    const name = `ns${s % 7}/svc-${s}:http`;
    chains.push(`:${svc} - [0:0]`);
    rules.push(`-A KUBE-SERVICES -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport 80 -j ${svc}`);
    rules.push(`-A ${svc} ! -s 10.244.0.0/16 -d ${vip}/32 -p tcp -m comment --comment "${name} cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`);
    for (let i = 0; i < e; i++) {
      const ep = `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`;
      const sep = `KUBE-SEP-${String(s * e + i).padStart(16, '0')}`;
      chains.push(`:${sep} - [0:0]`);
      const left = e - i;
      const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
      rules.push(`-A ${svc} -m comment --comment "${name} -> ${ep}:8080"${stat} -j ${sep}`);
      rules.push(`-A ${sep} -s ${ep}/32 -m comment --comment "${name}" -j KUBE-MARK-MASQ`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "${name}" -m tcp -j DNAT --to-destination ${ep}:8080`);
    }
  }
  return [...chains, ...rules, 'COMMIT', ''].join('\n');
}
