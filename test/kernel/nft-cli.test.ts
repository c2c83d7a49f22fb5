/** `kernlb nft list --json` output committed elsewhere with `kernlb nft commit` recreates the ruleset. */
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import { ExitCode, type CliIO } from '../../lib/cli/command';
import { createNetns, kernelTestsSkipReason, type TestNetns } from '../../lib/testing';
import { KUBE_PROXY_LAYOUT } from './nft-fixtures';

const skip = kernelTestsSkipReason();

function io(input = ''): CliIO & { outText: string; errText: string } {
  const o = { outText: '', errText: '' } as CliIO & { outText: string; errText: string };
  o.out = (t) => void (o.outText += t);
  o.err = (t) => void (o.errText += t);
  o.readInput = async () => input;
  return o;
}

describe.skipIf(skip !== undefined)(`kernlb nft CLI in namespaces${skip ? ` - skipped: ${skip}` : ''}`, () => {
  const spaces: TestNetns[] = [];
  afterAll(async () => {
    await Promise.all(spaces.map((x) => x.destroy()));
  });

  it('list --json | commit - reproduces the ruleset; --generation conflicts exit 3; --dry-run applies nothing', async () => {
    const [src, dst] = [await createNetns('klnft'), await createNetns('klnft')];
    spaces.push(src, dst);
    await src.exec(['nft', '-f', '-'], { input: KUBE_PROXY_LAYOUT });
    const listed = io();
    expect(await main(['nft', 'list', '--json', '--netns', src.name], listed)).toBe(ExitCode.ok);
    const dry = io(listed.outText);
    expect(await main(['nft', 'commit', '-', '--netns', dst.name, '--dry-run'], dry)).toBe(ExitCode.ok);
    expect((await dst.exec(['nft', 'list', 'ruleset'])).stdout).toBe('');
    const stale = io(listed.outText);
    expect(await main(['nft', 'commit', '-', '--netns', dst.name, '--generation', '12345'], stale)).toBe(ExitCode.conflict);
    const ok = io(listed.outText);
    expect(await main(['nft', 'commit', '-', '--netns', dst.name], ok)).toBe(ExitCode.ok);
    expect((await dst.exec(['nft', 'list', 'ruleset'])).stdout).toBe((await src.exec(['nft', 'list', 'ruleset'])).stdout);
    const human = io();
    expect(await main(['nft', 'list', '--netns', dst.name], human)).toBe(ExitCode.ok);
    expect(human.outText).toContain('map service-ips');
  });
});
