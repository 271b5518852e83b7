#!/usr/bin/env bash
# `npm test`: set up what is missing, then run every test: host (cargo test), browser (wasm-bindgen-test
# in headless Chromium against a devserver started here) and end-to-end (Playwright). Stops every process
# it started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/devserver.sh
trap devserver_stop_all EXIT
trap 'exit 130' INT TERM

scripts/setup.sh --test

echo "== host tests: cargo test --workspace (full build, then the core build's own cfgs)" >&2
PROPTEST_CASES="${PROPTEST_CASES:-1000}" cargo test --workspace --all-features
PROPTEST_CASES="${PROPTEST_CASES:-1000}" cargo test -p presigned-upload --lib --test host_props

echo "== building the devserver and the package (release: the size budgets measure what ships)" >&2
cargo build -p devserver --quiet
cargo build --quiet --lib --target wasm32-unknown-unknown --no-default-features
scripts/build.sh
echo "== size budgets: node --test tests/size" >&2
node --test tests/size/

echo "== type tests: node --test tests/types/ (TypeScript 5 and 7, bundler/node16/node10, lib es2020 + dom)" >&2
node --test tests/types/

# A second devserver with a small rate-limit window, for the 429 and limiter tests.
devserver_start --rate-limit 10/1s
PU_LIMITED_WEB_BASE=$PU_WEB_BASE
export PU_LIMITED_WEB_BASE
# A third whose API sends no CORS headers at all, as Hexnode's may (tests/no_cors_api.rs).
devserver_start --api-no-cors
PU_NO_CORS_WEB_BASE=$PU_WEB_BASE
export PU_NO_CORS_WEB_BASE
devserver_start --faults
echo "devserver ready: web $PU_WEB_BASE api $PU_API_BASE s3 $PU_S3_ENDPOINT (rate-limited one: $PU_LIMITED_WEB_BASE, API without CORS: $PU_NO_CORS_WEB_BASE)" >&2

export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
# Each engine runs the core build's suite (what it holds), then the full build's (everything).
for browser in chrome firefox; do
  echo "== browser tests, core build: wasm-pack test --headless --$browser" >&2
  wasm-pack test --headless --$browser
  echo "== browser tests, full build: wasm-pack test --headless --$browser --features full" >&2
  wasm-pack test --headless --$browser --features full
done

echo "== Node.js tests (the package in Node, the command, examples/backend-node): node --test tests/node/" >&2
node --test --test-concurrency=1 tests/node/

if compgen -G "tests/e2e/*.test.mjs" >/dev/null; then
  echo "== end-to-end tests: node --test" >&2
  node --test --test-concurrency=1 tests/e2e/
fi
echo "== all tests passed" >&2
