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
import { appendPackedElements } from '../../../nft/transaction';
import type { NftTransaction } from '../../../nft';
import { NFT_FAMILY, NFT_TABLE, type NftServiceChain, type NftSlotElement } from './compile';
import { slotMapTypeof } from './rules';

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

/** Appends the service's elements (slot . VIP . port : address . port, a counter, the `wN` comment), or only their keys. */
export function packSlots(w: PackWriter, c: NftServiceChain, els: readonly NftSlotElement[], keysOnly = false): void {
  const l = slotLayout(c);
  // VIP . port is the same for every slot of the service: written once, copied per element
  const rest = Buffer.alloc(l.keyLen - 4);
  writeKey(l.rest, [c.dispatch.vip, c.dispatch.port], rest, 0);
  for (let i = 0; i < els.length; i++) {
    const e = els[i]!;
    const ud = !keysOnly && e.comment ? elemCommentUserdata(e.comment) : undefined;
    w.u16(keysOnly ? PACK.key : ud ? SLOT | PACK.userdata : SLOT);
    const k = w.reserve8(l.keyLen);
    l.slot.write(e.key, w.buf, k);
    rest.copy(w.buf, k + 4);
    if (!keysOnly) {
      const d = w.reserve8(l.dataLen);
      l.data[0]!.write(e.address, w.buf, d);
      l.data[1]!.write(e.port, w.buf, d + l.dataPort);
      if (ud) w.bytes8(ud);
      w.u64(0);
      w.u64(0);
    }
    w.count++;
  }
}

const T = { family: NFT_FAMILY, table: NFT_TABLE } as const;

/** The service's slots into (or, with keys only, out of) its shard map: one item, as addElements / deleteElements make it. */
export function slotOp(tx: NftTransaction, op: 'add' | 'delete' | 'destroy', c: NftServiceChain, els: readonly NftSlotElement[]): void {
  appendPackedElements(tx, op, { ...T, set: c.map }, (w) => packSlots(w, c, els, op !== 'add'));
}

/** Every slot of a group of services into their shard map (the map was just added: its in-batch id is named too). */
export function shardElements(tx: NftTransaction, map: string, group: readonly NftServiceChain[]): void {
  appendPackedElements(tx, 'add', { ...T, set: map }, (w) => {
    for (const c of group) packSlots(w, c, c.elements);
  });
}
