#!/usr/bin/env bash
# The HTML report at scale: a synthetic tree with N distinct generated keys (checksum-valid GitHub tokens and
# AWS key ids, a few per file), scanned with `--format html`; then headless Chromium loads the report and we
# note the file size, the wall time of `--dump-dom`, and the page's own `performance.now()` stamp taken when
# its script has finished (data-ready-ms on <html>).
# Usage: benches/html_report.sh [N=5000] [KEYSWEEP=target/release/keysweep]
set -euo pipefail
N=${1:-5000}
KS=${2:-${CARGO_TARGET_DIR:-target}/release/keysweep}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$N" "$W/tree" <<'PY'
import os, random, sys, zlib
n, root = int(sys.argv[1]), sys.argv[2]
rng = random.Random(19)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def b62(v, w=6):
    s = ""
    for _ in range(w):
        s = B62[v % 62] + s
        v //= 62
    return s
def ghp():
    body = "".join(rng.choice(B62) for _ in range(30))
    return "ghp_" + body + b62(zlib.crc32(body.encode()))
def aws():
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
per_file = 4
for i in range(0, n, per_file):
    d = os.path.join(root, f"svc{i // 400:02d}", "config")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"settings_{i:05d}.py"), "w") as f:
        for j in range(min(per_file, n - i)):
            if (i + j) % 5 == 4:
                f.write(f'AWS_ACCESS_KEY_ID = "{aws()}"\n')
            else:
                f.write(f'GITHUB_TOKEN_{j} = "{ghp()}"\n')
PY
"$KS" scan "$W/tree" --format json -o "$W/report.json" || true
"$KS" scan "$W/tree" --format html -o "$W/report.html" || true
findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$W/report.json")
bytes=$(stat -c %s "$W/report.html")
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
for run in 1 2 3; do
  start=$(date +%s.%N)
  "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$W/profile" --dump-dom "file://$W/report.html" > "$W/dom.html"
  end=$(date +%s.%N)
  ready=$(grep -o 'data-ready-ms="[0-9]*"' "$W/dom.html" | head -1 | grep -o '[0-9]*')
  rows=$(grep -o '<tbody class="f"' "$W/dom.html" | wc -l)
  printf 'run %d: %d findings, %d rows, %d bytes; page script done at %s ms; --dump-dom wall %.2f s\n' \
    "$run" "$findings" "$rows" "$bytes" "$ready" "$(echo "$end - $start" | bc)"
done
