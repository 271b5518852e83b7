#!/usr/bin/env bash
# Installs, only when missing, what building and testing presigned-upload needs.
# Idempotent and quiet when everything is present.
#   scripts/setup.sh          build tools (wasm32 target, wasm-pack, wasm-bindgen-cli, npm deps)
#   scripts/setup.sh --test   also the browsers and their drivers (Chromium, Firefox ESR)
set -euo pipefail
cd "$(dirname "$0")/.."

want_browsers=0
[ "${1:-}" = "--test" ] && want_browsers=1

say() { echo "setup: $*" >&2; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing; install it ($2) and run again"; }
need_cmd cargo "https://rustup.rs"
need_cmd rustup "https://rustup.rs"
need_cmd node "Node.js 20 or newer"
need_cmd npm "npm 10 or newer"

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if ! can_apt; then
    die "missing Debian packages: $*. Install them (e.g. 'sudo apt-get install -y $*') and run again"
  fi
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. The wasm32 target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >/dev/null
fi

# 2. wasm-pack.
if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack (about 2.5 minutes)"
  cargo install wasm-pack --locked --quiet
fi

# 3. wasm-bindgen-cli at exactly the version in Cargo.lock.
[ -f Cargo.lock ] || cargo generate-lockfile --quiet
wb_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
[ -n "$wb_version" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
have_wb=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_wb" != "$wb_version" ]; then
  say "installing wasm-bindgen-cli $wb_version (about 2.5 minutes)"
  # No --locked: its lock file names a crate this registry index lacks.
  cargo install wasm-bindgen-cli --version "$wb_version" --force --quiet
fi

# 4. npm devDependencies (binaryen's wasm-opt, playwright-core, typescript, ...).
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  say "installing npm devDependencies"
  # `npm install`, not `npm ci`: vite 8 names a Windows-only optional dependency that the
  # registry here does not serve, so the lock file cannot list it and `npm ci` refuses the lock.
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi

# 5. Browsers and drivers, for tests only.
if [ $want_browsers = 1 ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v firefox-esr >/dev/null 2>&1 || command -v firefox >/dev/null 2>&1 || missing+=(firefox-esr)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  if ! command -v geckodriver >/dev/null 2>&1; then
    say "installing geckodriver 0.37.1 from the Rust crate registry (about 1.5 minutes)"
    cargo install geckodriver --version 0.37.1 --quiet
  fi
fi
exit 0
