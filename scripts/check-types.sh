#!/usr/bin/env bash
# The published types as users compile them: packs the package (dist/ must be built: npm run build:ts),
# runs @arethetypeswrong/cli on the tarball, installs it into a throwaway project (offline: its
# dependencies are linked from this checkout's node_modules) and compiles the consumer files of
# test/types/consumer with strict tsc in three module modes: nodenext ESM, nodenext CommonJS, bundler.
# Exit 0 when all pass; the first failure's output is printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kernlb-types-XXXXXX")
trap 'rm -rf "$work"' EXIT

cd "$root"
[ -f dist/index.d.mts ] || { echo "check-types: dist/ is not built (npm run build:ts)" >&2; exit 2; }
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/kernlb-*.tgz)
echo "== attw $(basename "$tarball")"
node "$root/node_modules/@arethetypeswrong/cli/dist/index.js" --format ascii "$tarball"

# One project holds the install; each mode is a sub-project (its own package.json "type" and tsconfig)
# that finds kernlb by walking up to it.
cd "$work"
echo '{ "name": "consumer", "version": "1.0.0", "private": true }' > package.json
deps=$(node -p "Object.keys(require('$root/package.json').dependencies).map((d) => '$root/node_modules/' + d).join(' ')")
# shellcheck disable=SC2086
npm install --offline --no-audit --no-fund --ignore-scripts --silent "$tarball" $deps >/dev/null
mkdir -p node_modules/@types
ln -s "$root/node_modules/@types/node" node_modules/@types/node

compile() { # name, package.json type, module, moduleResolution
  local dir="$work/$1"
  mkdir -p "$dir"
  cp "$root"/test/types/consumer/*.ts "$dir/"
  echo "{ \"name\": \"consumer-$1\", \"private\": true, \"type\": \"$2\" }" > "$dir/package.json"
  cat > "$dir/tsconfig.json" <<JSON
{ "compilerOptions": { "target": "ES2022", "module": "$3", "moduleResolution": "$4", "lib": ["ES2022", "ESNext.Disposable"],
  "types": ["node"], "strict": true, "noEmit": true, "skipLibCheck": false, "exactOptionalPropertyTypes": true },
  "include": ["*.ts"] }
JSON
  echo "== tsc: $1 (type $2, module $3, moduleResolution $4)"
  node "$root/node_modules/typescript/bin/tsc" -p "$dir/tsconfig.json"
}
compile esm module nodenext nodenext
compile cjs commonjs nodenext nodenext
compile bundler module esnext bundler
echo "check-types: ok"
