// pkg-config for binding.gyp. When a library's development files are missing the build stops here with
// the Debian package that provides them, instead of a compiler error about a missing header.
'use strict';
const { execFileSync } = require('child_process');
const libs = { libnftnl: 'libnftnl-dev', libmnl: 'libmnl-dev', libip4tc: 'libip4tc-dev', libip6tc: 'libip6tc-dev' };
const flag = process.argv[2] === '--cflags' ? '--cflags' : '--libs';
const missing = [];
const out = [];
for (const [lib, pkg] of Object.entries(libs)) {
  try {
    out.push(execFileSync('pkg-config', [flag, lib], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    missing.push(`${lib} (Debian package ${pkg})`);
  }
}
if (missing.length) {
  process.stderr.write(`kernlb: cannot build the native addon, missing: ${missing.join(', ')}.\n` +
    `Install with: apt-get install -y pkg-config ${Object.values(libs).join(' ')}\n`);
  process.exit(1);
}
process.stdout.write(out.filter(Boolean).join(' '));
