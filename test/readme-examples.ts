/**
 * The README's JavaScript examples are run, not just shown: every ```js block whose first line is
 * `// example: <name> (<tier>)` is written to test/.examples/<name>.mjs (inside the package, so
 * `import ... from 'kernlb'` resolves to this package's build) and run with node inside a fresh
 * namespace. Shared by the kernel tier (host) and the IPVS tier (UML guest).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { TestNetns } from '../lib/testing';

export interface ReadmeExample {
  name: string;
  tier: string;
  code: string;
}

const root = path.join(__dirname, '..');

export function readmeExamples(tier: string): ReadmeExample[] {
  const text = readFileSync(path.join(root, 'README.md'), 'utf8');
  const out: ReadmeExample[] = [];
  for (const m of text.matchAll(/```js\n(\/\/ example: ([\w-]+) \((\w+)\)\n[\s\S]*?)```/g)) {
    if (m[3] === tier) out.push({ name: m[2]!, tier: m[3]!, code: m[1]! });
  }
  return out;
}

/** Runs one example with node inside `ns`; resolves its stdout. */
export async function runExample(ex: ReadmeExample, ns: TestNetns): Promise<string> {
  const dir = path.join(root, 'test', '.examples');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${ex.name}.mjs`);
  writeFileSync(file, ex.code);
  const r = await ns.exec([process.execPath, file], { timeoutMs: 120_000 });
  return r.stdout;
}
