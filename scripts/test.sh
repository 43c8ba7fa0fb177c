#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), formatting, lints, every test.
# Tests run in the release profile: libtorch's C++ wrapper is then compiled once for both
# `cargo build --release` and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-metrics
# The report test loads report.html in a real headless browser; on CI (root, Debian) install
# Chromium for it. Elsewhere that test prints SKIP when no Chromium is installed.
if [ "${CI:-}" = true ] && ! command -v chromium >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing chromium for tests/report.rs"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium could not be installed: the browser test of tests/report.rs will SKIP"
fi
echo "== import circles and upward imports between the files of src/"
python3 scripts/dev/import_cycles.py
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo build --release"
cargo build --release
echo "== cargo test"
cargo test --release --no-fail-fast -- --test-threads=1 "$@"
