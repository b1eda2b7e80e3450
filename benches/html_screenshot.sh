#!/usr/bin/env bash
# Regenerate docs/html-report.png (not a test): the generated demo corpus (examples/gen_corpus.rs) committed
# in twelve monthly batches, scanned with `keysweep git --format html`, screenshotted by headless Chromium.
# Usage: benches/html_screenshot.sh [OUT.png]   (default docs/html-report.png)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/html-report.png}
TARGET=${CARGO_TARGET_DIR:-target}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cargo build -q --release
cargo run -q --release --example gen_corpus -- "$W/corpus" >/dev/null 2>&1
rm -f "$W/corpus/labels.jsonl"
git init -q -b main "$W/repo"
(cd "$W/corpus" && find . -type f | sort) >"$W/files"
TOTAL=$(wc -l <"$W/files")
month=1
split -n "l/12" "$W/files" "$W/batch."
for b in "$W"/batch.*; do
  while read -r f; do
    mkdir -p "$W/repo/$(dirname "$f")"
    cp "$W/corpus/$f" "$W/repo/$f"
  done <"$b"
  d=$(printf '2026-%02d-15T10:00:00Z' "$month")
  git -C "$W/repo" add -A
  GIT_AUTHOR_DATE=$d GIT_COMMITTER_DATE=$d git -C "$W/repo" -c user.name="Demo Dev" \
    -c user.email=dev@example.com commit -q -m "demo batch $month"
  month=$((month + 1))
done
"$TARGET/release/keysweep" git "$W/repo" --no-config --format html -o "$W/report.html" -q || true
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$W/profile" \
  --window-size=1400,1000 --screenshot="$(pwd)/$OUT" "file://$W/report.html" >/dev/null 2>&1
echo "$TOTAL files in 12 commits; screenshot: $OUT ($(stat -c %s "$OUT") bytes)"
