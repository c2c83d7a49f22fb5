/**
 * Rule sets shared by the iptables unit and kernel tests, in the exact text iptables-legacy-save 1.8.9
 * prints (the kernel tests check that against the tool itself).
 */

/**
 * Every typed IPv4 extension of the first wave, plus a form iptables knows and kernlb keeps raw (hashlimit's --hashlimit-rate-match).
 * (CT --helper and --zone are covered by golden bytes only: the UML guest lacks helper modules and zones.)
 */
export const ALL_IPV4 = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j NOTRACK
-A PREROUTING -j CT --notrack
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080
-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.0.0.1-10.0.0.5:80-90
-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1
-A POSTROUTING -j MASQUERADE
-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random
-A POSTROUTING -j SNAT --to-source 1.1.1.1 --persistent
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:USER1 - [0:0]
-A INPUT -s 10.0.0.0/8 ! -d 192.168.1.1/32 -i eth0 -p tcp -m tcp --sport 1024:65535 ! --dport 22 --tcp-flags FIN,SYN,ACK SYN -j ACCEPT
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type any -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack ! --ctstate INVALID --ctorigsrc 1.2.3.4 --ctorigdst 10.0.0.0/8 --ctrepldst 5.6.7.8 --ctstatus ASSURED -j ACCEPT
-A INPUT -m state --state NEW -j ACCEPT
-A INPUT -m mark ! --mark 0x1 -j DROP
-A INPUT -m connmark --mark 0x2/0xff -j DROP
-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j RETURN
-A INPUT -m addrtype ! --src-type BROADCAST,MULTICAST -j RETURN
-A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT
-A INPUT -p udp -m multiport ! --sports 1,2 -j ACCEPT
-A INPUT -p tcp -m multiport --ports 5,6 -j ACCEPT
-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.0.1.1-10.0.1.2 -j ACCEPT
-A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP
-A INPUT -m limit --limit 5/min --limit-burst 10 -j LOG --log-prefix "in: " --log-level 6
-A INPUT -m limit --limit 3/sec -j LOG --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid
-A INPUT -m recent --set --name SSH --mask 255.255.255.255 --rsource
-A INPUT -m recent --update --seconds 60 --hitcount 4 --rttl --name SSH --mask 255.255.255.0 --rsource -j DROP
-A INPUT -m physdev --physdev-in veth0 --physdev-is-bridged -j ACCEPT
-A INPUT -m statistic --mode nth --every 3 --packet 1 -j USER1
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp-port-unreachable
-A INPUT -m length --length 100:200 -j DROP
-A INPUT -m realm --realm 0x10/0xff -j DROP
-A INPUT -p sctp -m sctp --sport 1000:2000 ! --dport 5 --chunk-types all DATA:Be,INIT -j DROP
-A INPUT -m u32 ! --u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x8=0x1,0x10:0x20&&0x6&0xff=0x6" -j DROP
-A INPUT -m hashlimit --hashlimit-above 1mb/s --hashlimit-burst 2mb --hashlimit-mode dstip --hashlimit-name hb4 -j DROP
-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name rm4 --hashlimit-rate-match --hashlimit-rate-interval 2 -j DROP
-A INPUT -f -j DROP
-A INPUT -p gre ! -f -j DROP
-A INPUT ! -p udp -j DROP
-A INPUT -p tcp -m osf --genre Linux --ttl 1 -j DROP
-A FORWARD -j RATEEST --rateest-name fx4 --rateest-interval 250.0ms --rateest-ewmalog 1.0s
-A FORWARD -m rateest --rateest fx4 --rateest-gt --rateest-pps 5 -j DROP
-A FORWARD -j HMARK --hmark-src-prefix 32 --hmark-dst-prefix 32 --hmark-rnd 0x00000007 --hmark-mod 3
-A OUTPUT -m owner --uid-owner 0 --gid-owner 10-20 -j ACCEPT
-A OUTPUT -m owner ! --socket-exists -j ACCEPT
-A OUTPUT -m comment --comment "with \\"quotes\\" and spaces" -j ACCEPT
-A OUTPUT -o veth+ -j MARK --set-xmark 0x5/0xffffffff
-A OUTPUT -j MARK --set-xmark 0x6/0x6
-A OUTPUT -j MARK --set-xmark 0x0/0xffffff0f
-A OUTPUT -j MARK --set-xmark 0x1/0x0
-A OUTPUT -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A OUTPUT -j CONNMARK --set-xmark 0x1/0xff
-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A USER1 -j RETURN
COMMIT
`;

/** IPv6: typed extensions that exist there, plus a hashlimit rate-match kept raw. */
export const ALL_IPV6 = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d fd00::10/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00::20]:8080
-A PREROUTING -d fd00::11/128 -j DNAT --to-destination fd00::21
-A OUTPUT -p tcp -j REDIRECT --to-ports 15001
-A POSTROUTING -o eth0 -j MASQUERADE --random-fully
-A POSTROUTING -p udp -j SNAT --to-source [2001:db8::1-2001:db8::5]:1000-2000 --persistent
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FW - [0:0]
-A INPUT -s 2001:db8::/32 ! -d fd00::1/128 -i eth0 -p tcp -m tcp --dport 443 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 1/4 -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED --ctorigdst 2001:db8::/64 -j ACCEPT
-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::9 -j DROP
-A INPUT -m recent --rcheck --name X --mask ffff:ffff:ffff:ffff:: --rsource -j DROP
-A INPUT -m comment --comment "v6 rule" -m statistic --mode random --probability 0.50000000000 -j KUBE-FW
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp6-port-unreachable
-A INPUT -m hl --hl-eq 64 -j DROP
-A INPUT -m devgroup --src-group 0x1 -j DROP
-A INPUT -p sctp -m sctp --dport 36412 --chunk-types any INIT,COOKIE_ECHO -j ACCEPT
-A INPUT -m u32 --u32 "0x4&0xffff=0x100:0xffff" -j DROP
-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name rm6 --hashlimit-rate-match --hashlimit-rate-interval 2 -j DROP
-A FORWARD -j RATEEST --rateest-name fx6 --rateest-interval 250.0ms --rateest-ewmalog 1.0s
-A FORWARD -m rateest --rateest fx6 --rateest-lt --rateest-bps 1000Kbit -j ACCEPT
-A FORWARD -j HMARK --hmark-src-prefix 128 --hmark-dst-prefix 128 --hmark-rnd 0x00000007 --hmark-mod 3 --hmark-tuple ct
-A KUBE-FW -s ::ffff:10.0.0.1/128 -j RETURN
COMMIT
`;

/** kube-proxy's iptables layout for two services (one TCP with two endpoints, one UDP). */
export const KUBE_PROXY = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-3JOIVZTXZZRGORX4 - [0:0]
:KUBE-SEP-OP4AXEAS4OXHBEQX - [0:0]
:KUBE-SEP-Q7OGBIOG2EBBS4KP - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SVC-XGLOHA7QRQ3V22RZ - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j KUBE-SVC-XGLOHA7QRQ3V22RZ
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-3JOIVZTXZZRGORX4 -s 10.244.1.5/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-3JOIVZTXZZRGORX4 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-OP4AXEAS4OXHBEQX -s 10.244.2.6/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-OP4AXEAS4OXHBEQX -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.6:8080
-A KUBE-SEP-Q7OGBIOG2EBBS4KP -s 10.244.3.7/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-Q7OGBIOG2EBBS4KP -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 10.244.3.7:53
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -d 10.96.100.1/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-XGLOHA7QRQ3V22RZ
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TCOU7JCQXEZGVUNU ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-MARK-MASQ
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.3.7:53" -j KUBE-SEP-Q7OGBIOG2EBBS4KP
-A KUBE-SVC-XGLOHA7QRQ3V22RZ ! -s 10.244.0.0/16 -d 10.96.100.1/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-XGLOHA7QRQ3V22RZ -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-3JOIVZTXZZRGORX4
-A KUBE-SVC-XGLOHA7QRQ3V22RZ -m comment --comment "default/web:http -> 10.244.2.6:8080" -j KUBE-SEP-OP4AXEAS4OXHBEQX
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-SERVICES -d 10.96.200.2/32 -p tcp -m comment --comment "default/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
COMMIT
`;

/** Lines using extensions kernlb keeps raw (iptables syntax for them is not typed). */
export const RAW_LINE = /--hashlimit-rate-match/;

/** The text without raw-extension lines: what parse() and save() handle on their own. */
export function typedOnly(text: string): string {
  return text.split('\n').filter((l) => !RAW_LINE.test(l)).join('\n');
}

export { kubeProxyIptablesText as kubeProxyLayout } from '../../lib/testing';
