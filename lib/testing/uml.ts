/**
 * Runs a command inside a User-mode Linux guest (kernel 6.1 with IPVS) through scripts/uml-run.sh.
 * The guest's root is this machine's /, so the checkout, node and node_modules are all there.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const script = path.join(__dirname, '..', '..', 'scripts', 'uml-run.sh');

/** Why UML cannot be used here, or undefined when it can. */
export function umlAvailable(): string | undefined {
  if (!existsSync('/usr/bin/linux.uml')) return 'User-mode Linux is not installed (apt-get install -y user-mode-linux)';
  if (!existsSync('/usr/lib/uml/modules')) return 'UML kernel modules are missing (/usr/lib/uml/modules)';
  if (!existsSync('/usr/sbin/depmod') && !existsSync('/sbin/depmod')) return 'kmod is not installed (apt-get install -y kmod)';
  if (process.getuid?.() !== 0) return 'needs root to run namespaces inside the guest';
  if (!existsSync(script)) return `${script} is missing`;
  return undefined;
}

export interface UmlResult {
  code: number;
  output: string;
}

/** Boots the guest, runs argv in `cwd`, returns its exit code and output (also streamed to onOutput). */
export function runInUml(
  argv: string[],
  opts: { cwd?: string; timeoutSeconds?: number; env?: Record<string, string>; onOutput?: (chunk: string) => void } = {},
): Promise<UmlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, '--timeout', String(opts.timeoutSeconds ?? 1200), '--', ...argv], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const take = (d: Buffer) => {
      const s = d.toString();
      output += s;
      opts.onOutput?.(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
