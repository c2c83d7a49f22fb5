/**
 * The nftables mode's full build sizes its packed writers once (backend.ts buildAll, reservePacked):
 * every packed item of the transaction is a view into one of the two writers' buffers. Grown by
 * doubling instead, the views kept each outgrown buffer alive until the commit (7 buffers, 24 MB for
 * 9 MB of records at 10k x 10). IPv6 services with long names and comments check the estimate's margin.
 */
import { describe, expect, it } from 'vitest';
import { buildNftTransaction } from '../../lib/lb/modes/nftables/backend';
import type { NftCurrent } from '../../lib/lb/modes/nftables/decode';
import { validateState } from '../../lib/lb/state';
import { native } from '../../lib/native';
import { Transaction } from '../../lib/nft/transaction';

const empty: NftCurrent = { hasBase: false, hasTable: false, drift: [], state: { services: [] }, services: [], draining: [], chains: new Set(), shards: new Map(), generation: 1 };

function state(n: number, v6: boolean) {
  return validateState({
    services: Array.from({ length: n }, (_, i) => ({
      name: `${v6 ? 'a-rather-long-service-name-for-the-estimate' : 's'}-${i}`,
      vip: v6 ? `fd00::96:${(i >> 8).toString(16)}:${(i & 255).toString(16)}` : `10.96.${i >> 8}.${i & 255}`,
      port: 443,
      scheduler: i % 3 === 0 ? 'wrr' : i % 3 === 1 ? 'random' : 'sh',
      endpoints: Array.from({ length: 10 }, (_, j) => ({ address: v6 ? `fd01::${j + 1}:${i.toString(16)}` : `10.${200 + j}.${i >> 8}.${i & 255}`, port: 8080 + j, weight: 1 + (j % 3) })),
    })),
  }, 'nftables');
}

describe('nftables full build: packed writers sized once', () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? 'IPv6' : 'IPv4'}: 3000 services x 10 endpoints, every packed item in one of two buffers, the batch encodes`, () => {
      const tx = new Transaction(async () => {});
      buildNftTransaction(tx, empty, state(3000, v6));
      const items = tx.items();
      const buffers = new Set<ArrayBufferLike>();
      let bytes = 0;
      for (const it of items) {
        if ('packed' in it && it.packed) {
          buffers.add(it.packed.buffer);
          bytes += it.packed.length;
        }
      }
      expect(bytes).toBeGreaterThan(1 << 20); // (far past the writers' 64 KB start: several doublings without the reservation)
      expect(buffers.size).toBe(2);
      const batch = native().nft.encodeBatch([...items], { generation: 3 });
      expect(batch.buffer.length).toBeGreaterThan(bytes);
    });
  }
});
