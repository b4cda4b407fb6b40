#!/usr/bin/env bash
# Regenerates docs/screenshots/: each page of the web console at desktop (1280 px) and phone
# (375 px) width, taken by the browser tests (tests/browser/) in Debian's chromium against the
# release server with a freshly seeded database. Needs chromium and node (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && SLA_CREDIT_BIN="$PWD/../../target/release/sla-credit" \
  node console.test.mjs --screenshots "$PWD/../../docs/screenshots")
ls -1 docs/screenshots
