#!/usr/bin/env bash
# Macro benchmark: generate a ~1 GB tree (bulk source text + the labelled corpus), scan it with the release
# binary from the page cache, and print MB/s and peak RSS. Optional: KEYSWEEP_TREE_MB (default 1024),
# KEYSWEEP_ENGINE (auto|portable), COMPARE=1 to time Kingfisher and gitleaks from benches/.venv on the same tree.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${KEYSWEEP_TREE_MB:-1024}
ENGINE=${KEYSWEEP_ENGINE:-auto}
OUT=benches/out/tree-${MB}mb
cargo build --release --quiet --bin keysweep --example gen_corpus
if [ ! -f "$OUT/labels.jsonl" ]; then
  rm -rf "$OUT"; mkdir -p "$OUT"
  ./target/release/examples/gen_corpus "$OUT" $((MB * 1024 * 1024))
fi
bytes=$(du -sb "$OUT" | cut -f1)
cat $(find "$OUT" -type f) > /dev/null  # warm the page cache
run() { # name, command...
  local name=$1; shift
  local t0 t1 rss
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o /tmp/ks-rss "$@" > /tmp/ks-out 2>/tmp/ks-err || true
  t1=$(date +%s.%N)
  rss=$(tail -1 /tmp/ks-rss)
  awk -v n="$name" -v b="$bytes" -v a="$t0" -v z="$t1" -v r="$rss" \
    'BEGIN { s = z - a; printf "%-12s %8.2f s  %8.1f MB/s  peak RSS %7.1f MB\n", n, s, b / 1048576 / s, r / 1024 }'
}
echo "tree: $OUT, $((bytes / 1048576)) MB, $(find "$OUT" -type f | wc -l) files, $(nproc) cores"
run keysweep ./target/release/keysweep scan "$OUT" --no-config --engine "$ENGINE" -f json -o /tmp/ks-report.json
if [ "${COMPARE:-0}" = 1 ] && [ -x benches/.venv/bin/kingfisher ]; then
  run kingfisher benches/.venv/bin/kingfisher scan "$OUT" --no-update-check
fi
if [ "${COMPARE:-0}" = 1 ] && [ -x benches/.venv/bin/gitleaks ]; then
  run gitleaks benches/.venv/bin/gitleaks dir "$OUT" --no-banner
fi
