/**
 * A transaction buffers changes and commits them as ONE nfnetlink batch: all applied or none.
 * Every call validates its input at once (ValidationError naming the field) and remembers a
 * description of the item, so a kernel failure says which item failed ("rule 3 of chain lb/svc").
 */
import { ValidationErrors } from '../errors';
import type { NativeNftItem, NativeNftOp } from '../native';
import { FAMILIES, type Family } from './constants';
import {
  encodeChain, encodeElement, encodeObject, encodeRule, encodeSet, encodeTable, Problems, setLayout, type SetLayout,
} from './encode';
import type { Chain, Element, NamedObject, NftSet, Rule, Ruleset, Table, TypeSpec } from './model';

export interface CommitOptions {
  /** Fail with ConflictError unless the ruleset is still at this generation (NFNL_BATCH_GENID). */
  generation?: number;
  /** Let the kernel validate everything, then abort: nothing is applied (like `nft --check`). */
  dryRun?: boolean;
}

/** Identifies a set for element operations; key/data types are needed for typed keys of a set not created in this transaction. */
export interface SetRef {
  family: Family;
  table: string;
  set: string;
  key?: TypeSpec;
  data?: TypeSpec | 'verdict';
}

export type Committer = (items: NativeNftItem[], describe: (i: number) => string | undefined, opts: CommitOptions) => Promise<void>;

export class Transaction {
  readonly #items: NativeNftItem[] = [];
  readonly #desc: string[] = [];
  readonly #layouts = new Map<string, SetLayout>();
  readonly #rulesPerChain = new Map<string, number>();
  #nextSetId = 1;
  #committed = false;

  constructor(private readonly committer: Committer) {}

  get size(): number {
    return this.#items.length;
  }
  /** What item `index` was, as used in error messages. */
  describe(index: number): string | undefined {
    return this.#desc[index];
  }
  /** The native items (for tests and the CLI's dry output). */
  items(): readonly NativeNftItem[] {
    return this.#items;
  }

  #push(p: Problems, item: NativeNftItem, desc: string): this {
    if (p.list.length) throw p.list.length === 1 ? p.list[0]! : new ValidationErrors(p.list);
    this.#items.push(item);
    this.#desc.push(desc);
    return this;
  }
  #path(): string {
    return `items[${this.#items.length}]`;
  }

  // tables -----------------------------------------------------------------------------------
  addTable(t: Table): this { return this.#table('add', t); }
  createTable(t: Table): this { return this.#table('create', t); }
  deleteTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('delete', t); }
  destroyTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('destroy', t); }
  /** Deletes every rule of the table (nft's `flush table`). */
  flushTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('flush', t); }
  #table(op: NativeNftOp, t: Table): this {
    const p = new Problems();
    const n = encodeTable(p, this.#path(), t);
    return this.#push(p, { op, kind: 'table', ...n }, `table ${t.family} ${t.name}`);
  }

  // chains -----------------------------------------------------------------------------------
  addChain(c: Chain): this { return this.#chain('add', c); }
  createChain(c: Chain): this { return this.#chain('create', c); }
  deleteChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('delete', c); }
  destroyChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('destroy', c); }
  flushChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('flush', c); }
  #chain(op: NativeNftOp, c: Chain): this {
    const p = new Problems();
    const n = encodeChain(p, this.#path(), c);
    return this.#push(p, { op, kind: 'chain', ...n }, `chain ${c.table}/${c.name}`);
  }

  // rules ------------------------------------------------------------------------------------
  /** Appends (or, with `position`, adds after that rule handle). */
  addRule(r: Rule): this { return this.#rule('add', r); }
  /** Prepends (or, with `position`, inserts before that rule handle). */
  insertRule(r: Rule): this { return this.#rule('insert', r); }
  /** Replaces the rule with `handle`. */
  replaceRule(r: Rule & { handle: number }): this { return this.#rule('replace', r); }
  deleteRule(r: Pick<Rule, 'family' | 'table' | 'chain'> & { handle: number }): this { return this.#rule('delete', { ...r, exprs: [] }); }
  #rule(op: NativeNftOp, r: Rule): this {
    const p = new Problems();
    const n = encodeRule(p, this.#path(), r);
    if ((op === 'replace' || op === 'delete') && r.handle === undefined) p.add(`${this.#path()}.handle`, `is required to ${op} a rule`);
    if (op === 'delete') delete (n as { exprs?: unknown }).exprs;
    const key = `${r.table}/${r.chain}`;
    const nth = (this.#rulesPerChain.get(key) ?? 0) + 1;
    if (!p.list.length) this.#rulesPerChain.set(key, nth);
    const what = op === 'add' || op === 'insert' ? `rule ${nth} of chain ${key}` : `rule handle ${r.handle} of chain ${key}`;
    return this.#push(p, { op, kind: 'rule', ...n }, what);
  }

  // sets -------------------------------------------------------------------------------------
  /** Adds a set or map, and its `elements` (if any) as separate items right after it. */
  addSet(s: NftSet): this { return this.#set('add', s); }
  createSet(s: NftSet): this { return this.#set('create', s); }
  deleteSet(s: Pick<NftSet, 'family' | 'table' | 'name'>): this { return this.#setRef('delete', s); }
  destroySet(s: Pick<NftSet, 'family' | 'table' | 'name'>): this { return this.#setRef('destroy', s); }
  /** Removes every element. */
  flushSet(s: Pick<NftSet, 'family' | 'table' | 'name'>): this { return this.#setRef('flush', s); }
  #set(op: NativeNftOp, s: NftSet): this {
    const p = new Problems();
    const path = this.#path();
    const { set, layout } = encodeSet(p, path, s, this.#nextSetId);
    if (!p.list.length) this.#nextSetId = Math.max(this.#nextSetId, set.id ?? 0) + 1;
    this.#push(p, { op, kind: 'set', ...set }, `${s.data !== undefined ? 'map' : 'set'} ${s.table}/${s.name}`);
    this.#layouts.set(`${s.family} ${s.table} ${s.name}`, layout);
    if (s.elements?.length) this.#elements('add', { family: s.family, table: s.table, set: s.name }, s.elements, `${path}.elements`);
    return this;
  }
  #setRef(op: NativeNftOp, s: Pick<NftSet, 'family' | 'table' | 'name'>): this {
    const p = new Problems();
    const path = this.#path();
    if (!(s.family in FAMILIES)) p.add(`${path}.family`, 'unknown family', s.family);
    const item: NativeNftItem = { op, kind: 'set', family: FAMILIES[s.family] ?? 0, table: s.table, name: s.name };
    return this.#push(p, item, `set ${s.table}/${s.name}`);
  }

  // elements ---------------------------------------------------------------------------------
  /** Adds elements to a set or map: O(change), never a rewrite of the set. */
  addElements(ref: SetRef, elements: Element[]): this { return this.#elements('add', ref, elements); }
  /** Like addElements but EEXIST when one exists already. */
  createElements(ref: SetRef, elements: Element[]): this { return this.#elements('create', ref, elements); }
  deleteElements(ref: SetRef, elements: Element[]): this { return this.#elements('delete', ref, elements); }
  #elements(op: NativeNftOp, ref: SetRef, elements: Element[], pathOverride?: string): this {
    const p = new Problems();
    const path = pathOverride ?? `${this.#path()}.elements`;
    let layout = this.#layouts.get(`${ref.family} ${ref.table} ${ref.set}`);
    if (ref.key !== undefined) layout = setLayout(p, this.#path(), { key: ref.key, ...(ref.data !== undefined ? { data: ref.data } : {}) });
    layout ??= { keyType: 0, keyLen: 0 };
    if (!Array.isArray(elements)) p.add(path, 'must be an array', elements);
    const elems = Array.isArray(elements) ? elements.map((e, i) => encodeElement(p, `${path}[${i}]`, layout!, e)) : [];
    if (!(ref.family in FAMILIES)) p.add(`${this.#path()}.family`, 'unknown family', ref.family);
    const item: NativeNftItem = { op, kind: 'elements', family: FAMILIES[ref.family] ?? 0, table: ref.table, set: ref.set, elements: elems };
    return this.#push(p, item, `${elems.length} element(s) of set ${ref.table}/${ref.set}`);
  }

  // objects ----------------------------------------------------------------------------------
  addObject(o: NamedObject): this { return this.#object('add', o); }
  createObject(o: NamedObject): this { return this.#object('create', o); }
  deleteObject(o: Pick<NamedObject, 'family' | 'table' | 'name' | 'type'>): this {
    return this.#object('delete', { ...o, type: 'counter' } as NamedObject, o.type);
  }
  #object(op: NativeNftOp, o: NamedObject, realType?: string): this {
    const p = new Problems();
    const n = encodeObject(p, this.#path(), realType ? ({ ...o, type: realType } as NamedObject) : o);
    return this.#push(p, { op, kind: 'object', ...n }, `${realType ?? o.type} ${o.table}/${o.name}`);
  }

  /**
   * Adds a whole ruleset (e.g. what list() returned) in dependency order: tables, chains, named
   * objects, sets with their elements, rules. Handles are dropped: the kernel assigns new ones.
   */
  addRuleset(rs: Pick<Ruleset, 'tables' | 'chains' | 'objects' | 'sets' | 'rules'>): this {
    const strip = <T extends { handle?: number }>(o: T): T => {
      const { handle: _h, ...rest } = o;
      return rest as T;
    };
    for (const t of rs.tables) this.addTable(strip(t));
    for (const c of rs.chains) this.addChain(strip(c));
    for (const o of rs.objects) this.addObject(strip(o));
    for (const s of rs.sets) {
      // dynamic elements carry an expiration: keep it so the copy expires when the original would
      this.addSet(strip(s));
    }
    for (const r of rs.rules) this.addRule(strip(r));
    return this;
  }

  /** Sends everything as one batch. A transaction commits once. */
  async commit(opts: CommitOptions = {}): Promise<void> {
    if (this.#committed) throw new Error('transaction already committed');
    await this.committer(this.#items, (i) => this.#desc[i], opts);
    if (!opts.dryRun) this.#committed = true;
  }
}
