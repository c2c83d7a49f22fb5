/** The package as users get it: CommonJS and ESM entry points, the prebuilt binary alone, the bin. */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..', '..');
const built = existsSync(path.join(root, 'dist', 'index.js')) && existsSync(path.join(root, 'dist', 'index.mjs'));
const noBuild = built ? undefined : 'dist/ is not built (npm run build:ts)';
const prebuildDir = path.join(root, 'prebuilds');
const prebuilt = existsSync(prebuildDir) && readdirSync(prebuildDir).length > 0;
const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
const exported = ['Ipvs', 'Nftables', 'Iptables', 'LoadBalancer', 'KernelError', 'ValidationError', 'isNotFound', 'isExists', 'isPermissionDenied'];

describe('package entry points', () => {
  it.skipIf(!built)(`require('kernlb') exposes the API${noBuild ? ` - skipped: ${noBuild}` : ''}`, () => {
    const out = node(['-e', `const k = require('kernlb'); console.log(JSON.stringify(${JSON.stringify(exported)}.map((n) => typeof k[n])))`]);
    expect(JSON.parse(out)).toEqual(exported.map(() => 'function'));
  });

  it.skipIf(!built)(`import { ... } from 'kernlb' works from ESM, same classes as CommonJS${noBuild ? ` - skipped: ${noBuild}` : ''}`, () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import { ${exported.join(', ')} } from 'kernlb'; import { createRequire } from 'node:module';
       const cjs = createRequire(import.meta.url)('kernlb');
       console.log(JSON.stringify([typeof Ipvs, Ipvs === cjs.Ipvs, typeof LoadBalancer, KernelError === cjs.KernelError]));`,
    ]);
    expect(JSON.parse(out)).toEqual(['function', true, 'function', true]);
  });

  it.skipIf(!built)(`kernlb/testing is importable both ways${noBuild ? ` - skipped: ${noBuild}` : ''}`, () => {
    expect(node(['-e', `console.log(typeof require('kernlb/testing').createNetns)`]).trim()).toBe('function');
    expect(node(['--input-type=module', '-e', `import { createTopology } from 'kernlb/testing'; console.log(typeof createTopology)`]).trim()).toBe('function');
  });

  it.skipIf(!built)(`ships type declarations${noBuild ? ` - skipped: ${noBuild}` : ''}`, () => {
    expect(existsSync(path.join(root, 'dist', 'index.d.ts'))).toBe(true);
    expect(existsSync(path.join(root, 'dist', 'index.d.mts'))).toBe(true);
  });

  it.skipIf(!built)(`the kernlb bin prints its commands${noBuild ? ` - skipped: ${noBuild}` : ''}`, () => {
    const out = node([path.join('dist', 'cli', 'main.js'), '--help']);
    expect(out).toMatch(/^usage: kernlb <command>/);
  });

  it.skipIf(!prebuilt)(`loads the prebuilt binary alone, without build/${prebuilt ? '' : ' - skipped: no prebuilds/ (npm run prebuild)'}`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kernlb-prebuilt-'));
    try {
      cpSync(prebuildDir, path.join(dir, 'prebuilds'), { recursive: true });
      cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
      const gyp = require.resolve('node-gyp-build', { paths: [root] });
      const out = node(['-e', `const b = require(${JSON.stringify(gyp)})(${JSON.stringify(dir)}); console.log(Object.keys(b).sort().join(',')); console.log(b.netlink.encodeGetFamily('IPVS', 1).length)`]);
      expect(out.trim().split('\n')).toEqual(['iptables,ipvs,netlink,nft', '32']);
      expect(existsSync(path.join(dir, 'build'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
