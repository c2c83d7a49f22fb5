#!/usr/bin/env bash
# Everything kernlb needs on a fresh Debian 12 machine (as root), idempotent and quick when done:
# Debian packages, npm packages, the native addon (as a prebuilt binary too) and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(g++ make python3 pkg-config perl libnftnl-dev libmnl-dev libip4tc-dev libip6tc-dev
      nftables iptables ipvsadm iproute2 procps kmod user-mode-linux
      clang libclang-rt-14-dev llvm prometheus util-linux fonts-dejavu-core curl)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages (scripts off: the addon is built below, once).
if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# The addon: prebuildify builds it (leaving build/Release too) and stores the stripped N-API binary
# under prebuilds/, which node-gyp-build loads when no local build exists.
prebuilt=$(ls prebuilds/linux-*/*.node 2>/dev/null | head -n 1 || true)
if [ -z "$prebuilt" ] || [ ! -s build/Release/kernlb.node ] ||
   [ -n "$(find native binding.gyp scripts/list-sources.js scripts/pkg-config.js -newer "$prebuilt" -print -quit)" ]; then
  echo "setup: building the native addon"
  rm -rf prebuilds
  npm run --silent prebuild >/dev/null
fi

# TypeScript -> dist/ (CommonJS + ESM wrappers + .d.ts).
if [ ! -f dist/index.js ] || [ -n "$(find lib tsconfig.json tsconfig.build.json scripts/esm-wrappers.js -newer dist/index.js -print -quit)" ]; then
  echo "setup: compiling TypeScript"
  npm run --silent build:ts
fi
echo "setup: ready"
