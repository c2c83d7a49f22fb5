/** Validation before any native call, nft's userdata format, datatype codecs. */
import { describe, expect, it } from 'vitest';
import { nftUserdata, ValidationError, ValidationErrors } from '../../lib';
import { decodeKey, encodeKey, DATATYPES, fieldsOfType, ipv6String, ipv6Bytes, keyTypeOf } from '../../lib/nft/datatypes';
import { Transaction } from '../../lib/nft/transaction';
import { decodeObject } from '../../lib/nft/decode';

const tx = () => new Transaction(async () => undefined);
const fieldOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof ValidationError ? e.field : `not a ValidationError: ${String(e)}`;
  }
  return 'no error';
};

describe('nft model validation', () => {
  it('names the field at fault and buffers nothing of a bad call', () => {
    const t = tx();
    expect(fieldOf(() => t.addTable({ family: 'ipx' as never, name: 't' }))).toBe('items[0].family');
    expect(fieldOf(() => t.addChain({ family: 'ip', table: 't', name: 'c', base: { type: 'nat', hook: 'ingress', priority: 0 } }))).toBe('items[0].base.hook');
    expect(fieldOf(() => t.addRule({ family: 'ip', table: 't', chain: 'c', exprs: [{ type: 'cmp', data: 'XYZ' }] }))).toBe('items[0].exprs[0].data');
    expect(fieldOf(() => t.replaceRule({ family: 'ip', table: 't', chain: 'c', exprs: [], handle: -1 }))).toBe('items[0].handle');
    expect(fieldOf(() => t.addSet({ family: 'ip', table: 't', name: 's', key: 'ipv5_addr' }))).toBe('items[0].key');
    expect(fieldOf(() => t.addSet({ family: 'ip', table: 't', name: 's', key: ['ipv4_addr', 'inet_service'], elements: [{ key: ['10.0.0.1'] }] }))).toBe('items[0].elements[0].key');
    expect(fieldOf(() => t.addElements({ family: 'ip', table: 't', set: 's', key: 'inet_service' }, [{ key: 1 }, { key: 'x' }]))).toBe('items[0].elements[1].key');
    expect(fieldOf(() => t.addObject({ family: 'ip', table: 't', name: 'q', type: 'quota', bytes: -5 }))).toBe('items[0].bytes');
    expect(t.size).toBe(0);
  });

  it('reads unmodelled object kinds back as unsupported and refuses to commit them, never as another kind', () => {
    // tunnel (6) is the kind kernlb does not model
    const o = decodeObject({ family: 2, table: 't', name: 'h', objType: 6 });
    expect(o).toMatchObject({ type: 'unsupported', objType: 6 });
    expect(() => tx().addRuleset({ tables: [], chains: [], objects: [o], sets: [], rules: [] })).toThrow(/object type 6 is not one kernlb can write/);
  });

  it('reads ct helper, ct timeout, ct expectation, synproxy and secmark objects as their own kinds, and refuses bad fields by name', () => {
    expect(decodeObject({ family: 2, table: 't', name: 'h', objType: 3, helper: 'ftp', l3proto: 2, l4proto: 6 }))
      .toEqual({ family: 'ip', table: 't', name: 'h', type: 'ct helper', helper: 'ftp', l3proto: 2, l4proto: 6 });
    expect(decodeObject({ family: 2, table: 't', name: 'x', objType: 10, mss: 1460, wscale: 7, flags: 12 }))
      .toEqual({ family: 'ip', table: 't', name: 'x', type: 'synproxy', mss: 1460, wscale: 7, flags: 12 });
    const base = { family: 'ip', table: 't', name: 'o' } as const;
    expect(() => tx().addObject({ ...base, type: 'ct helper', helper: 'a-name-longer-than-15', l3proto: 2, l4proto: 6 })).toThrow(/items\[0\]\.helper/);
    expect(() => tx().addObject({ ...base, type: 'ct expectation', l3proto: 2, l4proto: 17, dport: 70000, timeout: 1, size: 1 })).toThrow(/items\[0\]\.dport/);
    expect(() => tx().addObject({ ...base, type: 'ct timeout', l3proto: 2, l4proto: 6, timeouts: [1, -1] })).toThrow(/items\[0\]\.timeouts\[1\]/);
    expect(() => tx().addObject({ ...base, type: 'synproxy', mss: 1460, wscale: 300 })).toThrow(/items\[0\]\.wscale/);
    expect(() => tx().addObject({ ...base, type: 'secmark', context: '' })).toThrow(/items\[0\]\.context/);
  });

  it('reports every problem of one call', () => {
    try {
      tx().addTable({ family: 'nope' as never, name: '' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationErrors);
      expect((e as ValidationErrors).errors.map((x) => x.field)).toEqual(['items[0].family', 'items[0].name']);
    }
  });

  it('describes items the way errors name them', () => {
    const t = tx();
    t.addTable({ family: 'ip', name: 'lb' });
    t.addRule({ family: 'ip', table: 'lb', chain: 'svc', exprs: [] });
    t.addRule({ family: 'ip', table: 'lb', chain: 'svc', exprs: [] });
    t.addSet({ family: 'ip', table: 'lb', name: 'm', key: 'ipv4_addr', data: 'verdict', elements: [{ key: '10.0.0.1', verdict: { verdict: 'accept' } }] });
    expect([0, 1, 2, 3, 4].map((i) => t.describe(i))).toEqual([
      'table ip lb', 'rule 1 of chain lb/svc', 'rule 2 of chain lb/svc', 'map lb/m', '1 element(s) of set lb/m',
    ]);
  });
});

describe('nft userdata (nftnl_udata TLVs as nft writes them)', () => {
  it('rule comment: nft add rule ... comment "hello"', () => {
    // nft --debug=netlink prints: userdata = { \x00\x06hello\x00 }
    expect(nftUserdata.commentUdata('hello')).toBe('000668656c6c6f00');
    expect(nftUserdata.commentFromUdata('000668656c6c6f00')).toBe('hello');
  });
  it('set userdata: type inet_service; comment "x" / type ipv4_addr . inet_proto . inet_service : verdict', () => {
    // read back from sets nft 1.0.6 created
    expect(nftUserdata.setUdata({ keyByteorder: 2, comment: 'x' })).toBe('00040200000007027800');
    expect(nftUserdata.setUdata({ keyByteorder: 0, keyTypeof: 'concat', dataByteorder: 0 })).toBe('000400000000010400000000030800040d0000000100060400000000');
  });
  it('typeof numgen random mod 2 (what nft writes for `typeof numgen random mod 2`)', () => {
    expect(nftUserdata.setUdata({ keyByteorder: 1, keyTypeof: [{ expr: 23, params: [1, 2, 0] }] })).toBe('000401000000031a0004170000000112000401000000010402000000020400000000');
  });
});

describe('nft datatypes', () => {
  it('concatenations pad every field to 4 bytes and pack types 6 bits per field', () => {
    const f = [DATATYPES.ipv4_addr!, DATATYPES.inet_proto!, DATATYPES.inet_service!];
    expect(encodeKey(f, ['10.0.0.1', 'tcp', 80]).toString('hex')).toBe('0a000001' + '06000000' + '00500000');
    expect(decodeKey(f, Buffer.from('0a00000106000000' + '00500000', 'hex'))).toEqual(['10.0.0.1', 'tcp', 80]);
    const k = keyTypeOf(f);
    expect(k).toEqual({ type: (7 << 12) | (12 << 6) | 13, len: 12, concat: [4, 1, 2] });
    expect(fieldsOfType(k.type, k.len)?.map((x) => x.name)).toEqual(['ipv4_addr', 'inet_proto', 'inet_service']);
  });
  it('IPv6 text forms round trip like inet_ntop', () => {
    for (const a of ['::', '::1', 'fd00::1', '2001:db8::ff00:42:8329', 'fe80::1:0:0:1', '1:2:3:4:5:6:7:8'])
      expect(ipv6String(ipv6Bytes(a))).toBe(a);
    expect(ipv6Bytes('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
  });
  it('integer (numgen, jhash, marks) is host-endian', () => {
    expect(DATATYPES.integer!.encode(1).toString('hex')).toBe('01000000');
  });
});
