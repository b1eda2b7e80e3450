#!/usr/bin/env bash
# Benchmark (not a test): wall and CPU time of `keysweep staged` — the pre-commit hook's work — on a typical commit
# (5 files, 200 lines: 3 modified, 2 new) staged in a repository of 50,000 files, warm (page cache and the
# compiled-rules cache populated) and cold (rules cache disabled: KEYSWEEP_NO_CACHE=1), each next to
# `git diff --cached --name-only` timed in the same run, alternately, and the ratios to it (goals: ≤ 1.5× warm,
# ≤ 10× cold). Times are medians; on a shared machine the CPU ratio is the steadier one.
#
#   cargo build --release && benches/staged_latency.sh [KEYSWEEP_BIN]
#   env: FILES=50000 (repository size), WORK=DIR (keeps and reuses the generated repository), RUNS=30
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
# Both commands run alternately, RUNS times each after 3 warm-up rounds, so a change of load hits both alike;
# each run's wall time and CPU time (user + system of the child, from wait4) are kept, and the medians and
# their ratios printed. On a shared machine the CPU ratio is the steadier one.
interleaved() { # interleaved MODE: prints the medians and ratios of keysweep staged against git diff --cached
  python3 - "$1" "$RUNS" "$BIN" "$REPO" <<'PY'
import os, statistics as st, subprocess, sys, time
mode, runs, binary, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cmds = {"git": ["git", "-C", repo, "diff", "--cached", "--name-only"], "keysweep": [binary, "staged", repo]}
wall = {k: [] for k in cmds}
cpu = {k: [] for k in cmds}
for i in range(runs + 3):
    for name, cmd in cmds.items():
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        if i >= 3:
            wall[name].append((time.perf_counter() - t0) * 1e3)
            cpu[name].append((ru.ru_utime + ru.ru_stime) * 1e3)
goal = 1.5 if mode == "warm" else 10
w = {k: st.median(v) for k, v in wall.items()}
c = {k: st.median(v) for k, v in cpu.items()}
print(f"{mode}: keysweep staged {w['keysweep']:6.1f} ms wall, {c['keysweep']:5.1f} ms CPU; "
      f"git diff --cached --name-only {w['git']:5.1f} ms wall, {c['git']:5.1f} ms CPU; "
      f"ratio {w['keysweep'] / w['git']:.2f}x wall, {c['keysweep'] / max(c['git'], 0.01):.2f}x CPU (goal <= {goal}x)")
PY
}
for mode in warm cold; do
  [ "$mode" = cold ] && export KEYSWEEP_NO_CACHE=1
  interleaved "$mode"
done
