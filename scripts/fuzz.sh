#!/usr/bin/env bash
# npm run fuzz [-- --seconds S] [-- --runs N] [-- harness...]: libFuzzer harnesses (test/fuzz/*.cc)
# for every native function that decodes bytes kernlb did not write, built with clang's
# -fsanitize=fuzzer,address,undefined into build-fuzz/ (the addon's own build is untouched).
#
# Each harness starts from its committed seeds (test/fuzz/corpus/<harness>/: replies recorded from a
# real kernel by test/fuzz/record-seeds.ts, and every input that once crashed, kept as a regression)
# and runs for S seconds (default 20) or N executions. A crash, a leak, a timeout (10 s per input)
# or an out-of-memory fails the run; the input that did it is left in build-fuzz/artifacts/.
# Prints executions, coverage (libFuzzer's "cov": edges reached) and corpus size per harness.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=20
runs=""
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

out=build-fuzz
mkdir -p "$out/artifacts"
napi=$(node -p "require('node-addon-api').include_dir")
nodeinc=$(dirname "$(dirname "$(command -v node)")")/include/node
cxx="clang++ -std=c++17 -g -O1 -fno-omit-frame-pointer -fexceptions -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
     -DNAPI_VERSION=8 -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -Inative -I$napi -I$nodeinc
     -Wall -Wno-unused-parameter -Wno-missing-field-initializers"

netlink="native/netlink/message.cc native/netlink/batch_reply.cc native/netlink/genl.cc native/netlink/socket.cc native/netlink/netns.cc"
declare -A sources=(
  [netlink_replies]="$netlink"
  [ipvs_replies]="$netlink native/ipvs/addr.cc native/ipvs/service_codec.cc native/ipvs/dest_codec.cc native/ipvs/daemon_codec.cc native/ipvs/stats_codec.cc native/ipvs/packed.cc"
  [nft_listing]="$netlink native/nft/list.cc native/nft/expr_specs.cc native/nft/hex.cc"
  [ipt_table]="native/iptables/table_io.cc native/iptables/xtables_lock.cc"
)
declare -A libs=(
  [netlink_replies]="" [ipvs_replies]="" [nft_listing]="-lnftnl -lmnl" [ipt_table]="-lip4tc -lip6tc"
)
harnesses=(netlink_replies ipvs_replies nft_listing ipt_table)
[ ${#only[@]} -gt 0 ] && harnesses=("${only[@]}")

# Builds one harness when it or any native file is newer than its binary.
build() {
  local h=$1 bin=$out/$1
  if [ ! -x "$bin" ] || [ -n "$(find test/fuzz/$h.cc native -newer "$bin" -print -quit)" ]; then
    echo "fuzz: building $h"
    $cxx test/fuzz/$h.cc ${sources[$h]} ${libs[$h]} -o "$bin" || return 1
  fi
}

failed=0
summary=()
for h in "${harnesses[@]}"; do
  [ -n "${sources[$h]+x}" ] || { echo "fuzz: no harness $h"; exit 2; }
  build "$h" || { echo "fuzz: $h did not build"; failed=1; continue; }
  seeds=test/fuzz/corpus/$h
  work=$out/corpus/$h   # what this machine's runs found, kept between runs (not committed)
  mkdir -p "$seeds" "$work"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  log=$out/$h.log
  # nft_listing catches libnftnl's own faults inside a parse (see the harness): its SIGSEGV handler
  # must be the one that runs; it writes the input of a fault outside a parse to the artifact below.
  segv=1
  [ "$h" = nft_listing ] && segv=0
  NFT_LISTING_FAULT_ARTIFACT="$out/artifacts/$h-fault" ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:handle_segv=$segv UBSAN_OPTIONS=print_stacktrace=1 \
    "$out/$h" "${limit[@]}" -handle_segv=$segv -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$h-" "$work" "$seeds" > "$log" 2>&1
  status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  corpus=$(ls "$work" | wc -l)
  line=$(printf '%-16s %12s execs %6s edges %6s inputs  %s' "$h" "${execs:-?}" "${cov:-?}" "$corpus" "$([ $status -eq 0 ] && echo ok || echo FAILED)")
  summary+=("$line")
  if [ $status -ne 0 ]; then
    failed=1
    echo "fuzz: $h FAILED (exit $status); the input is in $out/artifacts/; log $log:"
    grep -A40 -m1 'ERROR: \|runtime error\|==ERROR\|timeout\|out-of-memory\|SIGSEGV outside' "$log" | head -60
  fi
done
echo "fuzz: ${seconds}s each${runs:+ / $runs runs each} (harness, executions, coverage, corpus)"
printf '  %s\n' "${summary[@]}"
[ $failed -eq 0 ] && echo "fuzz: passed" || { echo "fuzz: FAILED"; exit 1; }
