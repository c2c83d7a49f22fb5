/**
 * A transaction buffers changes and commits them as ONE nfnetlink batch: all applied or none.
 * Every call validates its input at once (ValidationError naming the field) and remembers a
 * description of the item, so a kernel failure says which item failed ("rule 3 of chain lb/svc").
 */
import { ValidationError, ValidationErrors } from '../errors';
import type { NativeNftElem, NativeNftItem, NativeNftOp, NativeNftSet } from '../native';
import { FAMILIES, OBJ_TYPE, SET_FLAG, type Family } from './constants';
import {
  checkElements, encodeChain, flattenExprs, encodeElement, encodeObject, encodeRule, encodeSet, encodeTable, isObject, packable, packChain, packElement, packRule, Problems,
  setLayout, validName,
  type SetLayout,
} from './encode';
import { PACKED_KIND, PACKED_OP, PackWriter, readPackedHeaders } from './pack';

/** The family's number; 0 after a problem. */
function familyOf(p: Problems, path: string, v: unknown): number {
  if (isOwnKey(FAMILIES, v)) return FAMILIES[v];
  p.add(`${path}.family`, `must be one of ${Object.keys(FAMILIES).join(', ')}`, v);
  return 0;
}

type ElementsPayload = { elements: NativeNftElem[] } | { packed: Buffer; count: number };
import type { Chain, Element, NamedObject, NftSet, Rule, Ruleset, Table, TypeSpec } from './model';
import { isOwnKey } from '../own-key';

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
  typeof?: NftSet['typeof'];
}

export type Committer = (items: NativeNftItem[], describe: (i: number) => string | undefined, opts: CommitOptions) => Promise<number | void>;

const EMPTY = Buffer.alloc(0);
type PackedRun = Extract<NativeNftItem, { kind: 'packed' }>;

/**
 * kernlb-internal (the package does not export it): appends `count` rule (or chain) records that `write` puts
 * into the transaction's packed run (pack.ts), without validation. For a caller whose rules come from
 * input it validated itself, and whose tests check its bytes against what addRule packs: lb's
 * nftables mode writes 10^5 rules an apply, where making and walking 10^6 expression objects was
 * most of its JavaScript time. If `write` throws, nothing it wrote is kept.
 */
export let appendPackedRules: (tx: Transaction, count: number, write: (w: PackWriter) => void) => void;

/**
 * kernlb-internal, like appendPackedRules: one element operation on `ref` whose elements `write`
 * appends to the transaction's packed element list (pack.ts layout, `w.count` counted per element),
 * without validation. When `ref` is the set this transaction added last, the elements name it by
 * its in-batch id too, as addSet's own `elements` do (so the batch is the same bytes). For lb's
 * nftables mode, whose 10^5 slot elements were each an object checked field by field. If `write`
 * throws, nothing it wrote is kept.
 */
export let appendPackedElements: (tx: Transaction, op: 'add' | 'delete' | 'destroy', ref: { family: Family; table: string; set: string }, write: (w: PackWriter) => void) => void;

/**
 * kernlb-internal: makes room for about `elementBytes` of packed elements and `recordBytes` of packed
 * rules and chains (pack.ts layouts) before a caller appends them, so that the transaction's writers
 * are allocated once instead of grown (lb's nftables full build: 110k elements, 20k records).
 */
export let reservePacked: (tx: Transaction, elementBytes: number, recordBytes: number) => void;

/** A set declaration encoded once (setTemplate), to be added again under other names (appendSetLike). */
export interface SetTemplate {
  readonly item: NativeNftSet;
  readonly layout: SetLayout;
  readonly family: Family;
  readonly what: 'map' | 'set';
}

/** kernlb-internal: validates and encodes a declaration (without elements) as addSet would. */
export function setTemplate(s: NftSet): SetTemplate {
  const p = new Problems();
  const { set, layout } = encodeSet(p, 'set', { ...s, elements: undefined }, 0);
  if (p.list.length) throw p.list.length === 1 ? p.list[0]! : new ValidationErrors(p.list);
  return { item: set, layout, family: s.family, what: s.data !== undefined || s.typeof?.data !== undefined ? 'map' : 'set' };
}

/**
 * kernlb-internal: adds the set `like` declares under the name `name` (a valid set name), with the
 * next in-batch id: the item addSet makes for the same declaration. For lb's nftables mode, whose
 * 10^3 shard maps of one family and protocol differ only in name (encoding each declaration anew
 * cost as much as all the service rules).
 */
export let appendSetLike: (tx: Transaction, like: SetTemplate, name: string) => void;

export class Transaction {
  static {
    reservePacked = (tx, elementBytes, recordBytes) => {
      if (elementBytes > 0) (tx.#ew ??= new PackWriter(elementBytes)).reserve(elementBytes);
      if (recordBytes > 0) (tx.#w ??= new PackWriter(recordBytes)).reserve(recordBytes);
    };
    appendSetLike = (tx, like, name) => {
      tx.#closeRun();
      tx.#items.push({ ...like.item, op: 'add', kind: 'set', name, id: tx.#nextSetId++ });
      tx.#desc.push(`${like.what} ${like.item.table}/${name}`);
      tx.#count++;
      tx.#layouts.set(`${like.family} ${like.item.table} ${name}`, like.layout);
    };
    appendPackedElements = (tx, op, ref, write) => {
      tx.#closeRun();
      const w = (tx.#ew ??= new PackWriter(1 << 16));
      const start = w.off, count = w.count;
      try {
        write(w);
      } catch (e) {
        w.off = start;
        w.count = count;
        throw e;
      }
      if (w.count === count) return; // (no elements: no item, as addSet without elements)
      const family = FAMILIES[ref.family];
      const last = tx.#items[tx.#items.length - 1];
      const setId = last && last.kind === 'set' && last.op === 'add' && last.family === family && last.table === ref.table && last.name === ref.set ? last.id : undefined;
      // (a view: a later growth of the writer copies to a new Buffer, this keeps the list's bytes)
      tx.#items.push({ op, kind: 'elements', family, table: ref.table, set: ref.set, ...(setId !== undefined ? { setId } : {}), packed: w.buf.subarray(start, w.off), count: w.count - count });
      tx.#desc.push(`${w.count - count} element(s) of set ${ref.table}/${ref.set}`);
      tx.#count++;
    };
    appendPackedRules = (tx, count, write) => {
      const w = tx.#packer();
      const start = w.off;
      try {
        write(w);
      } catch (e) {
        w.off = start;
        throw e;
      }
      tx.#run!.item.count += count;
      for (let i = 0; i < count; i++) tx.#desc.push(undefined);
      tx.#count += count;
    };
  }

  /** Native items; runs of rules and chains are packed (pack.ts) into one item per run. */
  readonly #items: NativeNftItem[] = [];
  /** Logical items (what size, describe() and error paths count): one per call, however packed. */
  #count = 0;
  /** Descriptions of object items; packed records (undefined here) are described from their bytes. */
  readonly #desc: (string | undefined)[] = [];
  #w: PackWriter | undefined;
  /** Packed element lists (pack.ts), each item a view of its part. */
  #ew: PackWriter | undefined;
  /** The open run: the item whose records are being appended, and where they start in #w. */
  #run: { item: PackedRun; start: number } | undefined;
  readonly #layouts = new Map<string, SetLayout>();
  #nextSetId = 1;
  /** Anonymous sets no rule of this transaction refers to yet (set id -> item index): the kernel refuses those (EINVAL). */
  readonly #unbound = new Map<number, number>();
  #committed = false;
  /**
   * After commit(): the ms from the batch's sendmsg to its last ack, i.e. the kernel's own time for
   * this batch (benchmarks set it beside the whole call); undefined before.
   */
  kernelMs: number | undefined;

  constructor(private readonly committer: Committer) {}

  get size(): number {
    return this.#count;
  }
  /** What item `index` was, as used in error messages. */
  describe(index: number): string | undefined {
    const d = this.#desc[index];
    if (d !== undefined || !Number.isInteger(index) || index < 0 || index >= this.#count) return d;
    // Rules are described as the nth of their chain (every rule item counts), as they were added.
    const perChain = new Map<string, number>();
    const nth = (key: string) => {
      const n = (perChain.get(key) ?? 0) + 1;
      perChain.set(key, n);
      return n;
    };
    let logical = 0;
    for (const item of this.#items) {
      if (item.kind !== 'packed') {
        if (item.kind === 'rule') nth(`${item.table}/${item.chain}`);
        logical++;
        continue;
      }
      const run = this.#run;
      const bytes = run && run.item === item ? this.#w!.buf.subarray(run.start, this.#w!.off) : item.packed;
      for (const h of readPackedHeaders(bytes)) {
        let text: string;
        if (h.kind === PACKED_KIND.chain) text = `chain ${h.table}/${h.name}`;
        else {
          const key = `${h.table}/${h.name}`;
          const n = nth(key);
          text = h.op === PACKED_OP.add || h.op === PACKED_OP.insert ? `rule ${n} of chain ${key}` : `rule handle ${h.handle} of chain ${key}`;
        }
        if (logical++ === index) return text;
      }
    }
    return undefined;
  }
  /** The native items (for tests and the CLI's dry output). */
  items(): readonly NativeNftItem[] {
    this.#closeRun();
    return this.#items;
  }

  // the description is made only once the input is known good: a Symbol in a name has no string form
  #push(p: Problems, item: NativeNftItem, desc: () => string): this {
    if (p.list.length) throw p.list.length === 1 ? p.list[0]! : new ValidationErrors(p.list);
    this.#closeRun();
    this.#items.push(item);
    this.#desc.push(desc());
    this.#count++;
    return this;
  }
  #path(): string {
    return `items[${this.#count}]`;
  }
  /** The call's argument is an object, or the call is refused (before anything reads its fields). */
  #arg(v: unknown, path = this.#path()): void {
    const p = new Problems();
    if (!isObject(p, path, v)) throw p.list[0]!;
  }
  /** The writer positioned for one more packed record (opening a run when none is open). */
  #packer(): PackWriter {
    const w = (this.#w ??= new PackWriter(1 << 16));
    if (!this.#run) {
      const item: PackedRun = { kind: 'packed', packed: EMPTY, count: 0 };
      this.#items.push(item);
      this.#run = { item, start: w.off };
    }
    return w;
  }
  /** Keeps the record written since `start`, or drops it and throws the problems. */
  #pushPacked(p: Problems, start: number): this {
    if (p.list.length) {
      this.#w!.off = start;
      throw p.list.length === 1 ? p.list[0]! : new ValidationErrors(p.list);
    }
    this.#run!.item.count++;
    this.#desc.push(undefined);
    this.#count++;
    return this;
  }
  #closeRun(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    if (run.item.count === 0) {
      this.#items.splice(this.#items.indexOf(run.item), 1);
      return;
    }
    // a later growth of the writer copies to a new Buffer: this view keeps the run's bytes
    run.item.packed = this.#w!.buf.subarray(run.start, this.#w!.off);
  }

  // tables -----------------------------------------------------------------------------------
  addTable(t: Table): this { return this.#table('add', t); }
  createTable(t: Table): this { return this.#table('create', t); }
  deleteTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('delete', t); }
  destroyTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('destroy', t); }
  /** Deletes every rule of the table (nft's `flush table`). */
  flushTable(t: Pick<Table, 'family' | 'name'>): this { return this.#table('flush', t); }
  #table(op: NativeNftOp, t: Table): this {
    this.#arg(t);
    const p = new Problems();
    const n = encodeTable(p, this.#path(), t);
    return this.#push(p, { op, kind: 'table', ...n }, () => `table ${t.family} ${t.name}`);
  }

  // chains -----------------------------------------------------------------------------------
  addChain(c: Chain): this { return this.#chain('add', c); }
  createChain(c: Chain): this { return this.#chain('create', c); }
  deleteChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('delete', c); }
  destroyChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('destroy', c); }
  flushChain(c: Pick<Chain, 'family' | 'table' | 'name'>): this { return this.#chain('flush', c); }
  #chain(op: NativeNftOp, c: Chain): this {
    this.#arg(c);
    const p = new Problems();
    if (op !== 'flush') {
      const w = this.#packer();
      const start = w.off;
      packChain(p, this.#path(), c, PACKED_OP[op as keyof typeof PACKED_OP], w);
      return this.#pushPacked(p, start);
    }
    const n = encodeChain(p, this.#path(), c);
    return this.#push(p, Object.assign(n, { op, kind: 'chain' as const }), () => `chain ${c.table}/${c.name}`);
  }

  // rules ------------------------------------------------------------------------------------
  /** Appends (or, with `position`, adds after that rule handle). */
  addRule(r: Rule): this { return this.#rule('add', r); }
  /** Prepends (or, with `position`, inserts before that rule handle). */
  insertRule(r: Rule): this { return this.#rule('insert', r); }
  /** Replaces the rule with `handle`. */
  replaceRule(r: Rule & { handle: number }): this { return this.#rule('replace', r); }
  deleteRule(r: Pick<Rule, 'family' | 'table' | 'chain'> & { handle: number }): this {
    this.#arg(r);
    return this.#rule('delete', { ...r, exprs: [] });
  }
  #rule(op: NativeNftOp, r: Rule): this {
    this.#arg(r);
    const p = new Problems();
    if ((op === 'replace' || op === 'delete') && r.handle === undefined) p.add(`${this.#path()}.handle`, `is required to ${op} a rule`);
    if (op !== 'delete' && op !== 'destroy') {
      const w = this.#packer();
      const start = w.off;
      packRule(p, this.#path(), r, PACKED_OP[op as keyof typeof PACKED_OP], w);
      this.#pushPacked(p, start);
      // only while an anonymous set waits for its rule (usually the very next one)
      if (this.#unbound.size) for (const x of r.exprs) for (const e of Array.isArray(x) ? x : [x]) if (typeof e.setId === 'number') this.#unbound.delete(e.setId);
      return this;
    }
    const n = encodeRule(p, this.#path(), r);
    delete (n as { exprs?: unknown }).exprs;
    return this.#push(p, Object.assign(n, { op, kind: 'rule' as const }), () => `rule handle ${r.handle} of chain ${r.table}/${r.chain}`);
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
    this.#arg(s);
    const p = new Problems();
    const path = this.#path();
    const { set, layout } = encodeSet(p, path, s, this.#nextSetId);
    // elements are validated with the set, so a bad element leaves nothing of this call buffered
    if (s.elements !== undefined && !Array.isArray(s.elements)) p.add(`${path}.elements`, 'must be an array', s.elements);
    const elems = Array.isArray(s.elements) && s.elements.length ? this.#encodeElements(p, layout, s.elements, `${path}.elements`) : undefined;
    if (elems && !p.list.length) {
      const map = s.objectType !== undefined ? 'object' : layout.data === 'verdict' ? 'verdict' : layout.dataType !== undefined ? 'data' : undefined;
      checkElements(p, `${path}.elements`, s.elements!, { ...(map ? { map } : {}), timeout: !!(set.flags! & SET_FLAG.timeout), interval: !!(set.flags! & SET_FLAG.interval) }, true);
    }
    if (!p.list.length) this.#nextSetId = Math.max(this.#nextSetId, set.id ?? 0) + 1;
    this.#push(p, { op, kind: 'set', ...set }, () => `${s.data !== undefined || s.typeof?.data !== undefined ? 'map' : 'set'} ${s.table}/${s.name}`);
    this.#layouts.set(`${s.family} ${s.table} ${s.name}`, layout);
    if (elems) {
      this.#count++;
      this.#items.push({ op: 'add', kind: 'elements', family: set.family, table: set.table, set: set.name, ...(set.id !== undefined ? { setId: set.id } : {}), ...elems });
      this.#desc.push(`${s.elements!.length} element(s) of set ${s.table}/${s.name}`);
    }
    return this;
  }
  /** Elements for the native side: packed (the bulk path) unless one needs the object form. */
  #encodeElements(p: Problems, layout: SetLayout, elements: Element[], path: string): ElementsPayload {
    if (!Array.isArray(elements)) {
      p.add(path, 'must be an array', elements);
      return { elements: [] };
    }
    if (elements.every(packable)) {
      // one writer for every element list of the transaction: a Buffer per small list (an anonymous
      // map per service) cost more than its elements
      const w = (this.#ew ??= new PackWriter(1 << 16));
      const start = w.off, count = w.count;
      for (let i = 0; i < elements.length; i++) packElement(p, `${path}[${i}]`, layout, elements[i]!, w);
      if (p.list.length) {
        w.off = start;
        w.count = count;
        return { elements: [] };
      }
      // a later growth of the writer copies to a new Buffer: this view keeps the list's bytes
      return { packed: w.buf.subarray(start, w.off), count: w.count - count };
    }
    return { elements: elements.map((e, i) => encodeElement(p, `${path}[${i}]`, layout, e)) };
  }
  /**
   * An anonymous constant set or map, as nft creates for inline `{ ... }` (e.g.
   * `numgen random mod 2 vmap { 0 : goto a, 1 : goto b }`): the kernel names it (__set%d / __map%d)
   * and the rule refers to it by the returned in-batch id, e.g. vmap(key, ref.set, { setId: ref.setId }).
   * It must be used by a rule of this transaction, and it goes away with that rule.
   */
  addAnonymousSet(s: Omit<NftSet, 'name' | 'id'>): { set: string; setId: number } {
    this.#arg(s);
    if (s.flags !== undefined && !Array.isArray(s.flags)) throw new ValidationError(`${this.#path()}.flags`, 'must be an array of set flags', s.flags);
    const isMap = s.data !== undefined || s.typeof?.data !== undefined;
    const name = isMap ? '__map%d' : '__set%d';
    const setId = this.#nextSetId;
    const flags = [...new Set([...(s.flags ?? []), 'anonymous', 'constant'])] as NftSet['flags'];
    const index = this.#count;
    this.#set('add', { ...s, name, id: setId, flags, ...(s.size === undefined && Array.isArray(s.elements) ? { size: s.elements.length } : {}) });
    this.#unbound.set(setId, index);
    return { set: name, setId };
  }
  #setRef(op: NativeNftOp, s: Pick<NftSet, 'family' | 'table' | 'name'>): this {
    this.#arg(s);
    const p = new Problems();
    const path = this.#path();
    const family = familyOf(p, path, s.family);
    const item: NativeNftItem = { op, kind: 'set', family, table: validName(p, path, 'table', s.table), name: validName(p, path, 'name', s.name) };
    return this.#push(p, item, () => `set ${s.table}/${s.name}`);
  }

  // elements ---------------------------------------------------------------------------------
  /** Adds elements to a set or map: O(change), never a rewrite of the set. */
  addElements(ref: SetRef, elements: Element[]): this { return this.#elements('add', ref, elements); }
  /** Like addElements but EEXIST when one exists already. */
  createElements(ref: SetRef, elements: Element[]): this { return this.#elements('create', ref, elements); }
  deleteElements(ref: SetRef, elements: Element[]): this { return this.#elements('delete', ref, elements); }
  /** Deletes elements, ignoring those that do not exist (kernel 6.3+). */
  destroyElements(ref: SetRef, elements: Element[]): this { return this.#elements('destroy', ref, elements); }
  /**
   * Sets the data of map elements whether or not they exist: the kernel refuses to change an existing
   * element's data in place (EEXIST), so this is a destroy of the keys plus an add, in this batch.
   */
  replaceElements(ref: SetRef, elements: Element[]): this {
    // what is not an element (or no array) is passed on as it is, for #elements to name
    const keys = !Array.isArray(elements) ? elements : elements.map((e) => (e === null || typeof e !== 'object' ? e : (({ key, keyHex, keyEnd, keyEndHex }) => ({
      ...(key !== undefined ? { key } : {}), ...(keyHex !== undefined ? { keyHex } : {}),
      ...(keyEnd !== undefined ? { keyEnd } : {}), ...(keyEndHex !== undefined ? { keyEndHex } : {}),
    }))(e)));
    this.#closeRun();
    const before = this.#items.length, beforeCount = this.#count;
    this.#elements('destroy', ref, keys);
    try {
      return this.#elements('add', ref, elements);
    } catch (e) {
      this.#items.length = before; // all or nothing for this call too
      this.#desc.length = beforeCount;
      this.#count = beforeCount;
      throw e;
    }
  }
  #elements(op: NativeNftOp, ref: SetRef, elements: Element[], pathOverride?: string): this {
    this.#arg(ref, `${this.#path()}.set`);
    const p = new Problems();
    const path = pathOverride ?? `${this.#path()}.elements`;
    const family = familyOf(p, this.#path(), ref.family);
    const table = validName(p, this.#path(), 'table', ref.table), set = validName(p, this.#path(), 'set', ref.set);
    if (p.list.length) throw p.list.length === 1 ? p.list[0]! : new ValidationErrors(p.list);
    let layout = this.#layouts.get(`${ref.family} ${ref.table} ${ref.set}`);
    if (ref.key !== undefined || ref.typeof !== undefined)
      layout = setLayout(p, this.#path(), {
        ...(ref.key !== undefined ? { key: ref.key } : {}),
        ...(ref.data !== undefined ? { data: ref.data } : {}),
        ...(ref.typeof !== undefined ? { typeof: ref.typeof } : {}),
      });
    layout ??= { keyType: 0, keyLen: 0 };
    const elems = this.#encodeElements(p, layout, elements, path);
    if ((op === 'add' || op === 'create') && layout.dataType !== undefined && !p.list.length)
      checkElements(p, path, elements, { map: layout.data === 'verdict' ? 'verdict' : 'data' }, true);
    const item: NativeNftItem = { op, kind: 'elements', family, table, set, ...elems };
    return this.#push(p, item, () => `${elements.length} element(s) of set ${table}/${set}`);
  }

  // objects ----------------------------------------------------------------------------------
  addObject(o: NamedObject): this { return this.#object('add', o); }
  createObject(o: NamedObject): this { return this.#object('create', o); }
  deleteObject(o: Pick<NamedObject, 'family' | 'table' | 'name' | 'type'>): this {
    this.#arg(o);
    // a delete names the object: encoded as a bare counter (no quota bytes or limit rate required), then given its type
    const p = new Problems();
    const type = o.type as string;
    if (!isOwnKey(OBJ_TYPE, type))
      p.add(`${this.#path()}.type`, `must be one of ${Object.keys(OBJ_TYPE).join(', ')}`, type);
    const n = encodeObject(p, this.#path(), { family: o.family, table: o.table, name: o.name, type: 'counter' });
    if (!p.list.length) n.objType = OBJ_TYPE[type as keyof typeof OBJ_TYPE];
    // native writes a quota's bytes and a limit's rate and unit unconditionally (the kernel ignores them on a delete)
    if (type === 'quota') n.bytes = 0;
    if (type === 'limit') Object.assign(n, { rate: 0, unit: 0 });
    return this.#push(p, { op: 'delete', kind: 'object', ...n }, () => `${type} ${o.table}/${o.name}`);
  }
  #object(op: NativeNftOp, o: NamedObject): this {
    this.#arg(o);
    const p = new Problems();
    const n = encodeObject(p, this.#path(), o);
    return this.#push(p, { op, kind: 'object', ...n }, () => `${o.type} ${o.table}/${o.name}`);
  }

  /**
   * Adds a whole ruleset (e.g. what list() returned) in dependency order: tables, chains, named
   * objects, sets with their elements, rules. Handles are dropped: the kernel assigns new ones.
   */
  addRuleset(rs: Pick<Ruleset, 'tables' | 'chains' | 'objects' | 'sets' | 'rules'>): this {
    this.#arg(rs, 'ruleset');
    for (const k of ['tables', 'chains', 'objects', 'sets', 'rules'] as const)
      if (!Array.isArray(rs[k])) throw new ValidationError(`ruleset.${k}`, 'must be an array', rs[k]);
    // what is not an object is passed on as it is, for the add call to refuse
    const strip = <T extends { handle?: number }>(o: T): T => {
      if (o === null || typeof o !== 'object') return o;
      const { handle: _h, ...rest } = o;
      return rest as T;
    };
    // all or nothing, like every other call: a bad rule must not leave the tables before it buffered
    return this.#atomic(() => {
      for (const t of rs.tables) this.addTable(strip(t));
      for (const c of rs.chains) this.addChain(strip(c));
      for (const o of rs.objects) this.addObject(strip(o));
      for (const s of rs.sets) {
        // dynamic elements carry an expiration: keep it so the copy expires when the original would
        this.addSet(strip(s));
      }
      for (const r of bindingOrder(rs.chains, rs.rules)) {
        if (r === null || typeof r !== 'object') this.addRule(r);
        const { statements: _s, ...rule } = strip(r);
        this.addRule(rule);
      }
      return this;
    });
  }

  /** Runs calls that add several items; when one throws, drops every item they added and rethrows. */
  #atomic<T>(fn: () => T): T {
    this.#closeRun();
    const items = this.#items.length, count = this.#count, nextSetId = this.#nextSetId;
    const w = this.#w, wOff = w?.off ?? 0, ew = this.#ew, ewOff = ew?.off ?? 0, ewCount = ew?.count ?? 0;
    const layouts = new Map(this.#layouts), unbound = new Map(this.#unbound);
    try {
      return fn();
    } catch (e) {
      this.#run = undefined;
      this.#items.length = items;
      this.#desc.length = count;
      this.#count = count;
      this.#nextSetId = nextSetId;
      // bytes past these offsets belong only to the dropped items (earlier items keep views of theirs)
      if (this.#w) this.#w.off = w === this.#w ? wOff : 0;
      if (this.#ew) {
        this.#ew.off = ew === this.#ew ? ewOff : 0;
        this.#ew.count = ew === this.#ew ? ewCount : 0;
      }
      this.#layouts.clear();
      for (const [k, v] of layouts) this.#layouts.set(k, v);
      this.#unbound.clear();
      for (const [k, v] of unbound) this.#unbound.set(k, v);
      throw e;
    }
  }

  /** Sends everything as one batch. A transaction commits once. */
  async commit(opts: CommitOptions = {}): Promise<void> {
    if (this.#committed) throw new Error('transaction already committed');
    for (const index of this.#unbound.values())
      throw new ValidationError(`items[${index}]`, 'is an anonymous set no rule of this transaction uses (give its set id to a rule: the kernel refuses it)');
    const ms = await this.committer(this.items() as NativeNftItem[], (i) => this.describe(i), opts);
    if (typeof ms === 'number') this.kernelMs = ms;
    if (!opts.dryRun) this.#committed = true;
  }
}

/** NFT_CHAIN_BINDING: an anonymous chain (`jump { ... }`) that lives as long as the rule jumping to it. */
const CHAIN_BINDING = 0x4;

/**
 * Rules in an order the kernel takes back: a rule that jumps to a binding chain binds it, and a bound
 * chain takes no more rules (ENOTSUP); a listing has the jumping rule first. So each binding chain's
 * rules come right before the first rule that jumps to it (recursively: bindings nest). Without
 * binding chains, the rules as they are.
 */
function bindingOrder(chains: Chain[], rules: Rule[]): Rule[] {
  const key = (family: unknown, table: unknown, chain: unknown) => `${String(family)}\0${String(table)}\0${String(chain)}`;
  const bound = new Set<string>();
  for (const c of chains) if (c && typeof c === 'object' && typeof c.flags === 'number' && c.flags & CHAIN_BINDING) bound.add(key(c.family, c.table, c.name));
  if (!bound.size) return rules;
  const held = new Map<string, Rule[]>();
  for (const r of rules) {
    const k = r && typeof r === 'object' ? key(r.family, r.table, r.chain) : '';
    if (bound.has(k)) held.set(k, [...(held.get(k) ?? []), r]);
  }
  const out: Rule[] = [];
  const emit = (r: Rule) => {
    if (r && typeof r === 'object' && Array.isArray(r.exprs))
      for (const e of flattenExprs(r.exprs)) {
        if (!e || e.type !== 'immediate' || typeof e.chain !== 'string') continue;
        const k = key(r.family, r.table, e.chain);
        const inner = held.get(k);
        if (!inner) continue;
        held.delete(k);
        for (const x of inner) emit(x);
      }
    out.push(r);
  };
  for (const r of rules) {
    const k = r && typeof r === 'object' ? key(r.family, r.table, r.chain) : '';
    if (!bound.has(k)) emit(r);
  }
  for (const rest of held.values()) for (const x of rest) emit(x); // (binding chains no rule jumps to)
  return out;
}
