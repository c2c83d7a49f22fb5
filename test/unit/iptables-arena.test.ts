/** arena.ts: the reusable blob buffers (two kept, largest first; zeroed when taken as a blob). */
import { describe, expect, it } from 'vitest';
import { releaseBlob, takeArena, takeBlob, takeRoom } from '../../lib/iptables/arena';

const MiB = 1 << 20;
const drain = () => {
  while (takeArena()) { /* empty the arena */ }
};

describe('blob arena', () => {
  it('keeps the two largest buffers given back; a blob comes from the smallest that fits, zeroed', () => {
    drain();
    const a = Buffer.alloc(2 * MiB, 7), b = Buffer.alloc(3 * MiB, 7), c = Buffer.alloc(4 * MiB, 7);
    releaseBlob(a);
    releaseBlob(b);
    releaseBlob(c); // a (the smallest) is dropped
    const blob = takeBlob(2 * MiB + 5);
    expect(blob.buffer).toBe(b.buffer);
    expect(blob.length).toBe(2 * MiB + 5);
    expect(blob.every((x) => x === 0)).toBe(true);
    expect(takeArena()?.buffer).toBe(c.buffer);
    expect(takeArena()).toBeNull();
  });

  it('a buffer too small, a view that is not the whole buffer, or one given back twice is not kept twice', () => {
    drain();
    releaseBlob(Buffer.alloc(1024));
    releaseBlob(Buffer.alloc(2 * MiB).subarray(8));
    expect(takeArena()).toBeNull();
    const a = Buffer.alloc(2 * MiB);
    releaseBlob(a);
    releaseBlob(a.subarray(0, MiB));
    expect(takeArena()?.buffer).toBe(a.buffer);
    expect(takeArena()).toBeNull();
  });

  it('without a free buffer big enough, a blob is a new zeroed buffer and the arena keeps what it had', () => {
    drain();
    const a = Buffer.alloc(2 * MiB, 1);
    releaseBlob(a);
    const big = takeBlob(3 * MiB);
    expect(big.buffer).not.toBe(a.buffer);
    expect(big.every((x) => x === 0)).toBe(true);
    expect(takeArena()?.buffer).toBe(a.buffer);
  });

  it('room for the one-pass encoder: the smallest free buffer within 3/4 and 2x (+1 MiB) of the estimate, as it is, else a new one', () => {
    drain();
    const a = Buffer.alloc(3 * MiB, 9), b = Buffer.alloc(4 * MiB, 9);
    releaseBlob(a);
    releaseBlob(b);
    const r = takeRoom(5 * MiB); // 4 MiB >= 3/4 of 5 MiB: taken whole, as it is (the encoder zeroes what it writes)
    expect(r.buffer).toBe(b.buffer);
    expect(r.length).toBe(4 * MiB);
    expect(r[0]).toBe(9);
    const n = takeRoom(5 * MiB); // 3 MiB is not: a new buffer, and the arena keeps its own
    expect(n.buffer).not.toBe(a.buffer);
    expect(n.length).toBe(5 * MiB);
    const small = takeRoom(64 * 1024); // 3 MiB is more than 2x + 1 MiB: left for a big table
    expect(small.buffer).not.toBe(a.buffer);
    expect(small.length).toBe(64 * 1024);
    releaseBlob(b);
    expect(takeRoom(2 * MiB).buffer).toBe(a.buffer); // the smallest that fits
    expect(takeArena()?.buffer).toBe(b.buffer);
  });
});
