#!/usr/bin/env bash
# Does the search search? Trains the architecture a search found (its best.json) and N random
# architectures the same way (quick preset, same seed, same steps), then scores each with the
# same scorer, and prints every figure plus the random mean.
#
# usage: scripts/bench/search_vs_random.sh SEARCH_RUN_DIR [--steps 40] [--random 5] [--images 1000]
set -euo pipefail
cd "$(dirname "$0")/../.."
run=${1:?usage: scripts/bench/search_vs_random.sh SEARCH_RUN_DIR [--steps N] [--random N] [--images N]}
shift
steps=40 nrand=5 images=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --random) nrand=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    *) echo "search_vs_random.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=target/release/autogan
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Random archs: each token uniform in its range (C 0-1, N 0-2, U 0-2, SC 0-1, skips 0-1 / 0-3).
.venv/bin/python - "$work" "$nrand" <<'PY'
import json, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1234)
for i in range(n):
    v = []
    for k, skip in enumerate([None, 2, 4]):
        v += [rng.randrange(2), rng.randrange(3), rng.randrange(3), rng.randrange(2)]
        if skip:
            v.append(rng.randrange(skip))
    json.dump({"vector": v}, open(f"{out}/random{i + 1}.json", "w"))
PY
score() { # arch file -> classifier IS of its EMA generator after $steps steps
  local name=$1 arch=$2
  "$bin" --quiet --seed 0 train --arch "$arch" --preset quick --steps "$steps" --out "$work/$name" >/dev/null
  "$bin" --quiet --seed 0 eval "$work/$name" --scorer classifier --metric is --num-images "$images" --json \
    | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['is_mean'])"
}
found=$(score found "$run/best.json")
echo "found   $(.venv/bin/python -c "import json;print(json.load(open('$run/best.json'))['vector'])")  classifier IS $found"
sum=0
for i in $(seq 1 "$nrand"); do
  s=$(score "random$i" "$work/random$i.json")
  echo "random$i $(cat "$work/random$i.json")  classifier IS $s"
  sum=$(.venv/bin/python -c "print($sum + $s)")
done
echo "found arch: classifier IS $found; mean of $nrand random archs: $(.venv/bin/python -c "print($sum / $nrand)")"
