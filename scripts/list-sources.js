// Lists the addon's C++ sources for binding.gyp: every .cc under native/<subsystem>/, so adding a file
// to a subsystem folder needs no edit of binding.gyp.
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..', 'native');
const out = [];
for (const dir of fs.readdirSync(root).sort()) {
  const full = path.join(root, dir);
  if (!fs.statSync(full).isDirectory()) continue;
  for (const f of fs.readdirSync(full).sort()) if (f.endsWith('.cc')) out.push(`native/${dir}/${f}`);
}
process.stdout.write(out.join(' '));
