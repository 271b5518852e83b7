#!/usr/bin/env bash
# Builds the npm package: two builds of the one crate (cargo features), each for bundlers and
# for plain pages. A wasm module cannot be tree-shaken, so separate builds are how a page pays
# only for what it uses.
#   dist/bundler, dist/web             core: every single-PUT path (`presigned-upload`, `/web`)
#   dist/full/bundler, dist/full/web   full: core + multipart + the in-browser SigV4 signer
#                                      (`presigned-upload/full`, `presigned-upload/full/web`)
# Node.js needs no build of its own: js/node.js and js/node-full.js (the export condition "node") load
# dist/web and dist/full/web with initSync, so the package holds no third copy of each .wasm.
#   scripts/build.sh [--dev]    --dev: unoptimized, faster
# dist/build.json records the mode, so the size test can refuse a dev build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mode=release
[ "${1:-}" = "--dev" ] && mode=dev
profile_flag=--release
[ $mode = dev ] && profile_flag=
target_dir="${CARGO_TARGET_DIR:-target}"
profile_dir=release
[ $mode = dev ] && profile_dir=debug
wasm_in="$target_dir/wasm32-unknown-unknown/$profile_dir/presigned_upload.wasm"

build_one() { # $1: out prefix ("" or "full/"), $2...: cargo feature flags
  local prefix=$1; shift
  cargo build --quiet --lib --target wasm32-unknown-unknown $profile_flag "$@"
  local tmp; tmp=$(mktemp "${TMPDIR:-/tmp}/pu-build.XXXXXX.wasm")
  cp "$wasm_in" "$tmp"
  for target in web bundler; do
    local out="dist/${prefix}$target"
    rm -rf "$out"
    wasm-bindgen --target "$target" --out-dir "$out" --out-name presigned_upload "$tmp"
    node scripts/fix-dts.mjs "$out"
    if [ $mode = release ]; then
      # The JS glue is shipped minified (exports keep their names); the .d.ts says what they are.
      for js in "$out"/presigned_upload.js "$out"/presigned_upload_bg.js $(find "$out/snippets" -name '*.js' 2>/dev/null); do
        [ -f "$js" ] || continue
        node_modules/.bin/esbuild --minify --format=esm --log-level=warning "$js" --outfile="$js.min" && mv "$js.min" "$js"
      done
      node_modules/.bin/wasm-opt -Oz --converge --strip-debug --strip-producers \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$out/presigned_upload_bg.wasm" -o "$out/presigned_upload_bg.wasm"
    fi
  done
  rm -f "$tmp"
}

mkdir -p dist
build_one ""
build_one "full/" --features full
printf '{ "mode": "%s" }\n' "$mode" > dist/build.json
echo "built dist/web, dist/bundler, dist/full/web and dist/full/bundler ($mode)" >&2
