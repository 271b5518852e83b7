#!/usr/bin/env bash
# `npm run soak`: the soak test alone, bigger: uploadAll of PU_SOAK_FILES (default 300) files of
# 1 KiB to 2 MiB, 6 at once, through a devserver that injects random faults into about 10% of store
# PUTs and API calls; prints a table of faults injected vs outcomes. Headless Chromium.
#   PU_SOAK_FILES=1000 PU_SOAK_SEED=7 scripts/soak.sh
# Stops every process it started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/devserver.sh
trap devserver_stop_all EXIT
trap 'exit 130' INT TERM

scripts/setup.sh --test
cargo build -p devserver --quiet

devserver_start --faults
# The soak needs only the main devserver; the shared test helpers read this one too.
PU_LIMITED_WEB_BASE=$PU_WEB_BASE
export PU_LIMITED_WEB_BASE
export PU_SOAK_FILES="${PU_SOAK_FILES:-300}"
[ -n "${PU_SOAK_SEED:-}" ] && export PU_SOAK_SEED
echo "devserver ready: web $PU_WEB_BASE; soak of $PU_SOAK_FILES files" >&2

export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-3600}"
wasm-pack test --headless --chrome --test soak
