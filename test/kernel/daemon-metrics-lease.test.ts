/**
 * LbDaemon.lendMetrics (issue #21, a scrape's memory): concurrent scrapes share one rendering, and its
 * chunks are written into again by a later scrape only once every caller has released them.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LbDaemon } from '../../lib/daemon';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();

describe.skipIf(skip)(`kernlb run metrics chunks (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('two scrapes at once share a rendering; a later scrape reuses its chunks only after both released them', async () => {
    await using a = await createNetns('lbml');
    const d = await LbDaemon.start(demoState, { mode: 'nftables', netns: a.name, resyncIntervalS: 0, processMetrics: false });
    try {
      const [x, y] = await Promise.all([d.lendMetrics(), d.lendMetrics()]);
      expect(y.chunks[0]!.buffer).toBe(x.chunks[0]!.buffer);
      const first = text(x.chunks);
      expect(first).toMatch(/^kernlb_endpoint_connections_total\{service="web",endpoint="10\.244\.1\.2:8080",mode="nftables"\} 0$/m);
      x.release();
      x.release(); // (a second release by the same caller counts once)
      // y still holds the chunks: this scrape must write elsewhere (its read time differs, so its text does)
      const z = await d.lendMetrics();
      expect(z.chunks[0]!.buffer).not.toBe(x.chunks[0]!.buffer);
      expect(text(y.chunks)).toBe(first);
      y.release();
      z.release();
      // now both renderings' chunks are free: the next scrape writes into one of them
      const w = await d.lendMetrics();
      expect([x.chunks[0]!.buffer, z.chunks[0]!.buffer]).toContain(w.chunks[0]!.buffer);
      expect(text(w.chunks)).toMatch(/^kernlb_service_endpoints\{service="web",mode="nftables"\} 3$/m);
      w.release();
      expect((await d.metrics()).toString()).toMatch(/^kernlb_service_endpoints_active\{service="web",mode="nftables"\} 2$/m);
      // gzip: a rendering of its own, the same text once inflated (but the read's own duration)
      const [g, p] = await Promise.all([d.lendMetrics({ gzip: true }), d.lendMetrics()]);
      expect(g.chunks[0]!.buffer).not.toBe(p.chunks[0]!.buffer);
      const timeless = (t: string) => t.replace(/^kernlb_status_read_seconds\{.*$/m, '');
      expect(timeless(gunzipSync(Buffer.concat(g.chunks)).toString())).toBe(timeless(text(p.chunks)));
      g.release();
      p.release();
    } finally {
      await d.close();
    }
  });
});
