/**
 * nftables mode's persistence (client affinity) against the kernel: a client that connected within
 * the timeout returns to its endpoint while other clients spread; nft lists (and reloads) what
 * kernlb wrote; status() and diff() read it back; update() adds and removes it on one service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../lib/lb';
import type { DesiredState } from '../../lib/lb/state';
import { createNetns, createTopology, kernelTestsSkipReason, type Topology } from '../../lib/testing';

const skip = kernelTestsSkipReason();
const CLIENTS = Array.from({ length: 6 }, (_, i) => `10.200.0.${20 + i}`);

// Four requests from each client address, one after the other: which backend answered each.
const CLIENT_JS = `const http = require('http'); const [url, n, ...addrs] = process.argv.slice(1); const out = {};
  const get = (la) => new Promise((ok, ko) => http.get(url, { agent: false, localAddress: la, timeout: 3000 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => ok(b.trim())); }).on('error', ko));
  (async () => { for (const a of addrs) { out[a] = []; for (let k = 0; k < Number(n); k++) out[a].push(await get(a)); } console.log(JSON.stringify(out)); })();`;

describe.skipIf(skip)(`lb nftables persistence (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let topo: Topology;
  let lb: LoadBalancer;
  beforeAll(async () => {
    topo = await createTopology({ backends: 3 });
    for (const a of CLIENTS) await topo.client.exec(['ip', 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    lb = await LoadBalancer.open({ mode: 'nftables', netns: topo.balancer.name });
  });
  afterAll(async () => {
    await lb?.close();
    await topo?.destroy();
  });
  const state = (timeout: number | undefined, weights = [1, 1, 1]): DesiredState => ({
    services: [
      {
        name: 'web',
        vip: topo.vip4,
        port: 80,
        scheduler: 'rr',
        ...(timeout ? { persistence: { timeout } } : {}),
        endpoints: topo.backends.map((b, i) => ({ address: b.ipv4, port: b.port, weight: weights[i]! })),
      },
      // (another VIP: a service on the same VIP and protocol may not share web's endpoints, see the ValidationError test)
      { name: 'other', vip: topo.vip6, port: 80, scheduler: 'rr', endpoints: topo.backends.map((b) => ({ address: b.ipv6, port: b.port })) },
    ],
  });
  const run = async (n = 4) =>
    JSON.parse((await topo.client.exec([process.execPath, '-e', CLIENT_JS, `http://${topo.vip4}/`, String(n), ...CLIENTS])).stdout) as Record<string, string[]>;
  const list = async (what: string[]) => (await topo.balancer.exec(['nft', 'list', ...what])).stdout;

  it('each client sticks to one endpoint across new connections, clients spread; after the timeout it picks anew', async () => {
    // (a timeout long enough for the checks below on a busy machine; its expiry is polled, not slept for)
    await lb.apply(state(4));
    const seen = await run();
    // the kernel's record: each client -> one endpoint (address . port), read right after the clients ran
    const aff = await list(['map', 'inet', 'kernlb', 'aff-web']);
    for (const a of CLIENTS) expect(aff).toMatch(new RegExp(`${a.replace(/\./g, '\\.')} expires \\S+ : 10\\.201\\.\\d\\.2 \\. 8\\d+`));
    for (const a of CLIENTS) expect(new Set(seen[a]), `${a}: ${seen[a]}`).toEqual(new Set([seen[a]![0]]));
    // rr picks each client's first connection: 6 clients over 3 endpoints, 2 each
    const firsts = CLIENTS.map((a) => seen[a]![0]!);
    expect(firsts.filter((b) => b === 'backend-1')).toHaveLength(2);
    expect(new Set(firsts).size).toBe(3);
    // the service without persistence on the same backends still rotates per connection
    const other = JSON.parse((await topo.client.exec([process.execPath, '-e', CLIENT_JS, `http://[${topo.vip6}]/`, '3', 'fd00:200::2'])).stdout) as Record<string, string[]>;
    expect(new Set(other['fd00:200::2']).size, String(other['fd00:200::2'])).toBe(3);
    // after the timeout the record is gone (the kernel's garbage collection: polled, at most 10 s)...
    const deadline = Date.now() + 10_000;
    while (/expires/.test(await list(['map', 'inet', 'kernlb', 'aff-web'])) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await list(['map', 'inet', 'kernlb', 'aff-web'])).not.toMatch(/expires/);
    // ...and a client is balanced again: with rr over 6 fresh clients every backend is picked
    const again = await run(1);
    expect(new Set(CLIENTS.map((a) => again[a]![0])).size).toBe(3);
  });

  it('nft lists the timeout and the rules, and `nft -f` of its listing commits the same table', async () => {
    await lb.apply(state(300));
    const text = await list(['ruleset']);
    expect(text).toMatch(/map aff-web \{\n\s*typeof ip saddr : ip daddr \. tcp dport\n\s*size 65535\n\s*flags dynamic,timeout\n\s*timeout 5m\n/);
    expect(text).toMatch(/meta l4proto tcp dnat ip to ip saddr map @aff-web comment "service web rr persistent 300"\n\s*dnat ip to numgen inc mod 3 \. ip daddr \. tcp dport map @ep-tcp4-\d+\n/);
    expect(text).toMatch(/update @aff-web \{ ip saddr : ip daddr \. tcp dport \}/);
    await using copy = await createNetns('lbp');
    await copy.exec(['nft', '-f', '-'], { input: text });
    const strip = (s: string) => s.replace(/counter packets \d+ bytes \d+/g, '').replace(/\n\s*elements = \{[^}]*expires[^}]*\}/g, '');
    expect(strip((await copy.exec(['nft', 'list', 'ruleset'])).stdout)).toBe(strip(text));
  });

  it('status() and diff() read persistence back: the same state again is no change', async () => {
    await lb.apply(state(300));
    const st = await lb.status();
    expect(st.state.services.find((s) => s.name === 'web')!.persistence).toEqual({ timeout: 300 });
    expect(st.state.services.find((s) => s.name === 'other')!.persistence).toBeUndefined();
    expect((await lb.diff(state(300))).lines).toEqual([]);
    expect(await lb.apply(state(300))).toMatchObject({ changed: false, operations: 0 });
    // a fresh handle (no cache) reads the same, and a changed timeout is a change
    await using fresh = await LoadBalancer.open({ mode: 'nftables', netns: topo.balancer.name });
    expect((await fresh.diff(state(300))).lines).toEqual([]);
    expect((await fresh.diff(state(60))).lines).not.toEqual([]);
    await fresh.apply(state(60));
    expect(await list(['map', 'inet', 'kernlb', 'aff-web'])).toMatch(/timeout 1m\n/);
  });

  it('a persistent service sharing VIP, protocol and an endpoint with another is a ValidationError; the kernel is untouched', async () => {
    await lb.apply(state(undefined));
    const before = await list(['ruleset']);
    const clash = state(300);
    clash.services[1] = { ...clash.services[0]!, name: 'other', port: 81, persistence: undefined } as (typeof clash.services)[number];
    await using fresh = await LoadBalancer.open({ mode: 'nftables', netns: topo.balancer.name });
    await expect(fresh.apply(clash)).rejects.toMatchObject({ name: 'ValidationError', field: 'services' });
    await expect(lb.apply(clash)).rejects.toMatchObject({ name: 'ValidationError', field: 'services' });
    expect(await list(['ruleset'])).toBe(before);
    // the same two without persistence are fine; update() making web persistent is refused
    const { persistence: _, ...plain } = clash.services[0]!;
    await lb.apply({ services: [plain, clash.services[1]!] });
    const two = await list(['ruleset']);
    await expect(lb.update({ upsert: [clash.services[0]!] })).rejects.toThrow(/share VIP .* and "web" is persistent/);
    expect(await list(['ruleset'])).toBe(two);
  });

  it('IPv6: a client sticks to its endpoint', async () => {
    const v6: DesiredState = {
      services: [{ name: 'web6', vip: topo.vip6, port: 80, scheduler: 'rr', persistence: { timeout: 60 }, endpoints: topo.backends.map((b) => ({ address: b.ipv6, port: b.port })) }],
    };
    await lb.apply(v6);
    const js = CLIENT_JS;
    const out = JSON.parse((await topo.client.exec([process.execPath, '-e', js, `http://[${topo.vip6}]/`, '4', 'fd00:200::2'])).stdout) as Record<string, string[]>;
    expect(new Set(out['fd00:200::2']).size, String(out['fd00:200::2'])).toBe(1);
    expect(await list(['map', 'inet', 'kernlb', 'aff-web6'])).toMatch(/fd00:200::2 expires \S+ : fd00:201:\d::2 \. \d+/);
    expect((await lb.diff(v6)).lines).toEqual([]);
  });

  it('update() adds and removes persistence on one service; an endpoint removed frees its clients', async () => {
    await lb.apply(state(undefined));
    const base = state(300).services[0]!;
    await lb.update({ upsert: [base] });
    expect((await lb.status()).state.services.find((s) => s.name === 'web')!.persistence).toEqual({ timeout: 300 });
    const seen = await run(3);
    for (const a of CLIENTS) expect(new Set(seen[a]).size, `${a}: ${seen[a]}`).toBe(1);
    // backend-1 goes: its clients move, everyone still sticks
    await lb.update({ upsert: [{ ...base, endpoints: base.endpoints.slice(1) }] });
    const after = await run(3);
    for (const a of CLIENTS) {
      expect(new Set(after[a]).size, `${a}: ${after[a]}`).toBe(1);
      expect(after[a]![0]).not.toBe('backend-1');
    }
    // persistence off: the same client rotates again, and nothing of it is left in the table
    await lb.update({ upsert: [{ ...base, persistence: undefined } as typeof base] });
    const off = await run(3);
    for (const a of CLIENTS) expect(new Set(off[a]).size, `${a}: ${off[a]}`).toBeGreaterThan(1);
    const text = await list(['table', 'inet', 'kernlb']);
    expect(text).not.toMatch(/aff-web|keep-web/);
    expect((await lb.diff(state(undefined))).lines).toEqual([]);
  });
});
