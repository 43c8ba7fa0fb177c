#!/usr/bin/env python3
"""How alike two trainings of the same architectures rank them, step by step.

For a comparison made with `autogan compare --train-seeds 2 --train-args "--eval-every N"`
(every training scores its EMA generator every N G steps into its train.jsonl), print for
each evaluated step the Kendall tau (tau-b) between the first and the second training's
scores over the architectures, one training's standard deviation for a fixed architecture
(pooled), and the standard deviation between the architectures' means of two; then the same
for each architecture's mean over a window of its last W evaluations (W = 3, 5), which tells
whether averaging a training's late evaluations makes its score reproducible.

Standard library only. Usage: scripts/dev/noise_by_step.py COMPARE_DIR [--windows 3,5]
"""
import json
import math
import os
import sys


def kendall_tau_b(x, y):
    conc = disc = tx = ty = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            tx += dx == 0
            ty += dy == 0
            if dx and dy:
                if (dx > 0) == (dy > 0):
                    conc += 1
                else:
                    disc += 1
    pairs = n * (n - 1) // 2
    denom = math.sqrt((pairs - tx) * (pairs - ty))
    return (conc - disc) / denom if denom else float("nan")


def evals(path):
    out = {}
    with open(path) as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("kind") == "eval":
                out[d["step"]] = (d["is_mean"], d["fid"])
    return out


def stats(pairs, get):
    """Per metric (IS, FID): tau between the two trainings, pooled within std, between std."""
    res = []
    for k in (0, 1):
        xs = [get(a)[k] for a, _ in pairs]
        ys = [get(b)[k] for _, b in pairs]
        within = math.sqrt(sum((u - v) ** 2 for u, v in zip(xs, ys)) / len(xs) / 2)
        means = [(u + v) / 2 for u, v in zip(xs, ys)]
        mu = sum(means) / len(means)
        between = math.sqrt(sum((m - mu) ** 2 for m in means) / (len(means) - 1))
        res.append((kendall_tau_b(xs, ys), within, between))
    return res


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    root = os.path.join(args[0], "train")
    windows = [3, 5]
    if "--windows" in args:
        windows = [int(w) for w in args[args.index("--windows") + 1].split(",")]
    runs = {}
    for name in sorted(os.listdir(root)):
        f = os.path.join(root, name, "train.jsonl")
        if os.path.exists(f):
            runs[name] = evals(f)
    # Training 0 is train/<label>, training 1 train/<label>.seed<N>.
    pairs = []
    for name in runs:
        if ".seed" in name:
            continue
        second = [n for n in runs if n.startswith(name + ".seed")]
        if second:
            pairs.append((name, sorted(second)[0]))
    # Only architectures whose two trainings both reached the last step any training reached
    # (a training still running is left out, and said so).
    steps = sorted(set().union(*[set(runs[a]) | set(runs[b]) for a, b in pairs]))
    if not steps:
        sys.exit(f"{args[0]}: no evaluation in any train.jsonl (--eval-every?)")
    whole = [(a, b) for a, b in pairs if set(steps) <= set(runs[a]) & set(runs[b])]
    left = [a for a, _ in pairs if (a, _) not in whole]
    pairs = whole
    if len(pairs) < 2:
        sys.exit(f"{args[0]}: fewer than two architectures with two complete trainings")
    print(f"{len(pairs)} architectures, two trainings each; one line per evaluated step")
    if left:
        print(f"left out (a training not complete): {', '.join(left)}")
    print("step     IS: tau  within between |  FID: tau  within between")
    for s in steps:
        (ti, wi, bi), (tf, wf, bf) = stats(pairs, lambda n: runs[n][s])
        print(f"{s:5d}  {ti:9.3f} {wi:7.3f} {bi:7.3f} | {tf:9.3f} {wf:7.2f} {bf:7.2f}")
    for w in windows:
        print(f"mean of the last {w} evaluations up to the step")
        for end in steps:
            win = [s for s in steps if s <= end][-w:]
            if len(win) < w:
                continue

            def mean(n):
                v = [runs[n][s] for s in win]
                return (sum(a for a, _ in v) / w, sum(b for _, b in v) / w)

            (ti, wi, bi), (tf, wf, bf) = stats(pairs, mean)
            print(f"{win[0]:5d}..{end:<5d} IS: {ti:6.3f} {wi:7.3f} {bi:7.3f} | FID: {tf:6.3f} {wf:7.2f} {bf:7.2f}")


if __name__ == "__main__":
    main()
