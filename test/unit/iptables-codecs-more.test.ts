/**
 * The extension codecs typed for the corpus (test/fixtures/iptables-corpus) against golden bytes: the
 * data the kernel returned after iptables-legacy-restore loaded each command (XT_ALIGN-padded), read
 * by kernlb as raw before these codecs existed.
 */
import { describe, expect, it } from 'vitest';
import { xtAlign } from '../../lib/iptables/extensions/codec';
import { matchByType, targetByType, type AnyCodec } from '../../lib/iptables/extensions';
import type { IptFamily, IptRule } from '../../lib/iptables/types';

interface Golden {
  cmd: string;
  family?: IptFamily;
  rule?: IptRule;
  value: { type: string } & Record<string, unknown>;
  kind: 'match' | 'target';
  name: string;
  revision: number;
  hex: string;
}

const z = (n: number) => '00'.repeat(n);
const tcp: IptRule = { protocol: 'tcp' };
export const GOLDENS: Golden[] = [
  { cmd: '-j DNAT --to-destination 1.1.1.1:1000-2000/3000', rule: tcp, kind: 'target', name: 'DNAT', revision: 2,
    value: { type: 'DNAT', address: '1.1.1.1', port: 1000, portMax: 2000, portBase: 3000 }, hex: '2300000001010101' + z(12) + '01010101' + z(12) + '03e807d00bb8' + z(6) },
  { cmd: '-j CONNMARK --save-mark --mask 0xff00 --left-shift-mark 8', kind: 'target', name: 'CONNMARK', revision: 2,
    value: { type: 'CONNMARK', mode: 'save', nfmask: 0xff00, ctmask: 0xff00, shift: { direction: 'left', bits: 8 } }, hex: '0000000000ff000000ff000000080100' },
  { cmd: '-j CT --zone-orig 6', kind: 'target', name: 'CT', revision: 2, value: { type: 'CT', zone: 6, zoneDirection: 'original' }, hex: '04000600' + z(68) },
  { cmd: '-j CT --zone mark', kind: 'target', name: 'CT', revision: 2, value: { type: 'CT', zone: 'mark' }, hex: '1000' + z(70) },
  { cmd: '-j TCPMSS --clamp-mss-to-pmtu', rule: tcp, kind: 'target', name: 'TCPMSS', revision: 0, value: { type: 'TCPMSS', clampToPmtu: true }, hex: 'ffff' + z(6) },
  { cmd: '-j TCPMSS --set-mss 1400', rule: tcp, kind: 'target', name: 'TCPMSS', revision: 0, value: { type: 'TCPMSS', mss: 1400 }, hex: '7805' + z(6) },
  { cmd: '-m tcpmss ! --mss 1460', rule: tcp, kind: 'match', name: 'tcpmss', revision: 0, value: { type: 'tcpmss', mss: 1460, invert: true }, hex: 'b405b40501000000' },
  { cmd: '-m tcpmss --mss 100:1300', rule: tcp, kind: 'match', name: 'tcpmss', revision: 0, value: { type: 'tcpmss', mss: [100, 1300] }, hex: '6400140500000000' },
  { cmd: '-m length ! --length 0:1500', kind: 'match', name: 'length', revision: 0, value: { type: 'length', length: [0, 1500], invert: true }, hex: '0000dc0501000000' },
  { cmd: '-m pkttype ! --pkt-type multicast', kind: 'match', name: 'pkttype', revision: 0, value: { type: 'pkttype', pktType: 'multicast', invert: true }, hex: '0200000001000000' },
  { cmd: '-m dscp ! --dscp 0x00', kind: 'match', name: 'dscp', revision: 0, value: { type: 'dscp', dscp: 0, invert: true }, hex: '0001' + z(6) },
  { cmd: '-j DSCP --set-dscp 0x2e', kind: 'target', name: 'DSCP', revision: 0, value: { type: 'DSCP', dscp: 0x2e }, hex: '2e' + z(7) },
  { cmd: '-m tos ! --tos 0x08/0x3f', kind: 'match', name: 'tos', revision: 1, value: { type: 'tos', value: 8, mask: 0x3f, invert: true }, hex: '3f0801' + z(5) },
  { cmd: '-j TOS --set-tos 0x08/0x3f', kind: 'target', name: 'TOS', revision: 1, value: { type: 'TOS', value: 8, mask: 0x3f }, hex: '083f' + z(6) },
  { cmd: '-m ttl --ttl-gt 250', kind: 'match', name: 'ttl', revision: 0, value: { type: 'ttl', op: 'gt', value: 250 }, hex: '03fa' + z(6) },
  { cmd: '-m ttl ! --ttl-eq 1', kind: 'match', name: 'ttl', revision: 0, value: { type: 'ttl', op: 'ne', value: 1 }, hex: '0101' + z(6) },
  { cmd: '-j TTL --ttl-dec 1', kind: 'target', name: 'TTL', revision: 0, value: { type: 'TTL', action: 'dec', value: 1 }, hex: '0201' + z(6) },
  { cmd: '-m hl --hl-lt 2 (ip6tables)', family: 'ipv6', kind: 'match', name: 'hl', revision: 0, value: { type: 'hl', op: 'lt', value: 2 }, hex: '0202' + z(6) },
  { cmd: '-j HL --hl-inc 5 (ip6tables)', family: 'ipv6', kind: 'target', name: 'HL', revision: 0, value: { type: 'HL', action: 'inc', value: 5 }, hex: '0105' + z(6) },
  { cmd: '-m ecn --ecn-tcp-ece --ecn-tcp-cwr ! --ecn-ip-ect 3', rule: tcp, kind: 'match', name: 'ecn', revision: 0,
    value: { type: 'ecn', ece: true, cwr: true, ipEct: 3, invert: { ipEct: true } }, hex: '310103' + z(5) },
  { cmd: '-j ECN --ecn-tcp-remove', rule: tcp, kind: 'target', name: 'ECN', revision: 0, value: { type: 'ECN', ece: 0, cwr: 0 }, hex: '30' + z(7) },
  { cmd: '-j CLASSIFY --set-class 0001:0010', kind: 'target', name: 'CLASSIFY', revision: 0, value: { type: 'CLASSIFY', major: 1, minor: 0x10 }, hex: '10000100' + z(4) },
  { cmd: '-j CHECKSUM --checksum-fill', kind: 'target', name: 'CHECKSUM', revision: 0, value: { type: 'CHECKSUM', fill: true }, hex: '01' + z(7) },
  { cmd: '-j NFLOG --nflog-prefix "dropped: " --nflog-group 2 --nflog-threshold 10', kind: 'target', name: 'NFLOG', revision: 0,
    value: { type: 'NFLOG', prefix: 'dropped: ', group: 2, threshold: 10 }, hex: '0000000002000a0000000000' + '64726f707065643a20' + z(59) },
  { cmd: '-j NFLOG --nflog-size 128', kind: 'target', name: 'NFLOG', revision: 0, value: { type: 'NFLOG', size: 128 }, hex: '800000000000000001000000' + z(68) },
  { cmd: '-m quota --quota 1000000', kind: 'match', name: 'quota', revision: 0, value: { type: 'quota', quota: 1000000 }, hex: z(8) + '40420f0000000000' + z(8) },
  { cmd: '-m cpu ! --cpu 1', kind: 'match', name: 'cpu', revision: 0, value: { type: 'cpu', cpu: 1, invert: true }, hex: '0100000001000000' },
  { cmd: '-m helper ! --helper sip', kind: 'match', name: 'helper', revision: 0, value: { type: 'helper', helper: 'sip', invert: true }, hex: '01000000736970' + z(33) },
  { cmd: '-m connlimit --connlimit-upto 10 --connlimit-mask 24 --connlimit-saddr', kind: 'match', name: 'connlimit', revision: 1,
    value: { type: 'connlimit', upto: 10, mask: 24 }, hex: 'ffffff00' + z(12) + '0a00000001000000' + z(8) },
  { cmd: '-m connlimit --connlimit-above 8 --connlimit-mask 64 --connlimit-saddr (ip6tables)', family: 'ipv6', kind: 'match', name: 'connlimit', revision: 1,
    value: { type: 'connlimit', above: 8, mask: 64 }, hex: 'ff'.repeat(8) + z(8) + '0800000000000000' + z(8) },
  { cmd: '-m connbytes ! --connbytes 10 --connbytes-mode packets --connbytes-dir original', kind: 'match', name: 'connbytes', revision: 0,
    value: { type: 'connbytes', from: 10, mode: 'packets', direction: 'original', invert: true }, hex: 'ff'.repeat(8) + '0a00000000000000' + z(8) },
  { cmd: '-m connbytes --connbytes 0:1000 --connbytes-mode avgpkt --connbytes-dir reply', kind: 'match', name: 'connbytes', revision: 0,
    value: { type: 'connbytes', from: 0, to: 1000, mode: 'avgpkt', direction: 'reply' }, hex: z(8) + 'e803000000000000' + '0201' + z(6) },
  { cmd: '-m socket --transparent --nowildcard --restore-skmark', kind: 'match', name: 'socket', revision: 3,
    value: { type: 'socket', transparent: true, nowildcard: true, restoreSkmark: true }, hex: '07' + z(7) },
  { cmd: '-m rpfilter --loose --validmark --accept-local', kind: 'match', name: 'rpfilter', revision: 0,
    value: { type: 'rpfilter', loose: true, validmark: true, acceptLocal: true }, hex: '07' + z(7) },
  { cmd: '-m cgroup ! --cgroup 1048577', kind: 'match', name: 'cgroup', revision: 2, value: { type: 'cgroup', classid: 0x100001, invert: true }, hex: '0001000101001000' + z(520) },
  { cmd: '-m esp ! --espspi 1:1000', rule: { protocol: 'esp' }, kind: 'match', name: 'esp', revision: 0,
    value: { type: 'esp', spi: [1, 1000], invert: true }, hex: '01000000e80300000100000000000000' },
  { cmd: '-m ah --ahspi 300 --ahlen 4 --ahres (ip6tables)', family: 'ipv6', kind: 'match', name: 'ah', revision: 0,
    value: { type: 'ah', spi: 300, length: 4, reserved: true }, hex: '2c0100002c0100000400000001000000' },
  { cmd: '-j NETMAP --to 192.168.1.0/24', kind: 'target', name: 'NETMAP', revision: 0, value: { type: 'NETMAP', to: '192.168.1.0/24' }, hex: '0100000001000000c0a80100c0a801ff0000000000000000' },
  { cmd: '-j NETMAP --to fd00::/64 (ip6tables)', family: 'ipv6', kind: 'target', name: 'NETMAP', revision: 0, value: { type: 'NETMAP', to: 'fd00::/64' },
    hex: '01000000' + 'fd00' + z(14) + 'fd00' + z(6) + 'ff'.repeat(8) + z(4) },
  { cmd: '-j SNPT --src-pfx fd00::/64 --dst-pfx 2001:db8::/64 (ip6tables)', family: 'ipv6', kind: 'target', name: 'SNPT', revision: 0,
    value: { type: 'SNPT', srcPrefix: 'fd00::/64', dstPrefix: '2001:db8::/64' }, hex: 'fd00' + z(14) + '20010db8' + z(12) + '4040' + z(6) },
  { cmd: '-p tcp -j TPROXY --on-port 3129 --on-ip 127.0.0.1 --tproxy-mark 0x1/0x1', rule: tcp, kind: 'target', name: 'TPROXY', revision: 1,
    value: { type: 'TPROXY', port: 3129, address: '127.0.0.1', mark: 1, mask: 1 }, hex: '01000000010000007f000001' + z(12) + '0c39' + z(6) },
  { cmd: '-j TEE --gateway 10.0.0.3 --oif eth0', kind: 'target', name: 'TEE', revision: 1, value: { type: 'TEE', gateway: '10.0.0.3', oif: 'eth0' }, hex: '0a000003' + z(12) + '65746830' + z(20) },
  { cmd: '-j AUDIT --type reject', kind: 'target', name: 'AUDIT', revision: 0, value: { type: 'AUDIT', event: 'reject' }, hex: '02' + z(7) },
  { cmd: '-j IDLETIMER --timeout 3600 --label bar --alarm', kind: 'target', name: 'IDLETIMER', revision: 1,
    value: { type: 'IDLETIMER', timeout: 3600, label: 'bar', alarm: true }, hex: '100e0000626172' + z(25) + '0001' + z(14) },
  { cmd: '-p tcp -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460', rule: tcp, kind: 'target', name: 'SYNPROXY', revision: 0,
    value: { type: 'SYNPROXY', mss: 1460, wscale: 7, sackPerm: true, timestamp: true }, hex: '0f07b405' + z(4) },
  { cmd: '-j CONNSECMARK --restore', kind: 'target', name: 'CONNSECMARK', revision: 0, value: { type: 'CONNSECMARK', mode: 'restore' }, hex: '02' + z(7) },
  { cmd: '-p tcp -j TCPOPTSTRIP --strip-options 3,4,8', rule: tcp, kind: 'target', name: 'TCPOPTSTRIP', revision: 0, value: { type: 'TCPOPTSTRIP', options: [3, 4, 8] }, hex: '1801' + z(30) },
  { cmd: '-j TRACE', kind: 'target', name: 'TRACE', revision: 0, value: { type: 'TRACE' }, hex: '' },
  { cmd: '-j NFQUEUE --queue-balance 0:3 --queue-bypass --queue-cpu-fanout', kind: 'target', name: 'NFQUEUE', revision: 3,
    value: { type: 'NFQUEUE', queue: 0, queueMax: 3, bypass: true, cpuFanout: true }, hex: '0000040003000000' },
  { cmd: '-m cluster --cluster-local-nodemask 0x00000005 --cluster-total-nodes 4 --cluster-hash-seed 0x00000001', kind: 'match', name: 'cluster', revision: 0,
    value: { type: 'cluster', totalNodes: 4, nodeMask: 5, hashSeed: 1 }, hex: '04000000050000000100000000000000' },
  { cmd: '-m frag ! --fragid 5 --fragfirst (ip6tables)', family: 'ipv6', kind: 'match', name: 'frag', revision: 0,
    value: { type: 'frag', ids: 5, first: true, invert: { ids: true } }, hex: '05000000050000000000000009010000' },
  { cmd: '-m frag --fragres --fraglast (ip6tables)', family: 'ipv6', kind: 'match', name: 'frag', revision: 0,
    value: { type: 'frag', reserved: true, last: true }, hex: '00000000ffffffff0000000024000000' },
  { cmd: '-m hbh --hbh-opts 1:2,5:0 (ip6tables)', family: 'ipv6', kind: 'match', name: 'hbh', revision: 0,
    value: { type: 'hbh', options: [{ type: 1, length: 2 }, { type: 5, length: 0 }] }, hex: '000000000200' + '02010005' + z(28) + '0200' },
  { cmd: '-m rt ! --rt-type 2 --rt-segsleft 1:2 --rt-len 16 (ip6tables)', family: 'ipv6', kind: 'match', name: 'rt', revision: 0,
    value: { type: 'rt', rtType: 2, segsLeft: [1, 2], length: 16, invert: { rtType: true } }, hex: '02000000010000000200000010000000' + '0701' + z(262) },
  { cmd: '-m ipv6header ! --header ipv6-route --soft (ip6tables)', family: 'ipv6', kind: 'match', name: 'ipv6header', revision: 0,
    value: { type: 'ipv6header', headers: ['ipv6-route'], soft: true, invert: true }, hex: '20ffff' + z(5) },
  { cmd: '-p mh -m mh ! --mh-type 4:6 (ip6tables)', family: 'ipv6', rule: { protocol: 'mobility-header' }, kind: 'match', name: 'mh', revision: 0,
    value: { type: 'mh', mhType: [4, 6], invert: true }, hex: '040601' + z(5) },
  { cmd: '-p ipcomp -m ipcomp --ipcompspi 5', rule: { protocol: 'ipcomp' }, kind: 'match', name: 'ipcomp', revision: 0, value: { type: 'ipcomp', spi: 5 }, hex: '0500000005000000' + z(8) },
  { cmd: '-m connlabel ! --label "100" --set', kind: 'match', name: 'connlabel', revision: 0, value: { type: 'connlabel', label: 100, set: true, invert: true }, hex: '64000300' + z(4) },
  { cmd: '-m time --monthdays 1,15,31 --kerneltz', kind: 'match', name: 'time', revision: 0,
    value: { type: 'time', monthdays: [1, 15, 31], kerneltz: true }, hex: '00000000ffffff7f000000007f51010002800080fe01' + z(2) },
  { cmd: '-m time --timestart 08:00:00 --timestop 17:30:00 --weekdays Mon,Tue,Wed,Thu,Fri', kind: 'match', name: 'time', revision: 0,
    value: { type: 'time', timeStart: '08:00:00', timeStop: '17:30:00', weekdays: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] }, hex: '00000000ffffff7f8070000018f60000feffffff3e00' + z(2) },
  { cmd: '-m string --string "evil" --algo kmp --from 40 --to 100', kind: 'match', name: 'string', revision: 1,
    value: { type: 'string', pattern: 'evil', algo: 'kmp', from: 40, to: 100 }, hex: '28006400' + '6b6d70' + z(13) + '6576696c' + z(124) + '0400' + z(10) },
  { cmd: '-m bpf --bytecode "4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0"', kind: 'match', name: 'bpf', revision: 1,
    value: { type: 'bpf', bytecode: [[48, 0, 0, 9], [21, 0, 1, 6], [6, 0, 0, 1], [6, 0, 0, 0]] }, hex: '0000040000000000' + '3000000009000000' + '1500000106000000' + '0600000001000000' + '0600000000000000' + z(488) },
  { cmd: '-m hashlimit --hashlimit-above 1/min --hashlimit-burst 5 --hashlimit-mode srcip,dstport --hashlimit-name h2 --hashlimit-srcmask 24', kind: 'match', name: 'hashlimit', revision: 3,
    value: { type: 'hashlimit', name: 'h2', rate: { count: 1, per: 'min' }, burst: 5, above: true, mode: ['srcip', 'dstport'], srcmask: 24 },
    hex: '6832' + z(254) + '0087930300000000' + '0500000000000000' + '16000000' + z(8) + 'e803000060ea0000' + z(4) + '1820' + z(14) },
  { cmd: '-p dccp -m dccp ! --sport 1:1024 --dccp-types REQUEST,RESPONSE', rule: { protocol: 'dccp' }, kind: 'match', name: 'dccp', revision: 0,
    value: { type: 'dccp', sport: [1, 1024], types: ['REQUEST', 'RESPONSE'], invert: { sport: true } }, hex: '0000000001000004050001000300' + z(2) },
  { cmd: '-m srh ! --srh-hdr-len-eq 8 --srh-segs-left-gt 1 (ip6tables)', family: 'ipv6', kind: 'match', name: 'srh', revision: 1,
    value: { type: 'srh', hdrLen: { op: 'eq', value: 8 }, segsLeft: { op: 'gt', value: 1 }, invert: { hdrLen: true } }, hex: '00080100' + z(100) + '22000200' + z(4) },
];

describe('extension codecs typed for the corpus: golden bytes', () => {
  for (const g of GOLDENS) {
    it(`${g.cmd}`, () => {
      const family = g.family ?? 'ipv4';
      const codec = (g.kind === 'match' ? matchByType : targetByType).get(g.value.type) as AnyCodec;
      expect(codec.name).toBe(g.name);
      expect(codec.revision(family)).toBe(g.revision);
      expect(codec.validate(g.value, family, g.rule ?? {})).toEqual([]);
      const b = Buffer.alloc(xtAlign(codec.size(family, g.revision)));
      codec.encode(g.value, b, family);
      expect(b.toString('hex')).toBe(g.hex);
      expect(codec.decode(Buffer.from(g.hex, 'hex'), family, g.revision)).toEqual(g.value);
    });
  }
});
