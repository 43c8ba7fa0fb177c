#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), formatting, lints, every test.
# Tests run in the release profile: libtorch's C++ wrapper is then compiled once for both
# `cargo build --release` and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-metrics
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo build --release"
cargo build --release
echo "== cargo test"
cargo test --release -- --test-threads=1 "$@"
