#!/usr/bin/env bash
# A check of a machine with an NVIDIA GPU, in at most 8 minutes, into one summary file: autogan's
# device checks against the CPU, and training-step, Inception and search timings on CUDA against
# PyTorch eager and torch-fidelity.
#
#   bash scripts/gpu_check.sh --prepare   # where you build: build, copy torch-fidelity's
#                                         # source to target/pydeps, run the dry run
#   bash scripts/gpu_check.sh             # on the GPU machine, from the repository root
#   bash scripts/gpu_check.sh --dry-run   # the same steps on the CPU at toy sizes (tests/cuda.rs)
#
# The GPU machine needs target/release/autogan and target/pydeps (copy them there if you built
# elsewhere) and an installed torch 2.11.0 (found in /opt/torch/.venv or the repository's .venv;
# its torch/lib goes on LD_LIBRARY_PATH for the binary). No Rust, no network, no Inception
# weights: timings use random weights (the same work per image).
# Steps (each under its own `timeout`, so one hang cannot eat the budget): doctor; selftest
# (G, D, Inception, Adam on CUDA against the CPU; a short train and search); train bench at
# paper sizes (gf 256, df 128, D batch 64, G batch 128, 300 steps after 20) against PyTorch
# eager, fp32 and bf16; Inception features against torch-fidelity (5,000 images, batch 500);
# a timed slice of the paper search schedule with the whole schedule extrapolated.
# Output: $OUT/gpu_check_summary.md (OUT defaults to target/gpu_check, or
# target/gpu_check_dry for --dry-run), with every step's raw output at its end.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=gpu
case "${1:-}" in
    --dry-run) MODE=dry ;;
    --prepare) MODE=prepare ;;
    "") ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

BIN=${AUTOGAN_BIN:-target/release/autogan}

if [ "$MODE" = prepare ]; then
    export LIBTORCH=${LIBTORCH:-$PWD/.venv/libtorch}
    cargo build --release || exit 1
    py=.venv/bin/python
    src=$("$py" -c 'import torch_fidelity, os; print(os.path.dirname(torch_fidelity.__file__))') || {
        echo "gpu_check.sh: torch_fidelity is not installed in .venv (bash scripts/setup.sh --with-metrics)" >&2
        exit 1
    }
    rm -rf target/pydeps && mkdir -p target/pydeps && cp -r "$src" target/pydeps/
    rm -rf target/pydeps/torch_fidelity/__pycache__
    bash "$0" --dry-run || exit 1
    echo "ready: run 'bash scripts/gpu_check.sh' from the repository root on the GPU machine (if that is another machine, copy target/release/autogan and target/pydeps there first)"
    exit 0
fi

START=$(date +%s)
BUDGET=480
if [ "$MODE" = dry ]; then
    OUT=${OUT:-target/gpu_check_dry}
    DEVICE=cpu
else
    OUT=${OUT:-target/gpu_check}
    DEVICE=cuda
fi
mkdir -p "$OUT"
SUMMARY=$OUT/gpu_check_summary.md
STEPS=$(mktemp -d)
trap 'rm -rf "$STEPS"' EXIT

# libtorch: an installed torch 2.11.0's lib folder (the binary's rpath names the folder it was
# built against, which another machine may not have)
PY=
for venv in /opt/torch/.venv .venv; do
    if [ -x "$venv/bin/python" ] && lib=$("$venv/bin/python" -c \
        'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) \
        && [ -f "$lib/libtorch_cpu.so" ]; then
        PY=$venv/bin/python
        export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        break
    fi
done
TORCH_VERSION=$([ -n "$PY" ] && "$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)

THREADS=$(nproc)
if [ "$MODE" = dry ]; then
    THREADS=1  # toy ops are too small to share; a busy machine makes 2 threads wait on each other
    TRAIN_SIZE=(--gf-dim 8 --df-dim 8 --latent-dim 8 --batch-size 4 --gen-batch-size 8 --n-critic 5)
    TRAIN_RUN=(--steps 3 --warmup 1)
    TRAIN_IMAGES=(--images 64)
    INCEPTION=(--images 2)
    INCEPTION_BATCH=1
    SEARCH=(--gf-dim 8 --df-dim 8 --latent-dim 8 --d-steps 3 --warmup 1 --rl-num-eval-img 20 --images 256 --tiny-scorer)
    SELFTEST=(--toy)
else
    TRAIN_SIZE=(--gf-dim 256 --df-dim 128 --latent-dim 128 --batch-size 64 --gen-batch-size 128 --n-critic 5)
    TRAIN_RUN=(--steps 300 --warmup 20)
    TRAIN_IMAGES=(--images 50000)
    INCEPTION=(--images 5000)
    INCEPTION_BATCH=500
    SEARCH=(--preset cifar10 --d-steps 200 --warmup 20)
    SELFTEST=()
fi
ARCH=configs/arch/autogan_cifar10_a.json

# step NAME LIMIT_S CMD...: run CMD under timeout (at most LIMIT_S, and never past the budget),
# keep its stdout / stderr / exit code / seconds under $STEPS
step() {
    local name=$1 limit=$2 left t0 rc
    shift 2
    left=$(( BUDGET - ($(date +%s) - START) - 5 ))
    if [ "$left" -lt 10 ]; then
        echo "skipped: the 8-minute budget is spent" > "$STEPS/$name.err"
        echo 124 > "$STEPS/$name.rc"; echo 0 > "$STEPS/$name.secs"; : > "$STEPS/$name.out"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit}s)" >&2
    t0=$(date +%s%N)
    timeout --kill-after=5 "$limit" "$@" > "$STEPS/$name.out" 2> "$STEPS/$name.err"
    rc=$?
    echo "$rc" > "$STEPS/$name.rc"
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    printf '%d.%03d\n' $(( ms / 1000 )) $(( ms % 1000 )) > "$STEPS/$name.secs"
    [ "$rc" = 0 ] || echo "   $name: exit code $rc (see the summary)" >&2
}

if [ ! -x "$BIN" ]; then
    echo "gpu_check.sh: $BIN not found: build it (bash scripts/gpu_check.sh --prepare), or copy it here from where you built it" >&2
    exit 1
fi
if [ -z "$PY" ]; then
    echo "gpu_check.sh: no torch installation found in /opt/torch/.venv or .venv: the binary cannot find libtorch" >&2
    exit 1
fi
AG=("$BIN" --device "$DEVICE" --threads "$THREADS" --seed 0)

step doctor 20 "${AG[@]}" doctor --json
step selftest 90 "${AG[@]}" selftest ${SELFTEST[@]+"${SELFTEST[@]}"} --json
step train_autogan 80 "${AG[@]}" -q bench train --arch "$ARCH" "${TRAIN_SIZE[@]}" "${TRAIN_RUN[@]}" "${TRAIN_IMAGES[@]}" --json
step train_eager 80 env OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" "$PY" scripts/bench/train_eager.py \
    --arch "$ARCH" --device "$DEVICE" --threads "$THREADS" "${TRAIN_SIZE[@]}" "${TRAIN_RUN[@]}" --json
step inception_autogan 40 "${AG[@]}" -q bench inception "${INCEPTION[@]}" --batch-size "$INCEPTION_BATCH" --json
step inception_fidelity 60 "$PY" scripts/bench/inception_fidelity.py "${INCEPTION[@]}" --batch "$INCEPTION_BATCH" \
    --device "$DEVICE" --threads "$THREADS" --json
step search_slice 120 "${AG[@]}" -q bench search "${SEARCH[@]}" --json
step train_autogan_bf16 40 "${AG[@]}" -q bench train --arch "$ARCH" "${TRAIN_SIZE[@]}" "${TRAIN_RUN[@]}" "${TRAIN_IMAGES[@]}" --precision bf16 --json
step inception_autogan_bf16 25 "${AG[@]}" -q bench inception "${INCEPTION[@]}" --batch-size "$INCEPTION_BATCH" --precision bf16 --json
step train_autogan_nchw 40 env AUTOGAN_CHANNELS_LAST=0 "${AG[@]}" -q bench train --arch "$ARCH" "${TRAIN_SIZE[@]}" "${TRAIN_RUN[@]}" "${TRAIN_IMAGES[@]}" --json

GLIBC=$(ldd --version 2>/dev/null | head -1)
"$PY" - "$STEPS" "$SUMMARY" "$MODE" "$LD_LIBRARY_PATH" "$TORCH_VERSION" "$(( $(date +%s) - START ))" "$GLIBC" <<'PY'
import json, os, sys, datetime
steps, summary, mode, ldpath, torch_version, used, glibc = sys.argv[1:8]
names = ["doctor", "selftest", "train_autogan", "train_eager", "inception_autogan", "inception_fidelity",
         "search_slice", "train_autogan_bf16", "inception_autogan_bf16", "train_autogan_nchw"]

def read(name, ext):
    p = os.path.join(steps, f"{name}.{ext}")
    return open(p, errors="replace").read() if os.path.exists(p) else ""

def js(name):
    """The last JSON object a step printed, or None."""
    for line in reversed(read(name, "out").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    try:
        return json.loads(read(name, "out"))
    except ValueError:
        return None

def ok(name):
    return read(name, "rc").strip() == "0"

doc = js("doctor") or {}
gpus = doc.get("gpus") or []
gpu = ", ".join(f"{g['name']} ({g['memory_bytes'] / 2**30:.0f} GiB, cc {g['compute_capability'][0]}.{g['compute_capability'][1]})"
                for g in gpus) or "none (CPU)"
L = []
L.append(f"# autogan GPU check: {'DRY RUN on the CPU at toy sizes' if mode == 'dry' else 'CUDA'}")
L.append("")
L.append(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
L.append(f"- GPU: {gpu}")
L.append(f"- libtorch: {doc.get('libtorch_version', '?')} from {doc.get('libtorch_loaded_from', '?')} (torch {torch_version}; LD_LIBRARY_PATH {ldpath.split(':')[0]})")
L.append(f"- CPU threads: {doc.get('threads', '?')}; time used: {used} s of 480; {glibc} (the binary needs glibc 2.34+)")
L.append("")
L.append("| step | exit | seconds |")
L.append("|---|---|---|")
for n in names:
    secs = read(n, "secs").strip()
    try:
        secs = f"{float(secs):.1f}"
    except ValueError:
        pass
    L.append(f"| {n} | {read(n, 'rc').strip() or '-'} | {secs} |")
L.append("")
L.append("## Figures")
st = js("selftest")
if st:
    good = sum(1 for c in st["checks"] if c["ok"])
    L.append(f"- selftest ({st['device']} against the CPU): {good} of {len(st['checks'])} checks ok")
    for c in st["checks"]:
        L.append(f"  - {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['value']:.3e} (tolerance {c['tol']:.1e}) {c['note']}")
else:
    L.append("- selftest: no result (see its output below)")
a, b, a16, anchw = js("train_autogan"), js("train_eager"), js("train_autogan_bf16"), js("train_autogan_nchw")
if a:
    size = f"gf {a['gf_dim']}, df {a['df_dim']}, latent {a['latent_dim']}, D batch {a['batch_size']}, G batch {a['gen_batch_size']}, n_critic {a['n_critic']}, {a['steps']} steps after {a['warmup']}"
    L.append(f"- train step ({size}): autogan {a['steps_per_s']:.3f} steps/s ({a['d_images_per_s']:.0f} D images/s), "
             f"{a['host_syncs_per_step']:.3f} host syncs per step")
    if b:
        L.append(f"  - PyTorch eager {b['steps_per_s']:.3f} steps/s (torch {b['torch']}): ratio autogan / eager = {a['steps_per_s'] / b['steps_per_s']:.3f}")
    if a16:
        L.append(f"  - autogan bf16 autocast: {a16['steps_per_s']:.3f} steps/s ({a16['steps_per_s'] / a['steps_per_s']:.2f}x fp32)")
    if anchw:
        L.append(f"  - autogan with NCHW activations (AUTOGAN_CHANNELS_LAST=0): {anchw['steps_per_s']:.3f} steps/s ({anchw['steps_per_s'] / a['steps_per_s']:.2f}x channels-last)")
i, f, i16 = js("inception_autogan"), js("inception_fidelity"), js("inception_autogan_bf16")
if i:
    L.append(f"- Inception features ({i['images']} images of 32x32 resized to 299, batch {i['batch']}): autogan {i['images_per_s']:.1f} images/s")
    if f:
        L.append(f"  - torch-fidelity {f['images_per_s']:.1f} images/s ({f['source']}): ratio autogan / torch-fidelity = {i['images_per_s'] / f['images_per_s']:.3f}")
    if i16:
        L.append(f"  - autogan bf16 autocast: {i16['images_per_s']:.1f} images/s")
s = js("search_slice")
if s:
    L.append(f"- search schedule ({s['iterations']} iterations, gf {s['gf_dim']}, df {s['df_dim']}, {s['d_steps_per_iteration']} D steps per iteration, rewards of {s['rl_num_eval_img']} images, scorer {s['scorer']}):")
    for t in s["stages"]:
        L.append(f"  - stage {t['stage']} ({t['img_size']}x{t['img_size']}, {t['iterations']} iterations): {t['d_step_ms']:.2f} ms per D step, {t['reward_s']:.3f} s per reward, {t.get('host_syncs_per_d_step', float('nan')):.3f} host syncs per D step")
    L.append(f"  - whole schedule extrapolated: {s['total_h']:.2f} h ({s['total_d_steps']} D steps: {s['train_h']:.2f} h; {s['total_rewards']} rewards: {s['reward_h']:.2f} h); {s['note']}")
L.append("")
L.append("## Raw outputs")
for n in names:
    L.append(f"### {n} (exit {read(n, 'rc').strip() or '-'})")
    L.append("```")
    L.append(read(n, "out").rstrip()[-6000:])
    err = read(n, "err").rstrip()
    if err:
        L.append("--- stderr (last lines)")
        L.append("\n".join(err.splitlines()[-25:]))
    L.append("```")
open(summary, "w").write("\n".join(L) + "\n")
print("\n".join(L[: L.index("## Raw outputs")]))
PY
echo "summary: $SUMMARY" >&2
# the exit code says whether every step ran and every device check passed
for n in doctor selftest train_autogan train_eager inception_autogan inception_fidelity search_slice train_autogan_bf16 inception_autogan_bf16 train_autogan_nchw; do
    [ "$(cat "$STEPS/$n.rc" 2>/dev/null)" = 0 ] || exit 1
done
exit 0
