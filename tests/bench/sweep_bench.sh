#!/usr/bin/env bash
# `xrec sweep` overheads (docs/performance.md, issue 11). Builds nothing: build first with
#   cmake --build <build> --target xrec xrec_plugins xrec_fixture_plugins
#
#   tests/bench/sweep_bench.sh [--build DIR] [--trials 8] [--epochs 3] [--out DIR]
#
# 1. Fixed cost per trial: --trials trivial trials (forked from the driver, and with --exec) (transfer `fault` mode ok: process start, plugin
#    loading, config, dataset from the cache, an untrained model evaluated once, store writes) run with
#    -j 1; wall time / trials. The same with `xrec run` directly, for the sweep's own share.
# 2. Throughput: --trials short single-thread training trials (SASRec, --epochs epochs on a small
#    synthetic dataset, threads=1) with -j 1, then -j 2; the ratio of wall times.
# Prints a Markdown table. Every store and log is kept in --out (default: a fresh /tmp folder).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${XREC_BUILD:-$root/build}"
trials=8 epochs=3 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --trials) trials="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
build="$(cd "$build" && pwd)"
xrec="$build/bin/xrec"
fault="$build/tests/fixture_plugins/fault"
[ -x "$xrec" ] && [ -d "$fault" ] || { echo "build xrec, xrec_plugins and xrec_fixture_plugins in $build first" >&2; exit 2; }
export XREC_PLUGIN_PATH="$build/plugins"
out="${out:-$(mktemp -d /tmp/xrec-sweep-bench.XXXXXX)}"
mkdir -p "$out"
cd "$out"

# A small dataset: 200 users, 100 items, 20 interactions each (successor sequences).
python3 - <<'PY'
with open("data.txt", "w") as f:
    for u in range(200):
        f.write("u%d %s\n" % (u, " ".join(str((u * 7 + k) % 100 + 1) for k in range(20))))
PY
cat > base.yaml <<YAML
name: sweep-bench
seed: 1
threads: 1
device: cpu
data: {target: {type: user_sequences, path: $out/data.txt}}
backbone: {type: sasrec, hidden: 32, layers: 1, heads: 1, max_len: 20}
transfer: {type: scratch}
train: {epochs: $epochs, batch_size: 32, patience: 100}
eval: {protocol: full, ks: [10]}
YAML
seeds="$(seq -s, 1 "$trials")"
now() { date +%s.%N; }

# Warm the data cache once (a sweep's trials read the cache a first run wrote).
"$xrec" run base.yaml transfer.type=fault --plugin-path "$fault" --db warm.db > warm.log 2>&1

t0=$(now)
for s in $(seq 1 "$trials"); do
  "$xrec" run base.yaml transfer.type=fault seed="$s" --plugin-path "$fault" --db direct.db > "direct-$s.log" 2>&1
done
t1=$(now)
"$xrec" sweep base.yaml transfer.type=fault --seeds "$seeds" -j 1 --threads 1 --name trivial --plugin-path "$fault" --db trivial.db > trivial.log 2>&1
t2=$(now)
"$xrec" sweep base.yaml transfer.type=fault --seeds "$seeds" -j 1 --threads 1 --name trivial-exec --exec --plugin-path "$fault" --db trivial-exec.db > trivial-exec.log 2>&1
t2b=$(now)
"$xrec" sweep base.yaml --seeds "$seeds" -j 1 --threads 1 --name j1 --db j1.db > j1.log 2>&1
t3=$(now)
"$xrec" sweep base.yaml --seeds "$seeds" -j 2 --threads 1 --name j2 --db j2.db > j2.log 2>&1
t4=$(now)

python3 - "$trials" "$t0" "$t1" "$t2" "$t2b" "$t3" "$t4" <<'PY'
import sys
n = int(sys.argv[1]); t0, t1, t2, t2b, t3, t4 = map(float, sys.argv[2:])
direct, sweep, sweep_exec, j1, j2 = (t1 - t0) / n, (t2 - t1) / n, (t2b - t2) / n, t3 - t2b, t4 - t3
print("| measure | value | goal |")
print("|---|---|---|")
print(f"| fixed cost per trivial trial, `xrec sweep -j 1` | {sweep:.2f} s | <= 0.5 s |")
print(f"| the same with `--exec` (a fresh process per trial) | {sweep_exec:.2f} s | |")
print(f"| the same trial as a plain `xrec run` | {direct:.2f} s | |")
print(f"| forked trial / exec'd trial | {sweep / sweep_exec:.2f} | |")
print(f"| {n} training trials, -j 1 | {j1:.1f} s | |")
print(f"| {n} training trials, -j 2 | {j2:.1f} s | |")
print(f"| throughput -j 2 / -j 1 | {j1 / j2:.2f}x | >= 1.8x |")
PY
echo "(stores and logs in $out)"
