#!/usr/bin/env bash
# The main job on the built-in data set, from a fresh clone: set up if needed, build, search.
# Extra arguments go to `autogan search` (e.g. --out runs/my-search).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
exec target/release/autogan search "$@"
