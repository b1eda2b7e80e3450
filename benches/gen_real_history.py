#!/usr/bin/env python3
"""Emit a `git fast-import` stream that replays real source trees as a long history (benchmark input).

Real text (the local cargo registry's crate sources, the Python standard library, any folder given) scanned
through git history is a fairer throughput test than generated filler. Every file is added by a commit of its
own; after each addition, with probability 1/3, an earlier file gets a small edit (so the pack holds deltas,
as real histories do). No secret is planted: findings are whatever the real sources contain.

Usage: gen_real_history.py [--tag-every K] [--changes N] MAX_COMMITS DIR... | git -C REPO fast-import --quiet
  --tag-every K  a lightweight tag on every K-th commit (many refs, as large projects have)
  --changes N    up to N file changes per commit (1 by default: one addition or one edit per commit);
                 with N > 1 each commit adds or edits 1..N files, spread over the tree, as real commits do
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
    args = sys.argv[1:]
    tag_every, changes = 0, 1
    while args and args[0].startswith("--"):
        flag, value = args[0], int(args[1])
        args = args[2:]
        if flag == "--tag-every":
            tag_every = value
        elif flag == "--changes":
            changes = value
        else:
            sys.exit(f"unknown flag {flag}")
    max_commits = int(args[0])
    roots = args[1:]
    if changes > 1:
        return many_changes(max_commits, roots, tag_every, changes)
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


def many_changes(max_commits, roots, tag_every, changes):
    """Each commit adds or edits 1..changes files (additions in the walk's order, edits anywhere)."""
    rng = random.Random(11)
    out = sys.stdout.buffer
    files = files_under(roots)
    added = []
    t = 1_600_000_000
    for n in range(1, max_commits + 1):
        t += 600
        ops = []

        def edit():
            """A small edit of a file added earlier (a new version of it)."""
            i = rng.randrange(len(added))
            rel, old = added[i]
            new = old + b"\n# revised %d\n" % n
            added[i] = (rel, new)
            ops.append((rel, new))

        exhausted = False
        for _ in range(rng.randint(1, changes)):
            if added and (exhausted or rng.random() < 0.5):
                edit()
                continue
            nxt = next(files, None)
            if nxt is None:
                exhausted = True
                if added:
                    edit()
                continue
            rel, path = nxt
            with open(path, "rb") as f:
                data = f.read()
            added.append((rel, data))
            ops.append((rel, data))
        if not ops:
            break
        out.write(b"commit refs/heads/main\nmark :%d\n" % n)
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
        m = ("change %d: %s" % (n, ", ".join(r for r, _ in ops))).encode()
        out.write(b"data %d\n%s\n" % (len(m), m))
        for rel, data in ops:
            out.write(b"M 100644 inline %s\n" % rel.encode("utf-8", "surrogateescape"))
            out.write(b"data %d\n" % len(data))
            out.write(data)
            out.write(b"\n")
        if tag_every and n % tag_every == 0:
            out.write(b"reset refs/tags/v%d\nfrom :%d\n\n" % (n, n))


if __name__ == "__main__":
    main()
