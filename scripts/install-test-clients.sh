#!/usr/bin/env bash
# Installs the npm packages the test clients need (the official `openai` client) into
# tests/node/node_modules (git-ignored), from the npm registry, pinned by tests/node/package-lock.json.
# Without node/npm it says so and exits 0: the tests that need them skip with a clear message.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/node"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-test-clients: node/npm not found; the openai client test will be skipped" >&2
  exit 0
fi

cd "$dir"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
node -e "import('openai').then(m => console.log('install-test-clients: openai ' + (m.VERSION ?? 'installed')))"
