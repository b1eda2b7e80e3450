#!/usr/bin/env bash
# Benchmark (not a test): wall time of `keysweep staged` — the pre-commit hook's work — on a typical commit
# (5 files, 200 lines: 3 modified, 2 new) staged in a repository of 50,000 files, warm (page cache and the
# compiled-rules cache populated) and cold (rules cache disabled: KEYSWEEP_NO_CACHE=1), each next to
# `git diff --cached --name-only` timed in the same run, and the ratios to it (goals: ≤ 1.5× warm, ≤ 10× cold).
# Times are medians (the machine may be shared; means are printed too).
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
GIT=(git -C "$REPO" diff --cached --name-only)
# Prints "median_ms mean_ms" of a command run RUNS times (after warm-up runs).
time_ms() {
  if command -v hyperfine >/dev/null; then
    local json
    json=$(mktemp)
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$json" "$(printf '%q ' "$@")" >/dev/null 2>&1
    python3 -c "import json,sys;r=json.load(open(sys.argv[1]))['results'][0];print(f\"{r['median']*1e3:.1f} {r['mean']*1e3:.1f}\")" "$json"
    rm -f "$json"
  else
    local t=() s e
    for _ in 1 2 3; do "$@" >/dev/null; done
    for _ in $(seq 1 "$RUNS"); do
      s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
      t+=($(((e - s) / 1000)))
    done
    printf '%s\n' "${t[@]}" | python3 -c "import sys,statistics as st;v=[int(x)/1e3 for x in sys.stdin];print(f'{st.median(v):.1f} {st.mean(v):.1f}')"
  fi
}
for mode in warm cold; do
  [ "$mode" = cold ] && export KEYSWEEP_NO_CACHE=1
  read -r git_med git_mean < <(time_ms "${GIT[@]}")
  read -r ks_med ks_mean < <(time_ms "$BIN" staged "$REPO")
  python3 - "$mode" "$ks_med" "$ks_mean" "$git_med" "$git_mean" <<'PY'
import sys
mode, ks, ksm, g, gm = sys.argv[1], *map(float, sys.argv[2:])
goal = 1.5 if mode == "warm" else 10
print(f"{mode}: keysweep staged {ks:6.1f} ms (mean {ksm:.1f}), git diff --cached --name-only {g:5.1f} ms "
      f"(mean {gm:.1f}): ratio {ks / g:.2f}x (goal <= {goal}x)")
PY
done
