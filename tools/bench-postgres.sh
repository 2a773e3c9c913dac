#!/usr/bin/env bash
# The PostgreSQL benchmarks of docs/benchmarks.md, in one run, on loopback: signed
# ListAccessKeys on SQLite (reference) and on PostgreSQL with one node; signed durable
# CreateAccessKey on PostgreSQL with one node and with two nodes sharing the database.
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth); uses a scratch database that
# it drops at the end.
#
#
#   tools/bench-postgres.sh [SECONDS] [CONCURRENCY]
#
# KEYPLANE_BINARY=path runs that binary instead of building this checkout (to compare builds
# back to back on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
concurrency="${2:-64}"
if [ -n "${KEYPLANE_BINARY:-}" ]; then
  binary="$KEYPLANE_BINARY"
else
  cargo build --release --locked -p keyplane-server >/dev/null 2>&1 || cargo build --release --locked -p keyplane-server
  binary="$PWD/target/release/keyplane"
fi
database="keyplane_bench_$$"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $database"
url="postgres://postgres@127.0.0.1:5432/$database"
work="$(mktemp -d)"
servers=()
cleanup() {
  for pid in "${servers[@]+"${servers[@]}"}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $database" || true
}
trap cleanup EXIT

cores="$(nproc)"
pin_generator=()
pin_server=()
if command -v taskset >/dev/null 2>&1 && [ "$cores" -gt 1 ]; then
  pin_generator=(taskset -c "$(( cores - 1 ))")
  pin_server=(taskset -c "0-$(( cores - 2 ))")
fi

start() { # name, extra arguments...
  local name="$1"; shift
  "${pin_server[@]}" "$binary" serve --listen 127.0.0.1:0 --disable-rate-limits --worker-threads 1 "$@" > "$work/$name.out" 2>&1 &
  echo $! > "$work/$name.pid"
  local address=""
  for _ in $(seq 1 100); do
    address="$(sed -n 's#^listening on http://##p' "$work/$name.out")"
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { cat "$work/$name.out" >&2; exit 1; }
  echo "$address"
}
run() { "${pin_generator[@]}" "$binary" bench --duration "$seconds" --warmup 2 --concurrency "$concurrency" "$@"; }

echo "machine: $cores cores; nodes ${pin_server[*]} --worker-threads 1; generator ${pin_generator[*]}; ${seconds}s per run, concurrency $concurrency"
"$binary" init --data-dir "$work/sqlite" --json > "$work/sqlite.json"
sqlite="$(start sqlite --data-dir "$work/sqlite")"; servers+=("$(cat "$work/sqlite.pid")")
echo "-- SQLite, one node"
run --target "$sqlite" --scenario list-access-keys --credentials "$work/sqlite.json"
kill "${servers[0]}"; wait "${servers[0]}" 2>/dev/null || true; servers=()

"$binary" init --data-dir "$work/a" --database-url "$url" --json > "$work/postgres.json"
key="$work/a/master.key"
first="$(start first --data-dir "$work/a" --database-url "$url")"; servers+=("$(cat "$work/first.pid")")
echo "-- PostgreSQL, one node"
run --target "$first" --scenario list-access-keys --credentials "$work/postgres.json"
run --target "$first" --scenario create-access-key --credentials "$work/postgres.json" --data-dir "$work/a" --database-url "$url"
second="$(start second --data-dir "$work/b" --database-url "$url" --master-key-file "$key")"; servers+=("$(cat "$work/second.pid")")
echo "-- PostgreSQL, two nodes"
run --target "$first" --target "$second" --scenario create-access-key --credentials "$work/postgres.json" --data-dir "$work/a" --database-url "$url"
run --target "$first" --target "$second" --scenario list-access-keys --credentials "$work/postgres.json"
