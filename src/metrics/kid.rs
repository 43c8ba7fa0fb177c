//! `kid`: the Kernel Inception Distance as torch-fidelity computes it (its `metric_kid.py`
//! defaults): `KID_SUBSETS` random subsets of `KID_SUBSET_SIZE` features drawn without
//! replacement from each side, per subset the unbiased estimate of the squared MMD with the
//! polynomial kernel `k(x, y) = (x·y / d + 1)^3`, then the mean and the population standard
//! deviation over the subsets.
//!
//! Two differences from torch-fidelity, both stated in the README: the subset size is clipped
//! to the smaller side's count (torch-fidelity refuses fewer samples than the subset size),
//! and the subsets are drawn with this program's own seeded generator (torch-fidelity uses
//! numpy's `RandomState(2020)`), so with fewer than `KID_SUBSET_SIZE` images on both sides
//! every subset is the whole set and the value is the same as torch-fidelity's, while with
//! more it is another draw of the same estimator. Kernels are computed in float64.
use anyhow::{bail, Result};
use rand::SeedableRng;
use tch::{Kind, Tensor};

use super::metric::{
    need_features, need_real_features, Collected, Metric, Needs, RealSide, Selectable,
};

/// torch-fidelity's `kid_subsets`.
pub const KID_SUBSETS: usize = 100;
/// torch-fidelity's `kid_subset_size`.
pub const KID_SUBSET_SIZE: i64 = 1000;
/// The seed of the subset draws (torch-fidelity's `rng_seed`), fixed so that KID does not
/// depend on the run's seed.
pub const KID_SEED: u64 = 2020;

/// Mean and population standard deviation of the per-subset MMD² estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KidResult {
    pub mean: f64,
    pub std: f64,
    /// The subset size used (`KID_SUBSET_SIZE` clipped to the counts).
    pub subset_size: i64,
}

/// The polynomial kernel matrix `(x yᵀ / d + 1)^3`, float64.
fn poly_kernel(x: &Tensor, y: &Tensor) -> Tensor {
    let d = x.size()[1] as f64;
    (x.mm(&y.tr()) / d + 1.0).pow_tensor_scalar(3)
}

/// The unbiased estimate of MMD² from the kernel matrices of two samples of m points
/// (`[m, m]` each, m >= 2): the within-set sums leave the diagonal out, the cross sum keeps
/// it (torch-fidelity's `mmd2(..., mmd_est="unbiased")`).
fn mmd2_unbiased(kxx: &Tensor, kyy: &Tensor, kxy: &Tensor) -> f64 {
    let m = kxx.size()[0] as f64;
    let within = (kxx.sum(Kind::Double) - kxx.trace() + kyy.sum(Kind::Double) - kyy.trace())
        .double_value(&[]);
    let cross = kxy.sum(Kind::Double).double_value(&[]);
    within / (m * (m - 1.0)) - 2.0 * cross / (m * m)
}

/// The unbiased MMD² between the rows of `x` and `y` (both `[m, d]`, m >= 2), polynomial
/// kernel, in float64.
pub fn poly_mmd2_unbiased(x: &Tensor, y: &Tensor) -> f64 {
    let x = x.to_kind(Kind::Double);
    let y = y.to_kind(Kind::Double);
    mmd2_unbiased(
        &poly_kernel(&x, &x),
        &poly_kernel(&y, &y),
        &poly_kernel(&x, &y),
    )
}

/// Up to this many images on both sides together, the kernel between all of them is computed
/// once (float64, at most 288 MB) and every subset reads its part: far fewer products than 100
/// subsets of kernels computed anew. Above it, each subset computes its own.
pub const WHOLE_KERNEL_LIMIT: i64 = 6000;

/// KID over given subsets: `subsets` pairs int64 index vectors into `f1` and `f2` (float
/// `[n1, d]`, `[n2, d]`, any device), all of one length m >= 2.
pub fn kid_on_subsets(f1: &Tensor, f2: &Tensor, subsets: &[(Tensor, Tensor)]) -> Result<KidResult> {
    let whole = f1.size()[0] + f2.size().first().copied().unwrap_or(0) <= WHOLE_KERNEL_LIMIT;
    kid_on_subsets_with(f1, f2, subsets, whole)
}

/// [`kid_on_subsets`] with the kernel between all images computed once (`whole`) or per
/// subset; both give the same value up to rounding.
pub fn kid_on_subsets_with(
    f1: &Tensor,
    f2: &Tensor,
    subsets: &[(Tensor, Tensor)],
    whole: bool,
) -> Result<KidResult> {
    check_pair(f1, f2)?;
    if subsets.is_empty() {
        bail!("KID: no subsets");
    }
    let _guard = tch::no_grad_guard();
    let n1 = f1.size()[0];
    let all = whole.then(|| {
        let f = Tensor::cat(
            &[
                f1.to_kind(Kind::Double),
                f2.to_kind(Kind::Double).to_device(f1.device()),
            ],
            0,
        );
        poly_kernel(&f, &f)
    });
    let mut mmds = Vec::with_capacity(subsets.len());
    let mut size = 0;
    for (i1, i2) in subsets {
        size = i1.size()[0];
        if size < 2 || i2.size()[0] != size {
            bail!("KID: subsets must pair index sets of one size >= 2");
        }
        match &all {
            Some(k) => {
                let i1 = i1.to_device(k.device());
                let i2 = i2.to_device(k.device()) + n1;
                let rows1 = k.index_select(0, &i1);
                let rows2 = k.index_select(0, &i2);
                mmds.push(mmd2_unbiased(
                    &rows1.index_select(1, &i1),
                    &rows2.index_select(1, &i2),
                    &rows1.index_select(1, &i2),
                ));
            }
            None => {
                let x = f1.index_select(0, &i1.to_device(f1.device()));
                let y = f2.index_select(0, &i2.to_device(f2.device()));
                mmds.push(poly_mmd2_unbiased(&x, &y));
            }
        }
    }
    let k = mmds.len() as f64;
    let mean = mmds.iter().sum::<f64>() / k;
    let std = (mmds.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / k).sqrt();
    if !mean.is_finite() {
        bail!("KID is not finite (the features hold NaN or infinite values)");
    }
    Ok(KidResult {
        mean,
        std,
        subset_size: size,
    })
}

fn check_pair(f1: &Tensor, f2: &Tensor) -> Result<()> {
    let (a, b) = (f1.size(), f2.size());
    if a.len() != 2 || b.len() != 2 || a[1] != b[1] {
        bail!("KID: features must be two matrices of one width, got {a:?} and {b:?}");
    }
    if a[0] < 2 || b[0] < 2 {
        bail!(
            "KID of {} evaluated and {} reference images: it needs at least 2 on each side",
            a[0],
            b[0]
        );
    }
    Ok(())
}

/// KID with `subsets` subsets of `subset_size` (clipped to both counts) drawn with `seed`.
pub fn kid(
    f1: &Tensor,
    f2: &Tensor,
    subsets: usize,
    subset_size: i64,
    seed: u64,
) -> Result<KidResult> {
    check_pair(f1, f2)?;
    let (n1, n2) = (f1.size()[0], f2.size()[0]);
    let m = subset_size.min(n1).min(n2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut draw = |n: i64| {
        let idx: Vec<i64> = rand::seq::index::sample(&mut rng, n as usize, m as usize)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        Tensor::from_slice(&idx)
    };
    let picks: Vec<(Tensor, Tensor)> = (0..subsets.max(1)).map(|_| (draw(n1), draw(n2))).collect();
    kid_on_subsets(f1, f2, &picks)
}

/// `kid` (lower is better), with torch-fidelity's defaults.
pub struct Kid;

impl Metric for Kid {
    fn name(&self) -> &'static str {
        "kid"
    }
    fn describe(&self) -> &'static str {
        "Kernel Inception Distance, torch-fidelity's defaults (lower is better)"
    }
    fn needs(&self) -> Needs {
        Needs {
            features: true,
            real_features: true,
            ..Default::default()
        }
    }
    fn keys(&self) -> &'static [&'static str] {
        &["kid_mean", "kid_std"]
    }
    fn selectable(&self) -> &'static [Selectable] {
        &[Selectable {
            name: "kid",
            key: "kid_mean",
            higher_is_better: false,
        }]
    }
    fn compute(&self, gen: &Collected, real: Option<&RealSide>) -> Result<Vec<f64>> {
        let f1 = need_features(gen, "KID")?;
        let f2 = need_real_features(real, "KID")?;
        let r = kid(f1, f2, KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED)?;
        Ok(vec![r.mean, r.std])
    }
    fn format(&self, v: &[f64]) -> String {
        format!("{:.6} ± {:.6} ({KID_SUBSETS} subsets)", v[0], v[1])
    }
    fn label(&self) -> &'static str {
        "KID"
    }
}
