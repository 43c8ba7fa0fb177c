//! The Inception Score of a set of logits, as torch-fidelity computes it (SPEC section 7):
//! in float64, softmax over all classes, `splits` contiguous splits (rows
//! `i*N/splits .. (i+1)*N/splits`, no shuffling), per split `exp(mean_x KL(p(y|x) || p(y)))`
//! with `p(y)` the split's mean, then the mean and the population standard deviation.
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// Number of splits of the standard protocol.
pub const IS_SPLITS: i64 = 10;

/// The fewest images whose IS can rank generators: 2 per split. With one image per split every
/// split's score is exactly 1, whatever the images, so every architecture would tie at 1.0.
pub const MIN_RANKING_IMAGES: i64 = 2 * IS_SPLITS;

/// Mean and population standard deviation of the per-split scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsResult {
    pub mean: f64,
    pub std: f64,
}

/// IS of `logits`: float `[N, K]` (any device), N >= `splits` >= 1.
pub fn inception_score(logits: &Tensor, splits: i64) -> Result<IsResult> {
    let sz = logits.size();
    if sz.len() != 2 || !logits.is_floating_point() || sz[1] < 1 {
        bail!(
            "Inception Score: logits must be a float matrix [N, K], got {:?} {:?}",
            logits.kind(),
            sz
        );
    }
    if splits < 1 {
        bail!("Inception Score: {splits} splits; use at least 1");
    }
    let n = sz[0];
    if n < splits {
        bail!("Inception Score of {n} image(s) in {splits} splits: give at least {splits} images");
    }
    let _guard = tch::no_grad_guard();
    let x = logits.detach().to_device(Device::Cpu).to_kind(Kind::Double);
    let p = x.softmax(1, Kind::Double);
    let log_p = x.log_softmax(1, Kind::Double);
    let mut scores = Vec::with_capacity(splits as usize);
    for i in 0..splits {
        let (lo, hi) = (i * n / splits, (i + 1) * n / splits);
        let pc = p.narrow(0, lo, hi - lo);
        let lpc = log_p.narrow(0, lo, hi - lo);
        let q = pc.mean_dim(0, true, Kind::Double);
        let kl = (&pc * (lpc - q.log())).sum_dim_intlist(1, false, Kind::Double);
        scores.push(kl.mean(Kind::Double).exp().double_value(&[]));
    }
    let k = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / k;
    let std = (scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / k).sqrt();
    if !mean.is_finite() {
        bail!("the Inception Score is not finite (the logits hold NaN or infinite values)");
    }
    Ok(IsResult { mean, std })
}

/// `is`: the Inception Score over `IS_SPLITS` splits (higher is better).
pub struct InceptionScoreMetric;

impl super::metric::Metric for InceptionScoreMetric {
    fn name(&self) -> &'static str {
        "is"
    }
    fn describe(&self) -> &'static str {
        "Inception Score, 10 splits (higher is better)"
    }
    fn needs(&self) -> super::metric::Needs {
        super::metric::Needs {
            logits: true,
            ..Default::default()
        }
    }
    fn keys(&self) -> &'static [&'static str] {
        &["is_mean", "is_std"]
    }
    fn selectable(&self) -> &'static [super::metric::Selectable] {
        &[super::metric::Selectable {
            name: "is",
            key: "is_mean",
            higher_is_better: true,
        }]
    }
    fn min_images(&self) -> u64 {
        IS_SPLITS as u64
    }
    fn compute(
        &self,
        gen: &super::metric::Collected,
        _real: Option<&super::metric::RealSide>,
    ) -> Result<Vec<f64>> {
        let Some(l) = gen.logits.as_ref() else {
            bail!("IS: the scoring pass kept no logits");
        };
        let r = inception_score(l, IS_SPLITS)?;
        Ok(vec![r.mean, r.std])
    }
    fn format(&self, v: &[f64]) -> String {
        format!("{:.3} ± {:.3} ({IS_SPLITS} splits)", v[0], v[1])
    }
    fn label(&self) -> &'static str {
        "IS"
    }
}
