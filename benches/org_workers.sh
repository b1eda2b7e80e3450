#!/usr/bin/env bash
# Shared-sweep scaling benchmark (not a test): one organisation of REPOS generated repositories (git
# fast-import: COMMITS commits each, one file changed per commit, a synthetic key in a few), served by a
# loopback `git daemon`, queued in a PostgreSQL server started here (initdb into a temporary folder), swept by
# 1, 2 and 4 `keysweep worker` processes in turn (each with its own clone cache, as separate machines would
# have). Prints, per worker count: wall time, repositories/s, blobs/s, and the database's size
# (pg_database_size, and per table) after the sweep.
#
# Usage: benches/org_workers.sh [REPOS] [COMMITS]     (default 200 repositories, 300 commits each)
# Env: BENCH_DIR (default /tmp/keysweep-org-bench), CARGO_TARGET_DIR (default target), KS (a keysweep
# binary; default: the release build, built here), WORKERS (default "1 2 4"), SLOTS (-j per worker, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
REPOS=${1:-200}
COMMITS=${2:-300}
BENCH_DIR=${BENCH_DIR:-/tmp/keysweep-org-bench}
TARGET=${CARGO_TARGET_DIR:-target}
WORKERS=${WORKERS:-"1 2 4"}
SLOTS=${SLOTS:-1}
if [ -z "${KS:-}" ]; then
  echo "== building release binary" >&2
  cargo build --release -q
  KS="$TARGET/release/keysweep"
fi
KS=$(readlink -f "$KS")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$BENCH_DIR"
SERVED="$BENCH_DIR/served-$REPOS-$COMMITS"

if [ ! -f "$SERVED/.done" ]; then
  echo "== generating $REPOS repositories of $COMMITS commits in $SERVED" >&2
  rm -rf "$SERVED"; mkdir -p "$SERVED"
  for i in $(seq 0 $((REPOS - 1))); do
    d="$SERVED/r$i.git"
    git init -q --bare "$d"
    python3 - "$i" "$COMMITS" <<'PY' | git -C "$d" fast-import --quiet
import sys, random
i, n = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(i)
out = sys.stdout
for c in range(n):
    body = f"repo {i} commit {c}\n" + "".join(
        f"line_{k} = {rnd.getrandbits(64):016x}  # config value\n" for k in range(40))
    if c == n // 2 and i % 5 == 0:
        # A synthetic AWS key id (not a real credential), one in every fifth repository.
        body += "aws_access_key_id = AKIA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)) + "\n"
    data = body.encode()
    out.write(f"commit refs/heads/main\nmark :{c+1}\ncommitter B <b@example.com> {1700000000+c} +0000\ndata 2\nc\n")
    if c:
        out.write(f"from :{c}\n")
    out.write(f"M 644 inline src/file{c % 25}.py\ndata {len(data)}\n")
    out.flush(); sys.stdout.buffer.write(data); sys.stdout.buffer.flush(); out.write("\n")
PY
  done
  touch "$SERVED/.done"
fi

WORK=$(mktemp -d "$BENCH_DIR/run-XXXX")
PGUSER_RUN=()
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$WORK"; PGUSER_RUN=(runuser -u postgres --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${PGUSER_RUN[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U keysweep -E UTF8 --no-sync --no-instructions >/dev/null
"${PGUSER_RUN[@]}" "$PGBIN/pg_ctl" start -w -D "$WORK/data" -l "$WORK/pg.log" \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK" >/dev/null
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$GPORT" \
  --base-path="$SERVED" "$SERVED" >/dev/null 2>&1 &
GD=$!
cleanup() {
  kill "$GD" 2>/dev/null || true
  "${PGUSER_RUN[@]}" "$PGBIN/pg_ctl" stop -m fast -D "$WORK/data" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
sleep 0.5
PSQL=("$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PORT" -U keysweep)
for i in $(seq 0 $((REPOS - 1))); do echo "git://127.0.0.1:$GPORT/r$i.git"; done > "$WORK/repos.txt"

printf '%-8s %10s %10s %10s %12s %s\n' workers wall_s repos/s blobs/s db_size tables >&2
for W in $WORKERS; do
  DB="bench_w$W"
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
  URL="postgres://keysweep@127.0.0.1:$PORT/$DB?sslmode=disable"
  KEYSWEEP_DATASTORE="$URL" "$KS" org --repos-file "$WORK/repos.txt" --enqueue-only -q
  t0=$(date +%s.%N)
  pids=()
  for k in $(seq 1 "$W"); do
    KEYSWEEP_DATASTORE="$URL" "$KS" worker -j "$SLOTS" --lease 60 --poll-interval 1 -q \
      --clone-cache "$WORK/cache-$W-$k" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  "${PSQL[@]}" -d "$DB" -c "VACUUM ANALYZE" >/dev/null
  wall=$(echo "$t1 - $t0" | bc)
  blobs=$("${PSQL[@]}" -d "$DB" -c "SELECT COUNT(*) FROM scanned_blobs")
  done_n=$("${PSQL[@]}" -d "$DB" -c "SELECT COUNT(*) FROM repositories WHERE status = 'done'")
  size=$("${PSQL[@]}" -d "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
  tables=$("${PSQL[@]}" -d "$DB" -c "SELECT string_agg(relname || '=' || pg_size_pretty(pg_total_relation_size(relid)), ' ' ORDER BY relname) FROM pg_stat_user_tables")
  printf '%-8s %10.1f %10.2f %10.0f %12s %s (%s done, %s blobs)\n' "$W" "$wall" \
    "$(echo "$REPOS / $wall" | bc -l)" "$(echo "$blobs / $wall" | bc -l)" "$size" "$tables" "$done_n" "$blobs"
done
