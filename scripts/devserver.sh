#!/usr/bin/env bash
# Shared helpers: start the devserver in the background and wait for its ready file.
# Source this file; then call `devserver_start [flags...]`; it sets DEV_READY (path to the JSON),
# DEV_PID and exports PU_WEB_BASE, PU_API_BASE, PU_S3_ENDPOINT, PU_API_KEY.

devserver_bin() { echo "${CARGO_TARGET_DIR:-target}/debug/devserver"; }

devserver_start() {
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/pu-devserver.XXXXXX")
  DEV_READY="$dir/ready.json"
  DEV_LOG="$dir/devserver.log"
  "$(devserver_bin)" --s3-port 0 --api-port 0 --web-port 0 --ready-file "$DEV_READY" \
    --www www --pkg dist --quiet "$@" >"$DEV_LOG" 2>&1 &
  DEV_PID=$!
  DEV_PIDS+=("$DEV_PID")
  local i
  for i in $(seq 1 300); do
    [ -s "$DEV_READY" ] && break
    if ! kill -0 "$DEV_PID" 2>/dev/null; then
      echo "devserver exited early:" >&2; cat "$DEV_LOG" >&2; return 1
    fi
    sleep 0.1
  done
  [ -s "$DEV_READY" ] || { echo "devserver did not become ready in 30 s" >&2; cat "$DEV_LOG" >&2; return 1; }
  PU_WEB_BASE=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).web_base)' "$DEV_READY")
  PU_API_BASE=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).api_base)' "$DEV_READY")
  PU_S3_ENDPOINT=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).s3_endpoint)' "$DEV_READY")
  PU_API_KEY=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).api_key)' "$DEV_READY")
  export PU_WEB_BASE PU_API_BASE PU_S3_ENDPOINT PU_API_KEY DEV_READY
}

devserver_stop_all() {
  local p
  for p in "${DEV_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${DEV_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  DEV_PIDS=()
}
DEV_PIDS=()
