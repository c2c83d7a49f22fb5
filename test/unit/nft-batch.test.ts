/**
 * Golden bytes of the batch encoder (native/nft via libnftnl), each annotated with the nft command
 * that sends the same message (checked against `nft --debug=mnl` output), and the batch framing:
 * BEGIN/END, NFNL_BATCH_GENID, dry runs, item indexes, element lists split under 64 KiB.
 */
import { describe, expect, it } from 'vitest';
import { native, type NativeNftItem } from '../../lib/native';
import { nftStatements as s, ValidationError } from '../../lib';
import { Transaction } from '../../lib/nft/transaction';
import { encodeChain, encodeRule, Problems } from '../../lib/nft/encode';
import type { Chain, Rule } from '../../lib/nft/model';

const tx = () => new Transaction(async () => undefined);
const encode = (t: Transaction, opts: { generation?: number; dryRun?: boolean } = {}) => native().nft.encodeBatch([...t.items()], opts);

interface Msg { len: number; type: number; flags: number; body: Buffer; raw: Buffer }
function messages(buf: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    out.push({ len, type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), body: buf.subarray(off + 16, off + len), raw: buf.subarray(off, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}
const hex = (s: string) => s.replace(/\s+/g, '');

describe('nft batch encoder', () => {
  it('frames items between BATCH_BEGIN and BATCH_END, with the generation when given', () => {
    const t = tx().addTable({ family: 'ip', name: 't' });
    const { buffer, itemOfMessage } = encode(t, { generation: 7 });
    const m = messages(buffer);
    expect(m.map((x) => x.type)).toEqual([0x10, 0x0a00, 0x11]);
    expect(itemOfMessage).toEqual([-1, 0, -1]);
    // BATCH_BEGIN: nfgenmsg { AF_UNSPEC, v0, res_id = htons(NFNL_SUBSYS_NFTABLES) }, NFNL_BATCH_GENID = htonl(7)
    expect(m[0]!.body.toString('hex')).toBe(hex('00 00 00 0a  08 00 01 00 00 00 00 07'));
    expect(m[2]!.body.toString('hex')).toBe('0000000a');
  });

  it('a dry run leaves out BATCH_END, so the kernel validates and aborts', () => {
    const { buffer } = encode(tx().addTable({ family: 'ip', name: 't' }), { dryRun: true });
    expect(messages(buffer).map((x) => x.type)).toEqual([0x10, 0x0a00]);
  });

  it('nft add table ip t', () => {
    const m = messages(encode(tx().addTable({ family: 'ip', name: 't' })).buffer)[1]!;
    // NLM_F_REQUEST|NLM_F_CREATE; nfgenmsg AF_INET; NFTA_TABLE_NAME "t"; NFTA_TABLE_FLAGS 0
    expect(m.raw.toString('hex')).toBe(hex(`24000000 000a 0104 00000000 00000000  02000000
      0600 0100 74000000  0800 0200 00000000`));
  });

  it('nft create table ip t (EXCL) and nft delete table ip t', () => {
    const m = messages(encode(tx().createTable({ family: 'ip', name: 't' }).deleteTable({ family: 'ip', name: 't' })).buffer);
    expect([m[1]!.type, m[1]!.flags]).toEqual([0x0a00, 0x0601]);
    expect([m[2]!.type, m[2]!.flags]).toEqual([0x0a02, 0x0001]);
  });

  it("nft add rule ip t c ip daddr 10.0.0.1 accept", () => {
    const t = tx().addRule({ family: 'ip', table: 't', chain: 'c', exprs: [s.match('ip daddr', '10.0.0.1'), s.accept()] });
    const m = messages(encode(t).buffer)[1]!;
    expect(m.type).toBe(0x0a06);
    expect(m.flags).toBe(0x0c01); // REQUEST|CREATE|APPEND
    expect(m.raw.toString('hex')).toBe(hex(`b8000000 060a 010c 00000000 00000000 02000000
      0600 0100 74000000   0600 0200 63000000
      9400 0480
        3400 0180 0c00 0100 7061796c6f616400
          2400 0280 0800 0100 00000001  0800 0200 00000001  0800 0300 00000010  0800 0400 00000004
        2c00 0180 0800 0100 636d7000
          2000 0280 0800 0100 00000001  0800 0200 00000000  0c00 0380 0800 0100 0a000001
        3000 0180 0e00 0100 696d6d656469617465000000
          1c00 0280 0800 0100 00000000  1000 0280 0c00 0280 0800 0100 00000001`));
  });

  it('nft add element: big lists are split over NEWSETELEM messages under 64 KiB, none lost', () => {
    const N = 20_000;
    const t = tx().addElements(
      { family: 'ip', table: 't', set: 'm', key: ['ipv4_addr', 'inet_service'], data: 'verdict' },
      Array.from({ length: N }, (_, i) => ({ key: [`10.0.${i >> 8}.${i & 255}`, 80], verdict: { verdict: 'accept' as const } })),
    );
    const { buffer, itemOfMessage } = encode(t);
    const m = messages(buffer).slice(1, -1);
    expect(m.length).toBeGreaterThan(1);
    expect(itemOfMessage.slice(1, -1).every((i) => i === 0)).toBe(true);
    let elems = 0;
    for (const msg of m) {
      expect(msg.type).toBe(0x0a0c);
      expect(msg.len).toBeLessThan(65536 + 64);
      // walk the attributes: NFTA_SET_ELEM_LIST_ELEMENTS (3) holds one nest per element
      for (let off = 4; off < msg.body.length; ) {
        const len = msg.body.readUInt16LE(off), type = msg.body.readUInt16LE(off + 2) & 0x3fff;
        if (type === 3) for (let e = off + 4; e < off + len; e += (msg.body.readUInt16LE(e) + 3) & ~3) elems++;
        off += (len + 3) & ~3;
      }
    }
    expect(elems).toBe(N);
  });

  it('the packed bulk path and the object path send byte-identical elements', () => {
    const base = { op: 'add' as const, kind: 'elements' as const, family: 2, table: 't', set: 'm' };
    const t = tx().addElements({ family: 'ip', table: 't', set: 'm', key: ['ipv4_addr', 'inet_service'], data: ['ipv4_addr', 'inet_service'] }, [
      { key: ['10.0.0.1', 80], data: ['10.1.0.1', 8080], timeout: 5000, comment: 'a' },
      { key: ['10.0.0.2', 443], data: ['10.1.0.2', 8443], counter: { packets: 1, bytes: 2 } },
      // 64-bit counters past 32 bits, and a comment again (its userdata bytes are reused)
      { key: ['10.0.0.3', 443], data: ['10.1.0.3', 8443], counter: { packets: 2 ** 32 + 5, bytes: Number.MAX_SAFE_INTEGER }, comment: 'a' },
    ]);
    const packed = t.items()[0]!;
    expect('packed' in packed).toBe(true);
    const objects = [{ ...base, elements: [
      { key: '0a000001' + '00500000', data: '0a010001' + '1f900000', timeout: 5000, userdata: '00026100' },
      { key: '0a000002' + '01bb0000', data: '0a010002' + '20fb0000', exprs: [{ type: 'counter', packets: 1, bytes: 2 }] },
      { key: '0a000003' + '01bb0000', data: '0a010003' + '20fb0000', userdata: '00026100', exprs: [{ type: 'counter', packets: 2 ** 32 + 5, bytes: Number.MAX_SAFE_INTEGER }] },
    ] }];
    expect(native().nft.encodeBatch([packed], {}).buffer.equals(native().nft.encodeBatch(objects, {}).buffer)).toBe(true);
  });

  it('packed elements written straight into the batch are libnftnl\'s bytes: verdicts with chains, set ids, flags, objrefs, split lists', () => {
    // (native/nft/elem_packed.cc writes them without libnftnl; the object path still goes through it)
    const N = 3000; // over 64 KiB: three NEWSETELEM messages, each element nest typed by its index in its message
    const t = tx()
      .addSet({ family: 'inet', table: 't', name: 'svc4', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
        elements: Array.from({ length: N }, (_, i) => ({ key: [`10.1.${i >> 8}.${i & 255}`, 'tcp', 80 + (i % 7)], verdict: { verdict: 'goto' as const, chain: `svc-s${i}` }, ...(i % 5 ? {} : { comment: `c${i}` }) })) })
      .addElements({ family: 'inet', table: 't', set: 'o', key: ['ipv4_addr'] }, [{ key: '10.0.0.9', object: 'ctr-a' }])
      .deleteElements({ family: 'inet', table: 't', set: 's', key: ['ipv4_addr'] }, [{ key: '10.0.0.1', flags: 1 }, { key: '10.0.0.2', expiration: 1500, timeout: 3000 }]);
    const items = t.items();
    expect(items.filter((i) => 'packed' in i).length).toBe(3);
    const verdicts: Record<string, number> = { goto: -4 };
    const objects = items.map((item, n) => {
      if (item.kind !== 'elements' || !('packed' in item)) return item;
      const { packed: _p, count: _c, ...rest } = item;
      const els = n === 1
        ? Array.from({ length: N }, (_, i) => ({
          key: Buffer.concat([Buffer.from([10, 1, i >> 8, i & 255]), Buffer.from([6, 0, 0, 0]), Buffer.from([0, 80 + (i % 7), 0, 0])]).toString('hex'),
          verdict: verdicts.goto!, chain: `svc-s${i}`,
          // comment TLV: type 0 (NFTNL_UDATA_SET_ELEM_COMMENT), length with the NUL
          ...(i % 5 ? {} : { userdata: Buffer.concat([Buffer.from([0, `c${i}`.length + 1]), Buffer.from(`c${i}\0`)]).toString('hex') }),
        }))
        : n === 2 ? [{ key: '0a000009', objref: 'ctr-a' }]
          : [{ key: '0a000001', flags: 1 }, { key: '0a000002', timeout: 3000, expiration: 1500 }];
      return { ...rest, elements: els };
    }) as NativeNftItem[];
    const direct = encode(t), viaLibnftnl = native().nft.encodeBatch(objects, {});
    expect(messages(direct.buffer).length).toBe(2 + 1 + 3 + 1 + 1);
    expect(direct.itemOfMessage).toEqual(viaLibnftnl.itemOfMessage);
    expect(direct.buffer.toString('hex')).toBe(viaLibnftnl.buffer.toString('hex'));
  });

  it('rejects a truncated packed list instead of reading past it', () => {
    const bad = { op: 'add' as const, kind: 'elements' as const, family: 2, table: 't', set: 'm', packed: Buffer.from([1, 0, 8, 1, 2]), count: 1 };
    expect(() => native().nft.encodeBatch([bad], {})).toThrow(/malformed at element 0/);
    const extra = { ...bad, packed: Buffer.from([1, 0, 1, 7, 9]) };
    expect(() => native().nft.encodeBatch([extra], {})).toThrow(/trailing bytes/);
  });

  it('packed rules and chains send the same bytes as the object path, item indexes counted per call', () => {
    const T = { family: 'ip' as const, table: 't' };
    const t = tx()
      .addTable({ family: 'ip', name: 't' })
      .addChain({ ...T, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } })
      .addChain({ ...T, name: 'c', comment: 'x' })
      .addRule({ ...T, chain: 'c', exprs: [s.match('ip saddr', '10.0.0.0/8'), s.jump('pre')], comment: 'r' })
      .insertRule({ ...T, chain: 'c', position: 5, exprs: [s.match('tcp dport', 80), s.dnat({ addr: '10.1.1.1', port: 8080 })] })
      .replaceRule({ ...T, chain: 'c', handle: 7, exprs: [s.updateSet('s', 'ip saddr', { timeout: 1000 }), s.markOr(0x4000), s.counter()] })
      .addRule({ ...T, chain: 'c', exprs: [{ type: 'dynset', sregKey: 1, op: 0, set: 's', exprs: [{ type: 'counter', packets: 0, bytes: 0 }] }, s.accept()] })
      .deleteRule({ ...T, chain: 'c', handle: 9 })
      .addRule({ ...T, chain: 'c', exprs: [s.verdict('goto', 'pre')] });
    const items = t.items();
    expect(items.map((i) => i.kind)).toEqual(['table', 'packed', 'rule', 'packed']);
    expect(t.size).toBe(9);
    // the object path, from the same validated encoders
    const p = new Problems();
    const chain = (c: Chain) => ({ op: 'add', kind: 'chain', ...encodeChain(p, 'x', c) });
    const rule = (op: string, r: Rule) => ({ op, kind: 'rule', ...encodeRule(p, 'x', r) });
    const objects = [
      { op: 'add', kind: 'table', family: 2, name: 't', flags: 0 },
      chain({ ...T, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } }),
      chain({ ...T, name: 'c', comment: 'x' }),
      rule('add', { ...T, chain: 'c', exprs: [s.match('ip saddr', '10.0.0.0/8'), s.jump('pre')], comment: 'r' }),
      rule('insert', { ...T, chain: 'c', position: 5, exprs: [s.match('tcp dport', 80), s.dnat({ addr: '10.1.1.1', port: 8080 })] }),
      rule('replace', { ...T, chain: 'c', handle: 7, exprs: [s.updateSet('s', 'ip saddr', { timeout: 1000 }), s.markOr(0x4000), s.counter()] }),
      rule('add', { ...T, chain: 'c', exprs: [{ type: 'dynset', sregKey: 1, op: 0, set: 's', exprs: [{ type: 'counter', packets: 0, bytes: 0 }] }, s.accept()] }),
      { op: 'delete', kind: 'rule', family: 2, table: 't', chain: 'c', handle: 9 },
      rule('add', { ...T, chain: 'c', exprs: [s.verdict('goto', 'pre')] }),
    ] as never[];
    expect(p.list).toEqual([]);
    const a = native().nft.encodeBatch([...items], {});
    const b = native().nft.encodeBatch(objects, {});
    expect(a.buffer.toString('hex')).toBe(b.buffer.toString('hex'));
    expect(a.itemOfMessage).toEqual([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1]);
    expect([1, 3, 5, 7, 8].map((i) => t.describe(i))).toEqual(['chain t/pre', 'rule 1 of chain t/c', 'rule handle 7 of chain t/c', 'rule handle 9 of chain t/c', 'rule 6 of chain t/c']);
  });

  it('packs data and comments checked as they are written: bad ones refused by field, good ones the object path\'s bytes', () => {
    const T = { family: 'ip' as const, table: 't', chain: 'c' };
    const cmp = (data: unknown) => ({ ...T, exprs: [{ type: 'cmp', sreg: 1, op: 0, data } as never, s.accept()] });
    const DATA = 'items[0].exprs[0].data', COMMENT = 'items[0].comment';
    // each case with the fields that must be refused (none: it must be accepted)
    const cases: [Rule, string[]][] = [
      // data: 1..64 bytes of lowercase hex, and nothing else
      ...['0a', '00ff10', 'ab'.repeat(64)].map((d): [Rule, string[]] => [cmp(d), []]),
      ...['', 'a', 'AB', 'zz', '0g', 'é0', '0a\u0100', 'ab'.repeat(65), 5, null, ['0a']].map((d): [Rule, string[]] => [cmp(d), [DATA]]),
      // comments: a string of at most 252 bytes (ASCII written directly, the rest through userdata)
      ...['hello', 'x'.repeat(252), 'ünïcödé', 'é'.repeat(126), 'a\0b', ''].map((comment): [Rule, string[]] => [{ ...cmp('01'), comment } as Rule, []]),
      ...['x'.repeat(253), 'é'.repeat(127), 7].map((comment): [Rule, string[]] => [{ ...cmp('01'), comment } as Rule, [COMMENT]]),
      // both wrong at once: every problem is reported
      [{ ...cmp('XY'), comment: 'y'.repeat(300) }, [COMMENT, DATA]],
    ];
    for (const [r, refused] of cases) {
      const p = new Problems();
      const object = encodeRule(p, 'items[0]', r);
      let packedProblems: string[] = [];
      let packedFields: string[] = [];
      const t = tx();
      try {
        t.addRule(r);
      } catch (e) {
        const errors = (e as { errors?: Error[] }).errors ?? [e as Error];
        expect(errors.every((x) => x instanceof ValidationError), JSON.stringify(r)).toBe(true);
        packedProblems = errors.map((x) => x.message);
        packedFields = errors.map((x) => (x as ValidationError).field);
      }
      // refused exactly where the input is bad, and nothing buffered of it
      expect(packedFields.sort(), JSON.stringify(r)).toEqual(refused);
      if (refused.length) expect(t.size).toBe(0);
      // (the same problems; the object path lists a rule's expressions before its comment)
      expect(packedProblems.sort(), JSON.stringify(r)).toEqual(p.list.map((x) => x.message).sort());
      if (p.list.length) continue;
      const a = native().nft.encodeBatch([...t.items()], {});
      const b = native().nft.encodeBatch([{ op: 'add', kind: 'rule', ...object }] as never[], {});
      expect(a.buffer.toString('hex'), JSON.stringify(r)).toBe(b.buffer.toString('hex'));
    }
  });

  it('rejects malformed packed records by item, never reading past them', () => {
    const t = tx().addTable({ family: 'ip', name: 't' }).addRule({ family: 'ip', table: 't', chain: 'c', exprs: [s.accept()] });
    const run = t.items()[1] as { kind: 'packed'; packed: Buffer; count: number };
    expect(() => native().nft.encodeBatch([{ ...run, packed: run.packed.subarray(0, run.packed.length - 3) }], {})).toThrow(/items\[0\]: malformed/);
    expect(() => native().nft.encodeBatch([t.items()[0]!, { ...run, count: 2 }], {})).toThrow(/items\[2\]: malformed/);
    expect(() => native().nft.encodeBatch([{ ...run, packed: Buffer.concat([run.packed, Buffer.from([0])]) }], {})).toThrow(/trailing bytes/);
    const unknown = Buffer.from(run.packed);
    unknown.write('x', unknown.indexOf('immediate'), 'latin1');
    expect(() => native().nft.encodeBatch([{ ...run, packed: unknown }], {})).toThrow(/items\[0\]\.exprs\[0\]\.type: unknown expression "xmmediate"/);
  });

  it('rejects malformed native input as a TypeError naming the field, never a crash', () => {
    expect(() => native().nft.encodeBatch([{ op: 'add', kind: 'rule', family: 2, table: 't', chain: 'c', exprs: [{ type: 'cmp', data: 'zz' }] }], {})).toThrow(/exprs\[0\]\.data/);
    expect(() => native().nft.encodeBatch([{ op: 'add', kind: 'rule', family: 2, table: 't', chain: 'c', exprs: [{ type: 'warp' }] }], {})).toThrow(/unknown expression/);
    expect(() => native().nft.encodeBatch([{ op: 'frob', kind: 'table', family: 2, name: 't' } as never], {})).toThrow(/op/);
  });
});
