/**
 * Generated bad input for the load balancer: desired states (several services, tcp/udp/sctp, IPv4
 * and IPv6, every scheduler a mode can do, weights incl. 0, persistence) with one thing broken,
 * through validation (without a mode, per mode, and through a primed validation cache as
 * LoadBalancer does) and, for what a mode accepts, through everything pure that runs before the
 * kernel: the diff against the valid state, the mode's compiler and renderer, nftables' rule
 * expressions, iptables' kernel table (validated and encoded), IPVS' plan and its batch validation.
 * Each case is a ValidationError or is accepted; never another error.
 */
import { describe, expect, it } from 'vitest';
import { encodeValidTable } from '../../lib/iptables/blob';
import { validateIptTable, type IptTable } from '../../lib';
import { plan } from '../../lib/ipvs/ipvs';
import { diffStates, formatDiff } from '../../lib/lb/diff';
import { mergeTable } from '../../lib/lb/modes/iptables/backend';
import { compileIptables, renderIptables } from '../../lib/lb/modes/iptables/compile';
import { stepToOp } from '../../lib/lb/modes/ipvs/backend';
import { compileIpvs, planIpvs, renderIpvsadm, type IpvsCurrentSvc } from '../../lib/lb/modes/ipvs/compile';
import { serviceRule, shardMap } from '../../lib/lb/modes/nftables/rules';
import { Transaction } from '../../lib/nft/transaction';
import { compileNft, renderNft } from '../../lib/lb/modes/nftables/compile';
import { MODES, type Mode } from '../../lib/lb/schedulers';
import { validateState, ValidationCache, type DesiredState, type State } from '../../lib/lb/state';
import { LoadBalancer } from '../../lib/lb';
import { native } from '../../lib/native';
import { caseLine, mutate, outcome, outcomeSync, rng, type Mutation } from '../bad-input';

const CASES = 1500;

/** One valid state per mode (each is valid in its own mode; mutations are tried in every mode). */
const states: Record<Mode, DesiredState> = {
  nftables: {
    services: [
      { name: 'web', vip: '10.96.0.10', port: 80, scheduler: 'wrr', endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080 }, { address: '10.244.1.4', port: 8080, weight: 0 }] },
      { name: 'dns', protocol: 'udp', vip: 'fd00::10', port: 53, scheduler: 'sh', endpoints: [{ address: 'fd00::1:1', port: 5353, weight: 3 }, { address: 'FD00::1:2', port: 5353, weight: 65535 }] },
      { name: 'diameter', protocol: 'sctp', vip: '10.96.0.11', port: 3868, scheduler: 'random', endpoints: [{ address: '10.244.2.1', port: 3868 }] },
      { name: 'empty.svc-1', protocol: 'tcp', vip: '10.96.0.12', port: 65535, endpoints: [] },
    ],
  },
  iptables: {
    services: [
      { name: 'web', protocol: 'tcp', vip: '10.96.0.10', port: 80, scheduler: 'random', persistence: { timeout: 10800 }, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 2 }, { address: '10.244.1.3', port: 8080, weight: 1 }] },
      { name: 'dns', protocol: 'udp', vip: '2001:db8::53', port: 53, scheduler: 'rr', endpoints: [{ address: '2001:db8::1:1', port: 53 }, { address: '2001:db8::1:2', port: 53, weight: 0 }] },
      { name: 'api', vip: '10.96.0.13', port: 443, endpoints: [{ address: '10.244.3.1', port: 8443 }] },
    ],
  },
  ipvs: {
    services: [
      { name: 'web', protocol: 'tcp', vip: '10.96.0.10', port: 80, scheduler: 'wlc', persistence: { timeout: 300 }, endpoints: [{ address: '10.244.1.2', port: 8080, weight: 5 }, { address: '10.244.1.3', port: 8080, weight: 0 }] },
      { name: 'dns', protocol: 'udp', vip: 'fd00::53', port: 53, scheduler: 'mh', endpoints: [{ address: 'fd00::2:1', port: 53 }] },
      { name: 'sctp', protocol: 'sctp', vip: '10.96.0.20', port: 3868, scheduler: 'lblcr', persistence: { timeout: 31_536_000 }, endpoints: [{ address: '10.244.4.1', port: 1 }, { address: '10.244.4.2', port: 65535, weight: 65535 }] },
      { name: 'lc', vip: '10.96.0.21', port: 8000, scheduler: 'twos', endpoints: [] },
    ],
  },
};

/** An empty nat table as a fresh namespace has it (for iptables' merged kernel table). */
function emptyNat(family: 'ipv4' | 'ipv6'): IptTable {
  return { family, name: 'nat', chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'].map((name) => ({ name, policy: 'ACCEPT' as const, rules: [] })) };
}

/** Everything pure a mode does with an accepted state before the kernel is touched. */
function compileFor(mode: Mode, state: State, base: State): void {
  formatDiff(diffStates(base, state));
  formatDiff(diffStates(state, base));
  if (mode === 'nftables') {
    const p = compileNft(state);
    renderNft(p);
    const tx = new Transaction(async () => {});
    for (const c of p.services) {
      tx.addChain({ family: 'inet', table: 'kernlb', name: c.chain });
      tx.addSet(shardMap(c.map, [c]));
      tx.addRule(serviceRule(c));
    }
    native().nft.encodeBatch(tx.items() as never, {});
  } else if (mode === 'iptables') {
    const p = compileIptables(state);
    for (const fp of [p.ipv4, p.ipv6]) {
      renderIptables(fp);
      const { table } = mergeTable(emptyNat(fp.family), fp, new Set(), new Map(), true);
      validateIptTable(table);
      encodeValidTable(table, 0);
    }
  } else {
    const want = compileIpvs(state);
    renderIpvsadm(want);
    const cur: IpvsCurrentSvc[] = compileIpvs(base).map((s) => ({ ...s, dests: s.dests.map((d) => ({ ...d, activeConnections: 1, inactiveConnections: 0 })) }));
    // from nothing, and from the valid state (drains, re-weights, deletes): IPVS' own validation
    // must accept every op (IPVS has no transactions: a refusal half-way would half-apply)
    for (const from of [[], cur]) plan(planIpvs(from, want, { now: 2_000_000_000, drainTimeout: 300 }).map(stepToOp), (i) => `ops[${i}].`);
  }
}

describe('load balancer: generated bad input', () => {
  it('the valid states are valid in their own mode and compile', () => {
    for (const mode of MODES) compileFor(mode, validateState(states[mode], mode), validateState(states[mode], mode));
  });

  it('is a ValidationError or accepted (validation, cached validation, diff, compile), never another error', () => {
    const wrong: string[] = [];
    let validation = 0, ok = 0;
    const bases = Object.fromEntries(MODES.map((m) => [m, validateState(states[m], m)])) as Record<Mode, State>;
    for (let seed = 1; seed <= CASES; seed++) {
      const own = MODES[seed % MODES.length]!;
      const { input, mutation } = mutate(states[own], rng(seed));
      const check = (call: () => unknown, m: Mutation = mutation): string => {
        const o = outcomeSync(call);
        if (o.kind !== 'ok' && o.kind !== 'validation') wrong.push(caseLine(seed, m, o.error));
        return o.kind;
      };
      check(() => validateState(input));
      for (const mode of MODES) {
        let st: State | undefined;
        const kind = check(() => (st = validateState(input, mode)));
        if (mode === own) {
          if (kind === 'validation') validation++;
          if (kind === 'ok') ok++;
        }
        // a LoadBalancer's cache, primed with the valid state, must come to the same verdict
        const cache = new ValidationCache(mode);
        if (mode === own) validateState(states[own], mode, cache);
        let cached: State | undefined;
        const ck = check(() => (cached = validateState(input, mode, cache)));
        if (ck !== kind && ck !== 'other' && kind !== 'other') wrong.push(caseLine(seed, mutation, new Error(`${mode}: validate ${kind}, cached ${ck}`)));
        if (st && cached) expect(cached).toEqual(st);
        if (st) check(() => compileFor(mode, st!, bases[mode]));
      }
    }
    expect(wrong).toEqual([]);
    expect(validation).toBeGreaterThan(CASES / 3);
    expect(ok).toBeGreaterThan(0);
  });

  it('validateState names an unknown mode instead of failing on it', () => {
    for (const mode of ['bogus', null, Object.create(null), 1n]) {
      const o = outcomeSync(() => validateState(states.nftables, mode as never));
      expect(o.kind).toBe('validation');
      expect(o.error).toMatchObject({ field: 'mode' });
    }
  });

  it('LoadBalancer options are checked before anything is opened', async () => {
    const rejects = async (call: () => Promise<LoadBalancer>, field: string) => {
      const o = await outcome(async () => (await call()).close()); // (closed if it opened by mistake)
      expect(o.kind).toBe('validation');
      expect(o.error).toMatchObject({ field });
    };
    await rejects(() => LoadBalancer.open(null as never), 'mode');
    await rejects(() => LoadBalancer.open({ mode: Object.create(null) as never }), 'mode');
    await rejects(() => LoadBalancer.open({ mode: 'nftables', drainTimeout: 1n as never }), 'drainTimeout');
    await rejects(() => LoadBalancer.open({ mode: 'nftables', attempts: 0 }), 'attempts');
    await rejects(() => LoadBalancer.open({ mode: 'nftables', attempts: 'x' as never }), 'attempts');
    await rejects(() => LoadBalancer.open({ mode: 'nftables', attempts: NaN }), 'attempts');
    await rejects(() => LoadBalancer.open({ mode: 'iptables', iptables: { engine: Object.create(null) as never } }), 'iptables.engine');
    await rejects(() => LoadBalancer.open({ mode: 'iptables', iptables: 5 as never }), 'iptables');
    await rejects(() => LoadBalancer.open({ mode: 'nftables', removeOtherModes: 'no' as never }), 'removeOtherModes');
  });
});
