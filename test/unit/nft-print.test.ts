/** `kernlb nft list`'s text (lib/nft/print.ts) on listings built here; the kernel tier compares it with nft on the corpus. */
import { describe, expect, it } from 'vitest';
import { decodeRule, decodeSet } from '../../lib/nft/decode';
import { printRuleset, timeText } from '../../lib/nft/print';
import { recognize } from '../../lib/nft/recognize';
import type { Ruleset } from '../../lib/nft/model';

const empty: Omit<Ruleset, 'generation'> = { tables: [], chains: [], objects: [], sets: [], rules: [] };

describe('nft text as nft list ruleset prints it', () => {
  it('prints times, set flags and devices as nft does', () => {
    expect(timeText(30000)).toBe('30s');
    expect(timeText(2592000000)).toBe('30d');
    expect(timeText(10800000 - 144)).toBe('2h59m59s856ms');
    const rs = {
      ...empty,
      tables: [{ family: 'netdev' as const, name: 't' }],
      chains: [{ family: 'netdev' as const, table: 't', name: 'c', base: { type: 'filter' as const, hook: 'ingress', priority: -500, policy: 'accept' as const, devices: ['lo', 'd2'] } }],
      sets: [
        { family: 'netdev' as const, table: 't', name: 'a', key: 'ipv4_addr', flags: ['timeout' as const, 'eval' as const], timeout: 60000, elements: [] },
        { family: 'netdev' as const, table: 't', name: 'b', key: 'ipv4_addr', flags: ['timeout' as const], timeout: 60000, elements: [] },
      ],
    };
    const { text, gaps } = printRuleset(rs);
    expect(gaps).toEqual([]);
    expect(text).toBe([
      'table netdev t {',
      '\tset a {', '\t\ttype ipv4_addr', '\t\tflags dynamic,timeout', '\t\ttimeout 1m', '\t}', '',
      '\tset b {', '\t\ttype ipv4_addr', '\t\ttimeout 1m', '\t}', '',
      '\tchain c {', '\t\ttype filter hook ingress devices = { d2, lo } priority -500; policy accept;', '\t}',
      '}', '',
    ].join('\n'));
  });

  it('sorts elements as nft does: by value, a concatenation by its bytes read little-endian', () => {
    const set = decodeSet({ family: 2, table: 't', name: 's', flags: 0, keyType: 13, keyLen: 2, elements: [{ key: '0016' }, { key: '0050' }, { key: '0015' }] });
    expect(printRuleset({ ...empty, tables: [{ family: 'ip', name: 't' }], sets: [set] }).text).toContain('elements = { 21, 22, 80 }');
    // ipv6_addr . inet_proto . inet_service (8 << 12 | 12 << 6 | 13, 16 + 4 + 4 bytes): the port decides
    const concat = decodeSet({ family: 10, table: 't', name: 'v', flags: 0, keyType: (8 << 12) | (12 << 6) | 13, keyLen: 24, elements: [
      { key: 'fd000000000000000000000000000001' + '06000000' + '00500000' },
      { key: 'fd000000000000000000000000000002' + '11000000' + '00350000' },
    ] });
    const text = printRuleset({ ...empty, tables: [{ family: 'ip6', name: 't' }], sets: [concat] }).text;
    expect(text.indexOf('fd00::2 . udp . 53')).toBeGreaterThan(0);
    expect(text.indexOf('fd00::2 . udp . 53')).toBeLessThan(text.indexOf('fd00::1 . tcp . 80'));
  });

  it('keeps host-endian keys of interval sets as hex (nft stores them big-endian) and says it cannot print them', () => {
    const set = decodeSet({ family: 2, table: 't', name: 'm', flags: 0x4, keyType: 19, keyLen: 4, elements: [{ key: '00000010' }, { key: '00000021', flags: 1 }] });
    expect(set.elements!.map((e) => e.keyHex)).toEqual(['00000010', '00000021']);
    expect(printRuleset({ ...empty, tables: [{ family: 'ip', name: 't' }], sets: [set] }).gaps).toHaveLength(1);
  });

  it('words statements as nft does: no nfproto where the statement implies it, iifname, ipv6-icmp, dynset timeouts as times', () => {
    const inet = decodeRule({ family: 1, table: 't', chain: 'c', exprs: [
      { type: 'meta', key: 15, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: '02' },
      { type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 },
      { type: 'dynset', sregKey: 1, op: 0, timeout: 30000, set: 's', flags: 0 },
    ] });
    expect(inet.statements).toEqual(['add @s { ip saddr timeout 30s }']);
    expect(recognize([{ type: 'meta', key: 6, dreg: 1 }, { type: 'lookup', sreg: 1, dreg: 0, set: 'm' }])).toEqual(['iifname vmap @m']);
    expect(recognize([{ type: 'meta', key: 16, dreg: 1 }, { type: 'cmp', sreg: 1, op: 0, data: '3a' }])).toEqual(['meta l4proto ipv6-icmp']);
  });
});
