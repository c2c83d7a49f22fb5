/**
 * The published types as users compile them (scripts/check-types.sh): lib/ built and packed as npm
 * publishes it, @arethetypeswrong/cli on the tarball, then strict tsc of test/types/consumer/*.ts in nodenext ESM, nodenext CommonJS and
 * bundler projects that installed that tarball. Offline: dependencies are linked from node_modules.
 * test/types/consumer/typed-input.ts holds the type-level tests of the load balancer's input
 * (@ts-expect-error lines: one that is no longer an error fails the compile).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..', '..');
// (the script builds lib/ itself; the package it packs needs the prebuilt addon)
const built = existsSync(path.join(root, 'prebuilds'));

describe('published types', () => {
  it.skipIf(!built)(`compile for consumers in nodenext ESM, nodenext CJS and bundler modes${built ? '' : ' - skipped: no prebuilds/ (npm run prebuild)'}`, () => {
    let out = '';
    let code = 0;
    try {
      out = execFileSync('bash', [path.join(root, 'scripts', 'check-types.sh')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      code = x.status;
      out = `${x.stdout}\n${x.stderr}`;
    }
    expect(out).not.toMatch(/error TS\d+/);
    expect(code, out).toBe(0);
    for (const mode of ['esm', 'cjs', 'bundler']) expect(out).toContain(`== tsc: ${mode}`);
    expect(out).toContain('check-types: ok');
  }, 400_000);
});
