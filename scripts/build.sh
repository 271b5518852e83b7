#!/usr/bin/env bash
# Builds the npm package: dist/web (plain browsers, `presigned-upload/web`) and dist/bundler (bundlers).
#   scripts/build.sh [--dev]    --dev: unoptimized, faster (used by tests)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mode=--release
[ "${1:-}" = "--dev" ] && mode=--dev
for target in web bundler; do
  wasm-pack build $mode --target "$target" --out-dir "dist/$target" --out-name presigned_upload --no-pack >&2
  rm -f "dist/$target/.gitignore" "dist/$target/package.json" "dist/$target/README.md"
  node scripts/fix-dts.mjs "dist/$target"
  if [ "$mode" = --release ] && [ -x node_modules/.bin/wasm-opt ]; then
    node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types \
      "dist/$target/presigned_upload_bg.wasm" -o "dist/$target/presigned_upload_bg.wasm"
  fi
done
echo "built dist/web and dist/bundler" >&2
