/**
 * Child process of lb-ipvs-owner.test.ts: runs the kernlb CLI with the given arguments in a
 * process of its own (nothing of an earlier LoadBalancer in memory), stdin and stdout passed through.
 */
import { readFileSync } from 'node:fs';
import { main } from '../../lib/cli/main';

void main(process.argv.slice(2), {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  readInput: async () => readFileSync(0, 'utf8'),
}).then((code) => (process.exitCode = code));
