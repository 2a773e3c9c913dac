#!/usr/bin/env bash
# Compares two builds of Keyplane side by side in one run: for each round and each build, a
# fresh release server (pinned to core 0, one worker thread, rate limits off) is measured under
# the same load generator (pinned to the last core), and the server's CPU time per request is
# read from /proc/<pid>/stat around the measured interval. Builds alternate within every round,
# so drift of a shared machine hits both alike.
#
#   tools/bench-compare.sh BEFORE_BINARY AFTER_BINARY [SECONDS] [CONCURRENCY] [ROUNDS]
#
# Scenarios (SCENARIOS overrides the list): GET /healthz, signed TC3 ListAccessKeys by the root,
# the same by a sub-user holding ten policies, signed ACS3 IMS ListAccessKeys by the root (a fresh
# nonce each), and durable TC3 CreateAccessKey + DeleteAccessKey pairs. The generator is
# AFTER_BINARY's `bench` for both builds.
set -euo pipefail
before="${1:?BEFORE_BINARY}"
after="${2:?AFTER_BINARY}"
seconds="${3:-10}"
concurrency="${4:-64}"
rounds="${5:-3}"
cores="$(nproc)"
generator_core=$(( cores - 1 ))
ticks_per_second="$(getconf CLK_TCK)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/keyplane-bench.XXXXXX")"
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; rm -rf "$scratch"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure() { # label binary scenario
  local label="$1" binary="$2" scenario="$3" data
  data="$(mktemp -d -p "$scratch")"
  "$binary" init --data-dir "$data" --json > "$data/root.json"
  taskset -c 0 "$binary" serve --data-dir "$data" --listen 127.0.0.1:0 --disable-rate-limits \
    --worker-threads 1 > "$data/server.out" 2>&1 < /dev/null &
  server=$!
  local address=""
  for _ in $(seq 1 100); do
    address="$(sed -n 's#^listening on https\{0,1\}://##p' "$data/server.out")"
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { cat "$data/server.out"; exit 1; }
  local credentials=(--credentials "$data/root.json")
  [ "$scenario" = healthz ] && credentials=()
  [ "$scenario" = create-access-key ] && credentials+=(--data-dir "$data")
  local run=(taskset -c "$generator_core" "$after" bench --target "$address" --concurrency "$concurrency" --scenario "$scenario" "${credentials[@]}" --json)
  "${run[@]}" --duration 2 --warmup 0 > /dev/null
  local start end result
  start="$(cpu_ticks "$server")"
  result="$("${run[@]}" --duration "$seconds" --warmup 0)"
  end="$(cpu_ticks "$server")"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  python3 - "$label" "$scenario" "$result" "$(( end - start ))" "$ticks_per_second" <<'PY'
import json, sys
label, scenario, result, ticks, hz = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
requests = max(result["requests"], 1)
cpu_us = ticks / hz * 1e6 / requests
print(f"{label:6} {scenario:32} {result['throughput_per_second']:>10.1f}/s  errors {result['errors']:>5}  "
      f"p99 {result['latency_milliseconds']['p99']:.3f} ms  server CPU {cpu_us:.2f} us/request")
PY
}

echo "machine: $cores cores, $(uname -r); server on core 0 (1 worker thread), generator on core $generator_core; ${seconds}s per run, concurrency $concurrency, $rounds rounds"
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  for scenario in ${SCENARIOS:-healthz list-access-keys list-access-keys-with-policies aliyun-list-access-keys create-access-key}; do
    measure before "$before" "$scenario"
    measure after "$after" "$scenario"
  done
done
