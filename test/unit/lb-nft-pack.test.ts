/**
 * The nftables mode's packed element lists (pack-elements.ts) and rule records (pack-rules.ts)
 * against the per-object encoding they replace, for every family x protocol x pick: the slots as
 * rules.ts describes them (slotElements / slotKeys / shardMap objects through
 * Transaction.addElements / deleteElements / addSet), and those elements as one object each through
 * libnftnl (the native object path); the service's chain, rule and dispatch element as
 * Transaction.addChain / addRule / addSet pack them. Each must be the same batch bytes.
 */
import { describe, expect, it } from 'vitest';
import { native, type NativeNftItem } from '../../lib/native';
import { compileService, type NftServiceChain } from '../../lib/lb/modes/nftables/compile';
import { addShardMap, dispatchElements, shardElements, slotOp } from '../../lib/lb/modes/nftables/pack-elements';
import { addPackedChains, addPackedRules, packable } from '../../lib/lb/modes/nftables/pack-rules';
import { serviceRule, shardMap, slotElements, slotKeys, slotMapRef } from '../../lib/lb/modes/nftables/rules';
import { validateState } from '../../lib/lb/state';
import { Transaction } from '../../lib/nft/transaction';

const FAMILIES = ['ipv4', 'ipv6'] as const;
const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
// (the pick: numgen inc, numgen random, jhash)
const SCHEDULERS = ['wrr', 'random', 'sh'] as const;

function service(family: (typeof FAMILIES)[number], protocol: (typeof PROTOCOLS)[number], scheduler: (typeof SCHEDULERS)[number]): NftServiceChain {
  const v4 = family === 'ipv4';
  const s = validateState({
    services: [{
      name: `svc-${family}-${protocol}-${scheduler}`, vip: v4 ? '10.96.3.4' : 'fd00::96:3:4', port: 8443, protocol, scheduler,
      // weights 3, 1, 2 and a weight-0 endpoint: several slots per endpoint, comments on the first, a slot past R
      endpoints: [
        { address: v4 ? '10.244.1.2' : 'fd01::1:2', port: 8080, weight: 3 },
        { address: v4 ? '10.244.1.3' : 'fd01::1:3', port: 8081, weight: 1 },
        { address: v4 ? '10.244.200.4' : 'fd01::200:4', port: 65535, weight: 2 },
        { address: v4 ? '10.244.1.9' : 'fd01::1:9', port: 1, weight: 0 },
      ],
    }],
  }, 'nftables').services[0]!;
  return compileService(s);
}

const noop = async () => undefined;
const encode = (items: readonly NativeNftItem[]) => native().nft.encodeBatch([...items], { generation: 3 }).buffer;

/** A packed element list (lib/nft/pack.ts) as one object per element, for the native object path (libnftnl). */
function asObjects(item: NativeNftItem): NativeNftItem {
  if (item.kind !== 'elements' || !('packed' in item)) return item;
  const b = item.packed;
  let o = 0;
  const bytes8 = () => {
    const n = b[o]!;
    const h = b.subarray(o + 1, o + 1 + n).toString('hex');
    o += 1 + n;
    return h;
  };
  const elements = [];
  for (let i = 0; i < item.count; i++) {
    const mask = b.readUInt16LE(o);
    o += 2;
    // only what the mode packs: key (1), data (4), userdata (0x200), counter (0x400)
    expect(mask & ~(1 | 4 | 0x200 | 0x400)).toBe(0);
    const e: Record<string, unknown> = {};
    if (mask & 1) e.key = bytes8();
    if (mask & 4) e.data = bytes8();
    if (mask & 0x200) e.userdata = bytes8();
    if (mask & 0x400) {
      e.exprs = [{ type: 'counter', packets: Number(b.readBigUInt64LE(o)), bytes: Number(b.readBigUInt64LE(o + 8)) }];
      o += 16;
    }
    elements.push(e);
  }
  expect(o).toBe(b.length);
  const { packed: _p, count: _c, ...rest } = item;
  return { ...rest, elements } as NativeNftItem;
}

describe('lb nftables packed slot elements', () => {
  for (const family of FAMILIES)
    for (const protocol of PROTOCOLS)
      for (const scheduler of SCHEDULERS)
        it(`${family} ${protocol} ${scheduler}: the same bytes as the per-element encoding`, () => {
          const c = service(family, protocol, scheduler);
          expect(c.elements.length).toBe(7); // 3 + 1 + 2 slots, one weight-0
          const half = c.elements.slice(2, 5);

          // (a declaration from the template, then one by name: the in-batch ids count on)
          const packed = new Transaction(noop);
          addShardMap(packed, c.map, c);
          shardElements(packed, c.map, [c]);
          slotOp(packed, 'delete', c, half);
          slotOp(packed, 'destroy', c, half);
          slotOp(packed, 'add', c, half);
          addShardMap(packed, 'ep-other', c);

          const objects = new Transaction(noop);
          objects.addSet(shardMap(c.map, [c]));
          objects.deleteElements(slotMapRef(c), slotKeys(c, half));
          objects.replaceElements(slotMapRef(c), slotElements(c, half));
          objects.addSet(shardMap('ep-other', [c], false));
          // the declaration's key and data types are known by name afterwards, as after addSet
          for (const t of [packed, objects]) t.addElements({ family: 'inet', table: 'kernlb', set: 'ep-other' }, slotElements(c, half));

          expect(packed.size).toBe(objects.size);
          const bytes = encode(packed.items());
          expect(bytes.toString('hex')).toBe(encode(objects.items()).toString('hex'));
          // and through libnftnl, one object per element (its in-batch set id included)
          expect(packed.items()[1]).toMatchObject({ kind: 'elements', setId: (packed.items()[0] as { id: number }).id });
          expect(bytes.toString('hex')).toBe(encode(packed.items().map(asObjects)).toString('hex'));
          for (let i = 0; i < objects.size; i++) expect(packed.describe(i)).toBe(objects.describe(i));
        });

  for (const family of FAMILIES)
    for (const protocol of PROTOCOLS)
      for (const scheduler of SCHEDULERS)
        it(`${family} ${protocol} ${scheduler}: chain, rule and dispatch element as addChain / addRule / addSet write them`, () => {
          const c = service(family, protocol, scheduler);
          const none = { ...c, slots: 0, elements: [] }; // (no active endpoint: a counter rule)
          expect(packable(c)).toBe(true);
          const key = [family === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr', 'inet_proto', 'inet_service'];
          const T = { family: 'inet', table: 'kernlb' } as const;

          const packed = new Transaction(noop);
          addPackedChains(packed, [c.chain, 'svc-other']);
          packed.addSet({ ...T, name: 'svc', key: key as never, data: 'verdict' });
          dispatchElements(packed, 'svc', key, [c, { ...c, dispatch: { ...c.dispatch, port: 1 }, chain: 'svc-other' }]);
          addPackedRules(packed, [c, none]);

          const objects = new Transaction(noop);
          objects.addChain({ ...T, name: c.chain }).addChain({ ...T, name: 'svc-other' });
          objects.addSet({ ...T, name: 'svc', key: key as never, data: 'verdict', elements: [
            { key: [c.dispatch.vip, c.dispatch.protocol, c.dispatch.port], verdict: { verdict: 'goto', chain: c.chain } },
            { key: [c.dispatch.vip, c.dispatch.protocol, 1], verdict: { verdict: 'goto', chain: 'svc-other' } },
          ] });
          objects.addRule(serviceRule(c)).addRule(serviceRule(none));

          expect(packed.size).toBe(objects.size);
          expect(packed.items().map((i) => i.kind)).toEqual(['packed', 'set', 'elements', 'packed']);
          expect(encode(packed.items()).toString('hex')).toBe(encode(objects.items()).toString('hex'));
          // (and what an error names: the same item descriptions)
          for (let i = 0; i < objects.size; i++) expect(packed.describe(i)).toBe(objects.describe(i));
        });

  it('persistent services and non-ASCII comments are left to the general path', () => {
    const c = service('ipv4', 'tcp', 'wrr');
    expect(packable({ ...c, persistence: { timeout: 5, map: 'aff-x', chain: 'keep-x' } })).toBe(false);
    expect(packable({ ...c, comment: 'service caf\u00e9 rr' })).toBe(false);
    expect(packable({ ...c, comment: `service ${'x'.repeat(250)} rr` })).toBe(false);
  });

  it('no elements, no item (as addElements of an empty list leaves none)', () => {
    const c = service('ipv4', 'tcp', 'wrr');
    const tx = new Transaction(noop);
    slotOp(tx, 'add', c, []);
    expect(tx.size).toBe(0);
  });
});
