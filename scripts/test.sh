#!/usr/bin/env bash
# The whole test suite from a clean clone: system tools, npm install (builds the native SQLite module),
# then build + typecheck + lint + unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm test
