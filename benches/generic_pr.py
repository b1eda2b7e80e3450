#!/usr/bin/env python3
"""Precision, recall and F1 of a keysweep binary on the generic-secrets lists of corpus/generic.rs.

Write the lists first: `KEYSWEEP_GENERIC_DUMP=DIR cargo test --test it generic_secrets_precision_recall`, then
`benches/generic_pr.py KEYSWEEP_BINARY DIR`. A finding counts when its secret and file are labelled (whatever
the rule); anything else it reports is a false positive.
"""
import json, os, subprocess, sys
from collections import defaultdict

binary, root = sys.argv[1], sys.argv[2]
totals = defaultdict(lambda: [0, 0, 0])
for d in sorted(x for x in os.listdir(root) if not x.endswith(".tsv")):
    path = os.path.join(root, d)
    labels = set()
    with open(path + ".tsv") as f:
        for line in f:
            _, rel, secret = line.rstrip("\n").split("\t", 2)
            labels.add((rel, json.loads(secret)))  # a JSON string: a key body spans lines
    out = subprocess.run([binary, "scan", path, "--no-config", "-f", "json"], capture_output=True)
    got = set()
    for finding in json.loads(out.stdout)["findings"]:
        for loc in finding["locations"]:
            got.add((os.path.relpath(loc["path"], path), finding["secret"]))
    tp = len(got & labels)
    t = totals[d.split("-")[0]]
    t[0] += tp
    t[1] += len(got) - tp
    t[2] += len(labels) - tp
for name, (tp, fp, fn) in totals.items():
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(f"{name:8} tp {tp:4} fp {fp:3} fn {fn:3}  P {p:.3f} R {r:.3f} F1 {f1:.3f}")
