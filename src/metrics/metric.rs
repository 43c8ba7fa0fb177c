//! The metric seam: the `Metric` trait (the registry of metrics by name, `is`, `fid`, `kid`,
//! `pr`, is `registry.rs`, above the metrics). Every metric reads what one scoring pass collected (logits, feature statistics,
//! the features themselves) and, where it compares with real images, the reference side (its
//! statistics or features). A command asks `Needs::of` what to keep, runs the one scoring
//! loop (`score_stream` / `Accumulator`), and calls `compute_all`.
//!
//! Adding a metric: one file with a unit struct implementing `Metric`, and one line in
//! `registry::METRICS`.
use anyhow::{bail, Result};
use tch::Tensor;

use super::Stats;

/// What a metric reads. The generated side: `logits` (float32 `[N, K]`), `stats` (mean and
/// covariance of the features), `features` (all features, float32 `[N, D]`); the reference
/// side: `real_stats`, `real_features`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub logits: bool,
    pub stats: bool,
    pub features: bool,
    pub real_stats: bool,
    pub real_features: bool,
}

impl Needs {
    /// The union of what `metrics` need.
    pub fn of(metrics: &[&dyn Metric]) -> Needs {
        metrics.iter().fold(Needs::default(), |a, m| {
            let n = m.needs();
            Needs {
                logits: a.logits || n.logits,
                stats: a.stats || n.stats,
                features: a.features || n.features,
                real_stats: a.real_stats || n.real_stats,
                real_features: a.real_features || n.real_features,
            }
        })
    }

    /// Whether a reference (real images or their statistics) is needed at all.
    pub fn reference(&self) -> bool {
        self.real_stats || self.real_features
    }
}

/// What one scoring pass over the generated (or evaluated) images collected; each part is
/// there when the metrics asked for it.
pub struct Collected {
    /// float32 `[N, K]`, on the scorer's device.
    pub logits: Option<Tensor>,
    pub stats: Option<Stats>,
    /// float32 `[N, D]`, on the scorer's device.
    pub features: Option<Tensor>,
    pub count: u64,
}

/// The reference side: statistics and, where a metric needs them, the features (float32
/// `[M, D]`) of the real images.
pub struct RealSide {
    pub stats: Option<Stats>,
    pub features: Option<Tensor>,
}

/// A metric's values, in the order of its `keys()`.
pub type Values = Vec<f64>;

/// One selectable quantity (`--select-by NAME`): the output key it reads and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selectable {
    pub name: &'static str,
    pub key: &'static str,
    pub higher_is_better: bool,
}

/// A metric of generated images.
pub trait Metric: Sync {
    /// The name on the command line: `is`, `fid`, `kid`, `pr`.
    fn name(&self) -> &'static str;
    /// A line of help: what it is, its direction.
    fn describe(&self) -> &'static str;
    /// What it reads.
    fn needs(&self) -> Needs;
    /// The names of its values in JSON output and train.jsonl (`is_mean`, `is_std`; `fid`).
    fn keys(&self) -> &'static [&'static str];
    /// The quantities `--select-by` can choose checkpoints by.
    fn selectable(&self) -> &'static [Selectable];
    /// The fewest evaluated images it is defined for.
    fn min_images(&self) -> u64 {
        2
    }
    /// Its values (in `keys()` order) from what the pass collected and the reference side.
    fn compute(&self, gen: &Collected, real: Option<&RealSide>) -> Result<Values>;
    /// The value for the human table (one line, without the metric's label).
    fn format(&self, v: &[f64]) -> String;
    /// The label of the table line (`IS`, `FID`).
    fn label(&self) -> &'static str;
}

/// Every metric's values, as `(key, value)` pairs in registry and key order.
pub fn compute_all(
    metrics: &[&dyn Metric],
    gen: &Collected,
    real: Option<&RealSide>,
) -> Result<Vec<(&'static str, f64)>> {
    let mut out = Vec::new();
    for m in metrics {
        let v = m.compute(gen, real)?;
        out.extend(m.keys().iter().copied().zip(v));
    }
    Ok(out)
}

/// The value of `key` in `compute_all`'s output.
pub fn value(values: &[(&'static str, f64)], key: &str) -> Option<f64> {
    values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Whether `a` is better than `b` by `sel` (NaN is never better).
pub fn better(sel: &Selectable, a: f64, b: f64) -> bool {
    if sel.higher_is_better {
        a > b
    } else {
        a < b
    }
}

/// The reference's statistics, or an error naming the metric that needs them.
pub fn need_real_stats<'a>(real: Option<&'a RealSide>, metric: &str) -> Result<&'a Stats> {
    match real.and_then(|r| r.stats.as_ref()) {
        Some(s) => Ok(s),
        None => bail!("{metric} needs the reference's feature statistics (give --fid-ref)"),
    }
}

/// The reference's features, or an error naming the metric that needs them.
pub fn need_real_features<'a>(real: Option<&'a RealSide>, metric: &str) -> Result<&'a Tensor> {
    match real.and_then(|r| r.features.as_ref()) {
        Some(s) => Ok(s),
        None => bail!(
            "{metric} needs the reference's features: give --fid-ref a folder of images or a \
             data set name (a statistics file holds no features)"
        ),
    }
}

/// The evaluated images' features, or an error (a bug: `Needs::of` asks for them).
pub fn need_features<'a>(gen: &'a Collected, metric: &str) -> Result<&'a Tensor> {
    match gen.features.as_ref() {
        Some(f) => Ok(f),
        None => bail!("{metric}: the scoring pass kept no features"),
    }
}
