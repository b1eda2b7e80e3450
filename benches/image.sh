#!/usr/bin/env bash
# Macro benchmark of `keysweep image` (not a test): generates a multi-layer OCI layout of >= 1 GiB of
# uncompressed text in gzip layers (a few planted synthetic keys), scans it with the release binary, and prints
# MB/s on compressed and uncompressed bytes and peak RSS, next to `gzip -dc` of the same layers (the bound
# the scan should approach). Usage: benches/image.sh [WORKDIR] (default: a temp dir, removed at the end).
# Env: LAYERS (default 8), LAYER_MIB (default 128), THREADS (default 0 = all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${LAYERS:-8}
LAYER_MIB=${LAYER_MIB:-128}
THREADS=${THREADS:-0}
WORK=${1:-$(mktemp -d)}
CLEAN=${1:+no}
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/keysweep"

if [ ! -f "$WORK/layout/index.json" ]; then
  echo "generating $LAYERS x $LAYER_MIB MiB layers in $WORK/layout ..." >&2
  python3 - "$WORK" "$LAYERS" "$LAYER_MIB" <<'PY'
import gzip, hashlib, io, json, os, random, sys, tarfile, zlib
work, nlayers, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
rng = random.Random(7)
def b62(n):
    s = ""
    while n: n, r = divmod(n, 62); s = A[r] + s
    return s.rjust(6, "0")
def ghp():
    body = "".join(rng.choice(A) for _ in range(30))
    return "ghp_" + body + b62(zlib.crc32(body.encode()))
def aws():
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
words = "def class return import from self data model train loss value config path json yaml token user " \
        "request response error logger batch epoch layer weight tensor numpy pandas index table column".split()
def chunk(n):
    lines, size = [], 0
    while size < n:
        l = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        l += " = 0x%08x  # %s\n" % (rng.getrandbits(32), "".join(rng.choice(A) for _ in range(rng.randint(0, 24))))
        lines.append(l); size += len(l)
    return "".join(lines).encode()
base = chunk(8 << 20)
os.makedirs(f"{work}/layout/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{work}/layout/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
layers, diff_ids, planted = [], [], []
for i in range(nlayers):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        total, f = 0, 0
        while total < (mib << 20):
            size = rng.choice([4 << 10, 64 << 10, 512 << 10, 2 << 20])
            off = rng.randrange(0, len(base) - size)
            data = bytearray(base[off:off + size])
            if f % 97 == 0:
                key = ghp() if f % 2 else aws()
                planted.append(key)
                data[100:100] = f"\nsecret = {key}\n".encode()
            ti = tarfile.TarInfo(f"srv/layer{i}/dir{f % 50}/file{f}.py"); ti.size = len(data)
            t.addfile(ti, io.BytesIO(bytes(data)))
            total += len(data); f += 1
    tarb = raw.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tarb).hexdigest())
    gz = gzip.compress(tarb, compresslevel=6, mtime=0)
    d, n = put(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
    print(f"layer {i}: {len(tarb) >> 20} MiB -> {n >> 20} MiB gzip", file=sys.stderr)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                  "layers": layers}).encode()
md, mn = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn}]}, open(f"{work}/layout/index.json", "w"))
open(f"{work}/layout/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{work}/planted.txt", "w").write("\n".join(planted) + "\n")
os.makedirs(f"{work}/rules", exist_ok=True)
open(f"{work}/rules/bench.toml", "w").write(f'''
[[rule]]
id = "bench.github-pat"
name = "GitHub PAT"
provider = "GitHub"
category = "vcs"
confidence = "high"
pattern = \'\'\'\\b(?P<secret>ghp_[0-9A-Za-z]{{36}})\\b\'\'\'
checksum = "github-crc32"
examples = ["t = {ghp()}", "{ghp()}"]
negative_examples = ["ghp_short", "ghp_{'A1b2' * 9}"]

[[rule]]
id = "bench.aws-key-id"
name = "AWS access key id"
provider = "AWS"
category = "cloud"
confidence = "high"
pattern = \'\'\'\\b(?P<secret>AKIA[0-9A-Z]{{16}})\\b\'\'\'
examples = ["aws = {aws()}", "{aws()}"]
negative_examples = ["AKIA123", "AKIAIOSFODNN7EXAMPLE"]
''')
PY
fi

LAYOUT="$WORK/layout"
COMP=$(python3 -c "import json,sys;m=json.load(open(sys.argv[1]));print(sum(l['size'] for l in m['layers']))" \
  "$LAYOUT/blobs/sha256/$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['manifests'][0]['digest'][7:])" "$LAYOUT/index.json")")
LAYER_FILES=$(python3 -c "
import json,sys
ix=json.load(open(sys.argv[1]+'/index.json'))
m=json.load(open(sys.argv[1]+'/blobs/sha256/'+ix['manifests'][0]['digest'][7:]))
print(' '.join(sys.argv[1]+'/blobs/sha256/'+l['digest'][7:] for l in m['layers']))" "$LAYOUT")

# Time a command; print seconds and peak RSS (KiB) of the child.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(r.stderr.decode(errors="replace")[-2000:])
print(f"{dt:.3f} {rss}")
PY
}

cat $LAYER_FILES > /dev/null  # warm the page cache
read -r GZ_S _ < <(measure bash -c "for f in $LAYER_FILES; do gzip -dc \$f; done | wc -c > $WORK/uncompressed.txt")
UNCOMP=$(cat "$WORK/uncompressed.txt")
# Inflate alone, in-process (C zlib through Python, 1 MiB reads, output discarded): the decompression bound.
read -r ZL_S _ < <(measure python3 -c "
import sys, zlib
for f in sys.argv[1:]:
    d = zlib.decompressobj(31)
    with open(f, 'rb') as fh:
        while True:
            b = fh.read(1 << 20)
            if not b: break
            d.decompress(b)
" $LAYER_FILES)
read -r KS_S KS_RSS < <(measure "$BIN" image "$LAYOUT" --no-builtin-rules --rules "$WORK/rules" --no-config \
  -f json -o "$WORK/report.json" -v -j "$THREADS")
read -r KS1_S KS1_RSS < <(measure "$BIN" image "$LAYOUT" --no-builtin-rules --rules "$WORK/rules" --no-config \
  -f json -o "$WORK/report1.json" -j 1)
FOUND=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['findings']))" "$WORK/report.json")
PLANTED=$(grep -c . "$WORK/planted.txt")
python3 - "$COMP" "$UNCOMP" "$GZ_S" "$ZL_S" "$KS_S" "$KS_RSS" "$KS1_S" "$KS1_RSS" "$FOUND" "$PLANTED" "$(nproc)" <<'PY'
import sys
comp, unc, gz, zl, ks, rss, ks1, rss1, found, planted, cpus = sys.argv[1:]
comp, unc, gz, zl, ks, ks1 = int(comp), int(unc), float(gz), float(zl), float(ks), float(ks1)
M = 1e6
print(f"image: {unc/M:.0f} MB uncompressed, {comp/M:.0f} MB gzip, findings {found} of {planted} planted")
print(f"gzip -dc (1 thread):     {gz:7.2f} s  {comp/M/gz:7.1f} MB/s compressed  {unc/M/gz:7.1f} MB/s uncompressed")
print(f"zlib inflate (1 thread): {zl:7.2f} s  {comp/M/zl:7.1f} MB/s compressed  {unc/M/zl:7.1f} MB/s uncompressed")
print(f"keysweep -j 1:           {ks1:7.2f} s  {comp/M/ks1:7.1f} MB/s compressed  {unc/M/ks1:7.1f} MB/s uncompressed  peak RSS {int(rss1)/1024:.0f} MiB")
print(f"keysweep ({cpus} cpus):      {ks:7.2f} s  {comp/M/ks:7.1f} MB/s compressed  {unc/M/ks:7.1f} MB/s uncompressed  peak RSS {int(rss)/1024:.0f} MiB")
PY
[ "$CLEAN" = "no" ] || rm -rf "$WORK"
