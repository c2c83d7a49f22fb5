/**
 * The fused validate-and-encode commit runs (encodeValidTable): the same bytes as encodeTable for
 * every valid table, and exactly validateTable's errors for invalid ones.
 */
import { describe, expect, it } from 'vitest';
import { encodeValidTable } from '../../lib/iptables/blob';
import { chainCaches, freezeRule, freezeRules as iptFreezeRules, ruleCaches } from '../../lib/iptables/rule-cache';
import { decodeIptTable as decodeTable, iptablesSave, encodeIptTable as encodeTable, iptAppendRule as appendRule, iptCreateChain as createChain, iptEmptyTable as emptyTable, parseIptablesSave, validateIptTable as validateTable, type IptRule, type IptTable } from '../../lib';
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

  // A table without frozen rules is written in one pass (one-pass.ts) into a buffer of estimated
  // size that it zeroes as it goes; the two-pass encoder (encodeTable) is the reference.
  it('writes in one pass what encodeTable writes, into a recycled buffer full of old bytes', () => {
    const dirty = (size: number) => Buffer.alloc(size, 0xa5);
    for (const [text, family] of [[typedOnly(ALL_IPV4), 'ipv4'], [typedOnly(ALL_IPV6), 'ipv6'], [KUBE_PROXY, 'ipv4']] as const) {
      for (const t of parseIptablesSave(text, family)) {
        const a = encodeValidTable(t, HOOKS[t.name]!, Buffer.alloc, null, null, null, dirty), b = encodeTable(t, HOOKS[t.name]!);
        expect(a.blob.equals(b.blob)).toBe(true);
      }
    }
  });

  it('grows its buffer when the table is bigger than its estimate, counters and jumps intact', () => {
    const t = emptyTable('ipv4', 'filter');
    for (const n of ['Z1', 'A1', 'M1']) createChain(t, n);
    // Rules far bigger than the per-rule estimate (raw extensions of 8 KiB), jumps forward and back
    // in the kernel's order (INPUT first, then A1 < M1 < Z1), a goto, counters on some.
    const big = (k: number) => ({ type: 'raw' as const, name: 'length', revision: 1, data: Buffer.alloc(8192, k) });
    for (let i = 0; i < 300; i++) {
      appendRule(t, 'INPUT', { matches: [big(i & 0xff), big((i + 1) & 0xff)], target: { type: 'jump', chain: ['Z1', 'A1', 'M1'][i % 3]! }, counters: { packets: i, bytes: i * 100 } });
      appendRule(t, 'M1', { matches: [big(7)], target: i % 2 ? { type: 'goto', chain: 'Z1' } : { type: 'jump', chain: 'A1' } });
      appendRule(t, 'A1', { protocol: 'tcp', matches: [{ type: 'tcp', dport: 1000 + i }], target: { type: 'RETURN' } });
    }
    let asked = 0;
    const rooms: number[] = [];
    const room = (size: number) => {
      asked++;
      rooms.push(size);
      return Buffer.alloc(asked === 1 ? Math.min(size, 64 * 1024) : size, 0x5a); // the first one too small
    };
    const a = encodeValidTable(t, HOOKS.filter!, Buffer.alloc, null, null, null, room), b = encodeTable(t, HOOKS.filter!);
    expect(asked).toBeGreaterThan(1);
    expect(a.blob.length).toBe(b.blob.length);
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.counters?.equals(b.counters!)).toBe(true);
  });

  it('finds every jump among thousands of chains once it hashes the names (after 2048 searches), and refuses an unknown one', () => {
    const t = emptyTable('ipv4', 'filter');
    const names = Array.from({ length: 5000 }, (_, i) => `KUBE-SEP-${((i * 7919) % 5000).toString(36).toUpperCase()}X${i}`);
    for (const n of names) createChain(t, n);
    // Jumps in an order unrelated to the names' (nothing predicted), each chain reached once.
    for (let i = 0; i < names.length; i++) appendRule(t, 'INPUT', { target: { type: 'jump', chain: names[(i * 2311) % names.length]! } });
    const enc = encodeValidTable(t, HOOKS.filter!);
    const h = enc.blob;
    const back = decodeTable({
      validHooks: h.readUInt32LE(32), hookEntry: [0, 1, 2, 3, 4].map((i) => h.readUInt32LE(44 + i * 4)),
      underflow: [0, 1, 2, 3, 4].map((i) => h.readUInt32LE(64 + i * 4)), entries: h.subarray(96),
    }, 'ipv4', 'filter');
    expect(iptablesSave(back)).toBe(iptablesSave(t)); // (the decoder follows the written offsets)
    appendRule(t, 'INPUT', { target: { type: 'jump', chain: 'KUBE-SEP-NOWHERE' } });
    expect(errorOf(() => encodeValidTable(t, HOOKS.filter!))).toMatch(/rule 5001: target\.chain.*unknown chain/);
  });

  it('writes the biggest entry the kernel can take (65528 bytes) as encodeTable does', () => {
    const t = emptyTable('ipv4', 'filter');
    appendRule(t, 'INPUT', { matches: [{ type: 'raw', name: 'length', revision: 1, data: Buffer.alloc(65344, 3) }] });
    appendRule(t, 'INPUT', { target: { type: 'ACCEPT' } });
    const a = encodeValidTable(t, HOOKS.filter!), b = encodeTable(t, HOOKS.filter!);
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.blob.readUInt16LE(96 + 90)).toBe(65528); // the first entry's next_offset (after the 96-byte ipt_replace header)
  });

  it('takes no room for the one pass when the first rule is frozen (lb\'s tables): the caching encoder writes it', () => {
    const t = iptFreezeRules(parseIptablesSave(KUBE_PROXY)[0]!);
    let rooms = 0;
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, (n) => (rooms++, Buffer.alloc(n)));
    expect(rooms).toBe(0);
    expect(a.slab).not.toBe(0);
    expect(a.blob.equals(encodeTable(t, HOOKS.nat!).blob)).toBe(true);
  });

  it('hands a table with frozen rules to the caching encoder when given caches (same bytes, rules cached)', () => {
    const t = parseIptablesSave(KUBE_PROXY)[0]!;
    // A frozen rule far into the table: the one pass stops there and the two-pass encoder starts over.
    const c = t.chains.find((x) => x.rules.length > 1 && x.name.startsWith('KUBE-SEP'))!;
    c.rules[1] = freezeRule(c.rules[1]!);
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null), b = encodeTable(t, HOOKS.nat!);
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.slab).not.toBe(0); // (the frozen rule's entry now lives in this blob)
    const again = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null);
    expect(again.reused).toBe(1);
    expect(again.blob.equals(b.blob)).toBe(true);
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
