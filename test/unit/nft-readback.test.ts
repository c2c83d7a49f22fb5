/**
 * What a listing holds must commit back as it is: the read-side corrections (decode.ts) and the
 * write-side acceptance of what the kernel lists (interval ends, catch-all elements, binding chains).
 * The kernel tier (test/kernel/nft-corpus.test.ts) checks the same against nft; these pin each rule.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib';
import { decodeRule, decodeSet } from '../../lib/nft/decode';
import type { Rule } from '../../lib/nft/model';
import { Transaction } from '../../lib/nft/transaction';

const tx = () => new Transaction(async () => undefined);
const ifnameSet = (keys: string[], flags = 0) =>
  decodeSet({ family: 1, table: 't', name: 's', flags, keyType: 41, keyLen: 16, elements: keys.map((key) => ({ key })) });
const pad = (s: string, fill = '00') => Buffer.from(s).toString('hex').padEnd(32, fill);

describe('nft listings read back losslessly', () => {
  it('keeps interface-name keys a string cannot hold exactly as hex, and the JSON text is valid UTF-8 that parses to the same bytes', () => {
    const plain = pad('eth0');
    const wildcardEnd = pad('dock', 'ff'); // an interval's end for "dock*"
    const notUtf8 = 'c328' + '00'.repeat(14); // 0xc3 0x28: an invalid UTF-8 sequence
    const afterNul = '61006200' + '00'.repeat(12); // "a\0b": a string would drop the "b"
    const s = ifnameSet([plain, wildcardEnd, notUtf8, afterNul], 0x4);
    expect(s.elements!.map((e) => e.key ?? e.keyHex)).toEqual(['eth0', wildcardEnd, notUtf8, afterNul]);
    const text = JSON.stringify(s);
    expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
    // committed back, each key is the bytes that were read (in the packed element list: mask, length, key)
    const t = tx();
    t.addSet(JSON.parse(text));
    const packed = (t.items()[1] as unknown as { packed: Buffer }).packed.toString('hex');
    for (const k of [plain, wildcardEnd, notUtf8, afterNul]) expect(packed).toContain(`10${k}`);
  });

  it('drops the dynset timeout 0 the kernel dumps, flags an expression list, and drops a writing exthdr\'s flags', () => {
    const r = decodeRule({
      family: 2, table: 't', chain: 'c', exprs: [
        { type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 },
        { type: 'dynset', sregKey: 1, op: 1, timeout: 0, set: 's', flags: 0, exprs: [{ type: 'limit', rate: 3, unit: 1 }, { type: 'counter' }] },
        { type: 'dynset', sregKey: 1, op: 0, timeout: 5000, set: 's', flags: 0, exprs: [{ type: 'counter' }] },
        { type: 'exthdr', exthdrType: 2, offset: 2, len: 2, flags: 0, op: 1, sreg: 1 },
        { type: 'exthdr', dreg: 1, exthdrType: 2, offset: 2, len: 2, flags: 0, op: 1 },
      ],
    });
    const [, many, one, set, load] = r.exprs as Record<string, unknown>[];
    expect(many).not.toHaveProperty('timeout');
    expect(many!.flags).toBe(0x2);
    expect(one).toMatchObject({ timeout: 5000, flags: 0 });
    expect(set).not.toHaveProperty('flags');
    expect(load).toHaveProperty('flags', 0);
  });

  it('takes interval ends without data and catch-all elements without a key, and still refuses a keyless element', () => {
    const base = { family: 'ip' as const, table: 't', name: 'm', key: 'ipv4_addr', data: 'ipv4_addr', flags: ['interval' as const] };
    expect(() => tx().addSet({ ...base, elements: [{ key: '10.0.0.0', data: '192.168.0.1' }, { key: '10.0.1.0', flags: 1 }, { flags: 2, data: '192.168.0.9' }] })).not.toThrow();
    let err: unknown;
    try {
      tx().addSet({ ...base, elements: [{ data: '192.168.0.1' }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('items[0].elements[0].key');
    // a map element that is no interval end still needs its data
    expect(() => tx().addSet({ ...base, elements: [{ key: '10.0.0.0' }] })).toThrow(/elements\[0\]\.data/);
  });

  it('adds a binding chain\'s rules before the rule that jumps to it (a bound chain takes no rules), nested ones first', () => {
    const rule = (chain: string, jump?: string): Rule => ({
      family: 'inet', table: 't', chain, exprs: jump ? [{ type: 'immediate', dreg: 0, verdict: -3, chain: jump }] : [{ type: 'counter' }],
    });
    const t = tx();
    t.addRuleset({
      tables: [{ family: 'inet', name: 't' }],
      chains: [{ family: 'inet', table: 't', name: 'in' }, { family: 'inet', table: 't', name: '__chain1', flags: 4 }, { family: 'inet', table: 't', name: '__chain2', flags: 4 }],
      objects: [], sets: [],
      rules: [rule('in'), rule('in', '__chain1'), rule('__chain1', '__chain2'), rule('__chain1'), rule('__chain2')],
    });
    const order = Array.from({ length: t.size }, (_, i) => t.describe(i)).filter((d) => d?.startsWith('rule'));
    expect(order).toEqual(['rule 1 of chain t/in', 'rule 1 of chain t/__chain2', 'rule 1 of chain t/__chain1', 'rule 2 of chain t/__chain1', 'rule 2 of chain t/in']);
  });
});
