/** parse() then save() reproduces iptables-legacy-save's own text for every typed extension. */
import { describe, expect, it } from 'vitest';
import { parseIptablesSave, iptablesSave as saveTable, iptTablesFromJson as tablesFromJson, iptTablesToJson as tablesToJson, ValidationError, validateIptTable as validateTable } from '../../lib';
import { parseRuleArgs, tokenize } from '../../lib/iptables/parse';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, typedOnly } from './iptables-fixtures';

const body = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#')).join('\n') + '\n';
const roundTrip = (text: string, family: 'ipv4' | 'ipv6') => parseIptablesSave(text, family).map((t) => saveTable(t)).join('');

describe('iptables-save syntax', () => {
  it('round-trips every typed IPv4 extension exactly', () => {
    const text = body(typedOnly(ALL_IPV4));
    expect(roundTrip(text, 'ipv4')).toBe(text);
  });

  it('round-trips the typed IPv6 extensions exactly', () => {
    const text = body(typedOnly(ALL_IPV6));
    expect(roundTrip(text, 'ipv6')).toBe(text);
  });

  it("round-trips kube-proxy's layout and validates it", () => {
    const tables = parseIptablesSave(KUBE_PROXY);
    for (const t of tables) validateTable(t);
    expect(tables.map((t) => saveTable(t)).join('')).toBe(KUBE_PROXY);
    const svc = tables[0]!.chains.find((c) => c.name === 'KUBE-SVC-XGLOHA7QRQ3V22RZ')!;
    expect(svc.rules[1]!.matches).toEqual([
      { type: 'comment', comment: 'default/web:http -> 10.244.1.5:8080' },
      { type: 'statistic', mode: 'random', probability: 0.5 },
    ]);
    expect(svc.rules[1]!.target).toEqual({ type: 'jump', chain: 'KUBE-SEP-3JOIVZTXZZRGORX4' });
  });

  it('parses the spellings iptables accepts and prints the canonical ones', () => {
    const cases: Array<[string, string]> = [
      ['-A X -p tcp -m tcp --syn -j ACCEPT', '-A X -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT'],
      ['-A X -j MARK --set-mark 0x5', '-A X -j MARK --set-xmark 0x5/0xffffffff'],
      ['-A X -j MARK --or-mark 0x6', '-A X -j MARK --set-xmark 0x6/0x6'],
      ['-A X -j MARK --and-mark 0xf0', '-A X -j MARK --set-xmark 0x0/0xffffff0f'],
      ['-A X -j MARK --xor-mark 0x1', '-A X -j MARK --set-xmark 0x1/0x0'],
      ['-A X -j CONNMARK --save-mark', '-A X -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff'],
      ['-A X -s 10.1.2.3/8 -j DROP', '-A X -s 10.0.0.0/8 -j DROP'],
      ['-A X -s 10.1.2.3 -j DROP', '-A X -s 10.1.2.3/32 -j DROP'],
      ['-A X -s 10.0.0.0/255.0.255.0 -j DROP', '-A X -s 10.0.0.0/255.0.255.0 -j DROP'],
      ['-A X -p 6 -j DROP', '-A X -p tcp -j DROP'],
      ['-A X -m statistic --mode random --probability 0.1 -j DROP', '-A X -m statistic --mode random --probability 0.10000000009 -j DROP'],
      ['-A X -m limit --limit 10/second -j DROP', '-A X -m limit --limit 10/sec -j DROP'],
      ['-A X -m comment --comment plain -j DROP', '-A X -m comment --comment plain -j DROP'],
      ["-A X -m comment --comment 'it''s' -j DROP", '-A X -m comment --comment its -j DROP'],
      ['-A X -p tcp --dport 80 -j ACCEPT', '-A X -p tcp -m tcp --dport 80 -j ACCEPT'],
      ['-A X -p udp ! --sport 53 -j ACCEPT', '-A X -p udp -m udp ! --sport 53 -j ACCEPT'],
      ['-A X -p icmp --icmp-type 8 -j ACCEPT', '-A X -p icmp -m icmp --icmp-type 8 -j ACCEPT'],
    ];
    for (const [input, want] of cases) {
      const { chain, rule } = parseRuleArgs(tokenize(input), 'ipv4');
      const t = { family: 'ipv4' as const, name: 'filter', chains: [{ name: chain, rules: [rule] }] };
      expect(saveTable(t).split('\n')[2], input).toBe(want);
    }
  });

  it('keeps raw extensions through save/parse with --kernlb-raw and through JSON', () => {
    const t = { family: 'ipv4' as const, name: 'filter', chains: [
      { name: 'INPUT', policy: 'ACCEPT' as const, rules: [{ matches: [{ type: 'raw' as const, name: 'length', revision: 0, data: Buffer.from('6400c80000000000', 'hex') }], target: { type: 'DROP' as const } }] },
      { name: 'FORWARD', policy: 'ACCEPT' as const, rules: [] }, { name: 'OUTPUT', policy: 'ACCEPT' as const, rules: [] }] };
    const text = saveTable(t);
    expect(text).toContain('-A INPUT -m length --kernlb-raw 0:6400c80000000000 -j DROP');
    expect(parseIptablesSave(text)[0]!.chains[0]!.rules[0]).toEqual(t.chains[0]!.rules[0]);
    const back = tablesFromJson(tablesToJson('ipv4', [t]), 'ipv4');
    expect(back[0]!.chains[0]!.rules[0]).toEqual(t.chains[0]!.rules[0]);
  });

  it('reports the line of a syntax error', () => {
    expect(() => parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m nosuch --x 1 -j DROP\nCOMMIT\n')).toThrow(/line 3/);
    expect(() => parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 99999 -j DROP\nCOMMIT\n')).toThrow(ValidationError);
    expect(() => parseIptablesSave('*filter\n-A INPUT -j DROP\nCOMMIT\n')).toThrow(/undeclared chain INPUT/);
    expect(() => parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n')).toThrow(/no COMMIT/);
  });
});
