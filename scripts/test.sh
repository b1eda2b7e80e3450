#!/usr/bin/env bash
# The whole test suite: system packages, formatting, lints, then every test (unit, integration, rule examples
# on both engines, corpus accuracy). This is the command README names and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --no-fail-fast
