#!/usr/bin/env bash
# ASan + UBSan job: builds the LibTorch-free parts (API library, host library, dataset plugins, and
# api_test / host_test / plugin_test) in build-asan/ with -fsanitize=address,undefined and runs those
# tests under them. Skips (exit 0, saying why) when the compiler cannot link a sanitized program.
# Suppressions: .ci/sanitizers.supp (LSan) and cmake/XrecSanitizers.cmake (UBSan vptr); docs/ci.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${XREC_ASAN_BUILD:-build-asan}"
cxx="${CXX:-c++}"

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'int main() { return 0; }' > "$probe/p.cpp"
if ! "$cxx" -fsanitize=address,undefined "$probe/p.cpp" -o "$probe/p" 2>/dev/null || ! "$probe/p"; then
  echo "sanitizers: SKIPPED: $cxx cannot build and run a -fsanitize=address,undefined program (install libasan/libubsan)"
  exit 0
fi

start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXREC_SANITIZE=address,undefined -DXREC_USE_PCH=OFF >/dev/null
cmake --build "$build" --target api_test host_test plugin_test
built=$(date +%s)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$PWD/.ci/sanitizers.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in api_test host_test plugin_test; do
  echo "sanitizers: $t"
  "$build/bin/$t" --gtest_brief=1 || status=1
done
end=$(date +%s)
echo "sanitizers: build $((built - start)) s, tests $((end - built)) s"
exit $status
