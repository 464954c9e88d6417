#!/usr/bin/env bash
# SASRec on Beauty: xrec's engine (xrec_bench_train, xrec_bench_eval) against plain PyTorch (sasrec_train.py),
# same threads, epochs, seed and settings. Builds nothing: build first with
#   cmake --build <build> --target xrec_bench_train xrec_bench_eval xrec_plugins
#
#   tests/bench/sasrec_bench.sh [--build DIR] [--data FILE] [--threads 2] [--epochs 2] [--repeat 2]
#                               [--loss ce|bce] [--candidates] [--no-eval-bench] [--max-batches N] [--out DIR]
#
# Runs Python and xrec alternately --repeat times (so both see the same machine load), then xrec_bench_eval
# once, and prints a Markdown table of medians: seconds per epoch, the ratio, the phase split, validation
# HR@10 / NDCG@10 after the same epochs, and the evaluation's ratio to the matmul + topk bound.
# --candidates adds the engine without length groups (train.length_groups: false, one backbone call on the
# whole padded batch), and length-bucketed batches (which change the batches) on both sides. Every run's output is kept in --out
# (default: a fresh /tmp folder). The environment passes through: on a busy machine run it also with
# OMP_WAIT_POLICY=passive (libgomp reads it at start-up; both sides share LibTorch's OpenMP).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${XREC_BUILD:-$root/build}"
data="${XREC_SHARED_DATA:-$root/../shared/data}/amazon-s3rec/Beauty.txt"
threads=2 epochs=2 repeat=2 loss=ce candidates=0 eval_bench=1 out="" max_batches=0
python="${PYTHON:-/usr/bin/python3}"

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --loss) loss="$2"; shift 2 ;;
    --candidates) candidates=1; shift ;;
    --no-eval-bench) eval_bench=0; shift ;;
    --out) out="$2"; shift 2 ;;
    --max-batches) max_batches="$2"; shift 2 ;;  # a quick check of the script, not a measurement
    -h|--help) usage ;;
    *) echo "sasrec_bench.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

train_bin="$build/bin/xrec_bench_train"
eval_bin="$build/bin/xrec_bench_eval"
for f in "$train_bin" "$eval_bin"; do
  [ -x "$f" ] || {
    echo "sasrec_bench.sh: no $f (build: cmake --build $build --target xrec_bench_train xrec_bench_eval" \
         "xrec_plugins; or pass --build DIR)" >&2
    exit 1
  }
done
[ -f "$data" ] || { echo "sasrec_bench.sh: no data file $data (pass --data FILE: S3-Rec's Beauty.txt)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || {
  echo "sasrec_bench.sh: $python cannot import torch (Debian: apt install python3-torch; or set PYTHON=...)" >&2
  exit 1
}
[ -n "$out" ] || out="$(mktemp -d /tmp/xrec-sasrec-bench-XXXXXX)"
mkdir -p "$out"

# name|command: every configuration run --repeat times, alternating.
common="--data $data --epochs $epochs --threads $threads --loss $loss --max-batches $max_batches"
configs=("python|$python $here/sasrec_train.py $common" "xrec|$train_bin $common")
if [ "$candidates" = 1 ]; then
  configs+=("xrec --length-groups off|$train_bin $common --length-groups off"
            "xrec --batches bucket|$train_bin $common --batches bucket"
            "python --bucket 16|$python $here/sasrec_train.py $common --bucket 16")
fi

echo "# sasrec_bench: $threads threads, $epochs epochs, loss $loss, $repeat repetitions, $(nproc) cores," \
     "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, load $(cut -d' ' -f1-3 /proc/loadavg), logs in $out" >&2
for r in $(seq 1 "$repeat"); do
  for i in "${!configs[@]}"; do
    name="${configs[$i]%%|*}" cmd="${configs[$i]#*|}"
    log="$out/train-$i-$r.log"
    echo "# run $r/$repeat: $name" >&2
    echo "$name" > "$out/train-$i.name"
    $cmd > "$log" 2>&1 || { echo "sasrec_bench.sh: '$cmd' failed; see $log" >&2; tail -5 "$log" >&2; exit 1; }
  done
done
if [ "$eval_bench" = 1 ]; then
  echo "# eval bench" >&2
  "$eval_bin" --data "$data" --threads "$threads" --repeat 3 > "$out/eval.log" 2>&1 ||
    { echo "sasrec_bench.sh: xrec_bench_eval failed; see $out/eval.log" >&2; tail -5 "$out/eval.log" >&2; exit 1; }
fi

# The table (any python3: json only).
python3 - "$out" <<'EOF'
import glob, json, os, statistics, sys

out = sys.argv[1]
def last_json(path):
    for line in reversed(open(path).read().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"sasrec_bench.sh: no JSON result line in {path}")

rows = []
for name_file in sorted(glob.glob(os.path.join(out, "train-*.name")), key=lambda p: int(p.split("-")[-1][:-5])):
    i = name_file.split("-")[-1][:-5]
    runs = [last_json(p) for p in sorted(glob.glob(os.path.join(out, f"train-{i}-*.log")))]
    med = lambda f: statistics.median(f(r) for r in runs)
    per_epoch = lambda r, k: sum(e[k] for e in r["epochs"]) / len(r["epochs"])
    rows.append(dict(
        name=open(name_file).read().strip(), runs=runs,
        seconds=med(lambda r: per_epoch(r, "seconds")), all=[per_epoch(r, "seconds") for r in runs],
        cpu=med(lambda r: per_epoch(r, "cpu_seconds")),
        **{k: med(lambda r, k=k: per_epoch(r, k)) for k in ("data", "forward", "backward", "optimizer", "loss")},
        ndcg=med(lambda r: r["valid"]["ndcg@10"]), hr=med(lambda r: r["valid"]["hr@10"]),
        eval=med(lambda r: r["eval_seconds"]), load=med(lambda r: r["load"]),
        padding=med(lambda r: 1 - sum(e["positions"] for e in r["epochs"]) / sum(e["cells"] for e in r["epochs"]))))

py = next(r for r in rows if r["name"] == "python")
r0 = rows[0]["runs"][0]
print(f"\n## SASRec on Beauty: {r0['threads']} threads, {len(r0['epochs'])} epochs, loss {r0['loss']}, "
      f"medians of {len(rows[0]['runs'])} runs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}\n")
print("| run | s/epoch (runs) | python / this | cpu s/epoch | data | forward | backward | optimizer | train loss "
      "| valid HR@10 | valid NDCG@10 | padding | eval s | load |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['name']} | {r['seconds']:.1f} ({', '.join(f'{s:.1f}' for s in r['all'])}) | "
          f"{py['seconds'] / r['seconds']:.2f}x | {r['cpu']:.1f} | {r['data']:.2f} | {r['forward']:.1f} | "
          f"{r['backward']:.1f} | {r['optimizer']:.2f} | {r['loss']:.4f} | {r['hr']:.4f} | {r['ndcg']:.4f} | "
          f"{100 * r['padding']:.0f}% | {r['eval']:.1f} | {r['load']:.1f} |")
print("\nphases are seconds per epoch; cpu = process CPU time (all threads) per epoch; load = 1-minute load "
      "average at the end of the run")

ev = os.path.join(out, "eval.log")
if os.path.exists(ev):
    e = last_json(ev)
    print(f"\n## Full-ranking evaluation, {int(e['users'])} users, {int(e['threads'])} threads (median of 3)\n")
    print("| what | seconds | users/s | / bound |\n|---|---:|---:|---:|")
    for label, k in [("engine evaluate_cases", "engine_seconds"), ("  pack_histories", "pack_seconds"),
                     ("  score_next", "score_seconds"), ("  ranks_from_scores", "rank_seconds"),
                     ("engine under InferenceMode", "inference_mode_seconds"),
                     ("engine with the full forward (no forward_last)", "full_forward_seconds"),
                     ("  its scoring", "full_forward_score_seconds"),
                     ("bound: matmul + topk(20)", "bound_seconds"),
                     ("  its matmul alone", "matmul_seconds")]:
        print(f"| {label} | {e[k]:.3f} | {e['users'] / e[k]:.0f} | {e[k] / e['bound_seconds']:.2f}x |")
    print(f"\neval ratio engine / bound: {e['ratio']:.2f}x (goal <= 2x); ranks through the full forward "
          f"{'equal the engine' if e['same_ranks'] else 'DIFFER'}")
EOF
