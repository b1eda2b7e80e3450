#!/usr/bin/env bash
# Pathological-input benchmark (not a test): the work per blob must grow linearly with the matches in it.
# Two shapes, each at 1x and 10x size, scanned with the release binary and the built-in catalogue:
#   lines: one file of N `password = "…"` lines (every line a distinct generic finding; default N = 32,000)
#   files: the same synthetic GitHub token in M files (one finding, M locations; default M = 4,000)
# Prints the wall time of each run and the 10x/1x ratio (linear work: ~10; quadratic: ~100).
#
# Usage: benches/pathological.sh [N_LINES] [M_FILES]
# Env: BENCH_DIR (default /tmp/keysweep-pathological), CARGO_TARGET_DIR (default target), KS (a keysweep binary
# to time instead of building one, e.g. an older build for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-32000}
M=${2:-4000}
BENCH_DIR=${BENCH_DIR:-/tmp/keysweep-pathological}
TARGET=${CARGO_TARGET_DIR:-target}
if [ -z "${KS:-}" ]; then
  cargo build --release -q --bin keysweep
  KS="$TARGET/release/keysweep"
fi
mkdir -p "$BENCH_DIR"

# lines N DIR: one file with N distinct random passwords.
gen_lines() {
  python3 - "$1" "$2" <<'EOF'
import random, sys, os
n, d = int(sys.argv[1]), sys.argv[2]
os.makedirs(d, exist_ok=True)
r = random.Random(7)
a = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789#%+"
with open(os.path.join(d, "config.py"), "w") as f:
    for _ in range(n):
        f.write('password = "%s"\n' % "".join(r.choice(a) for _ in range(18)))
EOF
}

# files M DIR: M small files holding the same checksum-valid (synthetic) GitHub token.
gen_files() {
  python3 - "$1" "$2" <<'EOF'
import random, sys, os, zlib
m, d = int(sys.argv[1]), sys.argv[2]
b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
r = random.Random(11)
body = "".join(r.choice(b62) for _ in range(30))
n, sfx = zlib.crc32(body.encode()), ""
for _ in range(6):
    sfx = b62[n % 62] + sfx
    n //= 62
token = "ghp_" + body + sfx
for i in range(m):
    sub = os.path.join(d, "d%03d" % (i % 200))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%06d.env" % i), "w") as f:
        f.write("# service %d\nGITHUB_TOKEN=%s\n" % (i, token))
EOF
}

# time_scan DIR: wall seconds of one scan (exit 1 = findings is expected).
time_scan() {
  local t0 t1
  t0=$(date +%s.%N)
  "$KS" scan "$1" --no-config --no-baseline -f json -o "$BENCH_DIR/report.json" -q || [ $? -eq 1 ]
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

shape() { # name, generator, small size
  local name=$1 gen=$2 n=$3 big=$(($3 * 10))
  for k in "$n" "$big"; do
    [ -d "$BENCH_DIR/$name-$k" ] || "$gen" "$k" "$BENCH_DIR/$name-$k"
  done
  local a b
  a=$(time_scan "$BENCH_DIR/$name-$n")
  b=$(time_scan "$BENCH_DIR/$name-$big")
  printf '%-6s %8d: %8.2f s   %8d: %8.2f s   ratio %6.1f\n' "$name" "$n" "$a" "$big" "$b" "$(echo "$b / $a" | bc -l)"
}

echo "binary: $KS, $(nproc) cores"
shape lines gen_lines "$N"
shape files gen_files "$M"
