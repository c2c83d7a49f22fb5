/** Runs the CLI in this process, as a test sees it: exit code and what it printed on stdout and stderr. */
import type { CliIO } from '../lib/cli/command';
import { main } from '../lib/cli/main';

export async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), readInput: async () => stdin };
  return { code: await main(argv, io), out, err };
}
