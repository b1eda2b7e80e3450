#!/usr/bin/env bash
# Benchmark (not a test): wall time of `keysweep staged` — the pre-commit hook's work — on a typical commit
# (5 files, 200 lines: 3 modified, 2 new) staged in a repository of 50,000 files, warm (page cache and the
# compiled-rules cache populated). Goal: ≤ 50 ms. Also reports the cold start (rules cache disabled).
#
#   cargo build --release && benches/staged_latency.sh [KEYSWEEP_BIN]
#   env: FILES=50000 (repository size), WORK=DIR (keeps and reuses the generated repository), RUNS=30
# Uses hyperfine when installed (Debian: apt-get install hyperfine), else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/keysweep}")
FILES=${FILES:-50000}
RUNS=${RUNS:-30}
WORK=${WORK:-$(mktemp -d)}
REPO="$WORK/repo-$FILES"
export KEYSWEEP_CACHE_DIR="$WORK/cache"
[ -x "$BIN" ] || { echo "no keysweep binary at $BIN (cargo build --release)" >&2; exit 2; }

if [ ! -d "$REPO/.git" ]; then
  echo "generating a $FILES-file repository in $REPO ..." >&2
  mkdir -p "$REPO"
  python3 - "$REPO" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"pkg{i // 200:04d}", f"mod{(i // 20) % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:06d}.py"), "w") as f:
        f.write(f"# module {i}\nimport os\n\n\ndef handler_{i}(event, context):\n"
                f"    value = event.get('value_{i}', {i})\n    return {{'ok': True, 'value': value}}\n")
PY
  git -C "$REPO" init -q
  git -C "$REPO" add -A
  git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qm "base" --no-verify
fi
# The typical commit: 3 modified files and 2 new ones, 40 lines each.
git -C "$REPO" reset -q --hard
git -C "$REPO" clean -qfd
lines() { for j in $(seq 1 40); do echo "    result_$j = compute(config['setting_$j'], retries=$j)  # step $j"; done; }
for f in pkg0003/mod1/file000620.py pkg0100/mod5/file020100.py pkg0200/mod9/file040180.py; do
  [ -f "$REPO/$f" ] && lines >> "$REPO/$f"
done
mkdir -p "$REPO/newpkg"
lines > "$REPO/newpkg/service.py"
lines > "$REPO/newpkg/settings.py"
git -C "$REPO" add -A
echo "staged: $(git -C "$REPO" diff --cached --numstat | awk '{a+=$1; n++} END {print n " files, " a " lines"}')" >&2
echo "repository: $(git -C "$REPO" ls-files | wc -l) files" >&2

"$BIN" staged "$REPO" >/dev/null # warm: page cache, rules cache
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs "$RUNS" "$BIN staged $REPO"
  KEYSWEEP_NO_CACHE=1 hyperfine -N --warmup 1 --runs 10 --command-name "cold (no rules cache)" "$BIN staged $REPO"
else
  for mode in warm cold; do
    [ "$mode" = cold ] && export KEYSWEEP_NO_CACHE=1
    total=0
    for _ in $(seq 1 "$RUNS"); do
      s=$(date +%s%N); "$BIN" staged "$REPO" >/dev/null; e=$(date +%s%N)
      total=$((total + (e - s) / 1000))
    done
    echo "$mode: mean $((total / RUNS / 1000)) ms over $RUNS runs"
  done
fi
