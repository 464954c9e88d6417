#!/usr/bin/env bash
# Data-parallel cost (docs/performance.md, issue 17): SASRec on Beauty (configs/reproduce/
# s3rec-sasrec-beauty-full.yaml), the first --steps optimizer steps, as 1 process x 2 threads and as 2
# ranks x 1 thread (`xrec run --nproc 2`, c10d Gloo on localhost). Reports seconds per step, the epoch
# time they imply (steps per epoch = ceil(users / batch size)) and the all-reduce time per step
# (train/allreduce_seconds / steps; it includes waiting for the slower rank).
# Builds nothing: cmake --build <build> --target xrec sasrec user_sequences scratch
#
#   tests/bench/dp_bench.sh [--build DIR] [--steps 30] [--out DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${XREC_BUILD:-$root/build}"
steps=30 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
xrec="$(cd "$build" && pwd)/bin/xrec"
out="${out:-$(mktemp -d /tmp/xrec-dp-bench-XXXXXX)}"
mkdir -p "$out"
config="$root/configs/reproduce/s3rec-sasrec-beauty-full.yaml"
[ -f "$root/../shared/data/amazon-s3rec/Beauty.txt" ] || { echo "SKIP: ../shared/data/amazon-s3rec/Beauty.txt is missing"; exit 0; }
common=(train.steps="$steps" save_checkpoint=false --plugin-path "$build/plugins")
cd "$root"
"$xrec" run "$config" threads=2 "${common[@]}" --db "$out/one.db" >"$out/one.log" 2>&1
"$xrec" run "$config" threads=1 "${common[@]}" --nproc 2 --db "$out/two.db" >"$out/two.log" 2>&1
row() {
  "$xrec" query "SELECT '$1',
      (SELECT round(sum(value) * 1000.0 / $steps, 1) FROM metrics WHERE split = 'train' AND key = 'seconds'),
      (SELECT round(sum(value) * $2 / $steps, 1) FROM metrics WHERE split = 'train' AND key = 'seconds'),
      (SELECT round(sum(value) * 1000.0 / $steps, 1) FROM metrics WHERE split = 'train' AND key = 'allreduce_seconds')" \
    --db "$3" --csv | tail -n +2 | tr -d '\r' | awk -F, '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, ($4 == "" ? "-" : $4)}'
}
users=$(wc -l <"$root/../shared/data/amazon-s3rec/Beauty.txt")
bs=$("$xrec" run "$config" --check --plugin-path "$build/plugins" 2>/dev/null | awk '/^train:/{t=1} t && /batch_size:/{print $2; exit}')
steps_epoch=$(((users + bs - 1) / bs))
echo "| setup ($steps steps; $steps_epoch steps/epoch) | ms/step | implied s/epoch | all-reduce ms/step |"
echo "|---|---|---|---|"
row "1 process x 2 threads" "$steps_epoch" "$out/one.db"
row "2 ranks x 1 thread (Gloo)" "$steps_epoch" "$out/two.db"
echo "(stores and logs in $out)"
