#!/usr/bin/env bash
# The main job from a clean clone: system tools, npm install (builds the native SQLite module), build, then
# `gt demo` — a temporary town, a sample project and a fleet of simulated polecats, no API key. Extra
# arguments go to gt demo (e.g. --keep, --agents 6).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
exec node bin/gt.js demo "$@"
