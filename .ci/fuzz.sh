#!/usr/bin/env bash
# libFuzzer job: builds the fuzz targets (tests/fuzz) with clang in build-fuzz/ (ASan + UBSan + coverage)
# and runs each for XREC_FUZZ_SECONDS (default 45) from a seed corpus made from tests/fixtures. A crash,
# a leak or an exception other than xrec::Error fails the job; the input is kept in build-fuzz/findings/.
# Skips (exit 0, saying why) when clang or libFuzzer is missing.
#   XREC_FUZZ_SECONDS=3600 .ci/fuzz.sh          # the longer run (docs/ci.md)
#   XREC_FUZZ_TARGETS="config_fuzz" .ci/fuzz.sh  # one target
set -euo pipefail
cd "$(dirname "$0")/.."
build="${XREC_FUZZ_BUILD:-build-fuzz}"
seconds="${XREC_FUZZ_SECONDS:-45}"
targets="${XREC_FUZZ_TARGETS:-config_fuzz catalog_fuzz data_cache_fuzz dataset_fuzz plugin_file_fuzz}"
clangxx="${XREC_FUZZ_CXX:-clang++}"

if ! command -v "$clangxx" >/dev/null; then
  echo "fuzz: SKIPPED: $clangxx not found (apt-get install clang libclang-rt-dev, see cmake/setup-debian.sh)"
  exit 0
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$probe/f.cpp"
if ! "$clangxx" -fsanitize=fuzzer,address,undefined "$probe/f.cpp" -o "$probe/f" 2>/dev/null; then
  echo "fuzz: SKIPPED: $clangxx cannot link -fsanitize=fuzzer (libclang_rt.fuzzer missing: install libclang-rt-<version>-dev)"
  exit 0
fi

start=$(date +%s)
CXX="$clangxx" cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXREC_FUZZ=ON -DXREC_USE_PCH=OFF \
  -DXREC_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
cmake --build "$build" --target xrec_fuzzers
built=$(date +%s)

corpus="$build/corpus"
findings="$build/findings"
mkdir -p "$findings"
bash tests/fuzz/make_seeds.sh "$build/seeds" >/dev/null
# Plugin files: the head of a built dataset plugin (ELF header, program and section tables) as a seed.
mkdir -p "$build/seeds/plugin_file_fuzz"
for so in "$build"/plugins/*.so; do head -c 65536 "$so" > "$build/seeds/plugin_file_fuzz/$(basename "$so")"; done
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export LSAN_OPTIONS="suppressions=$PWD/.ci/sanitizers.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in $targets; do
  mkdir -p "$corpus/$t"
  # The corpus grows across runs in build-fuzz/corpus; the seeds are read, never written.
  if "$build/fuzz/$t" "$corpus/$t" "$build/seeds/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
      -timeout=20 -artifact_prefix="$findings/$t-" -print_final_stats=1 >"$build/$t.log" 2>&1; then
    echo "fuzz: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" | grep -o '[0-9]*$') inputs in ${seconds} s, no finding"
  else
    status=1
    echo "fuzz: $t: FINDING (input in $findings/, log $build/$t.log):"
    grep -E 'ERROR|SUMMARY|terminate|what\(\)' "$build/$t.log" | head -5
  fi
done
end=$(date +%s)
echo "fuzz: build $((built - start)) s, fuzzing $((end - built)) s"
exit $status
