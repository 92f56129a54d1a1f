#!/usr/bin/env bash
# Runs every test: the release build (unit + integration), then the unit tests and the fuzz seed
# corpora under ASan+UBSan. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== test clients (npm)"
./scripts/install-test-clients.sh

echo "== release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

echo "== ASan+UBSan build: unit tests and fuzz seed corpora"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$jobs"
ctest --preset asan-ubsan -j "$jobs"
