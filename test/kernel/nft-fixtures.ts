/** Rulesets written in nft syntax for the oracle tests (nft 1.0.6). */

/** kube-proxy's nftables layout in miniature: vmaps, numgen, masquerade marks, affinity set with timeout, named counter, concatenated maps. */
export const KUBE_PROXY_LAYOUT = `table ip kp {
	comment "rules for kube-proxy"
	counter svc-hits {
	}
	set cluster-ips {
		type ipv4_addr
		comment "Active ClusterIPs"
		elements = { 172.30.0.41 }
	}
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 172.30.0.41 . tcp . 80 : goto service-a }
	}
	map backends {
		typeof ip daddr . tcp dport . numgen random mod 2 : ip daddr . tcp dport
	}
	set affinity-a {
		type ipv4_addr
		flags dynamic,timeout
		timeout 3h
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}
	chain mark-for-masquerade {
		meta mark set meta mark or 0x00004000
	}
	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark xor 0x00004000
		masquerade fully-random
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @cluster-ips counter name "svc-hits" reject
	}
	chain service-a {
		ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade comment "masq"
		ip saddr @affinity-a goto endpoint-a1
		numgen random mod 2 vmap { 0 : goto endpoint-a1, 1 : goto endpoint-a2 }
	}
	chain endpoint-a1 {
		ip saddr 10.180.0.1 jump mark-for-masquerade
		update @affinity-a { ip saddr }
		meta l4proto tcp dnat to 10.180.0.1:80
	}
	chain endpoint-a2 {
		ct state established,related accept
		meta l4proto tcp dnat to 10.180.0.2:80
		dnat to ip daddr . tcp dport . numgen random mod 2 map @backends
		dnat to jhash ip saddr mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }
	}
}
`;

/** Every table family and base chain kind kernlb models, plus interval and timeout sets and objects. */
export const FAMILIES_LAYOUT = `table inet filter {
	quota q1 {
		over 100 mbytes
	}
	limit l1 {
		rate 400/minute
	}
	set blocked {
		type ipv6_addr
		flags interval
		elements = { 2001:db8::/32 }
	}
	set ports {
		type inet_service
		flags timeout
		timeout 1m
		elements = { 22 timeout 2m, 80 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept comment "loopback"
		tcp dport @ports accept
		ip6 saddr @blocked drop
		limit name "l1" accept
	}
}
table arp a {
	chain inp {
		type filter hook input priority filter; policy accept;
	}
}
table bridge b {
	chain fw {
		type filter hook forward priority filter; policy accept;
		meta l4proto udp counter packets 0 bytes 0
	}
}
table netdev n {
	chain ing {
		type filter hook ingress device "lo" priority filter; policy accept;
	}
}
table ip6 six {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip6 daddr fd00::/64 masquerade
	}
}
`;
