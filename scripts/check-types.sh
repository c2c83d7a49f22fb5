#!/usr/bin/env bash
# The published types as users compile them: builds the package from lib/ into a scratch copy (the
# checkout's dist/ is neither needed nor touched), packs it, runs @arethetypeswrong/cli on the
# tarball, installs it into a throwaway project (offline: its dependencies are linked from this
# checkout's node_modules) and compiles the consumer files of test/types/consumer with strict tsc in
# three module modes: nodenext ESM, nodenext CommonJS, bundler. Exit 0 when all pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kernlb-types-XXXXXX")
trap 'rm -rf "$work"' EXIT

pkg="$work/pkg"
mkdir -p "$pkg/scripts"
cd "$root"
cp package.json binding.gyp README.md LICENSE "$pkg/"
cp -r native prebuilds "$pkg/"
cp scripts/pkg-config.js scripts/esm-wrappers.js "$pkg/scripts/"
# (the ESM wrapper script loads the built CommonJS entry points, which load the addon's loader)
ln -s "$root/node_modules" "$pkg/node_modules"
echo "== build"
node "$root/node_modules/typescript/bin/tsc" -p tsconfig.build.json --outDir "$pkg/dist"
(cd "$pkg" && node scripts/esm-wrappers.js && npm pack --silent --pack-destination "$work" >/dev/null)
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
