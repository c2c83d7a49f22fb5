import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { compileIptables, renderIptables, sepChainName, storedProbability, svcChainName } from '../../lib/lb/modes/iptables/compile';
import { compileIpvs, renderIpvsadm } from '../../lib/lb/modes/ipvs/compile';
import { compileNft, compileService, MAX_SLOTS, renderNft, renderServiceRule, slotCounts, type NftServiceChain } from '../../lib/lb/modes/nftables/compile';
import { validateState, type Service } from '../../lib/lb/state';
import { demoState } from '../fixtures/lb-state';

// The golden files are checked against the kernel by the oracle tests: test/kernel/lb-*.test.ts load
// them with `nft -f` / `iptables-legacy-restore` and compare with what kernlb commits.
describe('lb compile: golden outputs per mode', () => {
  const state = validateState(demoState);
  it('nftables: table inet kernlb (nft -f syntax)', async () => {
    await expect(renderNft(compileNft(state))).toMatchFileSnapshot('golden/lb-demo.nft');
  });
  it('iptables: kube-proxy layout in KERNLB-* chains (iptables-save syntax)', async () => {
    const st = validateState({ services: demoState.services.map((s) => ({ ...s, scheduler: s.name === 'web' ? 'rr' : 'random' })) }, 'iptables');
    const plan = compileIptables(st);
    await expect(renderIptables(plan.ipv4)).toMatchFileSnapshot('golden/lb-demo.iptables');
    await expect(renderIptables(plan.ipv6)).toMatchFileSnapshot('golden/lb-demo.ip6tables');
  });
  it('ipvs: one virtual service per service (ipvsadm -R syntax)', async () => {
    const st = validateState({ services: demoState.services.map((s) => ({ ...s, scheduler: s.name === 'web' ? 'rr' : 'wrr' })) }, 'ipvs');
    await expect(renderIpvsadm(compileIpvs(st))).toMatchFileSnapshot('golden/lb-demo.ipvsadm');
  });
});

describe('lb compile: iptables chain names', () => {
  // kube-proxy's recipe, written out bit by bit: base32 (RFC 4648) of the SHA-256, 16 characters.
  const reference = (prefix: string, text: string) => {
    const bits = [...createHash('sha256').update(text).digest()].map((b) => b.toString(2).padStart(8, '0')).join('');
    return prefix + Array.from({ length: 16 }, (_, i) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[parseInt(bits.slice(i * 5, i * 5 + 5), 2)]).join('');
  };
  it('are KERNLB-SVC-/KERNLB-SEP- and the first 16 base32 characters of the SHA-256 of the service (and endpoint) key', () => {
    const services = [
      { protocol: 'tcp' as const, vip: '10.96.0.10', port: 80 },
      { protocol: 'udp' as const, vip: 'fd00::a', port: 53 },
      { protocol: 'sctp' as const, vip: '192.0.2.255', port: 65535 },
    ];
    for (const s of services) {
      const key = `${s.protocol}/${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}`;
      expect(svcChainName(s)).toBe(reference('KERNLB-SVC-', key));
      for (let i = 0; i < 200; i++) {
        const e = { address: s.vip.includes(':') ? `fd00::${i.toString(16)}` : `10.244.${i >> 8}.${i & 255}`, port: 1 + i * 300 };
        const ek = e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
        expect(sepChainName(s, e)).toBe(reference('KERNLB-SEP-', `${key}>${ek}`));
      }
    }
    expect(svcChainName(services[0]!)).toHaveLength(27); // (x_tables allows 28)
  });
});

/** Simulates the slot map for one connection: numgen inc / random / jhash picks a slot, the map gives the endpoint. */
function pickNft(c: NftServiceChain, counter: { n: number }, hash: number, rand: () => number): string {
  const slot = c.pick.kind === 'jhash' ? hash % c.slots : c.pick.mode === 'inc' ? counter.n++ % c.slots : Math.floor(rand() * c.slots);
  const e = c.elements.find((x) => x.key === slot)!;
  return e.address;
}

function svc(scheduler: string, weights: number[]): Service {
  return validateState({
    services: [{ name: 's', vip: '10.0.0.1', port: 80, scheduler, endpoints: weights.map((w, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: w })) }],
  }).services[0]!;
}

describe('lb compile: the nft slot map gives the scheduler\'s distribution', () => {
  it('wrr (numgen inc) is exact over every cycle of sum(weights)/gcd, interleaved', () => {
    const c = compileService(svc('wrr', [6, 0, 2, 4]));
    expect(c.slots).toBe(6);
    const counter = { n: 0 };
    const hits = new Map<string, number>();
    const seq: string[] = [];
    for (let n = 0; n < 6 * 50; n++) {
      const a = pickNft(c, counter, 0, Math.random);
      seq.push(a);
      hits.set(a, (hits.get(a) ?? 0) + 1);
    }
    expect(Object.fromEntries(hits)).toEqual({ '10.1.0.1': 150, '10.1.0.3': 50, '10.1.0.4': 100 });
    // smooth: the heaviest endpoint never takes three connections in a row
    expect(seq.join(',')).not.toMatch(/10\.1\.0\.1,10\.1\.0\.1,10\.1\.0\.1/);
    // the weight-0 endpoint is an element beyond the modulus, never picked; weights are in the comments
    expect(c.elements.filter((e) => e.key >= c.slots)).toEqual([{ key: 6, address: '10.1.0.2', port: 80, comment: 'w0' }]);
    expect(c.elements.filter((e) => e.comment).map((e) => `${e.address} ${e.comment}`).sort()).toEqual(['10.1.0.1 w6', '10.1.0.2 w0', '10.1.0.3 w2', '10.1.0.4 w4']);
  });

  it('rr (numgen inc) ignores weights > 0 and rotates exactly', () => {
    const c = compileService(svc('rr', [5, 1, 9]));
    const counter = { n: 0 };
    const seq = Array.from({ length: 6 }, () => pickNft(c, counter, 0, Math.random));
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
    expect(seq.slice(3)).toEqual(seq.slice(0, 3));
  });

  it('random: slot shares are w_i / sum(w)', () => {
    const c = compileService(svc('random', [1, 2, 3, 4]));
    expect(c.pick).toEqual({ kind: 'numgen', mode: 'random' });
    const share = (a: string) => c.elements.filter((e) => e.key < c.slots && e.address === a).length / c.slots;
    expect(['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'].map(share)).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it('sh: every hash value maps to one endpoint, in proportion to the weights', () => {
    const c = compileService(svc('sh', [1, 3]));
    const hits = new Map<string, number>();
    for (let h = 0; h < 4000; h++) {
      const a = pickNft(c, { n: 0 }, h, Math.random);
      hits.set(a, (hits.get(a) ?? 0) + 1);
    }
    expect(Object.fromEntries(hits)).toEqual({ '10.1.0.1': 1000, '10.1.0.2': 3000 });
  });

  it('weights beyond MAX_SLOTS are scaled: at least one slot each, shares within 1/MAX_SLOTS', () => {
    const w = [65535, 1, 30000, 7];
    const counts = slotCounts(w);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(MAX_SLOTS);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    const total = w.reduce((a, b) => a + b, 0);
    counts.forEach((n, i) => expect(Math.abs(n / MAX_SLOTS - w[i]! / total)).toBeLessThanOrEqual(2 / MAX_SLOTS));
    expect(slotCounts([4, 6, 2])).toEqual([2, 3, 1]);
  });

  it('a service without active endpoints has a counting rule and its weight-0 elements only', () => {
    const c = compileService(svc('rr', [0, 0]));
    expect(c.slots).toBe(0);
    expect(renderServiceRule(c)).toBe('counter comment "service s rr"');
    expect(c.elements.map((e) => `${e.key} ${e.address} ${e.comment}`)).toEqual(['0 10.1.0.1 w0', '1 10.1.0.2 w0']);
  });
});

describe('lb compile: iptables probabilities follow kube-proxy\'s math', () => {
  it('probability i = w_i / (w_i + ... + w_last), stored as lround(p * 2^31)', () => {
    const st = validateState({ services: [{ name: 's', vip: '10.0.0.1', port: 80, scheduler: 'random', endpoints: [1, 1, 1, 1].map((w, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: w })) }] }, 'iptables');
    const svcChain = compileIptables(st).ipv4.chains.find((c) => c.name.startsWith('KERNLB-SVC-'))!;
    const probs = svcChain.rules.flatMap((r) => r.matches.flatMap((m) => (m.kind === 'statistic-random' ? [m.probability] : [])));
    expect(probs).toEqual([1 / 4, 1 / 3, 1 / 2]);
    expect(storedProbability(1 / 3)).toBe(715827883);
  });
  it('rr uses statistic nth with every = endpoints left (exact rotation)', () => {
    const st = validateState({ services: [{ name: 's', vip: '10.0.0.1', port: 80, endpoints: [1, 1, 1].map((w, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: w })) }] }, 'iptables');
    const text = renderIptables(compileIptables(st).ipv4);
    expect(text).toMatch(/--mode nth --every 3 --packet 0 -j KERNLB-SEP-/);
    expect(text).toMatch(/--mode nth --every 2 --packet 0 -j KERNLB-SEP-/);
    expect(text).not.toMatch(/--every 1 /);
  });
  it('chain names fit x_tables (28 characters) and depend only on the service they belong to', () => {
    // A service's chains keep their names whatever else the state holds (its place in the list, other
    // services): compiled alone, each service names chains that no other service names and that the
    // whole state, reversed, names too. Names taken from a position or a counter fail this.
    const own = (services: typeof demoState.services) =>
      (({ ipv4, ipv6 }) => [...ipv4.chains, ...ipv6.chains])(compileIptables(validateState({ services })))
        .map((c) => c.name)
        .filter((n) => /^KERNLB-(SVC|SEP)-/.test(n));
    const whole = own([...demoState.services].reverse());
    const seen = new Set<string>();
    for (const s of demoState.services) {
      const alone = own([s]);
      expect(alone.length).toBeGreaterThan(0);
      for (const n of alone) {
        expect(whole).toContain(n);
        expect(seen.has(n), `${n} is named by two services`).toBe(false);
        seen.add(n);
      }
    }
    for (const n of whole) expect(n.length).toBeLessThanOrEqual(28);
  });
});

describe('lb compile: iptables persistence (kube-proxy ClientIP affinity)', () => {
  it('rcheck rules first in the service chain, --set before the DNAT, persistence in the header comment', () => {
    const st = validateState(
      { services: [{ name: 's', vip: '10.0.0.1', port: 80, scheduler: 'random', persistence: { timeout: 30 }, endpoints: [{ address: '10.1.0.1', port: 80 }, { address: '10.1.0.2', port: 80 }] }] },
      'iptables',
    );
    const lines = renderIptables(compileIptables(st).ipv4).split('\n').filter((l) => /KERNLB-(SVC|SEP)-/.test(l) && l.startsWith('-A'));
    const svc = lines.filter((l) => l.startsWith('-A KERNLB-SVC-'));
    expect(svc[0]).toMatch(/--comment "service s random persistent 30"$/);
    expect(svc[1]).toMatch(/--comment "affinity 10\.1\.0\.1:80" -m recent --rcheck --seconds 30 --reap --name (KERNLB-SEP-\w+) --mask 255\.255\.255\.255 --rsource -j \1$/);
    expect(svc[3]).toMatch(/--comment "ep 10\.1\.0\.1:80 w1" -m statistic --mode random --probability 0\.50000000000 -j KERNLB-SEP-/);
    const dnat = lines.find((l) => l.includes('--to-destination 10.1.0.1:80'))!;
    expect(dnat).toMatch(/-p tcp -m recent --set --name (KERNLB-SEP-\w+) --mask 255\.255\.255\.255 --rsource -j DNAT/);
    expect(dnat.startsWith(`-A ${/--name (KERNLB-SEP-\w+)/.exec(dnat)![1]} `)).toBe(true);
  });
});
