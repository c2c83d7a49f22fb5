/**
 * list() while another process keeps committing: every listing is one generation (a chain added
 * together with its rule is either listed with it or not at all), thanks to the res_id / GETGEN
 * check and bounded re-reads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';

const skip = kernelTestsSkipReason();

describe.skipIf(skip !== undefined)(`nft list under concurrent commits${skip ? ` - skipped: ${skip}` : ''}`, () => {
  const spaces: TestNetns[] = [];
  afterAll(async () => {
    await Promise.all(spaces.map((x) => x.destroy()));
  });

  it('never returns a torn ruleset', async () => {
    const ns = await createNetns('klnft');
    spaces.push(ns);
    await ns.exec(['nft', 'add', 'table', 'ip', 't']);
    // each commit adds a chain with one rule in one transaction
    const writer = ns.spawn(['sh', '-c', 'i=0; while [ $i -lt 400 ]; do printf "add chain ip t c%d\\nadd rule ip t c%d accept\\n" $i $i | nft -f - || exit 1; i=$((i+1)); done']);
    const done = new Promise<number | null>((resolve) => writer.once('exit', (code) => resolve(code)));
    await using nft = await Nftables.open({ netns: ns.name });
    let listings = 0;
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished || listings < 5) {
      const rs = await nft.list({ maxAttempts: 50 });
      const chains = new Set(rs.chains.map((c) => c.name));
      for (const r of rs.rules) expect(chains.has(r.chain)).toBe(true);
      expect(rs.rules.length).toBe(rs.chains.length);
      listings++;
    }
    expect(await done).toBe(0);
    expect(listings).toBeGreaterThan(5);
    expect((await nft.list()).chains).toHaveLength(400);
  }, 120_000);
});
