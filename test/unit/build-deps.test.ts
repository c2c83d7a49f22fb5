/** Missing system libraries are reported with the Debian package to install, at build and at load. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainLoadError } from '../../lib/native';

const root = path.join(__dirname, '..', '..');

describe('missing system libraries', () => {
  it('build: pkg-config failure names every -dev package', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'pkg-config.js'), '--libs'], {
      env: { ...process.env, PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/libnftnl \(Debian package libnftnl-dev\)/);
    expect(r.stderr).toMatch(/apt-get install -y pkg-config libnftnl-dev libmnl-dev libip4tc-dev libip6tc-dev/);
  });

  it('build: finds the libraries when they are installed', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'pkg-config.js'), '--libs'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split(/\s+/).sort()).toEqual(['-lip4tc', '-lip6tc', '-lmnl', '-lnftnl']);
  });

  it('load: a missing shared library names the runtime package', () => {
    expect(explainLoadError('libnftnl.so.11: cannot open shared object file: No such file or directory')).toMatch(/apt-get install -y libnftnl11/);
    expect(explainLoadError('libip6tc.so.2: cannot open shared object file')).toMatch(/libip6tc2/);
    expect(explainLoadError('No native build was found for platform=linux')).toMatch(/npm run build:native/);
    expect(explainLoadError('something else')).toBeUndefined();
  });
});
