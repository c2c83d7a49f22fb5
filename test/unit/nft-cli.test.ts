/** CLI argument handling that needs no kernel. */
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import { ExitCode, type CliIO } from '../../lib/cli/command';

function io(input = ''): CliIO & { outText: string; errText: string } {
  const o = { outText: '', errText: '' } as CliIO & { outText: string; errText: string };
  o.out = (t) => void (o.outText += t);
  o.err = (t) => void (o.errText += t);
  o.readInput = async () => input;
  return o;
}

describe('kernlb nft CLI', () => {
  it('prints help for both commands', async () => {
    const x = io();
    expect(await main(['nft', 'commit', '--help'], x)).toBe(ExitCode.ok);
    expect(x.outText).toContain('--generation N');
    const y = io();
    expect(await main(['nft', 'list', '--help'], y)).toBe(ExitCode.ok);
    expect(y.outText).toContain('--json');
  });
  it('rejects bad usage and bad JSON with the input exit code', async () => {
    expect(await main(['nft', 'commit'], io())).toBe(ExitCode.input);
    expect(await main(['nft', 'commit', '-', '--generation', 'x'], io())).toBe(ExitCode.input);
    const bad = io('{ not json');
    expect(await main(['nft', 'commit', '-'], bad)).toBe(ExitCode.input);
    expect(bad.errText).toContain('not valid JSON');
    const wrong = io('{"tables": [{"family": "ipx", "name": "t"}]}');
    expect(await main(['nft', 'commit', '-', '--netns', 'kernlb-no-such-ns-for-test'], wrong)).toBe(ExitCode.input);
    expect(wrong.errText).toContain('items[0].family');
  });
});
