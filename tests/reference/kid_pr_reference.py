"""Reference KID and precision/recall for tests/metrics.rs, on features the test gives.

Usage: kid_pr_reference.py FEATURES.safetensors OUT_DIR

FEATURES holds float32 feat_a [n_a, d] (the evaluated side) and feat_b [n_b, d] (the real
side), n_b <= n_a, computed by our FID-Inception on the random weights of make_reference.py.
Writes into OUT_DIR:
  kid_subsets.safetensors  int64 idx_a, idx_b [100, n_b]: the subsets torch-fidelity draws
                           (numpy RandomState(2020), its default rng_seed) with subset size n_b
  kid_pr.json              torch-fidelity's KID with those subsets (kid_sub_*), its KID of
                           feat_a[:n_b] vs feat_b with subset size n_b, where every subset is
                           the whole set (kid_full_*), its precision/recall (tf_precision,
                           tf_recall), and precision/recall by the small numpy implementation
                           below (np_precision, np_recall)
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric


def np_precision_recall(gen, real, k):
    """Kynkäänniemi et al. 2019, written independently: float64, full distance matrices."""

    def dists(a, b):
        return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))

    def radii(x):
        # Column 0 of each sorted row is the point itself (distance 0).
        return np.sort(dists(x, x), axis=1)[:, k]

    def inside(q, p):
        return float(np.mean((dists(q, p) <= radii(p)[None, :]).any(axis=1)))

    return inside(gen, real), inside(real, gen)


def main():
    feats, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    f = load_file(feats)
    fa, fb = f["feat_a"], f["feat_b"]
    n_a, n_b = fa.shape[0], fb.shape[0]
    size = n_b

    kw = dict(kid_subsets=100, kid_subset_size=size, rng_seed=2020, verbose=False)
    sub = kid_features_to_metric(fa, fb, **kw)
    full = kid_features_to_metric(fa[:size].contiguous(), fb, **kw)

    # The same draws as kid_features_to_metric makes, in its order.
    rng = np.random.RandomState(2020)
    ia, ib = [], []
    for _ in range(100):
        ia.append(rng.choice(n_a, size, replace=False))
        ib.append(rng.choice(n_b, size, replace=False))
    save_file(
        {"idx_a": torch.from_numpy(np.stack(ia).astype(np.int64)), "idx_b": torch.from_numpy(np.stack(ib).astype(np.int64))},
        os.path.join(out, "kid_subsets.safetensors"),
    )

    prc = prc_features_to_metric(fa, fb, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    p, r = np_precision_recall(fa.double().numpy(), fb.double().numpy(), 3)
    ref = {
        "kid_sub_mean": sub["kernel_inception_distance_mean"],
        "kid_sub_std": sub["kernel_inception_distance_std"],
        "kid_full_mean": full["kernel_inception_distance_mean"],
        "kid_full_std": full["kernel_inception_distance_std"],
        "tf_precision": prc["precision"],
        "tf_recall": prc["recall"],
        "np_precision": p,
        "np_recall": r,
    }
    with open(os.path.join(out, "kid_pr.json"), "w") as fh:
        json.dump(ref, fh, indent=1)
    print(json.dumps(ref))


if __name__ == "__main__":
    sys.exit(main())
