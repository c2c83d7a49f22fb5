/**
 * One reusable buffer for table blobs. A 10k-service table is ~160 MB; fresh memory costs a page
 * fault per 4 KiB on first touch (measured: ~100-200 ms for 160 MB, most of it system time), while
 * zeroing memory already mapped costs ~7 ms. commit() takes the arena for one replace and gives it
 * back when the kernel is done; a concurrent commit simply allocates. Dropped after a quiet minute so
 * an idle process does not keep the memory.
 */
const MIN_KEEP = 1 << 20;
const IDLE_MS = 60_000;

let free: Buffer | null = null;
let timer: NodeJS.Timeout | undefined;

/** A zero-filled buffer of `size` bytes: the arena when it is free and big enough, else a new one. */
export function takeBlob(size: number): Buffer {
  const a = free;
  if (a && a.length >= size) {
    free = null;
    a.fill(0, 0, size);
    return a.subarray(0, size);
  }
  return Buffer.alloc(size);
}

/** The arena itself, not zeroed (native zeroes what it uses), or null when it is taken or absent. */
export function takeArena(): Buffer | null {
  const a = free;
  free = null;
  return a;
}

/** Gives a buffer from takeBlob/takeArena (or a block read by native) back; the larger is kept. */
export function releaseBlob(b: Buffer): void {
  if (b.byteOffset !== 0 || b.buffer.byteLength < MIN_KEEP) return;
  const whole = Buffer.from(b.buffer, 0, b.buffer.byteLength);
  if (!free || free.length < whole.length) free = whole;
  if (timer) timer.refresh();
  else {
    timer = setTimeout(() => {
      free = null;
      timer = undefined;
    }, IDLE_MS);
    timer.unref();
  }
}
