/** Rules read back as statements: builder output recognised and printed the way nft prints it. */
import { describe, expect, it } from 'vitest';
import { nftStatements as s } from '../../lib';
import { recognize } from '../../lib/nft/recognize';

describe('nft statement recognition', () => {
  const cases: [string, ReturnType<typeof s.accept>[]][] = [
    ['ip saddr != 10.0.0.0/8 tcp dport 80 counter name "hits" jump m', [s.match('ip saddr', '10.0.0.0/8', 'neq'), s.match('tcp dport', 80), s.counterRef('hits'), s.jump('m')]],
    ['ip saddr 10.0.0.0/9 ct state established,related counter packets 0 bytes 0 accept', [s.match('ip saddr', '10.0.0.0/9'), s.ctState(['established', 'related']), s.counter(), s.accept()]],
    ['ip daddr . meta l4proto . th dport vmap @svc', [s.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'svc')]],
    ['dnat ip to ip daddr . tcp dport . numgen random mod 4 map @be', [s.match('meta l4proto', 'tcp'), s.dnatMap(['ip daddr', 'th dport', { numgen: { mod: 4 } }], 'be', { port: true })]],
    ['meta l4proto tcp dnat to 10.0.0.1:80', [s.match('meta l4proto', 'tcp'), s.dnat({ addr: '10.0.0.1', port: 80 })]],
    ['meta mark set meta mark | 0x00004000', [s.markOr(0x4000)]],
    ['meta mark & 0x00004000 == 0x00000000 return', [s.markMasked(0x4000, 0), s.ret()]],
    ['meta mark set meta mark ^ 0x00004000 masquerade fully-random', [s.markXor(0x4000), s.masquerade({ fullyRandom: true })]],
    ['iifname "eth0" update @aff { ip saddr }', [s.match('meta iifname', 'eth0'), s.updateSet('aff', 'ip saddr')]],
    ['ip daddr != @c drop', [s.inSet('ip daddr', 'c', { inverted: true }), s.drop()]],
    ['numgen random mod 2 vmap @ng', [s.vmap({ numgen: { mod: 2 } }, 'ng')]],
    // inet tables: nft adds `meta nfproto` before an ip/ip6 match and leaves it out when printing
    ['ip saddr 10.0.2.1 counter packets 0 bytes 0 accept', [s.match('meta nfproto', 'ipv4'), s.match('ip saddr', '10.0.2.1'), s.counter(), s.accept()]],
    ['ip6 daddr fd00::1 drop', [s.match('meta nfproto', 'ipv6'), s.match('ip6 daddr', 'fd00::1'), s.drop()]],
    ['meta nfproto ipv6 accept', [s.match('meta nfproto', 'ipv6'), s.accept()]],
    ['meta nfproto ipv4 tcp dport 22 accept', [s.match('meta nfproto', 'ipv4'), s.match('tcp dport', 22), s.accept()]],
  ];
  for (const [text, stmts] of cases) {
    it(text, () => {
      expect(recognize(stmts.flat())?.join(' ')).toBe(text);
    });
  }
  it('gives up on expressions it does not know, instead of guessing', () => {
    expect(recognize([{ type: 'fib', dreg: 1, result: 1, flags: 2 }, ...s.accept()])).toBeUndefined();
    expect(recognize([{ type: 'payload', dreg: 1, base: 1, offset: 3, len: 1 }, { type: 'cmp', sreg: 1, op: 0, data: '01' }])).toBeUndefined();
  });
});
