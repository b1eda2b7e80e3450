#!/usr/bin/env python3
"""Emit a `git fast-import` stream that replays real source trees as a long history (benchmark input).

Real text (the local cargo registry's crate sources, the Python standard library, any folder given) scanned
through git history is a fairer throughput test than generated filler. Every file is added by a commit of its
own; after each addition, with probability 1/3, an earlier file gets a small edit (so the pack holds deltas,
as real histories do). No secret is planted: findings are whatever the real sources contain.

Usage: gen_real_history.py MAX_COMMITS DIR... | git -C REPO fast-import --quiet
"""
import os
import random
import sys


def files_under(roots):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in (".git", "__pycache__"))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                if os.path.getsize(path) > 4 << 20:
                    continue
                rel = os.path.relpath(path, os.path.dirname(os.path.abspath(root)))
                yield rel, path


def main():
    max_commits = int(sys.argv[1])
    roots = sys.argv[2:]
    rng = random.Random(7)
    out = sys.stdout.buffer
    added = []
    commits = 0
    t = 1_600_000_000

    def commit(msg, path, data):
        nonlocal commits, t
        commits += 1
        t += 600
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
        m = msg.encode()
        out.write(b"data %d\n%s\n" % (len(m), m))
        out.write(b"M 100644 inline %s\n" % path.encode("utf-8", "surrogateescape"))
        out.write(b"data %d\n" % len(data))
        out.write(data)
        out.write(b"\n")

    for rel, path in files_under(roots):
        if commits >= max_commits:
            break
        with open(path, "rb") as f:
            data = f.read()
        commit(f"add {rel}", rel, data)
        added.append((rel, data))
        if added and rng.random() < 1 / 3 and commits < max_commits:
            i = rng.randrange(len(added))
            rel2, old = added[i]
            new = old + b"\n# revised %d\n" % commits
            added[i] = (rel2, new)
            commit(f"edit {rel2}", rel2, new)


if __name__ == "__main__":
    main()
