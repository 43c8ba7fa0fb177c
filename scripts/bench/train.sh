#!/usr/bin/env bash
# Owns: the side-by-side training-step benchmark. Runs `autogan bench train` and the PyTorch
# eager loop (scripts/bench/train_eager.py) with the same arch, sizes, batch sizes and threads,
# then prints both figures and the ratio (ours / PyTorch; > 1 means autogan is faster).
#
# usage: scripts/bench/train.sh [--arch FILE] [--device cpu|cuda] [--threads N] [--gf-dim N]
#          [--df-dim N] [--latent-dim N] [--batch-size N] [--gen-batch-size N] [--n-critic N]
#          [--steps N] [--warmup N] [--img-size N] [--read-every N]
# e.g.   scripts/bench/train.sh --threads 2 --gf-dim 64 --df-dim 64 --latent-dim 64 \
#          --batch-size 16 --steps 5 --warmup 1
set -euo pipefail
cd "$(dirname "$0")/../.."

ARCH=configs/arch/autogan_cifar10_a.json
DEVICE=cpu
THREADS=$(nproc)
SIZE=()
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCH=$2; shift 2 ;;
        --device) DEVICE=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --gf-dim|--df-dim|--latent-dim|--bottom-width|--batch-size|--gen-batch-size|--n-critic|--steps|--warmup|--img-size|--read-every)
            SIZE+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "train.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
# the binary's defaults for the size flags are the paper's (gf 256, df 128, latent 128, batch 64);
# pass them to both sides explicitly so they cannot drift apart
has() { local f; for f in "${SIZE[@]:-}"; do [ "$f" = "$1" ] && return 0; done; return 1; }
has --gf-dim || SIZE+=(--gf-dim 256)
has --df-dim || SIZE+=(--df-dim 128)
has --latent-dim || SIZE+=(--latent-dim 128)
has --batch-size || SIZE+=(--batch-size 64)

BIN=${AUTOGAN_BIN:-target/release/autogan}
PY=${PYTHON:-.venv/bin/python}
[ -x "$BIN" ] || { echo "train.sh: $BIN not found: run cargo build --release" >&2; exit 1; }
[ -x "$PY" ] || { echo "train.sh: $PY not found: run scripts/setup.sh" >&2; exit 1; }

echo "== autogan bench train (device $DEVICE, $THREADS threads): ${SIZE[*]}" >&2
OURS=$("$BIN" --device "$DEVICE" --threads "$THREADS" -q bench train --arch "$ARCH" "${SIZE[@]}" --json)
echo "$OURS"
echo "== pytorch eager (torch.set_num_threads($THREADS))" >&2
# OMP/MKL thread counts follow torch.set_num_threads; pin them too so both sides match
THEIRS=$(OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS "$PY" scripts/bench/train_eager.py \
    --arch "$ARCH" --device "$DEVICE" --threads "$THREADS" "${SIZE[@]}" --json)
echo "$THEIRS"
"$PY" - "$OURS" "$THEIRS" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"autogan        {a['steps_per_s']:.4f} steps/s  ({a['device']}, {a['threads']} threads)")
print(f"pytorch eager  {b['steps_per_s']:.4f} steps/s  ({b['device']}, {b['threads']} threads, torch {b['torch']})")
print(f"ratio (ours / pytorch) {a['steps_per_s'] / b['steps_per_s']:.3f}")
print(f"CPU seconds per step   autogan {a['cpu_seconds_per_step']:.3f}, pytorch {b['cpu_seconds_per_step']:.3f}: "
      f"ratio (pytorch / ours) {b['cpu_seconds_per_step'] / a['cpu_seconds_per_step']:.3f}")
print(f"host syncs per step    autogan {a['host_syncs_per_step']:.3f}")
PY
