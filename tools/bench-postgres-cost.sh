#!/usr/bin/env bash
# CPU time per request on PostgreSQL, which a shared machine disturbs far less than throughput:
# one node on a scratch database (pinned as in tools/bench-postgres.sh: node on core 0 with one
# worker thread, generator on the last core), one scenario, and the CPU time (from /proc) that
# the node, every PostgreSQL process and the generator used during the timed part, in
# milliseconds per 1,000 counted requests (for create-access-key a request is a create and a
# delete). "postgres" counts every process of the server, so other databases' work on a shared
# server inflates it. Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth).
#
#   tools/bench-postgres-cost.sh SCENARIO [SECONDS] [CONFIG_FILE]
#
# SCENARIO is list-access-keys or create-access-key; CONFIG_FILE is passed to the node
# (e.g. database_write_batches_in_flight = 2). KEYPLANE_BINARY=path runs that binary instead of
# building this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?scenario: list-access-keys or create-access-key}"
seconds="${2:-10}"
config="${3:-}"
if [ -n "${KEYPLANE_BINARY:-}" ]; then
  binary="$KEYPLANE_BINARY"
else
  cargo build --release --locked -p keyplane-server >/dev/null 2>&1 || cargo build --release --locked -p keyplane-server
  binary="$PWD/target/release/keyplane"
fi
database="keyplane_cost_$$"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $database"
url="postgres://postgres@127.0.0.1:5432/$database"
work="$(mktemp -d)"
node=""
cleanup() {
  if [ -n "$node" ]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
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
config_arguments=()
[ -n "$config" ] && config_arguments=(--config "$config")

"$binary" init --data-dir "$work/a" --database-url "$url" --json > "$work/postgres.json"
: > "$work/node.out"
"${pin_server[@]}" "$binary" serve "${config_arguments[@]}" --listen 127.0.0.1:0 --disable-rate-limits \
  --worker-threads 1 --data-dir "$work/a" --database-url "$url" > "$work/node.out" 2>&1 &
node=$!
address=""
for _ in $(seq 1 100); do
  address="$(sed -n 's#^listening on http://##p' "$work/node.out")"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$work/node.out" >&2; exit 1; }

extra=()
[ "$scenario" = create-access-key ] && extra=(--data-dir "$work/a" --database-url "$url")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
  local total=0 pid
  for pid in $(pgrep -x postgres); do total=$(( total + $(ticks "$pid") )); done
  echo "$total"
}
"${pin_generator[@]}" "$binary" bench --target "$address" --duration "$seconds" --warmup 2 \
  --concurrency 64 --scenario "$scenario" --credentials "$work/postgres.json" "${extra[@]}" \
  > "$work/bench.out" 2>&1 &
generator=$!
# The create scenario first creates its users; both warm up for 2 s. Measure inside the timed part.
sleep 3
node_0=$(ticks "$node"); postgres_0=$(postgres_ticks); generator_0=$(ticks "$generator")
measured=$(( seconds - 2 ))
sleep "$measured"
node_1=$(ticks "$node"); postgres_1=$(postgres_ticks); generator_1=$(ticks "$generator")
wait "$generator"
line="$(grep -E ' ok, ' "$work/bench.out")"
echo "$line"
rate="$(echo "$line" | sed -E 's/.*-> ([0-9.]+)\/s.*/\1/')"
awk -v rate="$rate" -v seconds="$measured" -v hertz="$(getconf CLK_TCK)" \
  -v node=$(( node_1 - node_0 )) -v postgres=$(( postgres_1 - postgres_0 )) \
  -v generator=$(( generator_1 - generator_0 )) 'BEGIN {
    thousands = rate * seconds / 1000
    printf "CPU ms per 1000 requests: node %.1f, postgres %.1f, generator %.1f\n",
      node * 1000 / hertz / thousands, postgres * 1000 / hertz / thousands,
      generator * 1000 / hertz / thousands
  }'
