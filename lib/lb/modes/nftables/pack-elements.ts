/**
 * The mode's element lists written straight into a transaction's packed element list (lib/nft/pack.ts
 * layout): a service's slots in its shard map and the dispatch elements. The bytes are what
 * Transaction.addElements packs for the objects of rules.ts (slotElements / slotKeys) and backend.ts's
 * dispatch elements (test/unit/lb-nft-pack.test.ts compares them for every family x protocol x pick);
 * what is skipped is an object per element and the field-by-field checks of input that validateState
 * already checked. A full apply at 10k x 10 writes 10^5 slot elements this way.
 */
import { writeKey, type Datatype } from '../../../nft/datatypes';
import { elemCommentUserdata, Problems, setLayout } from '../../../nft/encode';
import { PACK, type PackWriter } from '../../../nft/pack';
import { appendPackedElements, appendSetLike, setTemplate, type SetTemplate } from '../../../nft/transaction';
import { VERDICTS } from '../../../nft/constants';
import type { NftTransaction } from '../../../nft';
import { NFT_FAMILY, NFT_TABLE, type NftServiceChain, type NftSlotElement } from './compile';
import { shardMap, slotMapTypeof } from './rules';

interface SlotLayout {
  /** The slot (the key's first field: numgen's host-endian u32). */
  slot: Datatype;
  /** VIP . port, the rest of the key. */
  rest: Datatype[];
  /** endpoint address . port. */
  data: Datatype[];
  keyLen: number;
  dataLen: number;
  /** Where the data's port starts (after the 4-byte aligned address). */
  dataPort: number;
}

const layouts = new Map<string, SlotLayout>();

/** The shard map's field types, from its typeof exactly as addElements derives them. */
function slotLayout(c: NftServiceChain): SlotLayout {
  const k = `${c.dispatch.family} ${c.dispatch.protocol}`;
  let l = layouts.get(k);
  if (!l) {
    const p = new Problems();
    const s = setLayout(p, 'typeof', { typeof: slotMapTypeof(c) });
    if (p.list.length || !s.key || !Array.isArray(s.data)) throw new Error(`slot map layout of ${k}: ${p.list.map((x) => x.message).join('; ')}`);
    const [slot, ...rest] = s.key;
    l = { slot: slot!, rest, data: s.data, keyLen: s.keyLen, dataLen: s.dataLen!, dataPort: (s.data[0]!.len + 3) & ~3 };
    layouts.set(k, l);
  }
  return l;
}

const SLOT = PACK.key | PACK.data | PACK.counter;
/** VIP . port of the service being written (the same for all its slots: written once, copied per element). */
const REST = Buffer.alloc(64);

/** Appends the service's elements (slot . VIP . port : address . port, a counter, the `wN` comment), or only their keys. */
export function packSlots(w: PackWriter, c: NftServiceChain, els: readonly NftSlotElement[], keysOnly = false): void {
  const l = slotLayout(c);
  const restLen = l.keyLen - 4;
  REST.fill(0, 0, restLen);
  writeKey(l.rest, [c.dispatch.vip, c.dispatch.port], REST, 0);
  const addr = l.data[0]!, port = l.data[1]!;
  let comment: string | undefined, ud: Buffer | undefined;
  for (let i = 0; i < els.length; i++) {
    const e = els[i]!;
    let mask = PACK.key;
    if (!keysOnly) {
      mask = SLOT;
      if (e.comment) {
        // (an endpoint's first slot: its weight, as `wN`; most of a service's comments are the same)
        if (e.comment !== comment) ud = elemCommentUserdata((comment = e.comment));
        mask |= PACK.userdata;
      }
    }
    // per element at most: mask, key, data, userdata (a short comment), counter
    w.ensure(2 + 1 + l.keyLen + 1 + l.dataLen + 1 + 255 + 16);
    const b = w.buf;
    let o = w.off;
    b[o] = mask;
    b[o + 1] = mask >>> 8;
    b[o + 2] = l.keyLen;
    l.slot.write(e.key, b, o + 3);
    o += 7;
    for (let k = 0; k < restLen; k++) b[o + k] = REST[k]!;
    o += restLen;
    if (!keysOnly) {
      b[o++] = l.dataLen;
      // (zeros by hand: Buffer.fill's call costs more than these few bytes)
      for (let k = 0; k < l.dataLen; k++) b[o + k] = 0;
      addr.write(e.address, b, o);
      port.write(e.port, b, o + l.dataPort);
      o += l.dataLen;
      if (mask & PACK.userdata) {
        b[o++] = ud!.length;
        for (let k = 0; k < ud!.length; k++) b[o + k] = ud![k]!;
        o += ud!.length;
      }
      for (let k = 0; k < 16; k++) b[o + k] = 0; // counter: 0 packets, 0 bytes
      o += 16;
    }
    w.off = o;
    w.count++;
  }
}

const T = { family: NFT_FAMILY, table: NFT_TABLE } as const;

/** The service's slots into (or, with keys only, out of) its shard map: one item, as addElements / deleteElements make it. */
export function slotOp(tx: NftTransaction, op: 'add' | 'delete' | 'destroy', c: NftServiceChain, els: readonly NftSlotElement[]): void {
  appendPackedElements(tx, op, { ...T, set: c.map }, (w) => packSlots(w, c, els, op !== 'add'));
}

const templates = new Map<string, SetTemplate>();

/** Declares shard map `name` of the service's family and protocol: addSet(shardMap(name, [c], false)), encoded once per family x protocol. */
export function addShardMap(tx: NftTransaction, name: string, c: NftServiceChain): void {
  const k = `${c.dispatch.family} ${c.dispatch.protocol}`;
  let t = templates.get(k);
  if (!t) templates.set(k, (t = setTemplate(shardMap(name, [c], false))));
  appendSetLike(tx, t, name);
}

/** Every slot of a group of services into their shard map (the map was just added: its in-batch id is named too). */
export function shardElements(tx: NftTransaction, map: string, group: readonly NftServiceChain[]): void {
  appendPackedElements(tx, 'add', { ...T, set: map }, (w) => {
    for (const c of group) packSlots(w, c, c.elements);
  });
}

const dispatchLayouts = new Map<string, Datatype[]>();
const GOTO = PACK.key | PACK.verdict | PACK.chain;
const VERDICT_GOTO = VERDICTS.goto;

/**
 * The dispatch map's elements of these services (VIP . proto . port : goto svc-NAME), into the map
 * `set` just added (key types `key`): what addSet's `elements` pack for backend.ts's element(c).
 */
export function dispatchElements(tx: NftTransaction, set: string, key: readonly string[], services: readonly NftServiceChain[]): void {
  let fields = dispatchLayouts.get(key.join(' '));
  if (!fields) {
    const p = new Problems();
    const s = setLayout(p, 'key', { key: [...key] as never, data: 'verdict' });
    if (p.list.length || !s.key) throw new Error(`dispatch map layout ${key.join(' . ')}: ${p.list.map((x) => x.message).join('; ')}`);
    fields = s.key;
    dispatchLayouts.set(key.join(' '), fields);
  }
  const len = fields.reduce((n, f) => n + ((f.len + 3) & ~3), 0);
  appendPackedElements(tx, 'add', { ...T, set }, (w) => {
    for (const c of services) {
      w.u16(GOTO);
      const at = w.reserve8(len); // (first: it may move w.buf)
      writeKey(fields!, [c.dispatch.vip, c.dispatch.protocol, c.dispatch.port], w.buf, at);
      w.i32(VERDICT_GOTO);
      w.str16(c.chain);
      w.count++;
    }
  });
}
