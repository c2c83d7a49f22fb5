/**
 * Reusable buffers for table blobs. A 10k-service table is ~160 MB; fresh memory costs a page
 * fault per 4 KiB on first touch (measured: ~100-200 ms for 160 MB, most of it system time), while
 * zeroing memory already mapped costs ~7 ms. A commit takes one for its blob and, with
 * expectUnchanged, another for its read of the current table, and gives them back when the kernel
 * is done; a read takes one. Two are kept; when none is free a call simply allocates. Dropped after
 * a quiet minute so an idle process does not keep the memory.
 */
const MIN_KEEP = 1 << 20;
const KEEP = 2;
const IDLE_MS = 60_000;

/** Free buffers, largest first. */
const free: Buffer[] = [];
let timer: NodeJS.Timeout | undefined;

/** A zero-filled buffer of `size` bytes: the smallest free one big enough, else a new one. */
export function takeBlob(size: number): Buffer {
  const a = takeFitting(size, Infinity);
  if (a === null) return Buffer.alloc(size);
  a.fill(0, 0, size);
  return a.subarray(0, size);
}

/**
 * Room for an encoder that writes as it goes and zeroes just ahead of itself (one-pass.ts): the
 * smallest free buffer of at least 3/4 of `estimate` (an estimate grows and shrinks a little from
 * table to table; the encoder grows a buffer that turns out too small) and at most twice it and a
 * MiB (a small table leaves the big buffers to the big tables committed beside it), else a new one
 * of `estimate` bytes. Not zeroed: zeroing 200 MB up front cost ~70 ms, and the writes that
 * followed missed the cache again.
 */
export function takeRoom(estimate: number): Buffer {
  // (A new one has 1/16 more, never touched unless needed, so no RSS: a blob kept for splices moves
  // within it when the table grows, splice.ts.)
  const room = takeFitting(estimate - (estimate >> 2), 2 * estimate + MIN_KEEP);
  return room ?? Buffer.allocUnsafeSlow(estimate + (estimate >> 4)).subarray(0, estimate);
}

/** The smallest free buffer of `least`..`most` bytes, taken out of the arena as it is; null when none is. */
function takeFitting(least: number, most: number): Buffer | null {
  for (let i = free.length - 1; i >= 0; i--) {
    const a = free[i]!;
    if (a.length < least) continue;
    if (a.length > most) return null;
    free.splice(i, 1);
    return a;
  }
  return null;
}

/** The largest free buffer, not zeroed (native zeroes what it uses), or null when none is free. */
export function takeArena(): Buffer | null {
  return free.shift() ?? null;
}

/** Gives a buffer from takeBlob/takeArena (or a block read by native) back; the two largest are kept. */
export function releaseBlob(b: Buffer): void {
  if (b.byteOffset !== 0 || b.buffer.byteLength < MIN_KEEP) return;
  const whole = Buffer.from(b.buffer, 0, b.buffer.byteLength);
  if (free.some((a) => a.buffer === whole.buffer)) return;
  free.push(whole);
  free.sort((x, y) => y.length - x.length);
  if (free.length > KEEP) free.length = KEEP;
  if (timer) timer.refresh();
  else {
    timer = setTimeout(() => {
      free.length = 0;
      timer = undefined;
    }, IDLE_MS);
    timer.unref();
  }
}
