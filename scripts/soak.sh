#!/usr/bin/env bash
# `npm run soak`: the soak test alone, bigger, as a seed sweep in both engines: for each of
# PU_SOAK_SEEDS seeds (default 20, from PU_SOAK_SEED up), uploadAll of PU_SOAK_FILES (default 300)
# files of 1 KiB to 2 MiB, 6 at once, through a devserver that injects random faults into about
# 10% of store PUTs and API calls; prints a table of faults injected vs outcomes per seed, and the
# wall time per engine. PU_SOAK_ENGINES picks the engines (default "chrome firefox").
#   PU_SOAK_FILES=1000 PU_SOAK_SEED=7 PU_SOAK_SEEDS=1 PU_SOAK_ENGINES=firefox scripts/soak.sh
# A failure names the seed and the fault history of the file at fault: replay it with
# PU_SOAK_SEED=<seed> PU_SOAK_SEEDS=1.
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
export PU_SOAK_SEEDS="${PU_SOAK_SEEDS:-20}"
[ -n "${PU_SOAK_SEED:-}" ] && export PU_SOAK_SEED
echo "devserver ready: web $PU_WEB_BASE; soak of $PU_SOAK_SEEDS seeds x $PU_SOAK_FILES files" >&2

export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-14400}"
for engine in ${PU_SOAK_ENGINES:-chrome firefox}; do
  started=$(date +%s)
  wasm-pack test --headless "--$engine" --test soak
  echo "soak: $engine: $PU_SOAK_SEEDS seeds x $PU_SOAK_FILES files all green in $(($(date +%s) - started)) s (wall time, build included)" >&2
done
