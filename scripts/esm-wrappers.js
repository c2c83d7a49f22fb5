// Writes ESM entry points (index.mjs + index.d.mts) beside the CommonJS build, so `import { Ipvs }
// from 'kernlb'` and `require('kernlb')` load the same module instance.
'use strict';
const fs = require('fs');
const path = require('path');
const dist = path.join(__dirname, '..', 'dist');
for (const entry of ['index', 'testing/index']) {
  const cjsFile = path.join(dist, entry + '.js');
  const mod = require(cjsFile);
  const names = Object.keys(mod).filter((n) => n !== 'default' && n !== '__esModule');
  const base = './' + path.basename(entry) + '.js';
  const mjs = `import cjs from '${base}';\n` +
    names.map((n) => `export const ${n} = cjs.${n};`).join('\n') + '\nexport default cjs;\n';
  fs.writeFileSync(path.join(dist, entry + '.mjs'), mjs);
  // Under moduleResolution nodenext a .d.mts is ESM, where relative specifiers need their extension:
  // './index' would resolve to nothing and the package would look empty to ESM TypeScript. './index.js'
  // finds index.d.ts (CommonJS types, read with CommonJS rules inside), the same declarations that
  // describe the .js the .mjs wraps. The default export mirrors the .mjs's `export default cjs`.
  fs.writeFileSync(path.join(dist, entry + '.d.mts'),
    `import * as cjs from '${base}';\nexport * from '${base}';\nexport default cjs;\n`);
}
const cli = path.join(dist, 'cli', 'main.js');
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
