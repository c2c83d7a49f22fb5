/** Transactions: all or nothing, generation conflicts, dry runs, failing items named, big batches. */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, KernelError, Nftables, nftStatements as s, ValidationError } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const T = { family: 'ip' as const, table: 'lb' };

describe.skipIf(skip !== undefined)(`nft transactions${skip ? ` - skipped: ${skip}` : ''}`, () => {
  const spaces: TestNetns[] = [];
  let ns: TestNetns;
  const nftList = async () => (await ns.exec(['nft', 'list', 'ruleset'])).stdout;
  beforeEach(async () => {
    ns = await createNetns('klnft');
    spaces.push(ns);
    await ns.exec(['nft', '-f', '-'], { input: 'table ip lb {\n chain services {\n  ip daddr 10.0.0.1 accept\n }\n}\n' });
  });
  afterAll(async () => {
    await Promise.all(spaces.map((x) => x.destroy()));
  });

  it('a batch whose last item fails leaves the ruleset exactly as before, and names that item', async () => {
    const before = await nftList();
    await using nft = await Nftables.open({ netns: ns.name });
    const gen = await nft.generation();
    const tx = nft.transaction();
    tx.addTable({ family: 'ip', name: 'other' });
    tx.addChain({ ...T, name: 'x' });
    tx.addRule({ ...T, chain: 'services', exprs: [s.accept()] });
    tx.addRule({ ...T, chain: 'services', exprs: [s.accept()] });
    tx.addRule({ ...T, chain: 'services', exprs: [s.jump('missing')] });
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.code).toBe('ENOENT');
    expect(k.index).toBe(4);
    expect(k.item).toBe('rule 3 of chain lb/services');
    expect(k.message).toContain('rule 3 of chain lb/services');
    expect(await nftList()).toBe(before);
    expect(await nft.generation()).toBe(gen);
  });

  it('kernelMs is the kernel\'s share of a commit: set after it, within its wall time, larger for a bigger batch', async () => {
    await using nft = await Nftables.open({ netns: ns.name });
    const small = nft.transaction().addRule({ ...T, chain: 'services', exprs: [s.accept()] });
    expect(small.kernelMs).toBeUndefined();
    let t = performance.now();
    await small.commit();
    const smallWall = performance.now() - t;
    expect(small.kernelMs).toBeGreaterThan(0);
    expect(small.kernelMs).toBeLessThanOrEqual(smallWall);
    // 2000 chains with a rule each: the kernel's work grows with the batch, so must the figure
    const big = nft.transaction();
    for (let i = 0; i < 2000; i++) big.addChain({ ...T, name: `c${i}` }).addRule({ ...T, chain: `c${i}`, exprs: [s.counter(), s.accept()] });
    t = performance.now();
    await big.commit();
    expect(big.kernelMs).toBeLessThanOrEqual(performance.now() - t);
    expect(big.kernelMs).toBeGreaterThan(small.kernelMs! * 5);
    // a refused batch leaves it unset
    const bad = nft.transaction().addRule({ ...T, chain: 'services', exprs: [s.jump('missing')] });
    await expect(bad.commit()).rejects.toBeInstanceOf(KernelError);
    expect(bad.kernelMs).toBeUndefined();
  });

  it('detects a generation conflict when another process committed in between', async () => {
    await using nft = await Nftables.open({ netns: ns.name });
    const rs = await nft.list();
    await ns.exec(['nft', 'add', 'chain', 'ip', 'lb', 'sneaky']);
    const tx = nft.transaction().addChain({ ...T, name: 'mine' });
    const err = await tx.commit({ generation: rs.generation }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe('ERESTART');
    expect(await nftList()).not.toContain('mine');
    // the retry helper re-reads and succeeds
    let attempts = 0;
    await nft.retry(async (t, current) => {
      attempts++;
      if (attempts === 1) await ns.exec(['nft', 'add', 'chain', 'ip', 'lb', `sneaky${attempts}`]);
      t.addChain({ ...T, name: `mine-${current.chains.length}` });
    });
    expect(attempts).toBe(2);
    expect(await nftList()).toContain('chain mine-3');
  });

  it('a dry run is validated by the kernel but applies nothing', async () => {
    const before = await nftList();
    await using nft = await Nftables.open({ netns: ns.name });
    await nft.transaction().addChain({ ...T, name: 'ok' }).commit({ dryRun: true });
    expect(await nftList()).toBe(before);
    const bad = nft.transaction().addRule({ ...T, chain: 'services', exprs: [s.goto('nope')] });
    await expect(bad.commit({ dryRun: true })).rejects.toMatchObject({ code: 'ENOENT', index: 0 });
    expect(await nftList()).toBe(before);
  });

  it('rejects bad input before the kernel sees it, naming the field', async () => {
    await using nft = await Nftables.open({ netns: ns.name });
    const tx = nft.transaction();
    expect(() => tx.addSet({ ...T, name: 'm', key: ['ipv4_addr', 'inet_service'], elements: [{ key: ['10.0.0.1', 70000] }] })).toThrow(ValidationError);
    try {
      tx.addSet({ ...T, name: 'm', key: ['ipv4_addr', 'inet_service'], elements: [{ key: ['10.0.0.1', 70000] }] });
    } catch (e) {
      expect((e as ValidationError).field).toBe('items[0].elements[0].key[1]');
    }
    expect(tx.size).toBe(0);
  });

  it('commits 100k map elements in one transaction and lists them back', async () => {
    await using nft = await Nftables.open({ netns: ns.name });
    const N = 100_000;
    const elements = Array.from({ length: N }, (_, i) => ({
      key: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 80] as [string, number],
      data: [`192.168.${(i >> 8) & 255}.${i & 255}`, 8080] as [string, number],
    }));
    const tx = nft.transaction();
    tx.addSet({ ...T, name: 'big', key: ['ipv4_addr', 'inet_service'], data: ['ipv4_addr', 'inet_service'], size: 200_000, elements });
    await tx.commit();
    const rs = await nft.list({ table: 'lb' });
    const big = rs.sets.find((x) => x.name === 'big')!;
    expect(big.elements).toHaveLength(N);
    const keys = new Set(big.elements!.map((e) => (e.key as (string | number)[]).join(' ')));
    expect(keys.has('10.1.134.159 80')).toBe(true); // element 100_000 - 1
    const count = (await ns.exec(['sh', '-c', "nft list map ip lb big | grep -o ': 192[.]168[.]' | wc -l"])).stdout.trim();
    expect(Number(count)).toBe(N);
  }, 120_000);

  it('updates single elements of a big map without rewriting it', async () => {
    await using nft = await Nftables.open({ netns: ns.name });
    const ref = { ...T, set: 'svc', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' as const };
    await nft.transaction()
      .addSet({ ...T, name: 'svc', key: ref.key, data: 'verdict', elements: [{ key: ['10.0.0.1', 'tcp', 80], verdict: { verdict: 'accept' } }] })
      .commit();
    await nft.transaction().addElements(ref, [{ key: ['10.0.0.2', 'udp', 53], verdict: { verdict: 'jump', chain: 'services' } }]).commit();
    await nft.transaction().deleteElements(ref, [{ key: ['10.0.0.1', 'tcp', 80] }]).commit();
    expect(await nftList()).toContain('elements = { 10.0.0.2 . udp . 53 : jump services }');
    const err = await nft.transaction().createElements(ref, [{ key: ['10.0.0.2', 'udp', 53], verdict: { verdict: 'drop' } }]).commit().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EEXIST', item: '1 element(s) of set lb/svc' });
  });
  it('lists one table exactly as the whole ruleset holds it (the kernel filters the dumps by table); a missing one lists empty', async () => {
    // The same table name in two families, and a bigger neighbour with sets, maps, counters and rules.
    await ns.exec(['nft', '-f', '-'], {
      input: [
        'table inet lb {', ' counter hits {', ' }', ' set s {', '  type ipv4_addr', '  elements = { 10.0.0.9 }', ' }',
        ' chain c {', '  ip saddr @s counter name "hits" accept', ' }', '}',
        'table ip other {', ' counter n {', ' }', ' chain x {', '  counter name "n" return', ' }',
        ' map m {', '  type ipv4_addr : verdict', '  elements = { 10.1.0.1 : jump x }', ' }',
        ' chain y {', '  ip daddr vmap @m', '  ip saddr 10.2.0.0/16 drop', ' }', '}',
      ].join('\n') + '\n',
    });
    await using nft = await Nftables.open({ netns: ns.name });
    const all = await nft.list();
    const cases = [{ table: 'lb' }, { table: 'other' }, { family: 'inet', table: 'lb' }, { family: 'ip', table: 'lb' }, { family: 'ip', table: 'other' }] as const;
    for (const { family, table } of cases as readonly { family?: 'ip' | 'inet'; table: string }[]) {
      const one = await nft.list({ family, table });
      const mine = <T extends { table: string; family: string }>(xs: T[]) => xs.filter((x) => x.table === table && (!family || x.family === family));
      expect(one.tables).toEqual(all.tables.filter((t) => t.name === table && (!family || t.family === family)));
      expect(one.chains).toEqual(mine(all.chains));
      expect(one.sets).toEqual(mine(all.sets));
      expect(one.objects).toEqual(mine(all.objects));
      expect(one.rules).toEqual(mine(all.rules));
      expect(one.rules.length).toBeGreaterThan(0);
    }
    expect((await nft.list({ table: 'lb' })).tables.map((t) => t.family).sort()).toEqual(['inet', 'ip']);
    expect((await nft.list({ family: 'inet', table: 'lb' })).rules.map((r) => r.chain)).toEqual(['c']);
    for (const family of [undefined, 'ip', 'inet'] as const) {
      const none = await nft.list({ family, table: 'missing' });
      expect([none.tables, none.chains, none.sets, none.objects, none.rules]).toEqual([[], [], [], [], []]);
    }
  });
  it('lists a table of more than 1000 chains chain by chain: every rule once, in the kernel\'s order, as nft lists it', async () => {
    // Same table name in two families: each chain's rules are asked for by family, table and chain.
    const lines = ['table inet many {'];
    for (let i = 0; i < 1100; i++) lines.push(` chain c${i} {`, `  ip saddr 10.0.${i >> 8}.${i & 255} counter accept`, '  counter drop', ' }');
    lines.push('}', 'table ip many {', ' chain c1 {', '  tcp dport 22 accept', ' }', '}');
    await ns.exec(['nft', '-f', '-'], { input: lines.join('\n') + '\n' });
    await using nft = await Nftables.open({ netns: ns.name });
    const all = await nft.list();
    const inet = all.rules.filter((r) => r.table === 'many' && r.family === 'inet');
    expect(inet).toHaveLength(2200);
    // chain by chain in the chain listing's order, each chain's rules in handle order
    const order = all.chains.filter((c) => c.table === 'many' && c.family === 'inet').map((c) => c.name);
    expect(inet.map((r) => r.chain).filter((c, i, a) => a[i - 1] !== c)).toEqual(order);
    for (let i = 1; i < inet.length; i++) if (inet[i]!.chain === inet[i - 1]!.chain) expect(inet[i]!.handle!).toBeGreaterThan(inet[i - 1]!.handle!);
    const c513 = inet.filter((r) => r.chain === 'c513');
    expect(c513.map((r) => r.statements)).toEqual([['ip saddr 10.0.2.1', 'counter packets 0 bytes 0', 'accept'], ['counter packets 0 bytes 0', 'drop']]);
    expect(all.rules.filter((r) => r.table === 'many' && r.family === 'ip').map((r) => r.statements)).toEqual([['tcp dport 22', 'accept']]);
    const text = (await ns.exec(['nft', 'list', 'table', 'inet', 'many'])).stdout;
    expect(text.match(/counter packets 0 bytes 0 accept/g)).toHaveLength(1100);
    // (nft prints an inet table's ip match without the nfproto dependency it added; so does kernlb)
    expect(text).toContain(`\t\t${c513[0]!.statements!.join(' ')}\n`);
    const one = await nft.list({ family: 'inet', table: 'many' });
    expect(one.rules).toEqual(inet);
    expect(one.chains).toEqual(all.chains.filter((c) => c.table === 'many' && c.family === 'inet'));
  });
});
