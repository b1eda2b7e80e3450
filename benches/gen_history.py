#!/usr/bin/env python3
"""Write a `git fast-import` stream for a synthetic repository: N commits of realistic mixed source files
(Python, Rust, JS, YAML, Markdown, notebooks-free), each commit editing 1-3 files or adding one, a few
branches merged back, and a few planted synthetic keys added and later removed. Deterministic (seeded:
`gen_history.py N [SEED]`)."""
import random
import sys
import zlib

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
# Optional second argument: the seed (distinct repositories for the organisation bench).
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
out = sys.stdout.buffer

B62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(n, width=6):
    s = bytearray()
    for _ in range(width):
        s.append(B62[n % 62])
        n //= 62
    return bytes(reversed(s))


def ghp():
    body = bytes(rng.choice(B62) for _ in range(30))
    return b"ghp_" + body + b62(zlib.crc32(body))


def aws():
    return b"AKIA" + bytes(rng.choice(B62[:36]) for _ in range(16))


WORDS = ("user request response config client server token value index buffer stream parse render "
         "build update delete create handle error result cache store query field model layer batch").split()


def ident():
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def py_line():
    k = rng.randint(0, 5)
    if k == 0:
        return f"def {ident()}({ident()}, {ident()}=None):"
    if k == 1:
        return f"    {ident()} = {ident()}.{ident()}({rng.randint(0, 999)})"
    if k == 2:
        return f"    if {ident()} is not None and {ident()} > {rng.randint(0, 50)}:"
    if k == 3:
        return f"        return {ident()}[{rng.randint(0, 9)}]"
    if k == 4:
        return f"# {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))}"
    return f"    log.debug(\"{ident()} %s\", {ident()})"


def rs_line():
    k = rng.randint(0, 4)
    if k == 0:
        return f"pub fn {ident()}(&self, {ident()}: u32) -> Result<{ident().title()}> {{"
    if k == 1:
        return f"    let {ident()} = self.{ident()}.get({rng.randint(0, 99)})?;"
    if k == 2:
        return "}"
    if k == 3:
        return f"/// {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))}"
    return f"    {ident()}.push({ident()}.clone());"


def js_line():
    k = rng.randint(0, 3)
    if k == 0:
        return f"export function {ident()}({ident()}) {{"
    if k == 1:
        return f"  const {ident()} = await fetch(`/api/{rng.choice(WORDS)}/${{id}}`);"
    if k == 2:
        return "}"
    return f"  // {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))}"


def yml_line():
    return f"{'  ' * rng.randint(0, 3)}{rng.choice(WORDS)}: {rng.choice(WORDS)}-{rng.randint(0, 99)}"


KINDS = [(".py", py_line), (".rs", rs_line), (".js", js_line), (".yaml", yml_line), (".md", yml_line)]


def new_file():
    ext, gen = rng.choice(KINDS)
    path = f"{rng.choice(['src', 'lib', 'app', 'tools', 'deploy'])}/{rng.choice(WORDS)}/{ident()}{ext}"
    lines = [gen() for _ in range(rng.randint(30, 200))]
    return path, gen, lines


files = {}
for _ in range(300):
    p, g, l = new_file()
    files[p] = (g, l)

mark = 0
planted = []


def blob(data):
    global mark
    mark += 1
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
    out.write(data)
    out.write(b"\n")
    return mark


def commit(branch, msg, changes, parents, t):
    global mark
    marks = [(p, blob(d)) for p, d in changes if d is not None]
    mark += 1
    m = mark
    out.write(b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), m))
    out.write(b"author Dev <dev@example.test> %d +0000\ncommitter Dev <dev@example.test> %d +0000\n" % (t, t))
    mb = msg.encode()
    out.write(b"data %d\n%s\n" % (len(mb), mb))
    for i, p in enumerate(parents):
        out.write(b"%s :%d\n" % (b"from" if i == 0 else b"merge", p))
    for p, mk in marks:
        out.write(b"M 100644 :%d %s\n" % (mk, p.encode()))
    for p, d in changes:
        if d is None:
            out.write(b"D %s\n" % p.encode())
    out.write(b"\n")
    return m


t0 = 1600000000
head = None
changes = [(p, ("\n".join(l) + "\n").encode()) for p, (g, l) in files.items()]
head = commit("main", "initial import", changes, [], t0)
side = None
side_start = 0
plant_at = set(rng.sample(range(100, N - 100), 8))
for i in range(1, N):
    t = t0 + i * 600
    changes = []
    if i in plant_at:
        key = ghp() if len(planted) % 2 == 0 else aws()
        planted.append(key)
        path = f"deploy/secrets_{i}.env"
        changes.append((path, b"API_KEY=" + key + b"\n"))
        files[path] = (yml_line, [("API_KEY=" + key.decode())])
    elif rng.random() < 0.05:
        p, g, l = new_file()
        files[p] = (g, l)
        changes.append((p, ("\n".join(l) + "\n").encode()))
    else:
        for p in rng.sample(sorted(files), rng.randint(1, 3)):
            g, l = files[p]
            if p.startswith("deploy/secrets_"):
                del files[p]
                changes.append((p, None))
                continue
            for _ in range(rng.randint(1, 6)):
                j = rng.randrange(len(l) + 1)
                if rng.random() < 0.5 and l:
                    l[min(j, len(l) - 1)] = g()
                else:
                    l.insert(j, g())
            changes.append((p, ("\n".join(l) + "\n").encode()))
    # Every ~500 commits a topic branch of ~20 commits is merged back.
    if side is None and i % 500 == 250:
        side, side_start = head, i
    if side is not None and i - side_start < 20:
        side = commit("topic", f"topic work {i}", changes, [side], t)
        continue
    if side is not None:
        head = commit("main", f"Merge topic at {i}", changes, [head, side], t)
        side = None
        continue
    head = commit("main", f"{rng.choice(WORDS)}: {' '.join(rng.choice(WORDS) for _ in range(5))} ({i})",
                  changes, [head], t)
out.write(b"done\n")
sys.stderr.write(f"planted {len(planted)} keys\n")
