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

  // With caches, a table whose frozen rules have no cached bytes yet (a controller's first commit) is
  // written in one pass that records where each deep-frozen rule and chain now lives; once they have
  // bytes, the two-pass encoder copies them.
  const roomCounter = () => {
    const asked: number[] = [];
    return { asked, room: (n: number) => (asked.push(n), Buffer.alloc(n, 0x3c)) };
  };

  it('records a cold frozen table in one pass, then copies it whole without taking room for a one pass', () => {
    const t = iptFreezeRules(parseIptablesSave(KUBE_PROXY)[0]!);
    const ref = encodeTable(t, HOOKS.nat!).blob;
    const r = roomCounter();
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, r.room);
    expect(r.asked.length).toBe(1); // (the one pass)
    expect(a.slab).not.toBe(0);
    expect(a.reused).toBe(0);
    expect(a.blob.equals(ref)).toBe(true);
    const b = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, r.room);
    expect(r.asked.length).toBe(1); // (handed over before any buffer: everything is cached)
    // Every entry copied but the final ERROR and empty chains' heads and tails (never cached: cheaper to write).
    const empty = t.chains.filter((c) => !c.rules.length).reduce((n, c) => n + (c.policy !== undefined ? 1 : 2), 0);
    expect(b.reused).toBe(a.numEntries - 1 - empty);
    expect(b.blob.equals(ref)).toBe(true);
  });

  it('records entries in the buffer it ends with when the one pass outgrows its first one', () => {
    const t = emptyTable('ipv4', 'filter');
    for (const n of ['Z1', 'A1']) createChain(t, n);
    for (let i = 0; i < 200; i++) {
      appendRule(t, 'INPUT', { protocol: 'tcp', matches: [{ type: 'comment', comment: `rule ${i} `.repeat(20) }, { type: 'tcp', dport: 1 + i }], target: { type: 'jump', chain: i % 2 ? 'Z1' : 'A1' } });
      appendRule(t, 'A1', { source: `10.0.${i}.0/24`, target: i % 3 ? { type: 'goto', chain: 'Z1' } : { type: 'RETURN' } });
      appendRule(t, 'Z1', { matches: [{ type: 'comment', comment: `z ${i}` }] }); // (no target: its verdict is patched)
    }
    iptFreezeRules(t);
    const ref = encodeTable(t, HOOKS.filter!).blob;
    let first = true;
    const room = (n: number) => {
      const size = first ? Math.min(n, 4096) : n; // the first buffer far too small
      first = false;
      return Buffer.alloc(size, 0x77);
    };
    const a = encodeValidTable(t, HOOKS.filter!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, room);
    expect(a.blob.equals(ref)).toBe(true);
    // The next commit copies from where the entries were recorded: the final buffer's bytes.
    const b = encodeValidTable(t, HOOKS.filter!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, room);
    expect(b.reused).toBeGreaterThan(600);
    expect(b.blob.equals(ref)).toBe(true);
    // A changed rule in the middle: the chain is written again around it, its neighbours copied.
    t.chains.find((c) => c.name === 'A1')!.rules[100] = freezeRule({ source: '10.9.9.9', target: { type: 'jump', chain: 'Z1' } });
    const c = encodeValidTable(t, HOOKS.filter!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, room);
    expect(c.blob.equals(encodeTable(t, HOOKS.filter!).blob)).toBe(true);
  });

  it('leaves nothing cached from a cold one pass that meets an invalid rule', () => {
    const t = iptFreezeRules(parseIptablesSave(KUBE_PROXY)[0]!);
    const last = t.chains.filter((c) => c.rules.length).at(-1)!;
    const good = last.rules[0]!;
    last.rules[0] = freezeRule({ ...good, protocol: 'nosuch' });
    const expected = errorOf(() => validateTable(t));
    expect(expected).toMatch(/protocol/);
    expect(errorOf(() => encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null))).toBe(expected);
    // The rules before it were written into a buffer that was given up: nothing of it is reused.
    last.rules[0] = good;
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null);
    expect(a.reused).toBe(0);
    expect(a.blob.equals(encodeTable(t, HOOKS.nat!).blob)).toBe(true);
  });

  it('hands over to the caching encoder at the first frozen rule when the table\'s frozen rules are cached (lb after a re-read)', () => {
    const t = iptFreezeRules(parseIptablesSave(KUBE_PROXY)[0]!);
    encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null); // (records)
    // The built-in chains come back as plain objects (read from the kernel); the rest stays frozen.
    for (const c of t.chains) if (c.policy !== undefined) c.rules = c.rules.map((r) => structuredClone(r));
    const r = roomCounter();
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null, r.room);
    expect(r.asked.length).toBe(1); // the one pass started, and stopped at the first frozen rule
    expect(a.reused).toBeGreaterThan(0);
    expect(a.blob.equals(encodeTable(t, HOOKS.nat!).blob)).toBe(true);
  });

  it('records a frozen rule among plain ones (one pass), and records it again next time', () => {
    const t = parseIptablesSave(KUBE_PROXY)[0]!;
    const c = t.chains.find((x) => x.rules.length > 1 && x.name.startsWith('KUBE-SEP'))!;
    c.rules[1] = freezeRule(c.rules[1]!);
    const b = encodeTable(t, HOOKS.nat!);
    const a = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null);
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.slab).not.toBe(0); // (the frozen rule's entry now lives in this blob)
    // One cached rule among plain ones is not worth a second pass: written again, in the new blob.
    const again = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null);
    expect(again.reused).toBe(0);
    expect(again.slab).not.toBe(0);
    expect(again.slab).not.toBe(a.slab);
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
