/**
 * Extension codecs against golden bytes: the data the kernel returned (IPT_SO_GET_ENTRIES) after
 * iptables-legacy-restore loaded each command, XT_ALIGN-padded.
 */
import { describe, expect, it } from 'vitest';
import { formatProbability, probabilityToKernel } from '../../lib/iptables/extensions/statistic';
import { describeGoldens, z, type Golden } from './iptables-goldens';

const goldens: Golden[] = [
  { cmd: '-p tcp -m tcp --sport 1024:65535 ! --dport 22 --tcp-flags FIN,SYN,ACK SYN', kind: 'match', name: 'tcp', revision: 0,
    value: { type: 'tcp', sport: [1024, 65535], dport: 22, flags: { mask: ['FIN', 'SYN', 'ACK'], set: ['SYN'] }, invert: { dport: true } }, hex: '0004ffff160016000013020200000000' },
  { cmd: '-p udp -m udp --dport 53', kind: 'match', name: 'udp', revision: 0, value: { type: 'udp', dport: 53 }, hex: '0000ffff350035000000000000000000' },
  { cmd: '-p icmp -m icmp --icmp-type 3/4', kind: 'match', name: 'icmp', revision: 0, value: { type: 'icmp', icmpType: 3, code: 4 }, hex: '0304040000000000' },
  { cmd: '-p icmp -m icmp --icmp-type any', kind: 'match', name: 'icmp', revision: 0, value: { type: 'icmp', icmpType: 'any' }, hex: 'ff00ff0000000000' },
  { cmd: '-m comment --comment "x y"', kind: 'match', name: 'comment', revision: 0, value: { type: 'comment', comment: 'x y' }, hex: '782079' + z(253) },
  { cmd: '-m statistic --mode random --probability 0.33333333349', kind: 'match', name: 'statistic', revision: 0,
    value: { type: 'statistic', mode: 'random', probability: 715827883 / 2 ** 31 }, hex: '00000000abaaaa2a00000000abaaaa2a0000000000000000' },
  { cmd: '-m statistic --mode nth --every 3 --packet 1', kind: 'match', name: 'statistic', revision: 0,
    value: { type: 'statistic', mode: 'nth', every: 3, packet: 1 }, hex: '010000000200000001000000010000000000000000000000' },
  { cmd: '-m conntrack --ctstate RELATED,ESTABLISHED', kind: 'match', name: 'conntrack', revision: 3,
    value: { type: 'conntrack', state: ['RELATED', 'ESTABLISHED'] }, hex: z(146) + '0100' + '0000' + '0600' + z(16) },
  { cmd: '-m conntrack --ctstate UNTRACKED,SNAT', kind: 'match', name: 'conntrack', revision: 3,
    value: { type: 'conntrack', state: ['UNTRACKED', 'SNAT'] }, hex: z(146) + '0100' + '0000' + '4001' + z(16) },
  { cmd: '-m state --state NEW', kind: 'match', name: 'conntrack', revision: 3, value: { type: 'state', state: ['NEW'] }, hex: z(146) + '0120' + '0000' + '0800' + z(16) },
  { cmd: '-m mark ! --mark 0x1', kind: 'match', name: 'mark', revision: 1, value: { type: 'mark', mark: 1, invert: true }, hex: '01000000ffffffff0100000000000000' },
  { cmd: '-m connmark --mark 0x2/0xff', kind: 'match', name: 'connmark', revision: 1, value: { type: 'connmark', mark: 2, mask: 0xff }, hex: '02000000ff0000000000000000000000' },
  { cmd: '-m addrtype ! --src-type BROADCAST,MULTICAST', kind: 'match', name: 'addrtype', revision: 1,
    value: { type: 'addrtype', srcType: ['BROADCAST', 'MULTICAST'], invert: { srcType: true } }, hex: '2800000001000000' },
  { cmd: '-p tcp -m multiport --dports 80,443,8000:8080', rule: { protocol: 'tcp' }, kind: 'match', name: 'multiport', revision: 1,
    value: { type: 'multiport', direction: 'destination', ports: [80, 443, [8000, 8080]] }, hex: '01045000bb01401f901f' + z(22) + '000001' + z(13) },
  { cmd: '-m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.0.1.1-10.0.1.2', kind: 'match', name: 'iprange', revision: 1,
    value: { type: 'iprange', srcRange: '10.0.0.1-10.0.0.9', dstRange: '10.0.1.1-10.0.1.2', invert: { dstRange: true } },
    hex: '0a000001' + z(12) + '0a000009' + z(12) + '0a000101' + z(12) + '0a000102' + z(12) + '23' + z(7) },
  { cmd: '-m mac --mac-source 00:11:22:33:44:55', kind: 'match', name: 'mac', revision: 0, value: { type: 'mac', source: '00:11:22:33:44:55' }, hex: '00112233445500000000000000000000' },
  { cmd: '-m limit --limit 5/min --limit-burst 10', kind: 'match', name: 'limit', revision: 0,
    value: { type: 'limit', rate: { count: 5, per: 'min' }, burst: 10 }, hex: 'c0d401000a000000' + z(32) },
  { cmd: '-m recent --update --seconds 60 --hitcount 4 --rttl --name SSH --mask 255.255.255.0 --rsource', kind: 'match', name: 'recent', revision: 1,
    value: { type: 'recent', command: 'update', name: 'SSH', seconds: 60, hitcount: 4, rttl: true, mask: '255.255.255.0', side: 'source' },
    hex: '3c000000040000001400' + '535348' + z(197) + '00' + '00' + 'ffffff00' + z(12) + z(4) },
  { cmd: '-m physdev --physdev-in veth0 --physdev-is-bridged', kind: 'match', name: 'physdev', revision: 0,
    value: { type: 'physdev', in: 'veth0', isBridged: true }, hex: '7665746830' + z(11) + 'ffffffffffff' + z(10) + z(32) + '0005' + z(6) },
  { cmd: '-m owner --uid-owner 0 --gid-owner 10-20', kind: 'match', name: 'owner', revision: 1,
    value: { type: 'owner', uid: 0, gid: [10, 20] }, hex: '00000000000000000a000000140000000300000000000000' },
  { cmd: '-j DNAT --to-destination 10.0.0.1-10.0.0.5:80-90', rule: { protocol: 'tcp' }, kind: 'target', name: 'DNAT', revision: 2,
    value: { type: 'DNAT', address: '10.0.0.1', addressMax: '10.0.0.5', port: 80, portMax: 90 },
    hex: '030000000a000001' + z(12) + '0a000005' + z(12) + '0050005a' + z(8) },
  { cmd: '-j SNAT --to-source 1.2.3.4-1.2.3.5:1000-2000', rule: { protocol: 'udp' }, kind: 'target', name: 'SNAT', revision: 0,
    value: { type: 'SNAT', address: '1.2.3.4', addressMax: '1.2.3.5', port: 1000, portMax: 2000 }, hex: '0100000003000000010203040102030503e807d000000000' },
  { cmd: '-j MASQUERADE --random-fully', kind: 'target', name: 'MASQUERADE', revision: 0, value: { type: 'MASQUERADE', fullyRandom: true }, hex: '010000001000000000000000000000000000000000000000' },
  { cmd: '-p tcp -j REDIRECT --to-ports 8080', rule: { protocol: 'tcp' }, kind: 'target', name: 'REDIRECT', revision: 0,
    value: { type: 'REDIRECT', port: 8080 }, hex: '010000000200000000000000000000001f901f9000000000' },
  { cmd: '-j DNAT --to-destination [fd00::20]:8080 (ip6tables)', family: 'ipv6', rule: { protocol: 'tcp' }, kind: 'target', name: 'DNAT', revision: 2,
    value: { type: 'DNAT', address: 'fd00::20', port: 8080 }, hex: '03000000fd00' + z(13) + '20' + 'fd00' + z(13) + '20' + '1f901f90' + z(8) },
  { cmd: '-j MARK --set-xmark 0x4000/0x4000', kind: 'target', name: 'MARK', revision: 2, value: { type: 'MARK', op: 'xset', value: 0x4000, mask: 0x4000 }, hex: '0040000000400000' },
  { cmd: '-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff', kind: 'target', name: 'CONNMARK', revision: 2,
    value: { type: 'CONNMARK', mode: 'restore', nfmask: 0xff, ctmask: 0xff }, hex: '00000000ff000000ff00000000000200' },
  { cmd: '-p tcp -j REJECT --reject-with tcp-reset', rule: { protocol: 'tcp' }, kind: 'target', name: 'REJECT', revision: 0, value: { type: 'REJECT', with: 'tcp-reset' }, hex: '0700000000000000' },
  { cmd: '-j LOG --log-prefix "in: " --log-level 6', kind: 'target', name: 'LOG', revision: 0, value: { type: 'LOG', prefix: 'in: ', level: 6 }, hex: '0600696e3a20' + z(26) },
  { cmd: '-j NOTRACK', kind: 'target', name: 'CT', revision: 2, value: { type: 'NOTRACK' }, hex: '0300' + z(70) },
  { cmd: '-j CT --zone 5', kind: 'target', name: 'CT', revision: 2, value: { type: 'CT', zone: 5 }, hex: '00000500' + z(68) },
  { cmd: '-j CT --helper ftp', kind: 'target', name: 'CT', revision: 2, value: { type: 'CT', helper: 'ftp' }, hex: z(12) + '667470' + z(57) },
];

describeGoldens('extension codecs: golden bytes', goldens);

describe('statistic probability', () => {
  it('is lround(p * 2^31) and prints like printf("%.11f")', () => {
    expect(probabilityToKernel(0.5)).toBe(0x40000000);
    expect(probabilityToKernel(1)).toBe(0x80000000);
    expect(probabilityToKernel(0.1)).toBe(214748365);
    expect(formatProbability(214748365)).toBe('0.10000000009');
    expect(formatProbability(0x80000000)).toBe('1.00000000000');
    expect(formatProbability(0)).toBe('0.00000000000');
    // 1/4096 = 0.000244140625 exactly: printf rounds the tie to even.
    expect(formatProbability(2 ** 31 / 4096)).toBe('0.00024414062');
  });
});
