/**
 * Generated bad input for nftables: scripts of transaction calls covering the API (tables, base and
 * regular chains, rules built by the statement builder and raw kernel-level expressions, sets and
 * maps with typeof, concatenated keys, verdict and object maps, interval and dynamic sets, named
 * objects, element add / create / delete / destroy / replace, deletes and flushes, addRuleset of a
 * listed model), each with one thing broken. Everything that runs before the kernel runs: the
 * statement builder, the transaction's validation and packing, and the native batch encoder
 * (native/nft encodeBatch, pure). Each case is accepted or a ValidationError; never another error.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib';
import { native } from '../../lib/native';
import { Transaction } from '../../lib/nft/transaction';
import { resolve } from '../nft-scripts';
import { caseLine, mutate, outcomeSync, rng, type Path } from '../bad-input';

const CASES = Number(process.env.KERNLB_FUZZ_CASES) || 1500;

/** One call on a transaction: [method, ...arguments]. `{ $s, args }` anywhere in an argument is nftStatements[$s](...args). */
type Call = [string, ...unknown[]];

const ip = { family: 'ip', table: 'lb' } as const;
const st = (name: string, ...args: unknown[]) => ({ $s: name, args });

const scripts: Call[][] = [
  // the README's load balancer: vmap dispatch, numgen backends map, named counter
  [
    ['addTable', { family: 'ip', name: 'lb', comment: 'kernlb' }],
    ['addChain', { ...ip, name: 'svc-web' }],
    ['addChain', { ...ip, name: 'pre', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } }],
    ['addChain', { ...ip, name: 'in', base: { type: 'filter', hook: 'input', priority: 0, policy: 'drop' }, comment: 'input' }],
    ['addObject', { ...ip, name: 'web-hits', type: 'counter' }],
    ['addObject', { ...ip, name: 'q', type: 'quota', bytes: 1000000, over: true }],
    ['addObject', { ...ip, name: 'l', type: 'limit', rate: 400, unit: 60, burst: 5, limitType: 'pkts' }],
    ['addSet', { ...ip, name: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
      elements: [{ key: ['10.96.0.1', 'tcp', 80], verdict: { verdict: 'goto', chain: 'svc-web' } }, { key: ['10.96.0.2', 17, 53], verdict: { verdict: 'accept' } }] }],
    ['addSet', { ...ip, name: 'backends', typeof: { key: ['ip daddr', 'th dport', { numgen: { mod: 2 } }], data: ['ip daddr', 'th dport'] },
      elements: [{ key: ['10.96.0.1', 80, 0], data: ['10.0.0.1', 8080] }, { key: ['10.96.0.1', 80, 1], data: ['10.0.0.2', 8080] }] }],
    ['addRule', { ...ip, chain: 'pre', exprs: [st('vmap', ['ip daddr', 'meta l4proto', 'th dport'], 'services')] }],
    ['addRule', { ...ip, chain: 'svc-web', comment: 'web', exprs: [st('counterRef', 'web-hits'), st('match', 'meta l4proto', 'tcp'),
      st('dnatMap', ['ip daddr', 'th dport', { numgen: { mod: 2 } }], 'backends', { port: true })] }],
    ['addRule', { ...ip, chain: 'in', exprs: [st('ctState', ['established', 'related']), st('accept')] }],
    ['addRule', { ...ip, chain: 'in', exprs: [st('match', 'tcp dport', 22), st('objectRef', 'limit', 'l'), st('counter'), st('accept')] }],
  ],
  // element-level updates of existing sets (typed refs), and anonymous maps
  [
    ['addElements', { ...ip, set: 'backends', typeof: { key: ['ip daddr', 'th dport', { numgen: { mod: 2 } }], data: ['ip daddr', 'th dport'] } },
      [{ key: ['10.96.0.3', 443, 0], data: ['10.0.0.3', 8443] }]],
    ['replaceElements', { ...ip, set: 'backends', key: ['ipv4_addr', 'inet_service', 'integer'], data: ['ipv4_addr', 'inet_service'] },
      [{ key: ['10.96.0.1', 80, 1], data: ['10.0.0.9', 8080] }]],
    ['deleteElements', { ...ip, set: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' }, [{ key: ['10.96.0.2', 'udp', 53] }]],
    ['createElements', { ...ip, set: 'services', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' },
      [{ key: ['10.96.0.4', 'tcp', 80], verdict: { verdict: 'jump', chain: 'svc-web' } }]],
    ['destroyElements', { ...ip, set: 'affinity', key: 'ipv4_addr' }, [{ key: '192.0.2.1' }]],
    ['addElements', { ...ip, set: 'raw' }, [{ keyHex: '0a000001', dataHex: '0050' }]],
    ['addAnonymousSet', { ...ip, key: 'integer', data: 'verdict',
      elements: [{ key: 0, verdict: { verdict: 'goto', chain: 'a1' } }, { key: 1, verdict: { verdict: 'goto', chain: 'a2' } }] }],
    ['addRule', { ...ip, chain: 'svc-a', exprs: [st('vmap', { numgen: { mod: 2 } }, '__map%d', { setId: 1 })] }],
    ['addAnonymousSet', { ...ip, typeof: { key: { jhash: { field: 'ip saddr', mod: 2, seed: 7 } }, data: 'ip daddr' },
      elements: [{ key: 0, data: '10.0.0.1' }, { key: 1, data: '10.0.0.2' }] }],
    ['addRule', { ...ip, chain: 'svc-a', exprs: [st('dnatMap', { jhash: { field: 'ip saddr', mod: 2, seed: 7 } }, '__map%d', { setId: 2 })] }],
  ],
  // sets of every datatype and kind: intervals, timeouts, dynamic, object maps, per-element counters
  [
    ['addTable', { family: 'inet', name: 'f', flags: 0 }],
    ['addChain', { family: 'inet', table: 'f', name: 'input', base: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' } }],
    ['addSet', { family: 'inet', table: 'f', name: 'blocked', key: 'ipv6_addr', flags: ['interval'],
      elements: [{ key: '2001:db8::' }, { key: '2001:db9::', flags: 1 }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'ports', key: 'inet_service', flags: ['timeout'], timeout: 60000, gcInterval: 1000, size: 100,
      policy: 'memory', elements: [{ key: 22, timeout: 120000, comment: 'ssh' }, { key: 80 }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'affinity', key: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800000 }],
    ['addSet', { family: 'inet', table: 'f', name: 'macs', key: 'ether_addr', elements: [{ key: '02:00:00:00:00:01' }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'ifs', key: 'ifname', data: 'mark', elements: [{ key: 'lo', data: 7 }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'objs', key: 'inet_service', objectType: 'counter', elements: [{ key: 80, object: 'c' }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'counted', key: 'ipv4_addr', exprs: [{ type: 'counter', packets: 0, bytes: 0 }],
      elements: [{ key: '10.0.0.1', counter: { packets: 1, bytes: 60 } }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'ranges', key: ['ipv4_addr', 'inet_service'], flags: ['interval'],
      elements: [{ key: ['10.0.0.0', 1000], keyEnd: ['10.0.0.255', 2000] }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'rawtype', key: { id: 7, len: 4 }, data: { id: 13, len: 2 }, elements: [{ keyHex: '0a000001', dataHex: '0050' }] }],
    ['addSet', { family: 'inet', table: 'f', name: 'states', key: 'ct_state', comment: 'states', elements: [{ key: 2 }] }],
    ['addRule', { family: 'inet', table: 'f', chain: 'input', exprs: [st('inSet', 'tcp dport', 'ports'), st('accept')] }],
    ['addRule', { family: 'inet', table: 'f', chain: 'input', exprs: [st('inSet', ['ip saddr'], 'affinity', { inverted: true }), st('updateSet', 'affinity', 'ip saddr', { timeout: 1000 })] }],
    ['addRule', { family: 'inet', table: 'f', chain: 'input', exprs: [st('match', 'ip6 saddr', '2001:db8::/33'), st('drop')] }],
    ['addRule', { family: 'inet', table: 'f', chain: 'input', exprs: [st('match', 'meta iifname', 'lo'), st('accept')], comment: 'loopback' }],
    ['addRule', { family: 'inet', table: 'f', chain: 'input', exprs: [st('mapLookup', 'meta iifname', 'ifs'), { type: 'meta', key: 3, sreg: 1 }] }],
  ],
  // raw kernel-level expressions, marks, NAT statements, positions and handles
  [
    ['addTable', { family: 'ip', name: 'nat' }],
    ['addChain', { family: 'ip', table: 'nat', name: 'post', base: { type: 'nat', hook: 'postrouting', priority: 100 } }],
    ['addChain', { family: 'ip', table: 'nat', name: 'mark' }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'mark', exprs: [st('markOr', 0x4000)] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [st('markMasked', 0x4000, 0, 'eq'), st('ret')] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [st('markXor', 0x4000), st('masquerade', { fullyRandom: true })] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [st('match', 'ip saddr', '10.0.0.0/9', 'neq'), st('markSet', 5), st('snat', { addr: '192.0.2.1' })] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [st('match', 'ip daddr', '10.0.0.0/8'), st('match', 'udp dport', 53), st('dnat', { addr: '10.0.0.1', port: 5353 })] }],
    ['insertRule', { family: 'ip', table: 'nat', chain: 'post', position: 1, exprs: [st('jump', 'mark')] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [
      { type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 },
      { type: 'cmp', sreg: 1, op: 0, data: '0a000001' },
      { type: 'immediate', dreg: 0, verdict: -3, chain: 'mark' },
    ] }],
    ['addRule', { family: 'ip', table: 'nat', chain: 'post', exprs: [{ type: 'log', prefix: 'x ', group: 1 }, { type: 'limit', rate: 10, unit: 60, burst: 5, limitType: 0, flags: 0 }, st('reject')] }],
    ['replaceRule', { family: 'ip', table: 'nat', chain: 'post', handle: 4, exprs: [st('goto', 'mark')] }],
    ['deleteRule', { family: 'ip', table: 'nat', chain: 'post', handle: 5 }],
    ['createChain', { family: 'ip', table: 'nat', name: 'new', flags: 0 }],
    ['flushChain', { family: 'ip', table: 'nat', name: 'mark' }],
    ['deleteChain', { family: 'ip', table: 'nat', name: 'new' }],
  ],
  // deletes and flushes of every kind, and other families
  [
    ['addTable', { family: 'netdev', name: 'n' }],
    ['addChain', { family: 'netdev', table: 'n', name: 'ing', base: { type: 'filter', hook: 'ingress', priority: 0, device: 'lo', policy: 'accept' } }],
    ['addTable', { family: 'ip6', name: 'six', userdata: '000400616263' }],
    ['addChain', { family: 'ip6', table: 'six', name: 'post', base: { type: 'nat', hook: 'postrouting', priority: 100 }, userdata: '0002780000' }],
    ['addRule', { family: 'ip6', table: 'six', chain: 'post', exprs: [st('match', 'ip6 daddr', 'fd00::/64'), st('dnat', { family: 'ip6', addr: 'fd00::1', port: 80 })] }],
    ['addTable', { family: 'bridge', name: 'b' }],
    ['addTable', { family: 'arp', name: 'a' }],
    ['addChain', { family: 'arp', table: 'a', name: 'inp', base: { type: 'filter', hook: 'input', priority: 0 } }],
    ['flushSet', { ...ip, name: 'services' }],
    ['deleteSet', { ...ip, name: 'backends' }],
    ['destroySet', { ...ip, name: 'gone' }],
    ['deleteObject', { ...ip, name: 'q', type: 'quota' }],
    ['createObject', { ...ip, name: 'c2', type: 'counter', packets: 1, bytes: 2, comment: 'c' }],
    ['createTable', { family: 'ip', name: 't2' }],
    ['flushTable', { family: 'ip', name: 't2' }],
    ['deleteTable', { family: 'ip', name: 't2' }],
    ['destroyTable', { family: 'ip', name: 't3' }],
    ['destroyChain', { ...ip, name: 'gone' }],
  ],
  // a ruleset as list() returns it (handles, raw userdata, statements), added back whole
  [
    ['addRuleset', {
      tables: [{ family: 'ip', name: 'kp', handle: 1, userdata: '000a72756c657300' }],
      chains: [
        { family: 'ip', table: 'kp', name: 'nat-prerouting', handle: 2, base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' } },
        { family: 'ip', table: 'kp', name: 'services', handle: 3 },
        { family: 'ip', table: 'kp', name: 'ep', handle: 4 },
      ],
      objects: [
        { family: 'ip', table: 'kp', name: 'svc-hits', type: 'counter', packets: 0, bytes: 0, handle: 5 },
        { family: 'ip', table: 'kp', name: 'q1', type: 'quota', bytes: 104857600, consumed: 0, over: true, handle: 6 },
        { family: 'ip', table: 'kp', name: 'l1', type: 'limit', rate: 400, unit: 60, burst: 0, limitType: 'pkts', handle: 7 },
      ],
      sets: [
        { family: 'ip', table: 'kp', name: 'cluster-ips', key: 'ipv4_addr', handle: 8, userdata: '010400000002',
          elements: [{ key: '172.30.0.41' }] },
        { family: 'ip', table: 'kp', name: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict', flags: ['map'], handle: 9,
          elements: [{ key: ['172.30.0.41', 'tcp', 80], verdict: { verdict: 'goto', chain: 'ep' } }] },
        { family: 'ip', table: 'kp', name: 'aff', key: 'ipv4_addr', flags: ['timeout', 'eval'], timeout: 10800000, handle: 10,
          elements: [{ key: '10.0.0.1', timeout: 10800000, expiration: 1000 }] },
      ],
      rules: [
        { family: 'ip', table: 'kp', chain: 'nat-prerouting', handle: 11, statements: ['jump services'],
          exprs: [{ type: 'immediate', dreg: 0, verdict: -3, chain: 'services' }] },
        { family: 'ip', table: 'kp', chain: 'services', handle: 12, statements: ['ip daddr . meta l4proto . th dport vmap @service-ips'],
          exprs: [
            { type: 'payload', dreg: 8, base: 1, offset: 16, len: 4 },
            { type: 'meta', key: 16, dreg: 9 },
            { type: 'payload', dreg: 10, base: 2, offset: 2, len: 2 },
            { type: 'lookup', sreg: 8, dreg: 0, set: 'service-ips' },
          ] },
        { family: 'ip', table: 'kp', chain: 'ep', handle: 13, userdata: '0004716f7400',
          exprs: [{ type: 'objref', objType: 1, name: 'svc-hits' }, { type: 'counter', packets: 3, bytes: 180 }, { type: 'immediate', dreg: 0, verdict: 1 }] },
      ],
    }],
  ],
];

/** Runs a script on a transaction that never commits, then encodes the batch as commit would (pure native code). */
function build(script: Call[]): Transaction {
  const tx = new Transaction(async () => undefined);
  for (const call of script) {
    const [method, ...args] = call;
    (tx as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args.map(resolve));
  }
  native().nft.encodeBatch([...tx.items()], {});
  return tx;
}

/** Mutations inside the arguments only: never the method name, never a whole call, never a builder's name. */
const inArgs = (p: Path) => p.length >= 2 && p[1] !== 0 && p[p.length - 1] !== '$s';

describe('nftables: generated bad input', () => {
  it('the valid scripts build and encode', () => {
    for (const script of scripts) expect(outcomeSync(() => build(script))).toEqual({ kind: 'ok' });
  });

  it('is a ValidationError naming a field, or accepted; never another error', () => {
    const wrong: string[] = [];
    let validation = 0, ok = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const script = scripts[seed % scripts.length]!;
      const { input, mutation } = mutate(script, rng(seed), inArgs);
      const o = outcomeSync(() => build(input));
      if (o.kind === 'validation') {
        validation++;
        const e = o.error as ValidationError;
        if (typeof e.field !== 'string' || !e.field || typeof e.problem !== 'string' || !e.problem) wrong.push(caseLine(seed, mutation, new Error(`unnamed: ${e.message}`)));
      } else if (o.kind === 'ok') ok++;
      else wrong.push(caseLine(seed, mutation, o.error));
    }
    expect(wrong).toEqual([]);
    // the generator reaches both sides: most breaks are refused, some are still valid input
    expect(validation).toBeGreaterThan(CASES / 3);
    expect(ok).toBeGreaterThan(0);
  });

  it('a refused call leaves nothing of itself buffered', () => {
    // every refused case above threw from one call; the transaction must hold exactly the calls before it
    const wrong: string[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const script = scripts[seed % scripts.length]!;
      const { input, mutation } = mutate(script, rng(seed), inArgs);
      const tx = new Transaction(async () => undefined);
      for (let i = 0; i < input.length; i++) {
        const [method, ...args] = input[i]!;
        const before = { size: tx.size, items: JSON.stringify(tx.items(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)) };
        const o = outcomeSync(() => (tx as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args.map(resolve)));
        if (o.kind === 'ok') continue;
        if (o.kind !== 'validation') wrong.push(caseLine(seed, mutation, o.error));
        const after = { size: tx.size, items: JSON.stringify(tx.items(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)) };
        if (after.size !== before.size || after.items !== before.items) wrong.push(caseLine(seed, mutation, new Error(`call ${i} (${method}) left items behind`)));
        break;
      }
    }
    expect(wrong).toEqual([]);
  });
});
