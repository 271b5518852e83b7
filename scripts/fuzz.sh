#!/usr/bin/env bash
# `npm run fuzz`: the property tests of the parsers, redaction, retry, limiter and signer under
# hostile input, and the signer held against the rusty-s3 crate (tests/sigv4_oracle.rs), with many
# more cases than `npm test` runs (PROPTEST_CASES per property, default 5000: over 100k cases in all).
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-5000}"
echo "fuzz: $PROPTEST_CASES cases per property" >&2
cargo test --release -p presigned-upload --test host_props
cargo test --release -p presigned-upload --features full --test sigv4_oracle
cargo test --release -p presigned-upload --features full --lib sigv4
