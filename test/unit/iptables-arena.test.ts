/** arena.ts: the reusable blob buffers (two kept, largest first; zeroed when taken as a blob). */
import { describe, expect, it } from 'vitest';
import { releaseBlob, takeArena, takeBlob } from '../../lib/iptables/arena';

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
});
