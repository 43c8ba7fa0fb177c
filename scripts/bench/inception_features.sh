#!/usr/bin/env bash
# Time FID-Inception feature extraction: autogan (`autogan eval --images DIR --metric is`)
# against torch-fidelity on the same images, threads, batch size and device (CPU).
#
#   bash scripts/bench/inception_features.sh [N=200] [THREADS=2] [BATCH=50]
#
# Uses random-initialised weights (same network, same cost) so it runs without the real
# weights. autogan's time is that of the whole command; its per-image rate is estimated from
# a run on N images minus a run on 10 (which removes start-up, weight loading, PNG decoding
# of a few files). torch-fidelity's extract time excludes building the network.
# Needs: cargo build --release, and bash scripts/setup.sh --with-metrics.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
THREADS=${2:-2}
BATCH=${3:-50}
PY=.venv/bin/python
BIN=target/release/autogan
DIR=${BENCH_DIR:-target/bench-inception}
[ -x "$BIN" ] || { echo "inception_features.sh: build first: cargo build --release" >&2; exit 1; }
"$PY" -c "import torch_fidelity" 2>/dev/null || { echo "inception_features.sh: run bash scripts/setup.sh --with-metrics" >&2; exit 1; }

if [ ! -f "$DIR/n$N/weights.safetensors" ]; then
  "$PY" scripts/bench/inception_features.py prepare "$DIR/n$N" "$N"
fi
rm -rf "$DIR/n10" && mkdir -p "$DIR/n10/images"
ls "$DIR/n$N/images" | sort | head -10 | while read -r f; do cp "$DIR/n$N/images/$f" "$DIR/n10/images/"; done

run_ours() {  # folder -> seconds
  local t0 t1
  t0=$(date +%s%N)
  "$BIN" --device cpu --threads "$THREADS" --quiet eval --images "$1" --metric is --json \
    --batch-size "$BATCH" --inception "$DIR/n$N/weights.safetensors" >/dev/null
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 ))e-3"
}
small=$(run_ours "$DIR/n10/images")
full=$(run_ours "$DIR/n$N/images")
"$PY" - "$N" "$THREADS" "$BATCH" "$small" "$full" <<'PYEOF'
import json, sys
n, th, b, small, full = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
per = (full - small) / (n - 10)
print(json.dumps({"tool": "autogan", "images": n, "threads": th, "batch": b, "total_s": round(full, 3),
                  "total_s_10_images": round(small, 3), "images_per_s": round(1 / per, 3)}))
PYEOF
"$PY" scripts/bench/inception_features.py time "$DIR/n$N" "$THREADS" "$BATCH" "$DIR/n$N/weights.pth"
