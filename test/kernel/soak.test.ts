/**
 * The soak run (bench/soak.mjs) in miniature: a few hundred open / use / close cycles of nftables and
 * iptables handles, 400 handles dropped without close() and collected, and a load balancer applying
 * changes for a few seconds. It fails when open fds or libuv handles end above their start, or RSS
 * keeps growing; the full run (10^5 cycles, 10 minutes) and its figures are in the bench's header.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kernelTestsSkipReason } from '../../lib/testing';

const root = join(__dirname, '../..');
const skip = kernelTestsSkipReason() ?? (existsSync(join(root, 'dist/index.js')) ? undefined : 'dist/ is not built (bash scripts/setup.sh)');

describe('soak (short)', () => {
  it.skipIf(skip)(`handles leave no fds, memory or libuv handles behind, closed or collected${skip ? ` - skipped: ${skip}` : ''}`, async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', 'bench/soak.mjs', '--cycles', '200', '--minutes', '0.1', '--only', 'nftables,iptables,gc,lb'],
      { cwd: root, timeout: 120_000 },
    ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    });
    expect(stdout).toMatch(/gc: 400 handles dropped without close\(\): fds (\d+) -> \d+ while referenced -> \1 after GC/);
    expect(stdout).toMatch(/applies [1-9]/);
    expect(stdout.trim().split('\n').pop()).toBe('soak: passed');
  }, 150_000);
});
