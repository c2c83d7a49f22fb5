/**
 * Generated bad input for nftables, committed for real in a fresh network namespace: a valid ruleset,
 * then transactions (rules, sets and maps, elements, objects, chains, a listed ruleset copied whole)
 * each with one thing broken. Each commit resolves, or rejects with a ValidationError (or a
 * KernelError where only the kernel can know: a missing or existing object); a rejected commit
 * leaves `nft -j list ruleset` byte-identical; after an accepted one list() still reads the ruleset and
 * nft reads what the calls asked for (tables, chains, rules, sets and their elements, objects, comments).
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, Nftables, nftStatements as s, type NftRuleset, type NftTransaction } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { resolve } from '../nft-scripts';
import { caseLine, mutate, outcome, rng, type Path } from '../bad-input';

const skip = kernelTestsSkipReason();
const CASES = Number(process.env.KERNLB_FUZZ_CASES) || 150;
const ip = { family: 'ip', table: 'lb' } as const;
const BACKENDS = { key: ['ip daddr', 'th dport', { numgen: { mod: 2 } }], data: ['ip daddr', 'th dport'] };

/** The ruleset every case starts from. */
function base(tx: NftTransaction): void {
  tx.addTable({ family: 'ip', name: 'lb', comment: 'kernlb' });
  tx.addChain({ ...ip, name: 'svc-web' });
  tx.addChain({ ...ip, name: 'svc-dns' });
  tx.addChain({ ...ip, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } });
  tx.addChain({ ...ip, name: 'in', base: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' } });
  tx.addObject({ ...ip, name: 'web-hits', type: 'counter' });
  tx.addObject({ ...ip, name: 'q', type: 'quota', bytes: 1000000 });
  tx.addObject({ ...ip, name: 'l', type: 'limit', rate: 400, unit: 60 });
  tx.addSet({ ...ip, name: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
    elements: [{ key: ['10.96.0.1', 'tcp', 80], verdict: { verdict: 'goto', chain: 'svc-web' } }, { key: ['10.96.0.2', 'udp', 53], verdict: { verdict: 'goto', chain: 'svc-dns' } }] });
  tx.addSet({ ...ip, name: 'backends', typeof: BACKENDS as never,
    elements: [{ key: ['10.96.0.1', 80, 0], data: ['10.0.0.1', 8080] }, { key: ['10.96.0.1', 80, 1], data: ['10.0.0.2', 8080] }] });
  // an explicit size: binding a dynset rule to a sizeless set sets its size to 65535 in the kernel even
  // when the transaction is then aborted (nft_dynset_init), which would show in `nft list ruleset`
  tx.addSet({ ...ip, name: 'affinity', key: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800000, size: 65535 });
  tx.addSet({ ...ip, name: 'blocked', key: 'ipv4_addr', flags: ['interval'], elements: [{ key: '192.0.2.0' }, { key: '192.0.3.0', flags: 1 }] });
  tx.addRule({ ...ip, chain: 'pre', exprs: [s.vmap(['ip daddr', 'meta l4proto', 'th dport'], 'services')] });
  tx.addRule({ ...ip, chain: 'svc-web', exprs: [s.counterRef('web-hits'), s.match('meta l4proto', 'tcp'), s.dnatMap(BACKENDS.key as never, 'backends', { port: true })] });
  tx.addRule({ ...ip, chain: 'in', exprs: [s.ctState(['established', 'related']), s.accept()] });
}

type Call = [string, ...unknown[]];
const st = (name: string, ...args: unknown[]) => ({ $s: name, args });

/** Transactions on top of the base ruleset; `copy` is the base as list() returned it, moved to table "copy". */
function scripts(copy: Omit<NftRuleset, 'generation'>): Call[][] {
  return [
    [
      ['addChain', { ...ip, name: 'svc-api' }],
      ['addRule', { ...ip, chain: 'svc-api', comment: 'api', exprs: [st('match', 'tcp dport', 443), st('objectRef', 'quota', 'q'), st('dnat', { addr: '10.0.0.5', port: 8443 })] }],
      ['addElements', { ...ip, set: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' },
        [{ key: ['10.96.0.3', 'tcp', 443], verdict: { verdict: 'goto', chain: 'svc-api' } }]],
      ['replaceElements', { ...ip, set: 'backends', typeof: BACKENDS }, [{ key: ['10.96.0.1', 80, 1], data: ['10.0.0.9', 8080] }]],
      ['deleteElements', { ...ip, set: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' }, [{ key: ['10.96.0.2', 'udp', 53] }]],
    ],
    [
      ['addSet', { ...ip, name: 'ports', key: 'inet_service', flags: ['timeout'], timeout: 60000, size: 100, elements: [{ key: 22, timeout: 120000, comment: 'ssh' }, { key: 80 }] }],
      ['addSet', { ...ip, name: 'marks', key: 'mark', data: 'ipv4_addr', elements: [{ key: 1, data: '10.0.0.1' }] }],
      ['addSet', { ...ip, name: 'objs', key: 'inet_service', objectType: 'counter', elements: [{ key: 80, object: 'web-hits' }] }],
      ['addSet', { ...ip, name: 'ranges', key: ['ipv4_addr', 'inet_service'], flags: ['interval'], elements: [{ key: ['10.0.0.0', 1000], keyEnd: ['10.0.0.255', 2000] }] }],
      ['addRule', { ...ip, chain: 'in', exprs: [st('inSet', 'tcp dport', 'ports'), st('objectRef', 'limit', 'l'), st('accept')] }],
      ['addRule', { ...ip, chain: 'in', exprs: [st('inSet', ['ip saddr'], 'affinity', { inverted: true }), st('updateSet', 'affinity', 'ip saddr', { timeout: 1000 })] }],
      ['addRule', { ...ip, chain: 'in', exprs: [st('match', 'ip saddr', '10.0.0.0/9', 'neq'), st('markSet', 5), st('markOr', 0x4000), st('markMasked', 0x4000, 0x4000), st('drop')] }],
    ],
    [
      ['addAnonymousSet', { ...ip, key: 'integer', data: 'verdict', elements: [{ key: 0, verdict: { verdict: 'goto', chain: 'svc-web' } }, { key: 1, verdict: { verdict: 'goto', chain: 'svc-dns' } }] }],
      ['addRule', { ...ip, chain: 'pre', exprs: [st('match', 'ip daddr', '10.96.0.9'), st('vmap', { numgen: { mod: 2 } }, '__map%d', { setId: 1 })] }],
      ['insertRule', { ...ip, chain: 'in', exprs: [
        { type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 },
        { type: 'cmp', sreg: 1, op: 0, data: '0a000001' },
        { type: 'counter', packets: 0, bytes: 0 },
        { type: 'immediate', dreg: 0, verdict: 1 },
      ] }],
      ['addObject', { ...ip, name: 'c2', type: 'counter', packets: 1, bytes: 2, comment: 'c' }],
      ['deleteObject', { ...ip, name: 'q', type: 'quota' }],
      ['flushSet', { ...ip, name: 'blocked' }],
      ['flushChain', { ...ip, name: 'svc-dns' }],
    ],
    [['addRuleset', copy]],
  ];
}

const inArgs = (p: Path) => p.length >= 2 && p[1] !== 0 && p[p.length - 1] !== '$s';
/** What only the kernel can know: whether an object exists. */
const CAN_KNOW = new Set(['ENOENT', 'EEXIST']);
/**
 * Kernel-level expressions (Rule.exprs, NftSet.exprs as raw objects) are passed through as the kernel's
 * own attributes: their meaning (registers, lengths, which attributes an expression needs) is the
 * kernel's to judge, so a broken one may also be the kernel's EINVAL / ERANGE. Statement builder
 * arguments are not: those are kernlb's to check.
 */
const RAW_EXPR_CODES = new Set(['EINVAL', 'ERANGE', 'ENOTSUP', 'EOPNOTSUPP', 'ENODATA']);
function inRawExpr(script: Call[], path: Path): boolean {
  let node: unknown = script, raw = false;
  for (const k of path) {
    if (node && typeof node === 'object' && Object.keys(node).includes('$s')) return false;
    if (k === 'exprs') raw = true;
    node = node && typeof node === 'object' ? (node as Record<string | number, unknown>)[k] : undefined;
  }
  return raw && !(node && typeof node === 'object' && Object.keys(node).includes('$s'));
}

/**
 * A ruleset as `nft -j list ruleset` shows it, reduced to what every transaction call names: tables,
 * chains, each chain's rules (by comment, in order), named sets and maps (element count and element
 * comments) and objects (kind, comment). Anonymous sets are nft's business (printed inline).
 */
interface Shape {
  tables: string[];
  chains: Record<string, string[]>;
  sets: Record<string, { elements: number; comments: string[] }>;
  objects: Record<string, string>;
}
const OBJECT_KINDS = ['counter', 'quota', 'limit'];
const k3 = (family: unknown, table: unknown, name: unknown) => `${String(family)} ${String(table)} ${String(name)}`;
function shapeOf(json: string): Shape {
  const out: Shape = { tables: [], chains: {}, sets: {}, objects: {} };
  for (const x of JSON.parse(json).nftables as Record<string, Record<string, unknown>>[]) {
    const [kind, v] = Object.entries(x)[0]!;
    if (kind === 'table') out.tables.push(`${v.family} ${v.name}`);
    else if (kind === 'chain') out.chains[k3(v.family, v.table, v.name)] = [];
    else if (kind === 'rule') out.chains[k3(v.family, v.table, v.chain)]!.push(String(v.comment ?? ''));
    else if (kind === 'set' || kind === 'map') {
      const elem = (v.elem ?? []) as unknown[];
      const comments = elem.map((e) => (e && typeof e === 'object' && 'elem' in e ? String((e as { elem: { comment?: string } }).elem.comment ?? '') : '')).filter(Boolean);
      out.sets[k3(v.family, v.table, v.name)] = { elements: elem.length, comments: comments.sort() };
    } else if (OBJECT_KINDS.includes(kind)) out.objects[k3(v.family, v.table, v.name)] = `${kind} ${String(v.comment ?? '')}`;
  }
  out.tables.sort();
  return out;
}
/**
 * The shape `calls` should leave on top of `base`, worked out from the calls alone (not from what
 * kernlb made of them). Element keys of one call are told apart by their JSON; keys added are new
 * to the set, replaced ones are already there (as in every script).
 */
function expectShape(base: Shape, calls: Call[]): Shape {
  const s: Shape = JSON.parse(JSON.stringify(base));
  const keyOf = (e: Record<string, unknown>) => JSON.stringify(e.key ?? e.keyHex ?? null);
  // (nft shows a range once: an interval's end element is no element of its own)
  const distinct = (els: Record<string, unknown>[]) =>
    [...new Map(els.filter((e) => !(typeof e.flags === 'number' && e.flags & 1)).map((e) => [keyOf(e), e])).values()];
  const comments = (els: Record<string, unknown>[]) => els.map((e) => (typeof e.comment === 'string' ? e.comment : '')).filter(Boolean);
  const addSet = (x: Record<string, unknown>) => {
    const els = distinct((x.elements ?? []) as Record<string, unknown>[]);
    s.sets[k3(x.family, x.table, x.name)] = { elements: els.length, comments: comments(els).sort() };
  };
  const apply = (method: string, a: Record<string, unknown>, b?: unknown) => {
    const chain = () => s.chains[k3(a.family, a.table, a.chain)]!;
    const set = () => s.sets[k3(a.family, a.table, a.set ?? a.name)]!;
    if (method === 'addChain') s.chains[k3(a.family, a.table, a.name)] ??= [];
    else if (method === 'addRule') chain().push(typeof a.comment === 'string' ? a.comment : '');
    else if (method === 'insertRule') chain().unshift(typeof a.comment === 'string' ? a.comment : '');
    else if (method === 'addSet') addSet(a);
    else if (method === 'addElements') {
      const els = distinct(b as Record<string, unknown>[]);
      set().elements += els.length;
      set().comments = [...set().comments, ...comments(els)].sort();
    } else if (method === 'deleteElements') set().elements -= distinct(b as Record<string, unknown>[]).length;
    else if (method === 'flushSet') Object.assign(set(), { elements: 0, comments: [] });
    else if (method === 'flushChain') s.chains[k3(a.family, a.table, a.name)] = [];
    else if (method === 'addObject') s.objects[k3(a.family, a.table, a.name)] = `${String(a.type)} ${typeof a.comment === 'string' ? a.comment : ''}`;
    else if (method === 'deleteObject') delete s.objects[k3(a.family, a.table, a.name)];
    else if (method === 'addRuleset') {
      const rs = a as unknown as Omit<NftRuleset, 'generation'>;
      for (const t of rs.tables) if (!s.tables.includes(`${t.family} ${t.name}`)) s.tables.push(`${t.family} ${t.name}`);
      s.tables.sort();
      for (const c of rs.chains) apply('addChain', c as never);
      for (const o of rs.objects) apply('addObject', o as never);
      for (const x of rs.sets) if (!x.flags?.includes('anonymous')) addSet(x as never);
      for (const r of rs.rules) apply('addRule', r as never);
    }
    // replaceElements (keys already there) and addAnonymousSet change no count
  };
  for (const [method, a, b] of calls) apply(method, a as Record<string, unknown>, b);
  return s;
}

describe.skipIf(skip !== undefined)(`nft: generated bad input, committed${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  let nft: Nftables;
  let copy: Omit<NftRuleset, 'generation'>;
  const nftJson = async () => (await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout;
  const reset = async () => {
    await ns.exec(['nft', 'flush', 'ruleset']);
    const tx = nft.transaction();
    base(tx);
    await tx.commit();
  };
  beforeAll(async () => {
    ns = await createNetns('klnftbad');
    nft = await Nftables.open({ netns: ns.name });
    await reset();
    const { generation: _g, ...listed } = await nft.list();
    // the same ruleset under another table name: addRuleset of what list() returned
    copy = JSON.parse(JSON.stringify(listed, (k, v) => (k === 'table' && v === 'lb' ? 'copy' : v)));
    for (const t of copy.tables) t.name = 'copy';
  });
  afterAll(async () => {
    await nft?.close();
    await ns?.destroy();
  });

  it('the valid transactions commit', async () => {
    for (const script of scripts(copy)) {
      await reset();
      const tx = nft.transaction();
      for (const [method, ...args] of script) (tx as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args.map(resolve));
      await tx.commit();
    }
  });

  it('each case commits, or is refused (ValidationError, or the kernel for missing/existing objects) leaving the ruleset as it was', async () => {
    const wrong: string[] = [];
    const counts = { ok: 0, validation: 0, kernel: 0 };
    const all = scripts(copy);
    for (let seed = 1; seed <= CASES; seed++) {
      const script = all[seed % all.length]!;
      const { input, mutation } = mutate(script, rng(seed), inArgs);
      await reset();
      const before = await nftJson();
      const o = await outcome(async () => {
        const tx = nft.transaction();
        for (const [method, ...args] of input) (tx as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args.map(resolve));
        await tx.commit();
      });
      if (o.kind === 'ok') {
        counts.ok++;
        const l = await outcome(() => nft.list());
        if (l.kind !== 'ok') wrong.push(caseLine(seed, mutation, l.error ?? new Error('list failed')));
        // what was accepted is what the kernel holds, as nft reads it
        const expected = expectShape(shapeOf(before), input);
        const held = shapeOf(await nftJson());
        if (!isDeepStrictEqual(held, expected))
          wrong.push(caseLine(seed, mutation, new Error(`committed, but nft reads another ruleset:\n${JSON.stringify(held)}\nexpected:\n${JSON.stringify(expected)}`)));
        continue;
      }
      if (o.kind === 'validation') counts.validation++;
      else if (o.kind === 'kernel' && CAN_KNOW.has((o.error as KernelError).code)) counts.kernel++;
      else if (o.kind === 'kernel' && RAW_EXPR_CODES.has((o.error as KernelError).code) && inRawExpr(script, mutation.path)) counts.kernel++;
      else wrong.push(caseLine(seed, mutation, o.error));
      const after = await nftJson();
      if (after !== before) wrong.push(caseLine(seed, mutation, new Error(`refused (${o.kind}) but the ruleset changed`)));
    }
    expect(wrong).toEqual([]);
    expect(counts.validation).toBeGreaterThan(CASES / 3);
    expect(counts.ok).toBeGreaterThan(0);
  });
});
