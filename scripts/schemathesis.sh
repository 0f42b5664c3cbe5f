#!/usr/bin/env bash
# Property-based API tests: schemathesis (PyPI) generates requests from each
# service's own /openapi.json and runs every check (`--checks all`: no 5xx,
# no undocumented status code, responses match their schemas, invalid input
# refused, ...) against the real binaries on SQLite. The example count is
# bounded (SCHEMATHESIS_EXAMPLES, default 25 per operation) and the seed is
# fixed, so a run is repeatable and its time bounded. Needs the debug
# binaries built by `cargo test` in $CARGO_TARGET_DIR. scripts/schemathesis.toml
# says where OpenKAT's own 400 answers a schema-valid request (duplicates).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/kat-target}/debug"
examples="${SCHEMATHESIS_EXAMPLES:-25}"
if ! command -v schemathesis >/dev/null; then
    echo "schemathesis.sh: schemathesis is missing; run bash scripts/services.sh (it installs it from PyPI)" >&2
    exit 1
fi
for bin in katalogus bytes-store; do
    [ -x "$target/$bin" ] || { echo "schemathesis.sh: $target/$bin is missing; build it with cargo build -p kat-tools" >&2; exit 1; }
done
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "schemathesis.sh: nothing listens on $1" >&2; return 1; }

kport="$(free_port)"
KATALOGUS_DB_URI="sqlite://$work/katalogus.sqlite?mode=rwc" KATALOGUS_BIND="127.0.0.1:$kport" KATALOGUS_API_TOKEN=st-token \
    "$target/katalogus" >"$work/katalogus.log" 2>&1 &
pids+=($!)
bport="$(free_port)"
BYTES_DATA_DIR="$work/bytes" BYTES_USERNAME=st BYTES_PASSWORD=st-password BYTES_BIND="127.0.0.1:$bport" \
    "$target/bytes-store" >"$work/bytes.log" 2>&1 &
pids+=($!)
wait_port "$kport"
wait_port "$bport"
curl -sf -X POST "http://127.0.0.1:$kport/v1/organisations" -H 'Authorization: Bearer st-token' -H 'Content-Type: application/json' -d '{"id": "org1", "name": "Org 1"}' >/dev/null
btoken="$(curl -sf -X POST "http://127.0.0.1:$bport/token" -d 'username=st&password=st-password' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

status=0
run() {
    local name="$1" port="$2" token="$3"
    curl -sf "http://127.0.0.1:$port/openapi.json" -H "Authorization: Bearer $token" >"$work/$name.json"
    echo "schemathesis.sh: $name, $examples examples per operation, all checks"
    if ! schemathesis --config-file scripts/schemathesis.toml run "$work/$name.json" --url "http://127.0.0.1:$port" --checks all --max-examples "$examples" --seed 4711 \
        -H "Authorization: Bearer $token" --request-timeout 10 --warnings off; then
        echo "schemathesis.sh: $name failed; its log:" >&2
        tail -n 40 "$work/$name.log" >&2 || true
        status=1
    fi
}
run katalogus "$kport" st-token
run bytes "$bport" "$btoken"
exit "$status"
