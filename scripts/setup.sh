#!/usr/bin/env bash
# Set up everything autogan needs to build and run, idempotently:
#   - .venv with torch==2.11.0 (the libtorch that tch 0.24.0 is built for) and torchvision
#     pinned beside it, so later installs of metric packages never replace torch;
#   - .venv/libtorch -> the wheel's torch/ folder, which .cargo/config.toml names as LIBTORCH.
# Afterwards plain `cargo build --release` and `cargo test` work in a new shell.
# Set LIBTORCH yourself to build against your own libtorch instead (it wins over the config).
# Options: --with-metrics also installs torch-fidelity, pytorch-fid and scipy (parity tests)
#          and tensorboard (whose event reader checks the files train and search write).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
TORCHVISION_VERSION=0.26.0
PY=${PYTHON:-python3}
with_metrics=0
for a in "$@"; do
  case "$a" in
    --with-metrics) with_metrics=1 ;;
    *) echo "setup.sh: unknown option '$a' (known: --with-metrics)" >&2; exit 2 ;;
  esac
done

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup.sh: '$PY' not found. Install Python 3.10 or newer with its venv module (or set PYTHON=/path/to/python3)." >&2
  exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo not found. Install Rust 1.89 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup.sh: creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python

have_torch=$($VPY -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION" ]; then
  echo "setup.sh: installing torch==$TORCH_VERSION and torchvision==$TORCHVISION_VERSION into .venv (about 3 GB, once)"
  $VPY -m pip install --quiet --disable-pip-version-check \
    "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" numpy safetensors
fi

# The metric packages are installed with torch and torchvision pinned, so pip never swaps them.
TENSORBOARD_VERSION=2.21.0
if [ "$with_metrics" = 1 ]; then
  if ! $VPY -c "import torch_fidelity, pytorch_fid, scipy" 2>/dev/null; then
    echo "setup.sh: installing torch-fidelity, pytorch-fid and scipy into .venv"
    $VPY -m pip install --quiet --disable-pip-version-check \
      "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" torch-fidelity pytorch-fid scipy
  fi
  have_tb=$($VPY -c "import tensorboard; print(tensorboard.__version__)" 2>/dev/null || true)
  if [ "$have_tb" != "$TENSORBOARD_VERSION" ]; then
    echo "setup.sh: installing tensorboard==$TENSORBOARD_VERSION into .venv"
    $VPY -m pip install --quiet --disable-pip-version-check \
      "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "tensorboard==$TENSORBOARD_VERSION"
  fi
fi

torch_dir=$($VPY -c "import torch, os; print(os.path.dirname(torch.__file__))")
if [ "$(readlink .venv/libtorch 2>/dev/null || true)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" .venv/libtorch
fi
echo "setup.sh: ready (libtorch $TORCH_VERSION at $torch_dir)"
echo "          build with: cargo build --release   test with: scripts/test.sh"
