#!/usr/bin/env bash
# Runs the benchmarks recorded in docs/benchmarks.md, in one run, against a fresh release
# server on loopback: (a) GET /healthz, (b) signed ListAccessKeys by the root and by a sub-user
# holding ten policies, (c) signed CreateAccessKey
# with durable commits (each worker creates then deletes its own user's key, so no user
# reaches the quota). Rate limits are disabled for the measurement.
#
#   tools/bench.sh [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
concurrency="${2:-64}"
cargo build --release --locked -p keyplane-server >/dev/null 2>&1 || cargo build --release --locked -p keyplane-server
binary="$PWD/target/release/keyplane"
data="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
"$binary" init --data-dir "$data" --json > "$data/root.json"
# The generator is single-threaded and, on a machine with more than one core, pinned to the
# last core; the server is pinned to the others and runs one worker thread per core it has,
# so the two never compete for a core.
cores="$(nproc)"
pin_generator=()
pin_server=()
server_threads=()
if command -v taskset >/dev/null 2>&1 && [ "$cores" -gt 1 ]; then
  pin_generator=(taskset -c "$(( cores - 1 ))")
  pin_server=(taskset -c "0-$(( cores - 2 ))")
  server_threads=(--worker-threads "$(( cores - 1 ))")
fi
"${pin_server[@]}" "$binary" serve --data-dir "$data" --listen 127.0.0.1:0 --disable-rate-limits "${server_threads[@]}" > "$data/server.out" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  address="$(sed -n 's#^listening on http://##p' "$data/server.out")"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$data/server.out"; exit 1; }
echo "machine: $cores cores, $(uname -r); server $address ${pin_server[*]} ${server_threads[*]}; generator ${pin_generator[*]}; ${seconds}s per run after 2s warm-up, concurrency $concurrency"
run() { "${pin_generator[@]}" "$binary" bench --target "$address" --duration "$seconds" --warmup 2 --concurrency "$concurrency" "$@"; }
run --scenario healthz
run --scenario list-access-keys --credentials "$data/root.json"
run --scenario list-access-keys-with-policies --credentials "$data/root.json"
run --scenario create-access-key --credentials "$data/root.json" --data-dir "$data"
# Latency below saturation: an open-loop offered load of 10,000 signed ListAccessKeys/s.
run --scenario list-access-keys --credentials "$data/root.json" --rate 10000
