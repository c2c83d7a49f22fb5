/** The CLI's own input checks, without the kernel: option values, input files, where an error is. */
import { describe, expect, it } from 'vitest';
import { ExitCode, intOption, netnsOption, NotFoundError, parseArgs, readText, reportError, UsageError, type CliIO } from '../../lib/cli/command';
import { tableLine } from '../../lib/cli/iptables';
import { main } from '../../lib/cli/main';
import { parseRuleset, validateRuleset } from '../../lib/cli/nft';
import { ValidationError } from '../../lib/errors';

function io(read: (p: string) => Promise<string> = async () => '') {
  const o = { out: '', err: '' };
  const cli: CliIO = { out: (t) => void (o.out += t), err: (t) => void (o.err += t), readInput: read };
  return { cli, o };
}
const values = (v: Record<string, string>) => ({ values: new Map(Object.entries(v)) });
const fsError = (code: string) => Object.assign(new Error(`${code}: raw node text`), { code });

describe('option values', () => {
  it('an empty value is refused, never read as "not given"', () => {
    expect(() => parseArgs(['--netns', ''], { values: ['netns'] })).toThrow(new UsageError('option --netns needs a non-empty value'));
    expect(() => parseArgs(['--netns='], { values: ['netns'] })).toThrow(/needs a non-empty value/);
    expect(parseArgs(['--netns=a'], { values: ['netns'] }).values.get('netns')).toBe('a');
  });

  it.each([
    ['', false], [' 5', false], ['1e3', false], ['0x10', false], ['-1', false], ['1.5', false], ['99999999999999999999', false], ['4294967296', false],
    ['0', true], ['4294967295', true], ['007', true],
  ])('whole numbers only: %j -> %s', (v, ok) => {
    const f = () => intOption(values({ generation: v }), 'generation', 0, 0xffffffff);
    if (ok) expect(f()).toBe(Number(v));
    else expect(f).toThrow(`--generation must be a whole number 0..4294967295, not "${v}"`);
  });

  it('--netns names a namespace that exists (bad input, exit 2, when not); a path is { path }; odd names are left to the library', () => {
    expect(() => netnsOption(values({ netns: 'klcli-unit-no-such-ns' }))).toThrow(UsageError);
    expect(() => netnsOption(values({ netns: '/run/netns/klcli-unit-no-such-ns' }))).toThrow('--netns /run/netns/klcli-unit-no-such-ns: no such network namespace');
    expect(netnsOption(values({ netns: '/proc/self/ns/net' }))).toEqual({ path: '/proc/self/ns/net' });
    expect(netnsOption(values({ netns: '../x' }))).toBe('../x');
    expect(netnsOption(values({}))).toBeUndefined();
  });
});

describe('input files', () => {
  it.each([
    ['ENOENT', 'cannot read f.json: no such file'],
    ['EISDIR', 'cannot read f.json: is a directory'],
    ['EACCES', 'cannot read f.json: permission denied'],
    ['EIO', 'cannot read f.json: EIO: raw node text'],
  ])('%s is a usage error naming the file', async (code, msg) => {
    const { cli } = io(async () => Promise.reject(fsError(code)));
    await expect(readText(cli, 'f.json')).rejects.toThrow(new UsageError(msg));
  });

  it.each([
    ['', 'stdin: is empty'],
    [' \n\t', 'stdin: is empty'],
    ['{"a":\0}', 'stdin: is not text (binary data or not UTF-8, line 1)'],
    ['*filter\n\n\uFFFD', 'stdin: is not text (binary data or not UTF-8, line 3)'],
  ])('%j: %s', async (text, msg) => {
    const { cli } = io(async () => text);
    await expect(readText(cli, '-')).rejects.toThrow(msg);
  });

  it('exit codes: usage and validation 2, not found 1', () => {
    expect(reportError(new UsageError('x'), io().cli)).toBe(ExitCode.input);
    expect(reportError(new ValidationError('f', 'x'), io().cli)).toBe(ExitCode.input);
    expect(reportError(new NotFoundError('x'), io().cli)).toBe(ExitCode.kernel);
  });
});

describe('nft commit input', () => {
  const t = { family: 'ip', name: 't' };
  const c = { family: 'ip', table: 't', name: 'c' };
  const s = { family: 'ip', table: 't', name: 's', key: 'ipv4_addr', elements: [{ key: '10.0.0.1' }] };
  const r = { family: 'ip', table: 't', chain: 'c', exprs: [{ type: 'counter' }] };
  it.each([
    ['[]', 'f: must be an object { tables, chains, objects, sets, rules }'],
    ['"x"', 'f: must be an object'],
    ['{"tables": {}}', 'tables: must be an array'],
    ['{"rules": [null]}', 'rules[0]: must be an object'],
    ['{"chains": [1, []]}', 'chains[0]: must be an object'],
    ['{"rule": []}', 'rule: unknown key'],
    [JSON.stringify({ sets: [{ ...s, elements: {} }] }), 'sets[0].elements: must be an array'],
    [JSON.stringify({ sets: [{ ...s, elements: [{ key: '10.0.0.1' }, 'x'] }] }), 'sets[0].elements[1]: must be an object'],
  ])('shape %s', (text, msg) => {
    expect(() => parseRuleset('f', text)).toThrow(msg);
  });

  it('generation is allowed (list --json prints it) and ignored', () => {
    expect(parseRuleset('f', '{"generation": 7, "tables": []}').tables).toEqual([]);
  });

  it('an error names the entry of the file, past the transaction item it counts', () => {
    const rs = parseRuleset('f', JSON.stringify({ tables: [t], chains: [c], sets: [s], rules: [r, { ...r, exprs: [{ type: 'payload', len: 'x' }] }] }));
    // items: table 0, chain 1, set 2, its elements 3, rules 4 and 5
    expect(() => validateRuleset(rs, 'f.json')).toThrow(/^items\[5\]\.exprs\[0\].* \(rules\[1\] of f\.json\)$/);
    const ok = parseRuleset('f', JSON.stringify({ tables: [t], chains: [c], sets: [s], rules: [r] }));
    expect(validateRuleset(ok, 'f.json')).toEqual(['tables[0]', 'chains[0]', 'sets[0]', 'sets[0]', 'rules[0]']);
  });
});

describe('iptables restore: the line of a validation error', () => {
  const text = '*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -j X\n[3:4] -A INPUT -s 1.2.3.4\n--append X -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n';
  it.each([
    ['filter', 'chain INPUT rule 1: target', 0, 'line 8: table filter'],
    ['filter', 'chain INPUT rule 2: source', 0, 'line 9: table filter'],
    ['filter', 'chain X rule 1: target', 0, 'line 10: table filter'],
    ['filter', 'chains[1] (X).name', 0, 'line 7: table filter'],
    ['filter', 'chain INPUT rule 1: target', 1, 'line 14: table filter'],
    ['nat', 'chain POSTROUTING rule 1: target', 0, 'line 3: table nat'],
    ['filter', 'chain INPUT rule 9: target', 0, 'table filter'],
    ['filter', 'name', 0, 'table filter'],
  ])('%s %s (block %i) -> %s', (table, field, block, want) => {
    expect(tableLine(text, table, field, block)).toBe(want);
  });
});

describe('commands', () => {
  it.each([
    [['nft'], '"nft" needs a subcommand: nft commit, nft list'],
    [['ipvs', 'show'], 'unknown command "ipvs show": ipvs list'],
    [['iptables', '--bogus'], 'unknown command "iptables --bogus": iptables save, iptables restore'],
    [['nope'], 'unknown command "nope"'],
  ])('%j', async (argv, msg) => {
    const x = io();
    expect(await main(argv, x.cli)).toBe(ExitCode.input);
    expect(x.o.err).toContain(msg);
  });

  it('a group\'s --help lists its commands; no command at all is usage on stderr', async () => {
    const x = io();
    expect(await main(['iptables', '--help'], x.cli)).toBe(ExitCode.ok);
    expect(x.o.out).toMatch(/^usage: kernlb iptables save\|restore/);
    const y = io();
    expect(await main([], y.cli)).toBe(ExitCode.input);
    expect(y.o.err).toMatch(/^usage: kernlb <command>/);
    expect(y.o.out).toBe('');
  });
});
