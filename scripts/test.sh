#!/usr/bin/env bash
# The whole test suite. Idempotent: starts the services the tests need when
# they are missing (scripts/services.sh), then runs every test once.
# The build goes to a target directory outside the clone, so CI reuses it.
# Last, schemathesis runs over the KATalogus and Bytes OpenAPI documents.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kat-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if [ ! -d ../shared/fixtures/openkat ]; then
    echo "test.sh: ../shared/fixtures/openkat is missing: the shared/ folder must sit beside this repository" >&2
    exit 1
fi
bash scripts/services.sh
cargo test --workspace --locked
# Property-based API tests over the binaries the line above built.
bash scripts/schemathesis.sh
