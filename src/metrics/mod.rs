//! Image-quality metrics: Inception Score and Fréchet distance (FID), computed the way
//! torch-fidelity (TF protocol, the default) and pytorch-fid compute them (SPEC section 7).
//!
//! This module knows nothing of GANs. Its input is uint8 images `[N, 3, H, W]` (values
//! 0..=255, any H and W, any device); its outputs are features, logits, IS and FID. It does
//! no file or terminal I/O except reading weights (`inception`) and statistics files
//! (`stats`) from paths it is given.
//!
//! - `resize`: TF1 bilinear resize and the torch bilinear resize, the two protocols' input
//!   pipelines (`preprocess`).
//! - `inception`: the FID-Inception network and its weight file.
//! - `stats`: streaming mean / covariance in float64, the `.npz` format, the Fréchet distance.
//! - `is`: the Inception Score of a set of logits.
//! - `metric`: the `Metric` trait and the registry by name (`is`, `fid`, `kid`, `pr`); one
//!   file per metric: `is`, `fid`, `kid` (Kernel Inception Distance), `prc` (precision and
//!   recall).
//! - here: the `Scorer` trait (Inception today, a classifier later), the `Protocol` enum, the
//!   `Accumulator` that turns a stream of uint8 batches into IS and statistics, and
//!   `score_stream`, the one loop that feeds it (images made by a closure, so a generator's
//!   output or a data set's slices alike).
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

pub mod classifier;
pub mod factory;
pub mod fid;
pub mod inception;
pub mod is;
pub mod kid;
pub mod metric;
pub mod prc;
pub mod refcache;
pub mod registry;
pub mod resize;
pub mod source;
pub mod stats;
pub mod tiny;

pub use classifier::ClassifierScorer;
pub use inception::{Inception, InceptionScorer};
pub use is::{inception_score, IsResult, IS_SPLITS, MIN_RANKING_IMAGES};
pub use metric::{Collected, Metric, Needs, RealSide};
pub use stats::{frechet_distance, Stats, StatsAccumulator};

/// How uint8 images become the network's float input (SPEC section 7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
pub enum Protocol {
    /// torch-fidelity / the TF code of the paper: uint8 -> float32 -> TF1 bilinear resize to
    /// 299 (no half-pixel offset) -> (x - 128) / 128.
    #[default]
    #[serde(rename = "tf", alias = "tensorflow", alias = "torch-fidelity")]
    #[value(name = "tf", alias = "tensorflow", alias = "torch-fidelity")]
    Tf,
    /// pytorch-fid: x / 255 -> torch bilinear resize to 299 (align_corners = false) -> 2x - 1.
    #[serde(rename = "pytorch-fid", alias = "pytorch_fid", alias = "pytorchfid")]
    #[value(name = "pytorch-fid", alias = "pytorch_fid", alias = "pytorchfid")]
    PytorchFid,
}

/// Which scorer a command uses (`--scorer`, config `scorer`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ScorerKind {
    /// The FID-Inception network for natural images when its weights are installed, else the
    /// classifier
    #[default]
    Auto,
    /// The FID-Inception network (the paper's)
    Inception,
    /// A classifier trained once on the labelled data set
    Classifier,
}

impl ScorerKind {
    pub fn name(&self) -> &'static str {
        match self {
            ScorerKind::Auto => "auto",
            ScorerKind::Inception => "inception",
            ScorerKind::Classifier => "classifier",
        }
    }
}

impl std::fmt::Display for ScorerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Protocol {
    /// The name used on the command line and in JSON output: `tf` or `pytorch-fid`.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Tf => "tf",
            Protocol::PytorchFid => "pytorch-fid",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Protocol {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Protocol> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "tf" | "tensorflow" | "torch-fidelity" => Ok(Protocol::Tf),
            "pytorch-fid" | "pytorchfid" => Ok(Protocol::PytorchFid),
            other => bail!(
                "protocol '{other}' is not known: use tf (the paper's, default) or pytorch-fid"
            ),
        }
    }
}

/// Something that maps images to features (for FID) and class logits (for IS).
pub trait Scorer {
    /// Short name for reports: `inception`, `classifier`.
    fn name(&self) -> &str;
    /// The data set the scorer's network was trained on, for results to name: `imagenet` for
    /// Inception, the data set of a classifier scorer (`shapes`, `cifar10`, a folder).
    fn data_set(&self) -> Option<String> {
        None
    }
    /// Width of the feature vector (2048 for Inception).
    fn feature_dim(&self) -> i64;
    /// Number of logits (1008 for Inception).
    fn num_classes(&self) -> i64;
    /// `imgs`: uint8 `[B, 3, H, W]`, values 0..=255, on any device. Returns (features float32
    /// `[B, feature_dim]`, logits float32 `[B, num_classes]`), both on the scorer's device.
    fn features_and_logits(&self, imgs: &Tensor) -> Result<(Tensor, Tensor)>;
}

/// Check that `imgs` is a uint8 `[B, 3, H, W]` batch with B, H, W >= 1.
pub fn check_images(imgs: &Tensor) -> Result<()> {
    let sz = imgs.size();
    if imgs.kind() != Kind::Uint8 {
        bail!(
            "images must be uint8 [N,3,H,W] with values 0..=255, got {:?}",
            imgs.kind()
        );
    }
    if sz.len() != 4 || sz[1] != 3 || sz.iter().any(|&d| d < 1) {
        bail!("images must be uint8 [N,3,H,W] with N, H, W >= 1, got shape {sz:?}");
    }
    Ok(())
}

/// Images per scorer batch on `device`: 100 on the CPU (larger batches gain nothing there),
/// 500 on CUDA (a GPU needs hundreds to be busy; about 5 GB of activations for Inception).
pub fn scoring_batch(device: Device) -> i64 {
    if device.is_cuda() {
        500
    } else {
        100
    }
}

/// Score `n` images into `acc`, `batch` at a time: `make(start, count)` gives images
/// `start .. start + count` of the stream as uint8 `[count, 3, H, W]` (drawn from a
/// generator, sliced from a data set, read from files); `done(k)` is told how many have been
/// scored after each batch. Nothing here waits for the device: the features' sums and the
/// logits stay where the scorer computes them until the results are asked for.
pub fn score_stream(
    acc: &mut Accumulator,
    scorer: &dyn Scorer,
    n: i64,
    batch: i64,
    mut make: impl FnMut(i64, i64) -> Result<Tensor>,
    mut done: impl FnMut(i64),
) -> Result<()> {
    if batch < 1 {
        bail!("scoring batch size {batch}: must be at least 1");
    }
    let mut start = 0;
    while start < n {
        let count = batch.min(n - start);
        let imgs = make(start, count)?;
        acc.add_images(scorer, &imgs)?;
        start += count;
        done(start);
    }
    Ok(())
}

/// A scorer whose forward passes run at another precision (autocast; see
/// [`crate::device::autocast`]); its features and logits are float32 as always.
pub struct AtPrecision {
    inner: Box<dyn Scorer>,
    device: Device,
    precision: crate::device::Precision,
}

/// `scorer` at `precision` on `device` (itself for fp32).
pub fn at_precision(
    scorer: Box<dyn Scorer>,
    device: Device,
    precision: crate::device::Precision,
) -> Box<dyn Scorer> {
    match precision {
        crate::device::Precision::Fp32 => scorer,
        _ => Box::new(AtPrecision {
            inner: scorer,
            device,
            precision,
        }),
    }
}

impl Scorer for AtPrecision {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn data_set(&self) -> Option<String> {
        self.inner.data_set()
    }
    fn feature_dim(&self) -> i64 {
        self.inner.feature_dim()
    }
    fn num_classes(&self) -> i64 {
        self.inner.num_classes()
    }
    fn features_and_logits(&self, imgs: &Tensor) -> Result<(Tensor, Tensor)> {
        let (f, l) = crate::device::autocast(self.device, self.precision, || {
            self.inner.features_and_logits(imgs)
        })?;
        Ok((f.to_kind(Kind::Float), l.to_kind(Kind::Float)))
    }
}

/// What the metrics need from a stream of image batches: logits, feature statistics,
/// features.
///
/// Keeps the logits (float32 `[N, K]` on the scorer's device, 200 MB for 50k Inception
/// logits) when IS is wanted, float64 sums for the statistics when FID is wanted, and all
/// features (float32 `[N, D]`, 400 MB for 50k Inception features) only when a metric needs
/// them (KID, precision/recall). Adding a batch does not wait for the device.
pub struct Accumulator {
    logits: Option<Vec<Tensor>>,
    stats: Option<StatsAccumulator>,
    features: Option<Vec<Tensor>>,
    count: u64,
}

impl Accumulator {
    /// `want_is`: keep logits for IS; `want_stats`: accumulate mean / covariance for FID.
    pub fn new(want_is: bool, want_stats: bool) -> Accumulator {
        Accumulator::for_needs(Needs {
            logits: want_is,
            stats: want_stats,
            ..Needs::default()
        })
    }

    /// An accumulator that keeps what `needs` asks for on the evaluated side.
    pub fn for_needs(needs: Needs) -> Accumulator {
        Accumulator {
            logits: needs.logits.then(Vec::new),
            stats: needs.stats.then(StatsAccumulator::new),
            features: needs.features.then(Vec::new),
            count: 0,
        }
    }

    /// What was collected, for `metric::compute_all`.
    pub fn collected(&self) -> Result<Collected> {
        Ok(Collected {
            logits: match self.logits.as_ref() {
                Some(l) if !l.is_empty() => Some(Tensor::cat(l, 0)),
                _ => None,
            },
            stats: match self.stats.as_ref() {
                Some(s) if self.count >= 2 => Some(s.finish()?),
                _ => None,
            },
            features: self.features(),
            count: self.count,
        })
    }

    /// All features added so far (float32 `[N, D]`), when they were kept.
    pub fn features(&self) -> Option<Tensor> {
        match self.features.as_ref() {
            Some(f) if !f.is_empty() => Some(Tensor::cat(f, 0)),
            _ => None,
        }
    }

    /// Score one uint8 `[B, 3, H, W]` batch with `scorer` and add it.
    pub fn add_images(&mut self, scorer: &dyn Scorer, imgs: &Tensor) -> Result<()> {
        check_images(imgs)?;
        let (features, logits) = scorer.features_and_logits(imgs)?;
        self.add(&features, &logits)
    }

    /// Add features (float `[B, D]`) and logits (float `[B, K]`) already computed.
    pub fn add(&mut self, features: &Tensor, logits: &Tensor) -> Result<()> {
        let b = features.size().first().copied().unwrap_or(0);
        if logits.size().first().copied() != Some(b) {
            bail!(
                "{} feature rows but {:?} logit rows",
                b,
                logits.size().first()
            );
        }
        if let Some(l) = self.logits.as_mut() {
            l.push(logits.detach().to_kind(Kind::Float));
        }
        if let Some(s) = self.stats.as_mut() {
            s.add(features)?;
        }
        if let Some(f) = self.features.as_mut() {
            f.push(features.detach().to_kind(Kind::Float));
        }
        self.count += b as u64;
        Ok(())
    }

    /// Number of images added so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The Inception Score over everything added (`splits` contiguous splits, in order).
    pub fn inception_score(&self, splits: i64) -> Result<IsResult> {
        let Some(l) = self.logits.as_ref() else {
            bail!("this accumulator was made without IS (Accumulator::new(false, _))");
        };
        if l.is_empty() {
            bail!("no images were scored: the Inception Score needs at least {splits} images");
        }
        inception_score(&Tensor::cat(l, 0), splits)
    }

    /// Mean and covariance of the features added so far.
    pub fn stats(&self) -> Result<Stats> {
        match self.stats.as_ref() {
            Some(s) => s.finish(),
            None => {
                bail!("this accumulator was made without statistics (Accumulator::new(_, false))")
            }
        }
    }
}
