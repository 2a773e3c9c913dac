#!/usr/bin/env bash
# Instructions per request of two builds, counted by callgrind: unlike CPU time, an instruction
# count does not depend on what else the machine is doing, so two builds can be compared on a
# busy machine. For each build and scenario: a fresh server runs under callgrind, a warm-up load
# fills its caches, the counters are zeroed, a measured load of SECONDS runs, and the counters
# are dumped; the total is divided by the requests the generator counted (± the few in flight at
# either edge, out of thousands).
#
#   tools/bench-instructions.sh BEFORE_BINARY AFTER_BINARY [SECONDS] [CONCURRENCY]
#
# Scenarios as in tools/bench-compare.sh (SCENARIOS overrides the list).
set -euo pipefail
before="${1:?BEFORE_BINARY}"
after="${2:?AFTER_BINARY}"
seconds="${3:-10}"
concurrency="${4:-4}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/keyplane-instructions.XXXXXX")"
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; rm -rf "$scratch"' EXIT

measure() { # label binary scenario
  local label="$1" binary="$2" scenario="$3" data
  data="$(mktemp -d -p "$scratch")"
  "$binary" init --data-dir "$data" --json > "$data/root.json"
  valgrind --tool=callgrind --callgrind-out-file="$data/callgrind.%p" \
    "$binary" serve --data-dir "$data" --listen 127.0.0.1:0 --disable-rate-limits \
    --worker-threads 1 > "$data/server.out" 2> "$data/valgrind.err" < /dev/null &
  server=$!
  local address=""
  for _ in $(seq 1 600); do
    address="$(sed -n 's#^listening on https\{0,1\}://##p' "$data/server.out")"
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { cat "$data/server.out" "$data/valgrind.err"; exit 1; }
  local credentials=(--credentials "$data/root.json")
  [ "$scenario" = healthz ] && credentials=()
  [ "$scenario" = create-access-key ] && credentials+=(--data-dir "$data")
  local run=("$after" bench --target "$address" --concurrency "$concurrency" --scenario "$scenario" "${credentials[@]}" --json --warmup 0)
  "${run[@]}" --duration 3 > /dev/null
  callgrind_control --zero "$server" > /dev/null
  sleep 1
  local result
  result="$("${run[@]}" --duration "$seconds")"
  callgrind_control --dump "$server" > /dev/null
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  local dump
  dump="$(ls "$data"/callgrind.*.1)"
  python3 - "$label" "$scenario" "$result" "$dump" <<'PY'
import json, sys, re
label, scenario, result, dump = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
instructions = 0
for line in open(dump):
    match = re.match(r"(summary|totals):\s+(\d+)", line)
    if match:
        instructions = int(match.group(2))
        break
requests = max(result["requests"], 1)
print(f"{label:6} {scenario:32} {requests:>7} requests  {instructions / requests:>10.0f} instructions/request")
PY
}

echo "callgrind, 1 worker thread, ${seconds}s measured after a 3s warm-up, concurrency $concurrency"
for scenario in ${SCENARIOS:-healthz list-access-keys list-access-keys-with-policies aliyun-list-access-keys create-access-key}; do
  measure before "$before" "$scenario"
  measure after "$after" "$scenario"
done
