//! `pr`: improved precision and recall (Kynkäänniemi et al., NeurIPS 2019). Each set of
//! features spans a manifold: the union of balls around its points whose radius is the
//! distance to the point's `PR_K`-th nearest other point of the same set. Precision is the
//! fraction of evaluated (generated) points inside the real manifold, recall the fraction of
//! real points inside the generated one. A point on a ball's boundary counts as inside (as in
//! torch-fidelity's `metric_prc.py`). Distances are Euclidean, computed in float64 in blocks
//! of rows, so memory stays at a block times the other set's size.
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use super::metric::{
    need_features, need_real_features, Collected, Metric, Needs, RealSide, Selectable,
};

/// The neighbourhood size k of the paper.
pub const PR_K: i64 = 3;
/// Rows per block of the distance computations.
const BLOCK: i64 = 1024;

/// Squared Euclidean distances between the rows of `a` `[p, d]` and `b` `[q, d]`, float64,
/// clamped at 0.
fn sq_dists(a: &Tensor, b: &Tensor, b_sq: &Tensor) -> Tensor {
    let a_sq = a.square().sum_dim_intlist(1, true, Kind::Double);
    (a_sq + b_sq.view([1, -1]) - a.mm(&b.tr()) * 2.0).clamp_min(0.0)
}

/// The squared radius of every row of `f` (float64 `[n, d]`): its squared distance to the
/// k-th nearest other row (the (k+1)-th smallest distance, the row itself being the first).
fn radii(f: &Tensor, k: i64) -> Tensor {
    let sq = f.square().sum_dim_intlist(1, false, Kind::Double);
    let n = f.size()[0];
    let mut out = Vec::new();
    let mut lo = 0;
    while lo < n {
        let b = BLOCK.min(n - lo);
        let d = sq_dists(&f.narrow(0, lo, b), f, &sq);
        // The row itself: distance 0 exactly (rounding could leave it slightly above).
        let own = Tensor::arange_start(lo, lo + b, (Kind::Int64, f.device())).view([-1, 1]);
        let d = d.scatter_value(1, &own, 0.0);
        out.push(d.kthvalue(k + 1, 1, false).0);
        lo += b;
    }
    Tensor::cat(&out, 0)
}

/// The fraction of rows of `q` inside the manifold of `p` (balls of squared radius `r2`).
fn coverage(q: &Tensor, p: &Tensor, r2: &Tensor) -> f64 {
    let p_sq = p.square().sum_dim_intlist(1, false, Kind::Double);
    let n = q.size()[0];
    let mut inside = 0i64;
    let mut lo = 0;
    while lo < n {
        let b = BLOCK.min(n - lo);
        let d = sq_dists(&q.narrow(0, lo, b), p, &p_sq);
        let hit = d.le_tensor(&r2.view([1, -1])).any_dim(1, false);
        inside += hit.sum(Kind::Int64).int64_value(&[]);
        lo += b;
    }
    inside as f64 / n as f64
}

/// (precision, recall) of generated features `gen` against real features `real` (float
/// `[n, d]` and `[m, d]`, any device; both sets need more than k points).
pub fn precision_recall(gen: &Tensor, real: &Tensor, k: i64) -> Result<(f64, f64)> {
    let (a, b) = (gen.size(), real.size());
    if a.len() != 2 || b.len() != 2 || a[1] != b[1] {
        bail!("precision/recall: features must be two matrices of one width, got {a:?} and {b:?}");
    }
    if a[0] <= k || b[0] <= k {
        bail!(
            "precision/recall with k = {k} of {} evaluated and {} reference images: it needs at \
             least {} on each side",
            a[0],
            b[0],
            k + 1
        );
    }
    let _guard = tch::no_grad_guard();
    let g = gen.to_kind(Kind::Double);
    let r = real.to_kind(Kind::Double);
    let precision = coverage(&g, &r, &radii(&r, k));
    let recall = coverage(&r, &g, &radii(&g, k));
    Ok((precision, recall))
}

/// `pr`: precision and recall, k = 3 (both higher is better).
pub struct PrecisionRecall;

impl Metric for PrecisionRecall {
    fn name(&self) -> &'static str {
        "pr"
    }
    fn describe(&self) -> &'static str {
        "improved precision and recall, k = 3 (higher is better)"
    }
    fn needs(&self) -> Needs {
        Needs {
            features: true,
            real_features: true,
            ..Default::default()
        }
    }
    fn keys(&self) -> &'static [&'static str] {
        &["precision", "recall"]
    }
    fn selectable(&self) -> &'static [Selectable] {
        &[
            Selectable {
                name: "precision",
                key: "precision",
                higher_is_better: true,
            },
            Selectable {
                name: "recall",
                key: "recall",
                higher_is_better: true,
            },
        ]
    }
    fn min_images(&self) -> u64 {
        PR_K as u64 + 1
    }
    fn compute(&self, gen: &Collected, real: Option<&RealSide>) -> Result<Vec<f64>> {
        let f1 = need_features(gen, "precision/recall")?;
        let f2 = need_real_features(real, "precision/recall")?;
        let (p, r) = precision_recall(f1, f2, PR_K)?;
        Ok(vec![p, r])
    }
    fn format(&self, v: &[f64]) -> String {
        format!("precision {:.4}, recall {:.4} (k = {PR_K})", v[0], v[1])
    }
    fn label(&self) -> &'static str {
        "PR"
    }
}
