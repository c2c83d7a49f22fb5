/**
 * Generated bad input for iptables (test/bad-input.ts): tables covering every typed extension
 * (IPv4 and IPv6) and kube-proxy's layout, each case with one thing broken, through validation,
 * the encoder (plain, and with frozen rules through the rule caches), the edit helpers, parse()
 * of iptables-save text and the JSON model. Each case is a ValidationError or is accepted; never
 * another error. Accepted tables also encode and print.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeIptTable, iptAppendRule, iptCreateChain, iptDeleteChain, iptDeleteRule, iptEmptyTable, iptEnsureChain, iptFlushChain, iptFreezeRule,
  iptFreezeRules, iptInsertRule, iptRenameChain, iptReplaceRule, iptSetPolicy, iptTablesFromJson, iptTablesToJson,
  iptZeroCounters, iptablesSave, parseIptablesRule, parseIptablesSave, validateIptTable, type IptTable,
} from '../../lib';
import { encodeValidTable } from '../../lib/iptables/blob';
import { openSlab, closeSlab, type ChainCache, type RuleCache } from '../../lib/iptables/rule-cache';
import { ALL_IPV4, ALL_IPV6, KUBE_PROXY, typedOnly } from './iptables-fixtures';
import { BAD_VALUES, caseLine, clone, mutate, outcomeSync, rng, type Mutation } from '../bad-input';

// (KERNLB_FUZZ_CASES=30000 for a deeper run by hand)
const CASES = Number(process.env.KERNLB_FUZZ_CASES ?? 3000);
const TEXTS = [typedOnly(ALL_IPV4), typedOnly(ALL_IPV6), KUBE_PROXY];
const tables: IptTable[] = [
  ...parseIptablesSave(TEXTS[0]!, 'ipv4'),
  ...parseIptablesSave(TEXTS[1]!, 'ipv6'),
  ...parseIptablesSave(TEXTS[2]!, 'ipv4'),
];

/** Refused or accepted counts, and the lines of cases that did anything else. */
class Tally {
  wrong: string[] = [];
  refused = 0;
  accepted = 0;
  see(seed: number, m: Mutation, o: { kind: string; error?: unknown }): boolean {
    if (o.kind === 'validation') this.refused++;
    else if (o.kind === 'ok') this.accepted++;
    else this.wrong.push(caseLine(seed, m, o.error));
    return o.kind === 'ok';
  }
  /** The generator reached both sides, so the assertion above it could fail. */
  check(cases: number): void {
    expect(this.wrong).toEqual([]);
    expect(this.refused).toBeGreaterThan(cases / 4);
    expect(this.accepted).toBeGreaterThan(0);
  }
}

describe('iptables: generated bad input', () => {
  it('is a ValidationError or accepted by validation and the encoder, which agree', () => {
    const tally = new Tally();
    for (let seed = 1; seed <= CASES; seed++) {
      const { input, mutation } = mutate(tables[seed % tables.length]!, rng(seed));
      const v = outcomeSync(() => validateIptTable(input));
      const e = outcomeSync(() => encodeValidTable(input, 0));
      if (e.kind === 'other') tally.wrong.push(caseLine(seed, mutation, e.error));
      if (v.kind !== e.kind && e.kind !== 'other') tally.wrong.push(caseLine(seed, mutation, new Error(`validateTable: ${v.kind}, the encoder: ${e.kind}`)));
      if (tally.see(seed, mutation, v)) {
        const s = outcomeSync(() => iptablesSave(input));
        if (s.kind !== 'ok') tally.wrong.push(caseLine(seed, mutation, s.error));
      }
    }
    tally.check(CASES);
  });

  it('is a ValidationError or accepted with one rule broken (each extension gets its share of the cases)', () => {
    const tally = new Tally();
    const rules = tables.flatMap((t, ti) => t.chains.flatMap((c, ci) => c.rules.map((_, ri) => [ti, ci, ri] as const)));
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const [ti, ci, ri] = rules[Math.floor(r() * rules.length)]!;
      const inRule = (p: Array<string | number>) => p.length > 4 && p[1] === ci && p[3] === ri && p[0] === 'chains' && p[2] === 'rules';
      const { input, mutation } = mutate(tables[ti]!, r, inRule);
      const v = outcomeSync(() => validateIptTable(input));
      const e = outcomeSync(() => encodeValidTable(input, 0));
      if (e.kind === 'other') tally.wrong.push(caseLine(seed, mutation, e.error));
      if (tally.see(seed, mutation, v) && e.kind === 'ok') {
        const s = outcomeSync(() => iptablesSave(input));
        if (s.kind !== 'ok') tally.wrong.push(caseLine(seed, mutation, s.error));
      }
    }
    tally.check(CASES);
  });

  it('is a ValidationError or accepted with frozen rules through the rule caches, and the cache keeps nothing bad', () => {
    const tally = new Tally();
    const caches = { rules: new WeakMap() as RuleCache, chains: new WeakMap() as ChainCache };
    for (let seed = 1; seed <= CASES / 3; seed++) {
      const { input, mutation } = mutate(tables[seed % tables.length]!, rng(seed));
      const f = outcomeSync(() => iptFreezeRules(input));
      if (f.kind !== 'ok') {
        tally.see(seed, mutation, f);
        continue;
      }
      // Twice: the first commit records the frozen objects (one pass), the second copies them from
      // the caches; both write what the reference encoder writes.
      for (let round = 0; round < 2; round++) {
        const slab = openSlab(Buffer.alloc(1 << 16));
        let blob: Buffer | undefined;
        // (Every other case copies rule by rule the second time: no chain cache to copy whole chains from.)
        const chains = round === 1 && seed % 2 ? null : caches.chains;
        const e = outcomeSync(() => (blob = encodeValidTable(input, 0, (n) => Buffer.alloc(n), caches.rules, chains, null).blob));
        closeSlab(slab);
        if (round === 0) tally.see(seed, mutation, e);
        else if (e.kind !== outcomeSync(() => validateIptTable(input)).kind) tally.wrong.push(caseLine(seed, mutation, new Error(`second encode: ${e.kind}`)));
        if (blob && !blob.equals(encodeIptTable(input, 0).blob)) tally.wrong.push(caseLine(seed, mutation, new Error(`encode ${round + 1}: other bytes than encodeTable`)));
      }
    }
    tally.check(CASES / 3);
  });

  it('freezeRule and the edit helpers take any argument: a ValidationError or done', () => {
    const tally = new Tally();
    const names = ['KUBE-SERVICES', 'PREROUTING', 'KUBE-NEW', 'OUTPUT'];
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const base = clone(tables[2]!);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
      const bad = () => pick(BAD_VALUES)[1]();
      // Each argument is a good one or a bad one; the table may itself be broken.
      const { input: t } = r() < 0.3 ? mutate(base, r) : { input: base };
      const name = () => (r() < 0.6 ? pick(names) : bad());
      const rule = () => (r() < 0.5 ? clone(pick(tables[2]!.chains.flatMap((c) => c.rules))) : mutate({ rule: clone(tables[2]!.chains[0]!.rules[0] ?? {}) }, r).input.rule);
      const num = () => (r() < 0.6 ? 1 + Math.floor(r() * 3) : bad());
      const calls: Array<[string, () => unknown]> = [
        ['append', () => iptAppendRule(t, name() as string, rule())],
        ['insert', () => iptInsertRule(t, name() as string, rule(), num() as number)],
        ['delete', () => iptDeleteRule(t, name() as string, num() as number)],
        ['replace', () => iptReplaceRule(t, name() as string, num() as number, rule())],
        ['create', () => iptCreateChain(t, name() as string)],
        ['ensure', () => iptEnsureChain(t, name() as string)],
        ['flush', () => iptFlushChain(t, name() as string)],
        ['deleteChain', () => iptDeleteChain(t, name() as string, r() < 0.5 ? { force: true } : {})],
        ['rename', () => iptRenameChain(t, name() as string, name() as string)],
        ['policy', () => iptSetPolicy(t, name() as string, (r() < 0.5 ? 'DROP' : bad()) as 'DROP')],
        ['zero', () => iptZeroCounters(t, r() < 0.5 ? undefined : (name() as string))],
        ['freezeRule', () => iptFreezeRule(rule())],
        ['empty', () => iptEmptyTable(pick(['ipv4', 'ipv6', bad()]) as 'ipv4', pick(['nat', 'filter', bad()]) as string)],
      ];
      const [what, call] = pick(calls);
      tally.see(seed, { path: [what], what: 'called' }, outcomeSync(call));
      // Whatever the helpers did, the table still validates or is a ValidationError.
      const after = outcomeSync(() => validateIptTable(t));
      if (after.kind === 'other') tally.wrong.push(caseLine(seed, { path: [what], what: 'then validated' }, after.error));
    }
    tally.check(CASES / 2);
  });

  it('parse() of broken iptables-save text is a ValidationError or a table that validates or is refused', () => {
    const tally = new Tally();
    const junk = ['', '!', '-j', '-m', '-p', '--dport', '99999', '10.0.0.1/99', 'x'.repeat(300), '"', '"a b', 'constructor', '__proto__', 'ü', '-A', ':X', '*nat', 'COMMIT', '[1:2]', '[-1:x]', '0x', '--to-destination', '1.2.3.4:99999'];
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const family = seed % 3 === 1 ? 'ipv6' : 'ipv4';
      const lines = TEXTS[seed % 3]!.split('\n');
      const li = Math.floor(r() * lines.length);
      const tokens = lines[li]!.split(' ');
      const ti = Math.floor(r() * tokens.length);
      const roll = r();
      let what: string;
      if (roll < 0.2) { lines.splice(li, 1); what = `line ${li + 1} dropped`; }
      else if (roll < 0.35) { tokens.splice(ti, 1); what = `token ${ti + 1} of line ${li + 1} dropped`; }
      else if (roll < 0.45) { tokens.length = ti; what = `line ${li + 1} cut after ${ti} tokens`; }
      else { tokens[ti] = junk[Math.floor(r() * junk.length)]!; what = `token ${ti + 1} of line ${li + 1} = ${JSON.stringify(tokens[ti]).slice(0, 20)}`; }
      if (roll >= 0.2) lines[li] = tokens.join(' ');
      const m = { path: ['text'], what };
      let parsed: IptTable[] = [];
      if (!tally.see(seed, m, outcomeSync(() => (parsed = parseIptablesSave(lines.join('\n'), family))))) continue;
      for (const t of parsed) {
        const v = outcomeSync(() => validateIptTable(t));
        if (v.kind === 'other') tally.wrong.push(caseLine(seed, m, v.error));
      }
      // One rule's arguments on their own (parseIptablesRule), as `iptables -A` would take them.
      if (tokens[0] === '-A') {
        const o = outcomeSync(() => parseIptablesRule(tokens, family));
        if (o.kind === 'other') tally.wrong.push(caseLine(seed, m, o.error));
      }
    }
    tally.check(CASES);
  });

  it('the JSON model, broken before or after JSON.stringify, is a ValidationError or a table that validates or is refused', () => {
    const tally = new Tally();
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const family = seed % 3 === 1 ? 'ipv6' : 'ipv4';
      const own = tables.filter((t) => t.family === family);
      let text: string, m: Mutation;
      if (r() < 0.7) {
        const { input, mutation } = mutate(JSON.parse(iptTablesToJson(family, own)), r);
        m = mutation;
        const s = outcomeSync(() => (text = JSON.stringify(input))); // (a BigInt cannot be JSON)
        if (s.kind !== 'ok' || text! === undefined) continue;
      } else {
        const whole = iptTablesToJson(family, own);
        const at = Math.floor(r() * whole.length);
        text = whole.slice(0, at);
        m = { path: ['text'], what: `cut at ${at}` };
      }
      let parsed: IptTable[] = [];
      if (!tally.see(seed, m, outcomeSync(() => (parsed = iptTablesFromJson(text, family))))) continue;
      for (const t of parsed) {
        const v = outcomeSync(() => validateIptTable(t));
        if (v.kind === 'other') tally.wrong.push(caseLine(seed, m, v.error));
      }
    }
    tally.check(CASES / 2);
  });
});
