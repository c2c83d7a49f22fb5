/**
 * Commits of deep-frozen rules reuse their encoded entries (rule-cache.ts): whatever changes
 * between commits, the bytes must be exactly what a fresh encode of the same table gives. And the
 * kernel-order cache of chains (chain-order.ts) must never hide a reordering or a duplicate.
 */
import { describe, expect, it } from 'vitest';
import { encodeValidTable } from '../../lib/iptables/blob';
import { chainCaches, closeSlab, ruleCaches, type Slab } from '../../lib/iptables/rule-cache';
import { chainOrder } from '../../lib/iptables/chain-order';
import {
  encodeIptTable as encodeTable, iptFreezeRule as freezeRule, iptFreezeRules as freezeRules, iptRenameChain as renameChain, iptZeroCounters as zeroCounters, parseIptablesSave,
  ValidationError, ValidationErrors, validateIptTable as validateTable, type IptRule, type IptTable,
} from '../../lib';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, kubeProxyLayout, typedOnly } from './iptables-fixtures';

const HOOKS: Record<string, number> = { filter: 0b01110, nat: 0b11011, raw: 0b01001, mangle: 0b11111 };

/**
 * What commit does with blobs: encode with the family's cache, keep the blob as the table's home
 * until the next encode has copied from it, then give it back (here: overwrite it with garbage, so
 * a stale entry that were still used would show). With `inPlace`, the home is offered to the next
 * encode to write over (as commit does); the blob given back is then filled with garbage first.
 */
class BaseCommitter {
  private home: { slab: Slab; blob: Buffer } | null = null;
  /** How many encodes were written over their home. */
  inPlaceCount = 0;

  /** `chains`: with the chain cache too (as commit), or the rule cache alone. */
  constructor(private readonly chains = true, private readonly inPlace = false) {}

  encode(t: IptTable): Buffer {
    const alloc = (n: number) => Buffer.alloc(n + 4096).fill(0x5a).fill(0, 0, n).subarray(0, n); // (room to grow in place)
    const enc = encodeValidTable(t, HOOKS[t.name]!, alloc, ruleCaches[t.family], this.chains ? chainCaches[t.family] : null, this.inPlace ? this.home : null);
    if (enc.inPlace) {
      this.inPlaceCount++;
      expect(enc.blob.buffer).toBe(this.home!.blob.buffer);
      this.home = null;
    }
    if (enc.slab) {
      const old = this.home;
      this.home = { slab: enc.slab, blob: enc.blob };
      if (old) {
        closeSlab(old.slab);
        old.blob.fill(0xa5);
      }
    }
    // The same bytes as an encode that knows nothing of the cache, every time.
    const fresh = encodeTable(t, HOOKS[t.name]!);
    expect(enc.numEntries).toBe(fresh.numEntries);
    expect(enc.blob.equals(fresh.blob)).toBe(true);
    expect(enc.counters?.toString('hex')).toBe(fresh.counters?.toString('hex'));
    return enc.blob;
  }
}

const kube = (n: number) => parseIptablesSave(kubeProxyLayout(n, 3))[0]!;
const dnatRules = (t: IptTable) => t.chains.flatMap((c) => c.rules.map((r, i) => ({ c, i, r }))).filter((x) => x.r.target?.type === 'DNAT');

describe.each([[true, false], [false, false], [true, true], [false, true]])('rule cache (chain cache too: %s, in place: %s)', (withChains, inPlace) => {
  class Committer extends BaseCommitter {
    constructor() {
      super(withChains, inPlace);
    }
  }

  it('re-encodes exactly after rules change, chains are added, renamed and removed', () => {
    const t = freezeRules(kube(20));
    const c = new Committer();
    c.encode(t);
    c.encode(t); // all from the cache
    // Replace some rules (new frozen objects), insert a chain that shifts every offset after it.
    for (const { c: ch, i, r } of dnatRules(t).filter((_, k) => k % 7 === 0)) {
      ch.rules[i] = freezeRule({ ...r, target: { ...r.target!, port: 9999 } as IptRule['target'] });
    }
    t.chains.splice(5, 0, { name: 'KUBE-AAA-FIRST', rules: [freezeRule({ target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } })] });
    c.encode(t);
    // Some rules deleted, a chain emptied and removed (with the jumps to it).
    const sep = t.chains.find((x) => x.name.startsWith('KUBE-SEP-'))!;
    for (const ch of t.chains) ch.rules = ch.rules.filter((r) => !(r.target?.type === 'jump' && r.target.chain === sep.name));
    t.chains.splice(t.chains.indexOf(sep), 1);
    t.chains.find((x) => x.name === 'KUBE-SERVICES')!.rules.splice(1, 2);
    c.encode(t);
  });

  it('renameChain and zeroCounters work on frozen rules (replacing them), and a renamed chain is found by name', () => {
    const t = freezeRules(kube(5));
    const c = new Committer();
    c.encode(t);
    const svc = t.chains.find((x) => x.name.startsWith('KUBE-SVC-'))!;
    const jumper = t.chains.find((x) => x.name === 'KUBE-SERVICES')!.rules.find((r) => r.target?.type === 'jump' && r.target.chain === svc.name)!;
    renameChain(t, svc.name, 'KUBE-SVC-NEW');
    expect(svc.name).toBe('KUBE-SVC-NEW');
    const now = t.chains.find((x) => x.name === 'KUBE-SERVICES')!.rules.find((r) => r.target?.type === 'jump' && r.target.chain === 'KUBE-SVC-NEW')!;
    expect(now).not.toBe(jumper);
    expect(Object.isFrozen(now)).toBe(true);
    c.encode(t);
    const counted = freezeRule({ counters: Object.freeze({ packets: 3, bytes: 4 }), target: { type: 'RETURN' } } as IptRule);
    const live = freezeRule({ counters: { packets: 3, bytes: 4 }, target: { type: 'RETURN' } } as IptRule);
    svc.rules.push(counted, live);
    zeroCounters(t);
    expect(svc.rules.at(-2)!.counters).toBeUndefined();
    expect(Object.isFrozen(svc.rules.at(-2))).toBe(true);
    expect(svc.rules.at(-1)).toBe(live);
    expect(live.counters).toEqual({ packets: 0, bytes: 0 });
    c.encode(t);
    // Chains moved around (same names): cached jumps re-resolve by name.
    t.chains.reverse();
    c.encode(t);
    t.chains.splice(4, 1);
    expect(() => encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4)).toThrow(ValidationError); // its jump now goes nowhere
  });

  it('a rule that is frozen only on top is encoded afresh each time (a change inside it shows)', () => {
    const t = kube(3);
    const c = new Committer();
    const r = t.chains.flatMap((x) => x.rules).find((x) => x.target?.type === 'DNAT')!;
    Object.freeze(r); // the target object inside stays mutable
    c.encode(t);
    (r.target as { port: number }).port = 1234;
    const blob = c.encode(t);
    expect(blob.includes(Buffer.from([0x04, 0xd2]))).toBe(true); // 1234, big-endian, in the range
  });

  it('rules frozen with Object.freeze all the way down use the WeakMap; a rule twice in a table; counters stay live', () => {
    const t = kube(4);
    const deep = (v: unknown): void => {
      if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
        for (const x of Object.values(v)) deep(x);
        Object.freeze(v);
      }
    };
    for (const ch of t.chains) for (const r of ch.rules) if (!r.counters) deep(r);
    const shared = freezeRule({ protocol: 'tcp', matches: [{ type: 'tcp', dport: 53 }], target: { type: 'jump', chain: 'KUBE-MARK-MASQ' } } as IptRule);
    const ch = t.chains.find((x) => x.name === 'KUBE-SERVICES')!;
    ch.rules.push(shared, shared);
    const counted = freezeRule({ counters: { packets: 1, bytes: 2 }, target: { type: 'RETURN' } } as IptRule);
    ch.rules.push(counted);
    const c = new Committer();
    c.encode(t);
    expect(ruleCaches.ipv4.has(ch.rules[0]!)).toBe(true);
    c.encode(t);
    counted.counters!.packets = 5; // the counters object of a frozen rule stays writable
    const enc = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4);
    const fresh = encodeTable(t, HOOKS.nat!);
    expect(enc.counters!.equals(fresh.counters!)).toBe(true);
    expect(enc.blob.equals(fresh.blob)).toBe(true);
  });

  it('IPv4 and IPv6 entries of one frozen rule are kept apart; raw extensions are never cached', () => {
    const rule = freezeRule({ protocol: 'tcp', matches: [{ type: 'tcp', dport: 80 }, { type: 'comment', comment: 'both' }], target: { type: 'ACCEPT' } } as IptRule);
    const raw = freezeRule({ matches: [{ type: 'raw', name: 'length', revision: 1, data: Buffer.from('0000ffff00000000', 'hex') }] } as IptRule);
    const c4 = new Committer(), c6 = new Committer();
    for (let i = 0; i < 2; i++) {
      const t4 = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')[0]!;
      const t6 = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', 'ipv6')[0]!;
      t4.chains[0]!.rules.push(rule, raw);
      t6.chains[0]!.rules.push(rule);
      c4.encode(t4);
      c6.encode(t6);
    }
    expect(ruleCaches.ipv4.has(raw)).toBe(false);
  });

  it('every typed extension, IPv4 and IPv6, encodes the same from the cache', () => {
    for (const [text, family] of [[typedOnly(ALL_IPV4), 'ipv4'], [typedOnly(ALL_IPV6), 'ipv6'], [KUBE_PROXY, 'ipv4']] as const) {
      for (const t of parseIptablesSave(text, family)) {
        freezeRules(t);
        const c = new Committer();
        c.encode(t);
        c.encode(t);
      }
    }
  });
});

describe('a recommit written over its home', () => {
  it('a rule that is not even an object is a ValidationError through the caching encoder too, never a crash', () => {
    const t = freezeRules(kube(2));
    const c = new BaseCommitter(true, true);
    c.encode(t);
    const sep = t.chains.find((x) => x.name.startsWith('KUBE-SEP-'))!;
    const kept = sep.rules;
    for (const bad of [null, 5, 'x', Object.freeze({ matches: Object.freeze([null]) }), Object.freeze({ target: Object.freeze({ type: 'nosuch' }) })]) {
      sep.rules = [...kept, bad as unknown as IptRule];
      const err = (() => {
        try {
          encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4, null);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toMatch(new RegExp(`chain ${sep.name} rule ${kept.length + 1}`));
    }
    sep.rules = kept;
    c.encode(t);
  });

  it('is written in place while every cached rule and chain stays where it is, else into a new blob', () => {
    const t = freezeRules(kube(30));
    const c = new BaseCommitter(true, true);
    c.encode(t);
    c.encode(t);
    expect(c.inPlaceCount).toBe(1);
    // 1% of a controller's changes: DNAT ports (same sizes, same offsets).
    for (const { c: ch, i, r } of dnatRules(t).filter((_, k) => k % 5 === 0)) ch.rules[i] = freezeRule({ ...r, target: { ...r.target!, port: 7000 + i } as IptRule['target'] });
    c.encode(t);
    expect(c.inPlaceCount).toBe(2);
    // A rule that grows moves everything after it: a new blob.
    const svc = t.chains.find((x) => x.name.startsWith('KUBE-SVC-'))!;
    svc.rules[0] = freezeRule({ ...svc.rules[0]!, matches: [...(svc.rules[0]!.matches ?? []), { type: 'comment', comment: 'grown' }] });
    c.encode(t);
    expect(c.inPlaceCount).toBe(2);
    c.encode(t);
    expect(c.inPlaceCount).toBe(3);
    // A new chain at the end of the kernel's order, and a table whose rules are mostly new: the
    // former fits in place (the home has room), the latter is not worth it.
    t.chains.push({ name: 'ZZZ-LAST', rules: [freezeRule({ target: { type: 'RETURN' } })] });
    c.encode(t);
    expect(c.inPlaceCount).toBe(4);
    for (const ch of t.chains) ch.rules = ch.rules.map((r) => freezeRule({ ...r }));
    c.encode(t);
    expect(c.inPlaceCount).toBe(4);
  });

  it('a rule or chain put back after it was written over is encoded afresh, not copied from the old bytes', () => {
    const t = freezeRules(kube(10));
    const c = new BaseCommitter(true, true);
    c.encode(t);
    c.encode(t);
    const [{ c: ch, i, r: before }] = dnatRules(t);
    const chainRules = ch.rules;
    const after = freezeRule({ ...before, target: { ...before.target!, port: 1234 } as IptRule['target'] });
    ch.rules = chainRules.map((r, k) => (k === i ? after : r));
    const n = c.inPlaceCount;
    c.encode(t); // `after` is written where `before` was
    ch.rules = chainRules; // the old array, with `before`: neither its chain record nor its entry may be used
    c.encode(t); // (compares with a fresh encode)
    expect(c.inPlaceCount).toBe(n + 2);
    ch.rules = chainRules.map((r, k) => (k === i ? after : r));
    c.encode(t);
  });
});

describe('chain cache', () => {
  const Committer = BaseCommitter;

  it('rewrites a chain renamed, re-policied, reordered or with a rule swapped; patches fall-through rules and jumps that moved', () => {
    const t = freezeRules(kube(10));
    const sep = t.chains.find((x) => x.name.startsWith('KUBE-SEP-'))!;
    sep.rules.splice(1, 0, freezeRule({ matches: [{ type: 'comment', comment: 'counts only' }] } as IptRule)); // no target: falls through
    const c = new Committer();
    c.encode(t);
    c.encode(t);
    expect(chainCaches.ipv4.has(sep) || Object.getOwnPropertySymbols(sep).length === 1).toBe(true);
    expect(Object.keys(sep)).toEqual(['name', 'rules']); // the chain's slot is not enumerable
    t.chains.splice(3, 0, { name: 'KUBE-AAA', rules: [freezeRule({ target: { type: 'jump', chain: sep.name } })] }); // everything after moves
    c.encode(t);
    sep.name = 'KUBE-SEP-RENAMED';
    for (const ch of t.chains) ch.rules = ch.rules.map((r) => (r.target?.type === 'jump' && r.target.chain.startsWith('KUBE-SEP-') && !t.chains.some((x) => x.name === (r.target as { chain: string }).chain) ? freezeRule({ ...r, target: { type: 'jump', chain: 'KUBE-SEP-RENAMED' } }) : r));
    c.encode(t);
    t.chains.find((x) => x.name === 'PREROUTING')!.policy = 'DROP';
    c.encode(t);
    sep.rules.reverse();
    c.encode(t);
    sep.rules[0] = freezeRule({ target: { type: 'RETURN' } });
    c.encode(t);
    t.chains.reverse(); // chain indices (jump targets) all change, the kernel order does not
    c.encode(t);
  });

  it('a table without frozen rules keeps no blob (its commit gives the blob back to the arena)', () => {
    const t = kube(3);
    t.chains.push({ name: 'KUBE-EMPTY', rules: [] });
    expect(encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4).slab).toBe(0);
    freezeRules(t);
    expect(encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4).slab).not.toBe(0);
  });

  it('counters of rules in a copied chain and of built-in policies are read at each encode', () => {
    const t = freezeRules(kube(3));
    const counted = freezeRule({ counters: { packets: 1, bytes: 10 }, target: { type: 'RETURN' } } as IptRule);
    t.chains.find((x) => x.name === 'KUBE-POSTROUTING')!.rules.push(counted);
    const c = new Committer();
    c.encode(t);
    for (let i = 2; i < 5; i++) {
      counted.counters!.packets = i;
      t.chains[0]!.counters = { packets: i * 100, bytes: 1 };
      c.encode(t); // (compares the counters too)
      const enc = encodeValidTable(t, HOOKS.nat!, Buffer.alloc, ruleCaches.ipv4, chainCaches.ipv4);
      expect(enc.counters!.equals(encodeTable(t, HOOKS.nat!).counters!)).toBe(true);
    }
  });

  it('a chain with a rule that is not deep-frozen is never copied whole; a frozen chain object uses the WeakMap', () => {
    const t = freezeRules(kube(3));
    const svc = t.chains.find((x) => x.name.startsWith('KUBE-SVC-'))!;
    const loose: IptRule = { protocol: 'tcp', matches: [{ type: 'tcp', dport: 1 }], target: { type: 'ACCEPT' } };
    svc.rules.push(loose);
    const c = new Committer();
    c.encode(t);
    (loose.matches![0] as { dport: number }).dport = 2;
    c.encode(t);
    const frozenChain = Object.freeze({ name: 'KUBE-ZZZ', rules: Object.freeze([freezeRule({ target: { type: 'RETURN' } })]) as IptRule[] });
    t.chains.push(frozenChain);
    c.encode(t);
    expect(chainCaches.ipv4.has(frozenChain)).toBe(true);
    c.encode(t);
  });
});

describe('chain order cache', () => {
  it('follows renames and moves, and finds duplicates out of name order', () => {
    const t = kube(3);
    const before = [...chainOrder(t.chains)];
    expect(chainOrder(t.chains)).toEqual(before);
    const user = t.chains.filter((c) => c.policy === undefined);
    renameChain(t, user[0]!.name, 'ZZZ-LAST');
    const after = chainOrder(t.chains).map((i) => t.chains[i]!.name);
    expect(after[after.length - 1]).toBe('ZZZ-LAST');
    expect(encodeValidTable(t, HOOKS.nat!).blob.equals(encodeTable(t, HOOKS.nat!).blob)).toBe(true);
    // A duplicate of a chain declared earlier, in a table that is not in name order.
    t.chains.push({ name: user[3]!.name, rules: [] });
    let err: unknown;
    try {
      validateTable(t);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(`chains[${t.chains.length - 1}] (${user[3]!.name}).name`);
    expect((err as ValidationError).problem).toBe('duplicate chain name');
    expect(() => encodeValidTable(t, HOOKS.nat!)).toThrow(/duplicate chain name/);
  });

  it('a new array of the same chains (or of other chains, same length) gets its own right order', () => {
    const t = kube(3);
    const expected = (chains: IptTable['chains']) =>
      [...chains.keys()].sort((a, b) => {
        const ca = chains[a]!, cb = chains[b]!;
        const ha = ca.policy !== undefined ? 0 : 1, hb = cb.policy !== undefined ? 0 : 1;
        if (ha !== hb) return ha - hb;
        if (ha === 0) return ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].indexOf(ca.name) - ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].indexOf(cb.name);
        return ca.name < cb.name ? -1 : ca.name > cb.name ? 1 : 0;
      });
    expect(chainOrder(t.chains)).toEqual(expected(t.chains));
    const same = [...t.chains];
    expect(chainOrder(same)).toEqual(expected(same));
    const shuffled = [...t.chains].reverse();
    expect(chainOrder(shuffled)).toEqual(expected(shuffled));
    const renamed = t.chains.map((c) => (c.name === 'KUBE-MARK-MASQ' ? { ...c, name: 'ZZZ' } : c));
    expect(chainOrder(renamed)).toEqual(expected(renamed));
    expect(encodeValidTable({ ...t, chains: shuffled }, HOOKS.nat!).blob.equals(encodeTable(t, HOOKS.nat!).blob)).toBe(true);
  });

  it('reports every duplicate, three of a name included, in order or not', () => {
    for (const names of [['B', 'A', 'B', 'C', 'B'], ['A', 'A', 'B', 'A'], ['C', 'B', 'A', 'C']]) {
      const t = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')[0]!;
      for (const n of names) t.chains.push({ name: n, rules: [] });
      const expected = names.flatMap((n, i) => (names.indexOf(n) < i ? [`chains[${i + 3}] (${n}).name: duplicate chain name`] : []));
      let got: string[] = [];
      try {
        validateTable(t);
      } catch (e) {
        const list = e instanceof ValidationErrors ? e.errors : [e as ValidationError];
        got = list.map((x) => `${x.field}: ${x.problem}`);
      }
      expect(got).toEqual(expected);
    }
  });
});
