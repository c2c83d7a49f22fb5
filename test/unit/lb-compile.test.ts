import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { compileIptables, renderIptables, sepChainName, storedProbability, svcChainName } from '../../lib/lb/modes/iptables/compile';
import { compileIpvs, renderIpvsadm } from '../../lib/lb/modes/ipvs/compile';
import { compileNft, compileService, renderNft, type NftServiceRule } from '../../lib/lb/modes/nftables/compile';
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

/** Simulates the nft cascade for one connection: which endpoint rule takes it. */
function pickNft(rules: NftServiceRule[], counters: number[], hash: number, rand: () => number): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (!r.target) continue;
    const p = r.pick;
    if (!p) return i;
    let v: number;
    if (p.kind === 'jhash') v = hash % p.modulus;
    else if (p.mode === 'inc') v = counters[i]!++ % p.modulus;
    else v = Math.floor(rand() * p.modulus);
    if (v < p.lessThan) return i;
  }
  return -1;
}

function svc(scheduler: string, weights: number[]): Service {
  return validateState({
    services: [{ name: 's', vip: '10.0.0.1', port: 80, scheduler, endpoints: weights.map((w, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: w })) }],
  }).services[0]!;
}

describe('lb compile: the nft cascade gives the scheduler\'s distribution', () => {
  it('wrr (numgen inc) is exact over every cycle of sum(weights)', () => {
    const c = compileService(svc('wrr', [3, 0, 1, 2]));
    const counters = c.rules.map(() => 0);
    const hits = new Map<string, number>();
    for (let n = 0; n < 6 * 50; n++) {
      const i = pickNft(c.rules, counters, 0, Math.random);
      const k = c.rules[i]!.target!.address;
      hits.set(k, (hits.get(k) ?? 0) + 1);
    }
    expect(Object.fromEntries(hits)).toEqual({ '10.1.0.1': 150, '10.1.0.3': 50, '10.1.0.4': 100 });
    // Weight-0 endpoint is a counter-and-comment rule only.
    expect(c.rules.find((r) => r.comment === 'ep 10.1.0.2:80 w0')?.target).toBeUndefined();
  });

  it('rr (numgen inc) ignores weights > 0 and rotates exactly', () => {
    const c = compileService(svc('rr', [5, 1, 9]));
    const counters = c.rules.map(() => 0);
    const seq = Array.from({ length: 6 }, () => c.rules[pickNft(c.rules, counters, 0, Math.random)]!.target!.address);
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
    expect(new Set(seq.slice(3, 6)).size).toBe(3);
  });

  it('random: the cascade probabilities multiply out to w_i / sum(w)', () => {
    const c = compileService(svc('random', [1, 2, 3, 4]));
    let pass = 1;
    const probs: number[] = [];
    for (const r of c.rules.filter((r) => r.target)) {
      const p = r.pick && r.pick.kind === 'numgen' ? r.pick.lessThan / r.pick.modulus : 1;
      probs.push(pass * p);
      pass *= 1 - p;
    }
    expect(probs.map((p) => Math.round(p * 1000) / 1000)).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it('sh: every hash value maps to one endpoint, in proportion to the weights', () => {
    const c = compileService(svc('sh', [1, 3]));
    const hits = [0, 0];
    for (let h = 0; h < 4000; h++) hits[pickNft(c.rules, [], h, Math.random) - 1]!++;
    expect(hits).toEqual([1000, 3000]);
  });

  it('a service without active endpoints has only its header and weight-0 rules', () => {
    const c = compileService(svc('rr', [0, 0]));
    expect(c.rules.map((r) => r.comment)).toEqual(['service s rr', 'ep 10.1.0.1:80 w0', 'ep 10.1.0.2:80 w0']);
    expect(c.rules.every((r) => !r.target)).toBe(true);
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
  it('chain names fit x_tables (28 characters) and are stable', () => {
    const a = compileIptables(validateState(demoState)).ipv4.chains.map((c) => c.name);
    const b = compileIptables(validateState(demoState)).ipv4.chains.map((c) => c.name);
    expect(a).toEqual(b);
    for (const n of a) expect(n.length).toBeLessThanOrEqual(28);
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
    expect(dnat).toMatch(/-p tcp -m comment --comment s -m recent --set --name (KERNLB-SEP-\w+) --mask 255\.255\.255\.255 --rsource -m tcp -j DNAT/);
    expect(dnat.startsWith(`-A ${/--name (KERNLB-SEP-\w+)/.exec(dnat)![1]} `)).toBe(true);
  });
});
