/**
 * Oracle, tool -> kernlb -> kernel: rulesets loaded with `nft -f` are read by kernlb, committed into an
 * empty namespace, and `nft list ruleset` prints both namespaces identically.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../lib';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { FAMILIES_LAYOUT, KUBE_PROXY_LAYOUT } from './nft-fixtures';

const skip = kernelTestsSkipReason();

async function nftList(ns: TestNetns): Promise<string> {
  // remaining element lifetimes tick between the two listings: compare them to the second
  return (await ns.exec(['nft', 'list', 'ruleset'])).stdout.replace(/expires (\S+?)\d+ms/g, 'expires $1');
}

describe.skipIf(skip !== undefined)(`nft round trip through kernlb${skip ? ` - skipped: ${skip}` : ''}`, () => {
  const spaces: TestNetns[] = [];
  const fresh = async () => {
    const ns = await createNetns('klnft');
    spaces.push(ns);
    return ns;
  };
  afterAll(async () => {
    await Promise.all(spaces.map((s) => s.destroy()));
  });

  for (const [name, text] of [['kube-proxy layout', KUBE_PROXY_LAYOUT], ['all families', FAMILIES_LAYOUT]] as const) {
    it(`${name}: nft -f, kernlb list, kernlb commit elsewhere, identical nft listing`, async () => {
      const src = await fresh();
      const dst = await fresh();
      await src.exec(['nft', '-f', '-'], { input: text });
      const expected = await nftList(src);
      await using a = await Nftables.open({ netns: src.name });
      const rs = await a.list();
      expect(rs.tables.length).toBeGreaterThan(0);
      await using b = await Nftables.open({ netns: dst.name });
      await b.transaction().addRuleset(rs).commit();
      expect(await nftList(dst)).toBe(expected);
      // and kernlb reads the copy exactly as it read the original (handles aside)
      // (element order is the kernel's hash order, so compare elements as sorted lists)
      const strip = (x: unknown) =>
        JSON.parse(JSON.stringify(x, (k, v) => (k === 'handle' || k === 'generation' || k === 'expiration' ? undefined : k === 'elements' ? [...v].map((e) => JSON.stringify({ ...e, expiration: undefined })).sort() : v)));
      expect(strip(await b.list())).toEqual(strip(rs));
    });
  }
});
