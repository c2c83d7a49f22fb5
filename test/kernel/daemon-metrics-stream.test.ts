/**
 * LbDaemon.pipeMetrics (what `kernlb run` serves, issue #21: a scrape's memory): the text streamed to
 * a slow reader is the text metrics() renders, the rendering waits for the reader (a few chunks in
 * flight, not the whole text), chunks return to the pool once written, and a reader that goes away
 * stops the rendering.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LbDaemon } from '../../lib/daemon';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';

const skip = kernelTestsSkipReason();
/** 1500 services x 10 endpoints: ~3 MB of text, a dozen 256 KiB chunks. */
const state = {
  services: Array.from({ length: 1500 }, (_, i) => ({
    name: `svc-${i}`, vip: `10.96.${i >> 8}.${i & 255}`, port: 80, scheduler: 'rr',
    endpoints: Array.from({ length: 10 }, (_, j) => ({ address: `10.${200 + j}.${i >> 8}.${i & 255}`, port: 8080 })),
  })),
};
// (the read's own duration differs between two scrapes)
const timeless = (t: string) => t.replace(/^kernlb_status_read_seconds\{.*$/m, '');

/** A reader that takes one chunk per `delayMs`, recording how many writes were waiting at most. */
function slowReader(delayMs: number, stopAfter = Infinity) {
  const got: Buffer[] = [];
  let pending = 0, maxPending = 0, writes = 0;
  const out = new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _enc, cb) {
      got.push(Buffer.from(chunk)); // (a copy: the chunk is the daemon's, reused once written)
      if (++writes >= stopAfter) {
        cb();
        out.destroy();
        return;
      }
      setTimeout(cb, delayMs);
    },
  });
  const origWrite = out.write.bind(out);
  out.write = ((chunk: Buffer, cb?: () => void) => {
    pending++;
    maxPending = Math.max(maxPending, pending);
    return origWrite(chunk, () => {
      pending--;
      cb?.();
    });
  }) as typeof out.write;
  return { out, got, stats: () => ({ maxPending, writes }) };
}

describe.skipIf(skip)(`kernlb run metrics streamed (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('a slow reader gets exactly the text metrics() renders, with a few chunks in flight; the chunks go back to the pool; a reader that leaves stops it', async () => {
    await using a = await createNetns('lbms');
    const d = await LbDaemon.start(state, { mode: 'nftables', netns: a.name, resyncIntervalS: 0, processMetrics: false });
    try {
      const whole = (await d.metrics()).toString();
      expect(whole.length).toBeGreaterThan(2 << 20);
      const r = slowReader(5);
      let begunAt = -1;
      await d.pipeMetrics(r.out, () => (begunAt = r.got.length));
      await new Promise((done) => r.out.end(done)); // (what is still queued is written, then 'finish')
      expect(begunAt).toBe(0); // (headers before any byte)
      const streamed = Buffer.concat(r.got).toString();
      expect(timeless(streamed)).toBe(timeless(whole));
      const { maxPending, writes } = r.stats();
      expect(writes).toBeGreaterThan(8);
      // (the rendering waited for the reader: without it, every chunk would have been queued at once)
      expect(maxPending).toBeLessThanOrEqual(2);

      // the chunks came back: a second streamed scrape allocates none (a pool that grew by every chunk
      // would show as a second scrape writing into as many new buffers)
      const seen = new Set<ArrayBufferLike>();
      const r2 = slowReader(0);
      const w2 = r2.out.write;
      r2.out.write = ((chunk: Buffer, cb?: () => void) => {
        seen.add(chunk.buffer);
        return w2(chunk, cb);
      }) as typeof r2.out.write;
      await d.pipeMetrics(r2.out);
      await new Promise((done) => r2.out.end(done));
      expect(timeless(Buffer.concat(r2.got).toString())).toBe(timeless(whole));
      expect(seen.size).toBeLessThanOrEqual(4);

      // a reader that goes away after 3 chunks: the rendering stops, nothing more is written
      const r3 = slowReader(5, 3);
      await d.pipeMetrics(r3.out);
      expect(r3.stats().writes).toBe(3);
    } finally {
      await d.close();
    }
  });
});
