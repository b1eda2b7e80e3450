#!/usr/bin/env bash
# Macro benchmark of `keysweep image` (not a test): generates a multi-layer OCI layout of >= 1 GiB of
# uncompressed text in gzip or zstd layers (a few planted synthetic keys), scans it with the release binary, and
# prints MB/s on compressed and uncompressed bytes and peak RSS, next to `gzip -dc` / `zstd -dc` of the same
# layers (the bound the scan should approach). Every row also gives MB/s per core: uncompressed MB over the CPU
# seconds (user + system) the command used, so a parallel run compares with a one-thread decompressor. The
# "layer reading" row scans with one rule that never matches: decompression, digest, tar walk and one engine
# pass, without confirm work. Usage: benches/image.sh [WORKDIR] (default: a temp dir, removed at the end).
# Env: LAYERS (default 8), LAYER_MIB (default 128), THREADS (default 0 = all cores), COMPRESSION (gzip or zstd;
# default gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${LAYERS:-8}
LAYER_MIB=${LAYER_MIB:-128}
THREADS=${THREADS:-0}
COMPRESSION=${COMPRESSION:-gzip}
case "$COMPRESSION" in gzip | zstd) ;; *) echo "COMPRESSION must be gzip or zstd" >&2; exit 2 ;; esac
WORK=${1:-$(mktemp -d)}
CLEAN=${1:+no}
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/keysweep"

LAYOUT="$WORK/layout-$COMPRESSION"
if [ ! -f "$LAYOUT/index.json" ]; then
  echo "generating $LAYERS x $LAYER_MIB MiB $COMPRESSION layers in $LAYOUT ..." >&2
  python3 - "$WORK" "$LAYERS" "$LAYER_MIB" "$LAYOUT" "$COMPRESSION" <<'PY'
import gzip, hashlib, io, json, os, random, subprocess, sys, tarfile, zlib
work, nlayers, mib, layout, compression = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
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
os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
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
    if compression == "zstd":
        gz = subprocess.run(["zstd", "-q", "-3", "-c"], input=tarb, stdout=subprocess.PIPE, check=True).stdout
    else:
        gz = gzip.compress(tarb, compresslevel=6, mtime=0)
    d, n = put(gz)
    layers.append({"mediaType": f"application/vnd.oci.image.layer.v1.tar+{compression}", "digest": d, "size": n})
    print(f"layer {i}: {len(tarb) >> 20} MiB -> {n >> 20} MiB {compression}", file=sys.stderr)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                  "layers": layers}).encode()
md, mn = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn}]}, open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{work}/planted.txt", "w").write("\n".join(planted) + "\n")
os.makedirs(f"{work}/rules", exist_ok=True)
os.makedirs(f"{work}/rules-none", exist_ok=True)
open(f"{work}/rules-none/none.toml", "w").write('''
[[rule]]
id = "bench.never"
name = "Never"
provider = "None"
category = "cloud"
confidence = "high"
pattern = \'\'\'\\b(?P<secret>QQZX9never[0-9]{8})\\b\'\'\'
examples = ["QQZX9never12345678"]
negative_examples = ["QQZX9never1", "QQZX9neve"]
''')
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

COMP=$(python3 -c "import json,sys;m=json.load(open(sys.argv[1]));print(sum(l['size'] for l in m['layers']))" \
  "$LAYOUT/blobs/sha256/$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['manifests'][0]['digest'][7:])" "$LAYOUT/index.json")")
LAYER_FILES=$(python3 -c "
import json,sys
ix=json.load(open(sys.argv[1]+'/index.json'))
m=json.load(open(sys.argv[1]+'/blobs/sha256/'+ix['manifests'][0]['digest'][7:]))
print(' '.join(sys.argv[1]+'/blobs/sha256/'+l['digest'][7:] for l in m['layers']))" "$LAYOUT")

# Time a command; print wall seconds, peak RSS (KiB) and CPU seconds (user + system) of the child.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(r.stderr.decode(errors="replace")[-2000:])
print(f"{dt:.3f} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime:.3f}")
PY
}

cat $LAYER_FILES > /dev/null  # warm the page cache
DEC="$COMPRESSION -dc"
read -r GZ_S _ GZ_CPU < <(measure bash -c "for f in $LAYER_FILES; do $DEC \$f; done | wc -c > $WORK/uncompressed.txt")
UNCOMP=$(cat "$WORK/uncompressed.txt")
# The decompressor alone, output discarded (no pipe to wc): the decompression bound.
read -r DC_S _ DC_CPU < <(measure bash -c "for f in $LAYER_FILES; do $DEC \$f > /dev/null; done")
ZL_S=0 ZL_CPU=0
if [ "$COMPRESSION" = gzip ]; then
  # Inflate alone, in-process (C zlib through Python, 1 MiB reads, output discarded).
  read -r ZL_S _ ZL_CPU < <(measure python3 -c "
import sys, zlib
for f in sys.argv[1:]:
    d = zlib.decompressobj(31)
    with open(f, 'rb') as fh:
        while True:
            b = fh.read(1 << 20)
            if not b: break
            d.decompress(b)
" $LAYER_FILES)
fi
read -r NO_S NO_RSS NO_CPU < <(measure "$BIN" image "$LAYOUT" --no-builtin-rules --rules "$WORK/rules-none" --no-config \
  -f json -o "$WORK/report-none.json" -j "$THREADS")
read -r KS_S KS_RSS KS_CPU < <(measure "$BIN" image "$LAYOUT" --no-builtin-rules --rules "$WORK/rules" --no-config \
  -f json -o "$WORK/report.json" -v -j "$THREADS")
read -r KS1_S KS1_RSS KS1_CPU < <(measure "$BIN" image "$LAYOUT" --no-builtin-rules --rules "$WORK/rules" --no-config \
  -f json -o "$WORK/report1.json" -j 1)
FOUND=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['findings']))" "$WORK/report.json")
PLANTED=$(grep -c . "$WORK/planted.txt")
python3 - "$COMP" "$UNCOMP" "$FOUND" "$PLANTED" "$(nproc)" "$COMPRESSION" \
  "$GZ_S $GZ_CPU 0" "$DC_S $DC_CPU 0" "$ZL_S $ZL_CPU 0" "$NO_S $NO_CPU $NO_RSS" "$KS1_S $KS1_CPU $KS1_RSS" \
  "$KS_S $KS_CPU $KS_RSS" <<'PY'
import sys
comp, unc, found, planted, cpus, kind = sys.argv[1:7]
comp, unc = int(comp), int(unc)
rows = [r.split() for r in sys.argv[7:]]
names = [f"{kind} -dc | wc -c (1 thread)", f"{kind} -dc > /dev/null", "zlib inflate (1 thread)",
         f"keysweep layer reading ({cpus} cpus)", "keysweep -j 1", f"keysweep ({cpus} cpus)"]
M = 1e6
print(f"image: {unc/M:.0f} MB uncompressed, {comp/M:.0f} MB {kind}, findings {found} of {planted} planted")
for name, (wall, cpu, rss) in zip(names, rows):
    wall, cpu, rss = float(wall), float(cpu), int(rss)
    if wall == 0:
        continue
    line = (f"{name:32} {wall:7.2f} s  {comp/M/wall:7.1f} MB/s compressed  {unc/M/wall:7.1f} MB/s uncompressed"
            f"  CPU {cpu:6.2f} s: {unc/M/max(cpu, 1e-9):6.1f} MB/s per core")
    if rss:
        line += f"  peak RSS {rss/1024:.0f} MiB"
    print(line)
PY
[ "$CLEAN" = "no" ] || rm -rf "$WORK"
