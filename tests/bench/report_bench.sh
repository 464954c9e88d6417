#!/usr/bin/env bash
# The HTML report over 1,000 runs: generation time (`xrec report html`) and page render time in headless
# Chromium. The store is synthetic, written by SQL: one sweep of 100 points x 10 seeds (1,000 finished runs),
# 50 epochs each of training loss, validation ndcg@10 and one strategy metric, 30 params per run.
# usage: tests/bench/report_bench.sh [--build build] [--runs 1000] [--epochs 50]
set -euo pipefail
build=build runs=1000 epochs=50 keep=""
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;   # leave the store and the report in this folder
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
xrec=$build/bin/xrec
if [ -n "$keep" ]; then dir=$keep; mkdir -p "$dir"; rm -f "$dir"/xrec.db*; else dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; fi
db=$dir/xrec.db
: >"$db"                              # an empty file is an empty SQLite database
"$xrec" runs --db "$db" >/dev/null   # migrates it to the schema
points=$((runs / 10))
sqlite3 "$db" >/dev/null <<SQL
BEGIN;
INSERT INTO sweeps (id, name, base_config_yaml, base_config_hash, spec_yaml, select_metric, reference)
VALUES (1, 'bench', 'name: bench', 'h', 'base: x', 'ndcg@10', 'p0');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs)
INSERT INTO runs (id, sweep_id, name, status, ended_at, host, pid, git_sha, xrec_version, seed, threads, device, blas,
                  config_yaml, config_hash, select_metric)
SELECT i, 1, 'p' || ((i - 1) / 10), 'finished', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'bench', 1, 'abc', '0.1.0',
       (i - 1) % 10 + 1, 1, 'cpu', 'openblas', 'x', 'h' || i, 'ndcg@10' FROM n;
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 27)
INSERT INTO params (run_id, key, value)
SELECT r.id, 'model.key' || k.j, CASE WHEN k.j = 0 THEN 'v' || ((r.id - 1) / 10) ELSE 'same' END FROM runs AS r, k;
INSERT INTO params (run_id, key, value) SELECT id, 'data.target.path', 'beauty.txt' FROM runs;
INSERT INTO params (run_id, key, value) SELECT id, 'eval.protocol', 'full' FROM runs;
WITH RECURSIVE e(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM e WHERE s < $epochs - 1)
INSERT INTO metrics (run_id, stage, split, key, step, value)
SELECT r.id, 'target', x.split, x.key, e.s,
       CASE x.key WHEN 'loss' THEN 5.0 / (1 + e.s) + (r.id % 7) * 0.01
                  WHEN 'ndcg@10' THEN 0.02 + 0.001 * e.s + (r.id % 13) * 0.0005
                  ELSE 0.5 + (r.id % 5) * 0.01 END
FROM runs AS r, e, (SELECT 'train' AS split, 'loss' AS key UNION ALL SELECT 'valid', 'ndcg@10'
                    UNION ALL SELECT 'meta', 'source_weight') AS x;
INSERT INTO final_metrics (run_id, split, key, value)
SELECT id, s.split, 'ndcg@10', 0.05 + ((id - 1) / 10) * 0.0003 + (id % 10) * 0.001 FROM runs,
       (SELECT 'valid' AS split UNION ALL SELECT 'test') AS s;
INSERT INTO trials (sweep_id, trial_key, point, point_label, seed, config_hash, plugins_sha, plugins, status, run_id, attempts)
SELECT 1, printf('%064d', id), (id - 1) / 10, 'p' || ((id - 1) / 10), seed, 'h' || id, 'p', '', 'finished', id, 1 FROM runs;
COMMIT;
SQL
echo "store: $runs runs x $epochs epochs, $(sqlite3 "$db" 'SELECT count(*) FROM metrics') metric rows"
for sel in "--sweep 1" "--where 1=1"; do
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$xrec" report html $sel --db "$db" --out "$dir/report.html" >/dev/null 2>&1
  end=$(date +%s.%N)
  printf 'generate (%s): %.2f s, %s bytes\n' "$sel" "$(echo "$end - $start" | bc)" "$(stat -c %s "$dir/report.html")"
  if command -v chromium >/dev/null; then
    start=$(date +%s.%N)
    chromium --headless --no-sandbox --disable-gpu --user-data-dir="$dir/profile" --virtual-time-budget=60000 \
      --dump-dom "file://$dir/report.html" >"$dir/dom.html" 2>/dev/null
    end=$(date +%s.%N)
    printf 'render in headless Chromium (%s): %.2f s (process start included), charts rendered: %s, svg: %s\n' "$sel" \
      "$(echo "$end - $start" | bc)" "$(grep -o 'data-rendered="[0-9]*"' "$dir/dom.html")" "$(grep -o '<svg' "$dir/dom.html" | wc -l)"
  fi
done
