#!/usr/bin/env bash
# `npm run bench`: builds the release package (both builds: core and full) and the release devserver,
# starts the devserver serving the bench page (bench/page) next to /pkg/ (dist/'s layout: core at
# /pkg/web/, full at /pkg/full/web/), and runs bench/run.mjs in headless Chromium: throughput, batch,
# memory, startup and size of presigned-upload against a raw fetch, Uppy 6 and curl (single-PUT
# contenders on core), and multipart (Uploader.upload with `multipart`, on full, vs the single PUTs and
# Uppy 6 multipart) from 16 MiB up. Size covers every entry of tests/size/budgets.json (gzip -9 and
# brotli), with a per-crate breakdown and, when twiggy is installed, its per-function views.
# Writes bench/results.json and bench/RESULTS.md. Then bench/node-rss.mjs measures Node.js: the RSS growth of
# a 1 GiB upload from disk (`fs.openAsBlob`) with and without onProgress (goal: under 64 MiB), written to
# bench/node-rss.md and bench/node-rss.json. Stops every process it started, also on failure.
#
#   BENCH_QUICK=1      smoke (1 MiB + 16 MiB, multipart at 16 MiB, 3 runs, 50-file batch; under ~90 s once built);
#                      writes bench/out/quick/ instead of bench/RESULTS.md
#   BENCH_RUNS=N       rounds per figure (default 5)
#   BENCH_NO_BUILD=1   use dist/ and the devserver binary as they are (e.g. right after `npm test`);
#                      the devserver is target/debug/devserver unless BENCH_DEVSERVER names another
#   BENCH_STRICT=1     exit 1 when a target is missed (otherwise only when a contender fails outright)
#   BENCH_NOTE=TEXT    a line for RESULTS.md about the run's conditions (e.g. a shared, loaded machine)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/devserver.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pu-bench.XXXXXX")
DATA=""
cleanup() {
  devserver_stop_all
  # devserver_start leaves its ready file and log in a temp dir of its own.
  [ -n "${DEV_READY:-}" ] && rm -rf "$(dirname "$DEV_READY")"
  [ -n "$DATA" ] && rm -rf "$DATA"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }

chromium_bin=${PU_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium_bin" ] || die "no Chromium at $chromium_bin: run scripts/setup.sh --test (or set PU_CHROMIUM)"
command -v curl >/dev/null 2>&1 || die "curl is missing (apt-get install curl)"

target_dir=${CARGO_TARGET_DIR:-target}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  say "building the package (release): scripts/build.sh"
  bash scripts/build.sh
  say "building the devserver (release; slow the first time)"
  cargo build -p devserver --release --quiet
  devserver_bin() { echo "$target_dir/release/devserver"; }
else
  scripts/setup.sh
fi
if [ -n "${BENCH_DEVSERVER:-}" ]; then
  devserver_bin() { echo "$BENCH_DEVSERVER"; }
fi
[ -x "$(devserver_bin)" ] || die "no devserver at $(devserver_bin): build it (cargo build -p devserver --release)"
for d in web bundler full/web full/bundler; do
  [ -f "dist/$d/presigned_upload_bg.wasm" ] || die "no dist/$d: run scripts/build.sh (it builds core and full)"
done

# Stage what the page serves, so a concurrent rebuild of dist/ cannot change it mid-run. The layout
# is dist/'s, served at /pkg/ as the devserver serves dist/: core at /pkg/web/ (single-PUT contenders),
# full at /pkg/full/web/ (multipart contenders); the bundler entries are measured for size only.
out=bench/out
rm -rf "$out/www" "$out/pkg" "$out/bundler"
mkdir -p "$out/www" "$out/pkg/full"
cp bench/page/* "$out/www/"
cp -r dist/web dist/bundler "$out/pkg/"
cp -r dist/full/web dist/full/bundler "$out/pkg/full/"
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  # A release build through wasm-opt has no "name" section; a dev build does.
  for d in web full/web; do
    if node -e '
      import("./bench/wasm-size.mjs").then((m) => {
        const w = m.parseWasm(require("fs").readFileSync(process.argv[1]));
        process.exit(w.names ? 0 : 1);
      })' "$out/pkg/$d/presigned_upload_bg.wasm"; then
      die "dist/$d holds a dev build (was it rebuilt by another command meanwhile?): run npm run bench again"
    fi
  done
fi

say "bundling Uppy (@uppy/core + @uppy/aws-s3) with esbuild --bundle --format=esm --minify"
node_modules/.bin/esbuild bench/uppy-entry.js --bundle --format=esm --minify \
  --outfile="$out/www/uppy.bundle.js" --log-level=warning

# For "what the .wasm is made of": each build's release .wasm (cargo keeps its names until wasm-opt)
# through wasm-bindgen and wasm-opt -Oz --converge like scripts/build.sh, but with -g to keep the name
# section. cargo has both feature sets cached from the build above, so this only relinks.
named_core=""
named_full=""
raw_wasm="$target_dir/wasm32-unknown-unknown/release/presigned_upload.wasm"
named_one() { # $1: core|full, $2...: cargo feature flags; prints the path of the named .wasm
  local name=$1; shift
  cargo build --quiet --lib --target wasm32-unknown-unknown --release "$@" >&2 &&
    wasm-bindgen "$raw_wasm" --target web --out-dir "$WORK/named-$name" --out-name named >/dev/null 2>&1 &&
    node_modules/.bin/wasm-opt -Oz --converge -g --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$WORK/named-$name/named_bg.wasm" -o "$WORK/named-$name.wasm" 2>/dev/null &&
    echo "$WORK/named-$name.wasm"
}
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && command -v wasm-bindgen >/dev/null 2>&1 && [ -x node_modules/.bin/wasm-opt ]; then
  say "building the named .wasm of core and full (for the per-crate and per-function breakdown)"
  named_core=$(named_one core) || { named_core=""; say "could not build the named core .wasm; no breakdown for core"; }
  named_full=$(named_one full --features full) || { named_full=""; say "could not build the named full .wasm; no breakdown for full"; }
fi

# The store's objects go to a RAM disk when there is room (each is deleted right after its run), so
# the figures measure the upload path, not this machine's disk and its write-back.
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((3 * 1024 * 1024)) ]; then
  DATA=$(mktemp -d /dev/shm/pu-bench-data.XXXXXX)
  store_on="RAM disk (/dev/shm)"
else
  DATA="$WORK/data"
  store_on="disk ($WORK)"
fi
export BENCH_STORE_ON="$store_on"

say "starting the devserver ($(devserver_bin)); objects on $store_on"
devserver_start --www "$out/www" --pkg "$out/pkg" --data "$DATA"
bucket=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).bucket)' "$DEV_READY")
say "devserver ready: $PU_WEB_BASE"

export BENCH_WORK="$WORK/work"
export BENCH_STORE_DIR="$DATA/store/$bucket"
export BENCH_PKG_DIR="$out/pkg"
export BENCH_UPPY_BUNDLE="$out/www/uppy.bundle.js"
export BENCH_NAMED_WASM="$named_core"
export BENCH_NAMED_WASM_FULL="$named_full"
export PU_CHROMIUM="$chromium_bin"
node bench/run.mjs

say "Node.js: RSS of a $([ "${BENCH_QUICK:-0}" = 1 ] && echo 256 || echo 1024) MiB upload from disk (bench/node-rss.mjs)"
node_out=bench
[ "${BENCH_QUICK:-0}" = 1 ] && node_out=bench/out/quick && mkdir -p "$node_out"
BENCH_OUT=$node_out node bench/node-rss.mjs
