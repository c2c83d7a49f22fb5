/**
 * The CLI and bad input, for real in a namespace: every case exits non-zero with one line on
 * stderr naming what is wrong (the field, the line, the option), no stack trace, and the kernel
 * (iptables-legacy-save, ip6tables-legacy-save, nft list ruleset) exactly as before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../lib/cli/command';
import { main } from '../../lib/cli/main';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { loadXtables, toolRestore } from './iptables-helpers';

const skip = kernelTestsSkipReason();
const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-cli-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[], stdin = ''): Promise<{ code: number; err: string }> {
  let err = '';
  const io: CliIO = { out: () => undefined, err: (t) => void (err += t), readInput: (p) => (p === '-' ? Promise.resolve(stdin) : readFile(p, 'utf8')) };
  return { code: await main(argv, io), err };
}

const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:MYCHAIN - [0:0]
-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -j MYCHAIN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
`;
const NFT = 'table ip t {\n set s { type ipv4_addr; elements = { 10.0.0.1 }; }\n chain c { type filter hook input priority 0; policy accept; ip saddr @s counter accept; }\n}\n';
// what `kernlb nft list --json` prints for NFT, in a table of its own (tt): committing it would change the ruleset
const RULESET = {
  tables: [{ family: 'ip', name: 'tt' }],
  chains: [{ family: 'ip', table: 'tt', name: 'c', base: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' } }],
  sets: [{ family: 'ip', table: 'tt', name: 's', key: 'ipv4_addr', elements: [{ key: '10.0.0.1' }] }],
  rules: [{ family: 'ip', table: 'tt', chain: 'c', exprs: [{ type: 'payload', dreg: 1, base: 1, offset: 12, len: 4 }, { type: 'lookup', sreg: 1, set: 's' }, { type: 'counter' }, { type: 'immediate', dreg: 0, verdict: 1 }] }],
};
/** RULESET with one thing changed. */
function ruleset(edit: (r: Record<string, any>) => void): string {
  const r = structuredClone(RULESET) as Record<string, any>;
  edit(r);
  return JSON.stringify(r);
}
const STATE = { services: [{ name: 'web', vip: '10.96.0.10', port: 80, endpoints: [{ address: '10.244.1.2', port: 8080 }] }] };
/** Filter changes (policy DROP), then nat fails in the kernel (MASQUERADE only in POSTROUTING). */
const HALF = RULES.replace(':INPUT ACCEPT', ':INPUT DROP').replace('-A POSTROUTING -o eth0', '-A PREROUTING -i eth0');

/** Input files by role; written once. */
const F = {
  missing: path.join(dir, 'no-such-file.json'),
  dir: path.join(dir, 'a-directory'),
  empty: path.join(dir, 'empty.json'),
  binary: path.join(dir, 'garbage.bin'),
  truncated: path.join(dir, 'truncated.json'),
  array: path.join(dir, 'array.json'),
  nul: path.join(dir, 'null.json'),
  state: path.join(dir, 'state.json'),
};
function writeInputs(): void {
  mkdirSync(F.dir, { recursive: true });
  writeFileSync(F.empty, '  \n');
  writeFileSync(F.binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]));
  writeFileSync(F.truncated, '{"services": [{"name": "web"');
  writeFileSync(F.array, '[]');
  writeFileSync(F.nul, 'null');
  writeFileSync(F.state, JSON.stringify(STATE));
}

/** [what, argv ("NS" = the test namespace), stdin, exit code, stderr]. */
type Case = [string, string[], string, number, RegExp];
const NO_NS = 'klcli-no-such-ns';
const cases: Case[] = [
  // commands and options
  ['no command', [], '', 2, /^usage: kernlb <command>/],
  ['unknown command', ['frobnicate'], '', 2, /unknown command "frobnicate"/],
  ['group without subcommand', ['nft'], '', 2, /"nft" needs a subcommand: nft commit, nft list/],
  ['unknown subcommand', ['iptables', 'dump'], '', 2, /unknown command "iptables dump": iptables save, iptables restore/],
  ['unknown option', ['apply', F.state, '--mode', 'nftables', '--netns', 'NS', '--bogus'], '', 2, /unknown option --bogus/],
  ['option without its value', ['nft', 'list', '--netns'], '', 2, /option --netns needs a value/],
  ['flag given a value', ['nft', 'commit', '-', '--dry-run=yes'], '', 2, /option --dry-run takes no value/],
  ['empty --netns (would be this namespace)', ['apply', F.state, '--mode', 'nftables', '--netns', ''], '', 2, /option --netns needs a non-empty value/],
  ['empty --netns= (would be this namespace)', ['nft', 'commit', '-', '--netns='], JSON.stringify(RULESET), 2, /option --netns needs a non-empty value/],
  ['extra argument: apply', ['apply', F.state, F.state, '--mode', 'nftables', '--netns', 'NS'], '', 2, /unexpected argument ".*state\.json"/],
  ['extra argument: status', ['status', 'now', '--netns', 'NS'], '', 2, /unexpected argument "now"/],
  ['extra argument: nft list', ['nft', 'list', 'ruleset', '--netns', 'NS'], '', 2, /unexpected argument "ruleset"/],
  ['extra argument: demo', ['demo', 'please'], '', 2, /unexpected argument "please"/],
  ['bad --mode', ['apply', F.state, '--mode', 'lvs', '--netns', 'NS'], '', 2, /--mode must be one of ipvs, nftables, iptables, not "lvs"/],
  ['bad --modes', ['demo', '--modes', 'nftables,lvs'], '', 2, /--modes must be one of .*not "lvs"/],
  ['--generation not a number', ['nft', 'commit', '-', '--generation', '1e3'], '', 2, /--generation must be a whole number 0\.\.4294967295, not "1e3"/],
  ['--generation out of range', ['nft', 'commit', '-', '--generation', '4294967296'], '', 2, /--generation must be a whole number/],
  ['--drain-timeout negative', ['apply', F.state, '--mode', 'nftables', '--drain-timeout', '-1'], '', 2, /--drain-timeout must be a whole number 0\.\./],
  ['--requests out of range', ['demo', '--requests', '0'], '', 2, /--requests must be a whole number 1\.\.100000/],
  ['--engine unknown', ['iptables', 'save', '--netns', 'NS', '--engine', 'iptc'], '', 2, /--engine must be direct or libiptc/],
  ['--stats with --rate', ['ipvs', 'list', '--stats', '--rate'], '', 2, /--stats and --rate cannot be combined/],
  // names that do not exist
  ['no such namespace: nft list', ['nft', 'list', '--netns', NO_NS], '', 2, /--netns klcli-no-such-ns: no such network namespace/],
  ['no such namespace: status (was "no rules", exit 0)', ['status', '--netns', NO_NS], '', 2, /--netns klcli-no-such-ns: no such network namespace/],
  ['no such namespace: iptables save', ['iptables', 'save', '--netns', NO_NS], '', 2, /no such network namespace/],
  ['no such namespace: ipvs list', ['ipvs', 'list', '--netns', NO_NS], '', 2, /no such network namespace/],
  ['no such namespace: apply', ['apply', F.state, '--mode', 'iptables', '--netns', NO_NS], '', 2, /no such network namespace/],
  ['bad namespace name', ['nft', 'list', '--netns', '../../etc'], '', 2, /netns: "..\/..\/etc" is not a valid namespace name/],
  ['no such nft table (was exit 0)', ['nft', 'list', '--netns', 'NS', '--family', 'ip', '--table', 'nosuch'], '', 1, /--table nosuch: no such nftables table in family ip/],
  ['bad nft family', ['nft', 'list', '--netns', 'NS', '--family', 'ipx'], '', 2, /family: must be one of/],
  ['no such iptables table', ['iptables', 'save', '--netns', 'NS', '--table', 'bogus'], '', 1, /table bogus: no such iptables table \(ipv4\)/],
  ['bad iptables table name', ['iptables', 'save', '--netns', 'NS', '--table', 'x/../y'], '', 2, /table: must be a table name/],
  // files
  ...(['nft commit', 'iptables restore', 'apply', 'diff'] as const).flatMap((c): Case[] => {
    const argv = (f: string) => [...c.split(' '), f, ...(c === 'apply' || c === 'diff' ? ['--mode', 'nftables'] : []), '--netns', 'NS'];
    return [
      [`${c}: missing file`, argv(F.missing), '', 2, /cannot read .*no-such-file\.json: no such file$/],
      [`${c}: directory`, argv(F.dir), '', 2, /cannot read .*a-directory: is a directory$/],
      [`${c}: empty file`, argv(F.empty), '', 2, /empty\.json: is empty$/],
      [`${c}: empty stdin`, argv('-'), '', 2, /stdin: is empty$/],
      [`${c}: binary garbage`, argv(F.binary), '', 2, /garbage\.bin: is not text \(binary data or not UTF-8, line 1\)$/],
    ];
  }),
  ['nft commit: truncated JSON', ['nft', 'commit', F.truncated, '--netns', 'NS'], '', 2, /truncated\.json: is not valid JSON/],
  ['apply: truncated JSON', ['apply', F.truncated, '--mode', 'iptables', '--netns', 'NS'], '', 2, /truncated\.json: is not valid JSON/],
  ['nft commit: an array', ['nft', 'commit', F.array, '--netns', 'NS'], '', 2, /array\.json: must be an object \{ tables, chains, objects, sets, rules \}/],
  ['apply: null', ['apply', F.nul, '--mode', 'nftables', '--netns', 'NS'], '', 2, /state: must be an object \{ services/],
  ['iptables restore: an empty list', ['iptables', 'restore', F.array, '--netns', 'NS'], '', 2, /array\.json: no table found/],
  // nft JSON models
  ['nft: null table (was a TypeError)', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.tables = [null])), 2, /tables\[0\]: must be an object/],
  ['nft: section not an array', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.rules = {})), 2, /rules: must be an array/],
  ['nft: misspelt section (was committed without it)', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => ((r.rule = r.rules), delete r.rules)), 2, /rule: unknown key/],
  ['nft: elements not an array (was committed without them)', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.sets[0].elements = {})), 2, /sets\[0\]\.elements: must be an array/],
  ['nft: null element (was a TypeError)', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.sets[0].elements = [null])), 2, /sets\[0\]\.elements\[0\]: must be an object/],
  ['nft: bad hook, named in the file', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.chains[0].base.hook = 'sideways')), 2, /items\[1\]\.base\.hook: must be one of .* \(chains\[0\] of stdin\)$/],
  ['nft: priority as a string', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.chains[0].base.priority = '0')), 2, /base\.priority: must be a 32-bit integer or one of raw, mangle, filter, security, .*\(chains\[0\] of stdin\)/],
  ['nft: bad element', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.sets[0].elements = [{ key: '300.1.1.1' }])), 2, /elements\[0\]\.key: .*IPv4 .*\(sets\[0\] of stdin\)/],
  ['nft: unknown expression', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.rules[0].exprs[0].type = 'wat')), 2, /exprs\[0\]\.type: unknown expression/],
  ['nft: length as a string', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.rules[0].exprs[0].len = '4')), 2, /exprs\[0\]\.len: must be an integer \(rules\[0\] of stdin\)/],
  ['nft: rule for a missing chain (kernel refuses all)', ['nft', 'commit', '-', '--netns', 'NS'], ruleset((r) => (r.rules[0].chain = 'nope')), 1, /ENOENT .*\(rules\[0\] of stdin\)$/],
  ['nft: lookup of a missing set (kernel refuses all)', ['nft', 'commit', '-', '--netns', 'NS', '--dry-run'], ruleset((r) => (r.rules[0].exprs[1].set = 'nope')), 1, /ENOENT .*\(rules\[0\] of stdin\)$/],
  // iptables-save text and JSON
  ['ipt: bad source, with its line', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace('10.0.0.0/8', '10.0.0.0/33').replace(':INPUT ACCEPT', ':INPUT DROP'), 2, /line 6: table filter, chain INPUT rule 1: source: not an ipv4 address/],
  ['ipt: unknown target, with its line', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace('MASQUERADE', 'NOSUCH'), 2, /line 14: table nat, chain POSTROUTING rule 1: target\.chain: unknown chain "NOSUCH"/],
  ['ipt: chain name too long, with its line', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace(/MYCHAIN/g, 'C'.repeat(40)), 2, /line 5: table filter, chains\[3\] \(C+\)\.name: must be 1-28 characters/],
  ['ipt: bad port', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace('--dport 22', '--dport 70000'), 2, /line 6: bad port or range "70000"/],
  ['ipt: unknown option', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace('-j MYCHAIN', '--frobnicate -j MYCHAIN'), 2, /line 7: unexpected "--frobnicate"/],
  ['ipt: truncated (no COMMIT)', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.slice(0, RULES.indexOf('COMMIT')), 2, /table filter has no COMMIT/],
  ['ipt: NUL in a name', ['iptables', 'restore', '-', '--netns', 'NS'], RULES.replace(':MYCHAIN', ':MY\0CHAIN'), 2, /stdin: is not text .*line 5/],
  ['ipt: a table the kernel lacks, after a good one', ['iptables', 'restore', '-', '--netns', 'NS'], HALF.replace('*nat', '*bogus'), 1, /table bogus: no such iptables table/],
  ['ipt: kernel refuses the 2nd table (was: 1st left changed)', ['iptables', 'restore', '-', '--netns', 'NS'], HALF, 1, /commit iptables table nat .*EINVAL.*the tables committed before it \(filter\) were put back: nothing changed$/],
  ['ipt: same with libiptc', ['iptables', 'restore', '-', '--netns', 'NS', '--engine', 'libiptc'], HALF, 1, /commit iptables table nat .*EINVAL.*\(filter\) were put back: nothing changed$/],
  ['ipt JSON: null table', ['iptables', 'restore', '-', '--netns', 'NS'], '{"family":"ipv4","tables":[null]}', 2, /tables\[0\]: must be an object/],
  ['ipt JSON: rule null, with its table', ['iptables', 'restore', '-', '--netns', 'NS'], JSON.stringify({ family: 'ipv4', tables: [{ family: 'ipv4', name: 'filter', chains: [{ name: 'INPUT', policy: 'DROP', rules: [null] }, { name: 'FORWARD', policy: 'ACCEPT', rules: [] }, { name: 'OUTPUT', policy: 'ACCEPT', rules: [] }] }] }), 2, /tables\[0\] \(filter\), chain INPUT rule 1: must be an object/],
  ['ipt JSON: nft JSON given', ['iptables', 'restore', '-', '--netns', 'NS'], JSON.stringify(RULESET), 2, /tables\[0\]\.family: is ip, expected ipv4/],
  // load-balancer state
  ['state: port as a string', ['apply', '-', '--mode', 'nftables', '--netns', 'NS'], JSON.stringify({ services: [{ ...STATE.services[0], port: '80' }] }), 2, /services\[0\]\.port: .*must be an integer 1\.\.65535/],
  ['state: null endpoint', ['apply', '-', '--mode', 'iptables', '--netns', 'NS'], JSON.stringify({ services: [{ ...STATE.services[0], endpoints: [null] }] }), 2, /services\[0\]\.endpoints\[0\]: .*must be an object/],
  ['state: weight out of range', ['diff', '-', '--mode', 'nftables', '--netns', 'NS'], JSON.stringify({ services: [{ ...STATE.services[0], endpoints: [{ address: '10.244.1.2', port: 8080, weight: 70000 }] }] }), 2, /services\[0\]\.endpoints\[0\]\.weight: .*0\.\.65535/],
  ['state: bad input before a missing namespace', ['apply', '-', '--mode', 'nftables', '--netns', NO_NS], '{"services": null}', 2, /services: must be an array/],
];

describe.skipIf(skip !== undefined)(`kernlb CLI: bad input changes nothing${skip ? ` - skipped: ${skip}` : ''}`, () => {
  let ns: TestNetns;
  const state = async () =>
    Promise.all([['iptables-legacy-save', '-c'], ['ip6tables-legacy-save', '-c'], ['nft', 'list', 'ruleset']].map(async (argv) => (await ns.exec(argv)).stdout.replace(/^#.*\n/gm, '')));
  let before: string[];
  beforeAll(async () => {
    writeInputs();
    ns = await createNetns('klcli');
    await loadXtables(ns);
    await toolRestore(ns, 'ipv4', RULES);
    await ns.exec(['nft', '-f', '-'], { input: NFT });
    before = await state();
    expect(before[0]).toContain('-A POSTROUTING -o eth0 -j MASQUERADE');
    expect(before[2]).toContain('table ip t');
  });
  afterAll(async () => ns?.destroy());

  it.each(cases)('%s', async (_what, argv, stdin, code, message) => {
    const r = await cli(argv.map((a) => (a === 'NS' ? ns.name : a)), stdin);
    expect(r.code).toBe(code);
    expect(r.err).toMatch(/\n$/);
    const lines = r.err.trimEnd().split('\n');
    // one line, or the usage text for no command at all
    if (argv.length) expect(lines).toHaveLength(1);
    expect(r.err).not.toMatch(/^\s+at /m);
    expect(lines[0]).toMatch(message);
    expect(await state()).toEqual(before);
  });

  it('the same inputs are accepted: the cases fail for the reason they name', async () => {
    await using scratch = await createNetns('klcli');
    await loadXtables(scratch);
    expect((await cli(['nft', 'commit', '-', '--netns', scratch.name], JSON.stringify(RULESET))).code).toBe(0);
    expect((await cli(['iptables', 'restore', '-', '--netns', scratch.name], RULES)).code).toBe(0);
    expect((await cli(['apply', F.state, '--mode', 'iptables', '--netns', scratch.name, '--dry-run'])).code).toBe(0);
    expect((await cli(['nft', 'list', '--netns', scratch.name, '--family', 'ip', '--table', 'tt'])).code).toBe(0);
  });

  const bin = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
  it.skipIf(!existsSync(bin))('the built bin: a reader that goes away (| head) is no EPIPE stack trace', async () => {
    await using scratch = await createNetns('klcli');
    // enough rules that the output outgrows the pipe's buffer after head has exited
    const many = Array.from({ length: 3000 }, (_, i) => `-A OUTPUT -d 10.${i >> 8}.${i & 255}.1/32 -j ACCEPT\n`).join('');
    await scratch.exec(['iptables-legacy-restore'], { input: `*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${many}COMMIT\n` });
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" iptables save --json --netns ${scratch.name} | head -c 1 >/dev/null`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!existsSync(bin))('the built bin: an error is one line on stderr, no stack', () => {
    const r = spawnSync(process.execPath, [bin, 'nft', 'commit', F.dir], { encoding: 'utf8' });
    expect(r.stderr).toBe(`kernlb: cannot read ${F.dir}: is a directory\n`);
    expect(r.status).toBe(2);
  });
});
