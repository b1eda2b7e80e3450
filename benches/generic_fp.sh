#!/usr/bin/env bash
# False positives of the generic rules on real code: scan trees of code that hold no secrets (the Python standard
# library, Debian's Python packages, the Rust crates in the cargo registry, the bench virtualenv) with a BEFORE
# and an AFTER keysweep binary, print each tree's finding counts, every finding AFTER reports that BEFORE does not
# (NEW) and every one BEFORE reports that AFTER does not (LOST): rule, path:line, the secret redacted, the line
# with the secret redacted, so that each can be read.
#   benches/generic_fp.sh BEFORE_BINARY AFTER_BINARY [TREE...]
# Without trees: the default list below (missing trees are skipped). Findings are compared by rule, path and
# secret; the secret itself is never printed.
set -euo pipefail
before=$1 after=$2
shift 2
if [ $# -eq 0 ]; then
  set -- /usr/lib/python3.11 /usr/lib/python3/dist-packages "$HOME/.cargo/registry/src" \
    "$(dirname "$0")/.venv/lib/python3.11/site-packages" "$(dirname "$0")/../corpus"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
i=0
for tree in "$@"; do
  [ -d "$tree" ] || { echo "skip (missing): $tree" >&2; continue; }
  i=$((i + 1))
  for b in before after; do
    bin=$before; [ $b = after ] && bin=$after
    "$bin" scan "$tree" --no-config -f json -o "$out/$i.$b.json" 2>/dev/null || true
  done
  printf '%s\n' "$tree" > "$out/$i.tree"
done
python3 - "$out" <<'EOF'
import json, os, sys

out = sys.argv[1]

def load(p):
    try:
        with open(p) as f:
            return json.load(f)["findings"]
    except (OSError, ValueError, KeyError):
        return []

def mask(s):
    return s[:3] + "…" + f"({len(s)})" if len(s) > 6 else "…" + f"({len(s)})"

def line_of(path, line, secret):
    try:
        with open(path, "rb") as f:
            for n, text in enumerate(f, 1):
                if n == line:
                    t = text.decode("utf-8", "replace").strip()
                    return t.replace(secret, mask(secret))[:200] if secret else t[:200]
    except OSError:
        pass
    return ""

total_b = total_a = total_new = total_lost = 0
for i in sorted({int(n.split(".")[0]) for n in os.listdir(out)}):
    tree = open(f"{out}/{i}.tree").read().strip()
    b, a = load(f"{out}/{i}.before.json"), load(f"{out}/{i}.after.json")
    old = {(f["rule_id"], l["path"], f["secret"]) for f in b for l in f["locations"]}
    new = []
    for f in a:
        for l in f["locations"]:
            if (f["rule_id"], l["path"], f["secret"]) not in old:
                new.append((f, l))
    now = {(f["rule_id"], l["path"], f["secret"]) for f in a for l in f["locations"]}
    lost = [(f, l) for f in b for l in f["locations"] if (f["rule_id"], l["path"], f["secret"]) not in now]
    total_b += len(b); total_a += len(a); total_new += len(new); total_lost += len(lost)
    print(f"== {tree}: findings {len(b)} -> {len(a)}, new locations {len(new)}, lost locations {len(lost)}")
    for tag, items in (("NEW", new), ("LOST", lost)):
        for f, l in items:
            s = f["secret"]
            print(f"  {tag:4} {f['rule_id']:32} score {f.get('score')} {l['path']}:{l['line']}  {mask(s)}")
            print(f"      {line_of(l['path'], l['line'], s)}")
print(f"TOTAL findings {total_b} -> {total_a}, new locations {total_new}, lost locations {total_lost}")
EOF
