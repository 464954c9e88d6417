#!/usr/bin/env bash
# Every committed config and sweep spec under configs/ loads its data (CTest `configs_preflight`): configs
# through `xrec data stats`, specs through `xrec sweep SPEC --dry-run --check-data` (every point validated
# and its data sections loaded, nothing run or written). Catches a spec that validates but whose data cannot
# load (a missing column, text features a dataset lacks) before a study spends hours on it.
# Exit 77 (CTest: skipped) when ../shared/data is not beside the repository.
#   usage: preflight.sh XREC_BINARY PLUGIN_DIR REPO_ROOT
set -uo pipefail
xrec=$1 plugins=$2 root=$3
cd "$root" || exit 1
[ -d ../shared/data ] || { echo "SKIP: ../shared/data is not beside the repository (the real datasets)"; exit 77; }
tmp=$(mktemp -d /tmp/xrec-preflight-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0 checked=0
for f in $(git ls-files 'configs/*.yaml' 'configs/**/*.yaml' | sort -u); do
  if grep -qE '^(variants|grid|random|base):' "$f"; then
    out=$("$xrec" sweep "$f" --dry-run --check-data --db "$tmp/store.db" --plugin-path "$plugins" 2>&1)
  elif grep -q '^data:' "$f"; then
    out=$("$xrec" data stats "$f" --plugin-path "$plugins" 2>&1)
  else
    continue  # a fragment (defaults:, catalog): checked through the configs that include it
  fi
  rc=$?
  checked=$((checked + 1))
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    echo "FAIL ($rc): $f"
    echo "$out" | tail -5
  fi
  [ -e "$tmp/store.db" ] && { echo "FAIL: $f: the dry run wrote a store"; failed=$((failed + 1)); rm -f "$tmp/store.db"; }
done
echo "checked $checked config(s) and spec(s), $failed failed"
[ "$failed" -eq 0 ]
