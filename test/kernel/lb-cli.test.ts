/** The load-balancer CLI (apply, diff, status, --help, exit codes) and switching modes in one namespace. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, type CliIO } from '../../lib/cli/command';
import { main } from '../../lib/cli/main';
import { LoadBalancer } from '../../lib/lb';
import { createNetns, createTopology, kernelTestsSkipReason, sendRequests } from '../../lib/testing';
import { demoState } from '../fixtures/lb-state';

const skip = kernelTestsSkipReason();
const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readInput: async (p) => (p === '-' ? stdin : (await import('node:fs/promises')).readFile(p, 'utf8')),
  };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('lb CLI without the kernel', () => {
  it('--help on every command; usage errors exit 2', async () => {
    for (const c of ['apply', 'status', 'diff', 'demo']) {
      const r = await cli([c, '--help']);
      expect(r.code).toBe(ExitCode.ok);
      expect(r.out).toMatch(new RegExp(`^usage: kernlb ${c}`));
    }
    expect((await cli(['apply', 'x.json'])).err).toMatch(/--mode is required/);
    expect((await cli(['apply', 'x.json', '--mode', 'lvs'])).code).toBe(ExitCode.input);
    expect((await cli(['apply', '-', '--mode', 'nftables', '--bogus'])).code).toBe(ExitCode.input);
  });
});

describe.skipIf(skip)(`lb CLI and mode switching (kernel)${skip ? ` - skipped: ${skip}` : ''}`, () => {
  it('apply / diff / status, with exit codes for bad input', async () => {
    await using ns = await createNetns('lbc');
    const file = path.join(dir, 'state.json');
    writeFileSync(file, JSON.stringify(demoState));
    let r = await cli(['diff', file, '--mode', 'nftables', '--netns', ns.name]);
    expect(r.out).toBe('+ service web tcp/10.96.0.10:80 rr (3 endpoints)\n+ service api udp/[fd00::10]:53 random (2 endpoints)\n');
    r = await cli(['apply', file, '--mode', 'nftables', '--netns', ns.name, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^dry run: would apply \(nftables\)/);
    r = await cli(['apply', '-', '--mode', 'nftables', '--netns', ns.name, '--json'], JSON.stringify(demoState));
    expect(JSON.parse(r.out)).toMatchObject({ mode: 'nftables', changed: true, dryRun: false });
    r = await cli(['apply', file, '--mode', 'nftables', '--netns', ns.name]);
    expect(r.out).toMatch(/^no change \(nftables\): 0 kernel operation/);
    r = await cli(['status', '--netns', ns.name]);
    expect(r.out).toMatch(/mode nftables: 2 service\(s\)/);
    expect(r.out).toMatch(/-> 10\.244\.1\.4:8080 +weight 0 /);
    r = await cli(['status', '--netns', ns.name, '--mode', 'nftables', '--json']);
    expect(JSON.parse(r.out)[0].state.services).toHaveLength(2);
    // bad input: exit 2 naming the field; the kernel is untouched
    r = await cli(['apply', '-', '--mode', 'iptables', '--netns', ns.name], JSON.stringify({ services: [{ name: 'x', vip: '10.0.0.1', port: 80, scheduler: 'sh', endpoints: [] }] }));
    expect(r.code).toBe(ExitCode.input);
    expect(r.err).toMatch(/services\[0\]\.scheduler/);
    r = await cli(['apply', '-', '--mode', 'nftables', '--netns', ns.name], '{ nope');
    expect(r.code).toBe(ExitCode.input);
    r = await cli(['apply', file, '--mode', 'nftables', '--netns', 'no-such-ns-here']);
    expect(r.code).toBe(ExitCode.input);
  });

  it('switching nftables -> iptables -> nftables: the new mode is live, then the old mode is removed; traffic keeps flowing', async () => {
    await using topo = await createTopology({ backends: 2 });
    const state = {
      services: [{ name: 'web', vip: topo.vip4, port: 80, scheduler: 'rr' as const, endpoints: topo.backends.map((b) => ({ address: b.ipv4, port: b.port })) }],
    };
    const ruleset = async () => (await topo.balancer.exec(['nft', 'list', 'ruleset'])).stdout;
    const save = async () => (await topo.balancer.exec(['iptables-legacy-save', '-t', 'nat'])).stdout;
    for (const [mode, removed] of [['nftables', []], ['iptables', ['nftables']], ['nftables', ['iptables']]] as const) {
      await using lb = await LoadBalancer.open({ mode, netns: topo.balancer.name });
      const r = await lb.apply(state);
      expect(r.removedModes).toEqual(removed);
      expect(await ruleset()).toMatch(mode === 'nftables' ? /table inet kernlb/ : /^$/);
      expect(/KERNLB/.test(await save())).toBe(mode === 'iptables');
      const t = await sendRequests(topo.client, topo.vip4, 80, 20, { concurrency: 1 });
      expect(t.failures).toBe(0);
      expect(t.counts).toEqual({ 'backend-1': 10, 'backend-2': 10 });
    }
  });
});
