#!/usr/bin/env bash
# The cache key of keysweep's GitHub Action: a SHA-256 over the action's own source (Cargo.lock, every
# Cargo.toml, src/, crates/, detectors/, build scripts) — the binary depends on nothing else. Computed here
# rather than with `hashFiles()`, which only hashes files inside GITHUB_WORKSPACE and returns an empty string
# for the action's checkout (actions/toolkit#1035). Prints `hash=<64 hex>`; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
{
  find Cargo.lock Cargo.toml src crates detectors -type f \
    \( -name '*.rs' -o -name '*.toml' -o -name '*.lock' -o -name '*.html' \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-64 | sed 's/^/hash=/'
