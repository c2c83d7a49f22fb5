/**
 * Issue #21, nftables mode: status() from the shard maps' counters alone (lib/lb/modes/nftables/status.ts)
 * gives what the full read of the table gives, on the same kernel state: counters per slot set by
 * `nft -f` (each slot a different value, so a counter summed into the wrong endpoint shows), and
 * drift made behind the handle's back is still reported (the fast path gives way to the full read).
 * LoadBalancer.counters() (the same counters packed, for scrapes) matches it and gives way the same.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import { Nftables } from '../../lib/nft';
import { createNetns, kernelTestsSkipReason } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const golden = readFileSync(path.join(__dirname, '..', 'unit', 'golden', 'lb-demo.nft'), 'utf8');
// every slot element with its own packets/bytes: slot k of api (shard map ep-udp6-647) / web
// (ep-tcp4-145) gets (k+1)*10+base packets; a key is `slot . VIP . port`
const slotCounter = (base: number) => (m: string, slot: string) => `${m} counter packets ${(Number(slot) + 1) * 10 + base} bytes ${(Number(slot) + 1) * 1000 + base}`;
const withCounters = golden
  .replace(/(map ep-udp6-647 \{[\s\S]*?\n\t\})/, (map) => map.replace(/(?<=[{,]\s*)(\d+) \. \S+ \. \d+(?= (comment|:))/g, slotCounter(1)))
  .replace(/(map ep-tcp4-145 \{[\s\S]*?\n\t\})/, (map) => map.replace(/(?<=[{,]\s*)(\d+) \. \S+ \. \d+(?= (comment|:))/g, slotCounter(2)));

afterEach(() => void vi.restoreAllMocks());

describe.skipIf(skip)(`lb nftables status from counters (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('the counters-only read equals the full read of the same table (per-slot counters summed per endpoint)', async () => {
    expect(withCounters).toContain('0 . fd00::10 . 53 counter packets 11 bytes 1001 comment "w3"');
    await using a = await createNetns('lbsf');
    await a.exec(['nft', '-f', '-'], { input: withCounters });
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    const list = vi.spyOn(Nftables.prototype, 'list');
    const counters = vi.spyOn(Nftables.prototype, 'setCounters');
    const full = await lb.status(); // nothing recorded yet: the whole table, which has no drift
    expect(list).toHaveBeenCalledTimes(1);
    expect(full.drift).toBeUndefined();
    const fast = await lb.status();
    expect(list).toHaveBeenCalledTimes(1);
    expect(counters).toHaveBeenCalledTimes(1);
    expect(fast).toEqual(full);
    // the same counters packed (what a scrape renders): the full read's endpoints in order, one array slot each
    const packed = await lb.counters();
    expect(list).toHaveBeenCalledTimes(1);
    expect(packed?.services).toEqual(full.state.services);
    const flat = full.services.flatMap((s) => s.endpoints.map((e) => e.counters));
    expect([...packed!.connections]).toEqual(flat.map((c) => c.connections));
    expect([...packed!.packets]).toEqual(flat.map((c) => c.packets));
    expect([...packed!.bytes]).toEqual(flat.map((c) => c.bytes));
    // api: fd00::1:1 holds slot 1, fd00::1:2 slots 0, 2, 3; web: 10.244.1.2 slot 0, .3 slot 1, .4 (weight 0) slot 2
    const by = Object.fromEntries(fast.services.map((s) => [s.name, s.endpoints.map((e) => [e.address, e.counters])]));
    expect(by).toEqual({
      api: [
        ['fd00::1:1', { connections: 21, packets: 21, bytes: 2001 }],
        ['fd00::1:2', { connections: 11 + 31 + 41, packets: 11 + 31 + 41, bytes: 1001 + 3001 + 4001 }],
      ],
      web: [
        ['10.244.1.2', { connections: 12, packets: 12, bytes: 1002 }],
        ['10.244.1.3', { connections: 22, packets: 22, bytes: 2002 }],
        ['10.244.1.4', { connections: 32, packets: 32, bytes: 3002 }],
      ],
    });
  });

  it('a service with a health check reads back without it (the model as the full read gives it), the others as applied', async () => {
    await using a = await createNetns('lbsf');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    const [web, ...rest] = demoState.services;
    await lb.apply({ services: [{ ...web!, healthCheck: { type: 'tcp' } }, ...rest] });
    const list = vi.spyOn(Nftables.prototype, 'list');
    const st = await lb.status();
    expect(list).not.toHaveBeenCalled();
    expect(st.state.services.find((s) => s.name === 'web')).not.toHaveProperty('healthCheck');
    await using other = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    expect(st).toEqual(await other.status());
    expect((await lb.counters())?.services).toEqual(st.state.services);
  });

  it('status().state from the counters-only read is the caller\'s to edit and apply (not the handle\'s own record)', async () => {
    await using a = await createNetns('lbsf');
    await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
    await lb.apply(demoState);
    const list = vi.spyOn(Nftables.prototype, 'list');
    const st = await lb.status();
    expect(list).not.toHaveBeenCalled();
    const web = st.state.services.find((s) => s.name === 'web')!;
    web.endpoints[0]!.weight = 5;
    const s = await lb.apply(st.state);
    expect(s.lines).toEqual(['~ service web tcp/10.96.0.10:80: 10.244.1.2:8080 w1->w5']);
    expect((await lb.status()).state.services.find((x) => x.name === 'web')!.endpoints[0]!.weight).toBe(5);
  });

  // (a foreign chain leaves every slot map as it was: only the generation tells)
  for (const [what, change] of [
    ['a foreign chain', ['add', 'chain', 'inet', 'kernlb', 'sneaky']],
    ['a foreign slot element', ['add', 'element', 'inet', 'kernlb', 'ep-tcp4-145', '{ 7 . 10.96.0.10 . 80 : 10.9.9.9 . 80 }']],
  ] as const) {
    it(`after apply(), status reads counters only; ${what} behind its back is drift again, as a fresh handle sees it`, async () => {
      await using a = await createNetns('lbsf');
      await using lb = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      await lb.apply(demoState);
      const list = vi.spyOn(Nftables.prototype, 'list');
      const st = await lb.status();
      expect(list).not.toHaveBeenCalled();
      await using other = await LoadBalancer.open({ mode: 'nftables', netns: a.name });
      expect(st).toEqual(await other.status());
      expect((await lb.counters())?.services).toEqual(st.state.services);
      await a.exec(['nft', ...change]);
      // (packed counters only of a table provably kernlb's: none now, status() reads it whole)
      expect(await lb.counters()).toBeUndefined();
      const after = await lb.status();
      expect(after.drift?.length).toBeGreaterThan(0);
      expect(after).toEqual(await other.status());
    });
  }
});
