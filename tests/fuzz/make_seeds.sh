#!/usr/bin/env bash
# Seed corpora for the fuzz targets, from tests/fixtures and configs/: make_seeds.sh OUT_DIR
# writes OUT_DIR/<target>/ (one file per seed, in each target's input format; see the targets' headers).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
fx="$repo/tests/fixtures"
mkdir -p "$out"/{config_fuzz,catalog_fuzz,data_cache_fuzz,dataset_fuzz}

# Configs: every fixture and shipped config; a few with overrides after '\0'.
i=0
for f in "$fx"/configs/*.yaml "$fx"/configs/*/*.yaml "$repo"/configs/*.yaml; do
  [ -f "$f" ] || continue
  cp "$f" "$out/config_fuzz/seed$((i++))"
done
printf 'train:\n  lr: 0.001\n\0train.lr=1e-3\0eval.ks=[5,10]\0data.sources[0].type=x' > "$out/config_fuzz/overrides"
printf 'a: &x [1]\nb: *x\n\0a=~' > "$out/config_fuzz/alias"
printf 'x: &a [*a]\n' > "$out/config_fuzz/alias_recursive"  # once a stack overflow (issue 12, item 2)

# Catalog: the shipped catalog if present, else a minimal entry.
if [ -f "$repo/configs/catalog.yaml" ]; then cp "$repo/configs/catalog.yaml" "$out/catalog_fuzz/catalog"; fi
printf 'mine:\n  type: interactions\n  params: {sep: tab}\n  files:\n    - {path: a.txt, url: "file:///a", sha256: %s}\n' \
  "$(printf 'c%.0s' $(seq 64))" > "$out/catalog_fuzz/minimal"

# Data cache: the magic alone, and a truncated header (real entries come from running the fuzzer).
printf 'XRECDATA' > "$out/data_cache_fuzz/magic"
printf 'XRECDATA\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00k' > "$out/data_cache_fuzz/header"

# Datasets: byte 0 picks the plugin (dataset_fuzz.cpp kTargets), files separated by '\0'.
d="$out/dataset_fuzz"
{ printf '\x00'; cat "$fx/data/interactions/Toy.txt"; } > "$d/interactions"
{ printf '\x01'; cat "$fx/data/rating_csv/ratings_Smoke.csv"; } > "$d/rating_csv"
{ printf '\x01'; cat "$fx/data/rating_csv/ratings_Quoted.csv"; } > "$d/rating_csv_quoted"
{ printf '\x02'; cat "$fx/data/user_sequences/Toy.txt"; printf '\0'; cat "$fx/data/user_sequences/Toy_sample.txt";
  printf '\0'; cat "$fx/data/user_sequences/Toy_item2attributes.json"; } > "$d/user_sequences"
{ printf '\x03'; printf 'user_id:token\titem_id:token\ttimestamp:float\n1\t10\t1\n1\t11\t2\n2\t10\t3\n';
  printf '\0'; printf 'item_id:token\ttitle:token_seq\n10\ta b\n11\tc\n'; } > "$d/atomic"
t="$fx/data/presplit/tiny"
{ printf '\x04'; cat "$t/Tiny.train.inter"; printf '\0'; cat "$t/Tiny.valid.inter"; printf '\0'; cat "$t/Tiny.test.inter";
  printf '\0'; cat "$t/Tiny.item2index"; printf '\0'; cat "$t/Tiny.user2index"; } > "$d/presplit"
echo "seeds: $(find "$out" -type f | wc -l) files in $out"
