#!/usr/bin/env bash
# The whole test suite: system packages, formatting, lints, then every test of every workspace crate (unit,
# integration, rule examples on both engines, corpus accuracy). This is the command README names and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast
# The opt-in `bpe` feature of the generic classifier (off by default: docs/RULES.md says why) keeps its tests
# green too.
cargo test -p keysweep-detect --features bpe --lib
