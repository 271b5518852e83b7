#!/usr/bin/env bash
# `npm start`: set up what is missing, build the package, start the local stack and print the demo's address.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cargo build -p devserver --quiet
exec "${CARGO_TARGET_DIR:-target}/debug/devserver" --www www --pkg dist \
  --s3-port "${PU_S3_PORT:-9000}" --api-port "${PU_API_PORT:-9001}" --web-port "${PORT:-8080}" "$@"
