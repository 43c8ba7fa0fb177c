#!/usr/bin/env bash
# What bf16 autocast does to the metrics: IS and FID of the same images with the same weights,
# the scorer in fp32 and in bf16 (`autogan eval --scorer-precision`).
#
#   bash scripts/bench/precision_metrics.sh [N=200] [DEVICE=cpu] [THREADS=2]
#
# Images: N structured 32x32 PNGs (set A, scored) and N others (set B, the FID reference),
# from tests/reference/make_reference.py; weights: the random FID-Inception weights the metrics
# tests use (batch norms calibrated so every layer is about unit scale), not the real ones,
# which this script does not need. Prints both results and their differences as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
DEVICE=${2:-cpu}
THREADS=${3:-2}
PY=.venv/bin/python
BIN=${AUTOGAN_BIN:-target/release/autogan}
DIR=${BENCH_DIR:-target/bench-precision}/n$N
[ -x "$BIN" ] || { echo "precision_metrics.sh: build first: cargo build --release" >&2; exit 1; }
if [ ! -f "$DIR/weights.safetensors" ]; then
    mkdir -p "$DIR"
    "$PY" - "$DIR" "$N" <<'PY'
import os, sys
import torch
sys.path.insert(0, os.path.join("tests", "reference"))
from make_reference import random_weights, structured_images, write_pngs
from safetensors.torch import save_file
out, n = sys.argv[1], int(sys.argv[2])
write_pngs(os.path.join(out, "a"), structured_images(n, 1, dark=False))
write_pngs(os.path.join(out, "b"), structured_images(n, 2, dark=True))
save_file(random_weights(torch.from_numpy(structured_images(16, 3, dark=False)), seed=7),
          os.path.join(out, "weights.safetensors"))
PY
fi
for p in fp32 bf16; do
    "$BIN" --device "$DEVICE" --threads "$THREADS" --quiet eval --images "$DIR/a" --fid-ref "$DIR/b" \
        --metric is,fid --inception "$DIR/weights.safetensors" --scorer-precision "$p" --json \
        > "$DIR/$p.json"
    echo "{\"precision\": \"$p\", \"result\": $(cat "$DIR/$p.json")}"
done
"$PY" - "$DIR/fp32.json" "$DIR/bf16.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
rel = lambda x, y: abs(x - y) / abs(x)
print(json.dumps({
    "images": a["num_images"],
    "is_fp32": a["is_mean"], "is_bf16": b["is_mean"], "is_rel_diff": rel(a["is_mean"], b["is_mean"]),
    "is_std_fp32": a["is_std"], "is_std_bf16": b["is_std"],
    "fid_fp32": a["fid"], "fid_bf16": b["fid"], "fid_rel_diff": rel(a["fid"], b["fid"]),
}))
PY
