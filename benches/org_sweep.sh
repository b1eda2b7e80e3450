#!/usr/bin/env bash
# Organisation-sweep benchmark (not a test). Generates an organisation of 200 repositories — 180 distinct
# histories (benches/gen_history.py, COMMITS commits each, distinct seeds) and 20 forks (bare clones of 10 of
# them, each with a few commits of its own) — serves them with a real `git daemon` on loopback, and measures
# `keysweep org` over it (clone + scan into a fresh SQLite datastore):
#   1. first run: wall time, peak RSS;
#   2. a re-run with nothing new (target: under 5% of the first run);
#   3. one large history (BIG commits) alone, against the same history plus 10 forks of it.
# Usage: benches/org_sweep.sh [COMMITS] [BIG]      (defaults 300 and 5000)
# Env: BENCH_DIR (default /tmp/keysweep-bench-org), CARGO_TARGET_DIR (default target), J (-j, default: keysweep's).
set -euo pipefail
cd "$(dirname "$0")/.."
COMMITS=${1:-300}
BIG=${2:-5000}
BENCH_DIR=${BENCH_DIR:-/tmp/keysweep-bench-org}
TARGET=${CARGO_TARGET_DIR:-target}
ORG="$BENCH_DIR/org-$COMMITS"
mkdir -p "$BENCH_DIR"

gen() { # gen DIR COMMITS SEED
  git init -q --bare -b main "$1"
  python3 benches/gen_history.py "$2" "$3" | git -C "$1" fast-import --quiet
  git -C "$1" repack -a -d -q
}
fork() { # fork PARENT DIR N
  git clone -q --bare "$1" "$2"
  local w i; w=$(mktemp -d)
  git clone -q "$2" "$w/w"
  for i in $(seq 1 "$3"); do
    printf 'fork change %s of %s\n' "$i" "$2" >"$w/w/FORK_$i.md"
    git -C "$w/w" add -A
    git -C "$w/w" -c user.name=b -c user.email=b@example.com commit -q -m "fork $i"
  done
  git -C "$w/w" push -q origin HEAD
  rm -rf "$w"
}

if [ ! -f "$ORG/.complete" ]; then
  echo "== generating 180 repositories x $COMMITS commits + 20 forks in $ORG" >&2
  rm -rf "$ORG"; mkdir -p "$ORG/org"
  for i in $(seq 1 180); do gen "$ORG/org/repo$i.git" "$COMMITS" "$i"; done
  for i in $(seq 1 10); do
    fork "$ORG/org/repo$i.git" "$ORG/org/repo$i-fork-a.git" 2
    fork "$ORG/org/repo$i.git" "$ORG/org/repo$i-fork-b.git" 3
  done
  mkdir -p "$ORG/big"
  gen "$ORG/big/big.git" "$BIG" 7
  for i in $(seq 1 10); do fork "$ORG/big/big.git" "$ORG/big/big-fork$i.git" 2; done
  touch "$ORG/.complete"
fi
echo "== organisation: $(ls "$ORG/org" | wc -l) repositories, $(du -sh "$ORG/org" | cut -f1)" >&2

echo "== building release binary" >&2
cargo build --release -q
case "$TARGET" in /*) KS="$TARGET/release/keysweep" ;; *) KS="$(pwd)/$TARGET/release/keysweep" ;; esac

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$PORT" \
  --base-path="$ORG" "$ORG" >/dev/null 2>&1 &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true' EXIT
sleep 1

ls "$ORG/org" | sed "s|^|git://127.0.0.1:$PORT/org/|" >"$BENCH_DIR/repos.txt"
JARG=()
[ -n "${J:-}" ] && JARG=(-j "$J")

measure() { # measure LABEL ARGS... ; prints wall time and peak RSS, keeps the seconds in $SECS
  local out; out=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$out" "$KS" org "${@:2}" -q --summary-only "${JARG[@]}" >/dev/null || true
  read -r SECS RSS < <(tail -n 1 "$out")
  printf '%-44s %8.2f s   peak RSS %6d MB\n' "$1" "$SECS" "$((RSS / 1024))"
  rm -f "$out"
}

DS="$BENCH_DIR/ds-org"; rm -rf "$DS"
measure "org: first run (200 repositories)" --repos-file "$BENCH_DIR/repos.txt" --datastore "$DS"
FIRST=$SECS
measure "org: re-run, nothing new" --repos-file "$BENCH_DIR/repos.txt" --datastore "$DS"
printf '%-44s %8.1f %%\n' "re-run / first run" "$(echo "100 * $SECS / $FIRST" | bc -l)"
echo "   repositories read by the first run's forks (blobs): $(sqlite3 "$DS/keysweep.db" \
  "select group_concat(blobs_scanned, ' ') from repositories where id like '%fork%'" 2>/dev/null || echo 'n/a (no sqlite3)')"

DS="$BENCH_DIR/ds-big"; rm -rf "$DS"
measure "one large history ($BIG commits) alone" "git://127.0.0.1:$PORT/big/big.git" --datastore "$DS"
ALONE=$SECS
DS="$BENCH_DIR/ds-big-forks"; rm -rf "$DS"
FORKS=$(for i in $(seq 1 10); do printf 'git://127.0.0.1:%s/big/big-fork%s.git ' "$PORT" "$i"; done)
# shellcheck disable=SC2086
measure "the same history + 10 forks of it" "git://127.0.0.1:$PORT/big/big.git" $FORKS --datastore "$DS"
printf '%-44s %8.2f x\n' "(history + 10 forks) / history alone" "$(echo "$SECS / $ALONE" | bc -l)"
