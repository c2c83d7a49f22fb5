/**
 * The fused validate-and-encode commit runs (encodeValidTable): the same bytes as encodeTable for
 * every valid table, and exactly validateTable's errors for invalid ones.
 */
import { describe, expect, it } from 'vitest';
import { encodeValidTable } from '../../lib/iptables/blob';
import { encodeIptTable as encodeTable, iptAppendRule as appendRule, iptCreateChain as createChain, iptEmptyTable as emptyTable, parseIptablesSave, validateIptTable as validateTable, type IptRule, type IptTable } from '../../lib';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, typedOnly } from './iptables-fixtures';

const HOOKS: Record<string, number> = { filter: 0b01110, nat: 0b11011, raw: 0b01001, mangle: 0b11111 };

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
  return 'no error';
}

describe('encodeValidTable', () => {
  it('gives encodeTable\'s bytes for valid tables (typed extensions, IPv4 and IPv6, kube-proxy)', () => {
    for (const [text, family] of [[typedOnly(ALL_IPV4), 'ipv4'], [typedOnly(ALL_IPV6), 'ipv6'], [KUBE_PROXY, 'ipv4']] as const) {
      for (const t of parseIptablesSave(text, family)) {
        const a = encodeValidTable(t, HOOKS[t.name]!), b = encodeTable(t, HOOKS[t.name]!);
        expect(a.numEntries).toBe(b.numEntries);
        expect(a.blob.equals(b.blob)).toBe(true);
      }
    }
  });

  it('finds jump targets whatever their order (prediction never picks a wrong chain)', () => {
    const t = emptyTable('ipv4', 'filter');
    const names = ['C', 'A', 'B', 'AA', 'AB', 'D'];
    for (const n of names) createChain(t, n);
    // Jumps in an order that defeats "same as last" and "next in the list".
    for (const n of ['B', 'B', 'A', 'AA', 'D', 'C', 'AB', 'A', 'AB']) appendRule(t, 'INPUT', { target: { type: 'jump', chain: n } });
    appendRule(t, 'A', { target: { type: 'goto', chain: 'AA' } });
    appendRule(t, 'B', { matches: [{ type: 'raw', name: 'length', revision: 1, data: Buffer.from('0000ffff00000000', 'hex') }], target: { type: 'raw', name: 'TCPMSS', revision: 0, data: Buffer.from('b405000000000000', 'hex') } });
    const a = encodeValidTable(t, HOOKS.filter!), b = encodeTable(t, HOOKS.filter!);
    expect(a.blob.equals(b.blob)).toBe(true);
  });

  const broken: Array<[string, (t: IptTable) => void]> = [
    ['unknown jump target', (t) => appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'NOWHERE' } })],
    ['jump target not a string', (t) => appendRule(t, 'INPUT', { target: { type: 'jump', chain: 7 as unknown as string } })],
    ['bad address and bad protocol in one rule, plus a bad comment later', (t) => {
      appendRule(t, 'INPUT', { source: '10.0.0.300', protocol: 'nosuch' });
      appendRule(t, 'OUTPUT', { matches: [{ type: 'comment', comment: 'x\0y' }] });
    }],
    ['unknown match type', (t) => appendRule(t, 'INPUT', { matches: [{ type: 'nosuch' } as unknown as NonNullable<IptRule['matches']>[number]] })],
    ['raw match without a Buffer', (t) => appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'x', revision: 0, data: 'no' as unknown as Buffer }] })],
    ['duplicate chain', (t) => t.chains.push({ name: 'USER', rules: [] }, { name: 'USER', rules: [] })],
    ['chain name with a space, and a rule error in another chain', (t) => {
      t.chains.push({ name: 'a b', rules: [] });
      appendRule(t, 'FORWARD', { protocol: 'tcp', target: { type: 'DNAT', address: '10.0.0.1', port: 99999 } });
    }],
    ['a hole in a rules array', (t) => {
      const rules = new Array<IptRule>(2);
      rules[1] = {};
      t.chains.push({ name: 'HOLEY', rules });
    }],
    ['not a table at all', (t) => {
      (t as unknown as { chains: unknown }).chains = 'nope';
    }],
  ];
  for (const [what, breakIt] of broken) {
    it(`throws validateTable's error for: ${what}`, () => {
      const t = emptyTable('ipv4', 'filter');
      appendRule(t, 'INPUT', { protocol: 'tcp', matches: [{ type: 'tcp', dport: 22 }], target: { type: 'ACCEPT' } });
      breakIt(t);
      const expected = errorOf(() => validateTable(t));
      expect(expected).not.toBe('no error');
      expect(errorOf(() => encodeValidTable(t, HOOKS.filter!))).toBe(expected);
    });
  }
});
