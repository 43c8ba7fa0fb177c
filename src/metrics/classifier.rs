//! The offline scorer: a small CNN classifier trained on a labelled data set, whose class
//! logits give a "classifier IS" and whose penultimate features give a "classifier FID"
//! (issue 4, section 4). It needs no download, so search and eval run on a fresh machine.
//!
//! This module owns the network (`ClassifierScorer`, a `Scorer` named `classifier`), its
//! training (`train_classifier`) and its cache file (`paths::home()/scorers/<key>.v<version>.safetensors`,
//! `load_or_train`). The cache is the one piece of file I/O here; progress goes to a callback
//! (`TrainEvent`) and the commands draw it: nothing here prints.
//!
//! Tensor contract: the scorer takes uint8 `[B, 3, H, W]` images (values 0..=255, any H and W,
//! any device), resizes them to `INPUT_SIZE` x `INPUT_SIZE` (bilinear, align_corners = false,
//! when growing, e.g. the 8x8 and 16x16 images of the search stages; area average when
//! shrinking, as `data::resize_u8` does), maps them to `x / 127.5 - 1` in [-1, 1] and returns
//! features float32 `[B, FEATURE_DIM]` (>= 0, after ReLU and global average pooling) and
//! logits float32 `[B, num_classes]`, on the scorer's device, always in eval mode.
//!
//! Network: four conv3x3-BN-ReLU blocks of 32, 64, 128, 256 channels, the first three followed
//! by a 2x2 max pool (32 -> 16 -> 8 -> 4), global average pooling to the 256-d feature, and a
//! linear layer to the logits. Initialised from our own seeded generator, never libtorch's
//! global one, so training or loading a scorer does not change the random stream of the run
//! that asked for it.
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::{check_images, frechet_distance, Accumulator, Scorer, IS_SPLITS};
use crate::data::{self, DataSpec, Dataset, SplitMix64};

/// The scorer's name in reports and result keys (`"scorer": "classifier"`).
pub const NAME: &str = "classifier";
/// Side of the images the network sees; other sizes are resized to it.
pub const INPUT_SIZE: i64 = 32;
/// Width of the penultimate feature (the "classifier FID" features).
pub const FEATURE_DIM: i64 = 256;
/// Channels of the four conv blocks.
const WIDTHS: [i64; 4] = [32, 64, 128, 256];
/// `format` in the cache file's metadata.
pub const FORMAT: &str = "autogan-classifier-scorer";
/// `format_version` in the cache file's metadata; a file of another version is refused.
/// Version 2: trained longer on more images (12 epochs of batch 64 at peak lr 2e-3 on 27,000
/// shapes images, instead of 3 of batch 32 at 1e-3 on 18,000), fewer low-resolution batches.
/// On the built-in set: held-out accuracy 0.975 (was 0.61), 0.948 at 16x16; real held-out
/// images have classifier IS 8.99 of 10. A version-1 file is never read for it (the cache file
/// name carries the version).
pub const FORMAT_VERSION: &str = "2";
/// Images of the built-in set the scorer is trained on (a tenth held out): more than a GAN
/// run uses, because the held-out accuracy is limited by the number of distinct images.
pub const SHAPES_TRAIN_COUNT: usize = 30_000;
/// Images per forward pass when scoring or measuring accuracy.
const EVAL_CHUNK: i64 = 500;
/// The epoch number given to `data::permutation` for the held-out split (the training epochs
/// use their own numbers with another seed).
const SPLIT_STREAM: u64 = 0x00c1_a551_f1e5;
/// Mixed with the seed for the batch order of the training epochs.
const ORDER_STREAM: u64 = 0x0b47_c405;
/// Mixed with the seed for the augmentation choices.
const AUGMENT_STREAM: u64 = 0xa06_3e47;

/// How to train a classifier scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierConfig {
    /// Passes over the training part.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: i64,
    /// Peak Adam learning rate; it decays to 0 along a cosine over all steps.
    pub lr: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Part of the labelled images kept out of training to measure accuracy, in (0, 1).
    pub heldout_fraction: f64,
    /// Seeds the held-out split, the batch order, the initial weights and the augmentation.
    pub seed: u64,
    /// Random horizontal flips of training images.
    pub flip: bool,
    /// Train a part of the batches at 8x8 and 16x16 (shrunk, then grown back to 32) so that the
    /// low-resolution images of the search stages are scored sensibly.
    pub low_res: bool,
    /// Side of the images the network is trained on and sees: `INPUT_SIZE` for the scorer of
    /// whole images, 8 or 16 for the scorer of a search stage (a stage scorer: images are
    /// shrunk to this size by area average, as a stage's real images are, and never grown).
    pub input_size: i64,
}

impl Default for ClassifierConfig {
    /// The setting of the cached scorers (see `FORMAT_VERSION` for what it gives on the
    /// built-in set; 3 epochs of batch 32 at 1e-3 gave a held-out accuracy of 0.61).
    fn default() -> ClassifierConfig {
        ClassifierConfig {
            epochs: 12,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 5e-4,
            heldout_fraction: 0.1,
            seed: 0,
            flip: true,
            low_res: true,
            input_size: INPUT_SIZE,
        }
    }
}

/// What a training achieved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrainReport {
    /// Accuracy on the augmented training batches of the last epoch (train mode), 0..=1.
    pub train_acc: f64,
    /// Accuracy on the held-out images at `INPUT_SIZE` (eval mode), 0..=1.
    pub heldout_acc: f64,
    /// Held-out accuracy of the same images shrunk to 8x8 and 16x16 first: (size, accuracy).
    pub heldout_acc_low_res: Vec<(i64, f64)>,
    /// Classifier IS of the held-out images (mean and std over `IS_SPLITS` splits, or over as
    /// many splits as there are images when fewer): what real images score, near the number
    /// of classes when the classifier is good.
    pub heldout_is: (f64, f64),
    /// Classifier FID between the held-out images and the training images: the floor of a
    /// perfect generator at this sample size.
    pub heldout_fid: f64,
    pub epochs: usize,
    pub n_train: usize,
    pub n_heldout: usize,
    /// Wall-clock seconds of the training (data split, epochs, held-out measurement).
    pub seconds: f64,
}

/// Progress of a training, for the bars and log lines that commands draw.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// `train_and_save` is about to train the scorer of `dataset`, to be cached at `path`.
    Caching {
        dataset: String,
        path: PathBuf,
        epochs: usize,
        /// Side of its images: `INPUT_SIZE`, or a stage size for a stage scorer.
        input_size: i64,
    },
    /// Before the first step.
    Start {
        total_steps: u64,
        n_train: usize,
        n_heldout: usize,
    },
    /// After each optimiser step (`step` counts from 1).
    Step { step: u64, loss: f64 },
    /// After each epoch (`epoch` counts from 1), accuracies in 0..=1.
    Epoch {
        epoch: usize,
        epochs: usize,
        train_acc: f64,
        heldout_acc: f64,
    },
    /// Another process is training the scorer to be cached at `path` (a parallel job of a
    /// comparison or sweep): this one waits for it and then reads it, rather than training
    /// the same scorer again.
    Waiting { path: PathBuf },
    /// `train_and_save` wrote the trained scorer of `dataset` to `path`.
    Saved {
        dataset: String,
        path: PathBuf,
        report: TrainReport,
    },
}

/// Where a scorer came from, as its cache file's metadata records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierInfo {
    /// The data set's display name (`shapes`, `cifar10`, a folder path).
    pub dataset: String,
    /// The cache key (`dataset_key`), empty when the scorer was never tied to a cache.
    pub key: String,
    pub num_classes: i64,
    /// Held-out accuracy at the scorer's input size, when known.
    pub heldout_acc: Option<f64>,
    pub seed: u64,
    /// Side of the images the network sees (`INPUT_SIZE`, or a stage size for a stage scorer).
    pub input_size: i64,
    /// A stage scorer: the held-out accuracy of the scorer of whole images on the same
    /// held-out images at this size (grown back to its input), when measured. A search uses
    /// the stage scorer only where it is the more accurate of the two.
    pub whole_scorer_acc: Option<f64>,
}

/// The four conv blocks and the linear head.
#[derive(Debug)]
struct Net {
    convs: Vec<Tensor>,
    bns: Vec<nn::BatchNorm>,
    fc_w: Tensor,
    fc_b: Tensor,
}

impl Net {
    /// Parameters `block{1..4}.conv.weight`, `block{i}.bn.*`, `fc.weight`, `fc.bias`,
    /// initialised from `seed` (He-uniform convs, PyTorch-style uniform linear, BN 1 / 0).
    fn new(p: &nn::Path, num_classes: i64, seed: u64) -> Net {
        let mut rng = SplitMix64::new(data::mix(seed, 0x1417));
        let mut uniform = |dims: &[i64], bound: f64| -> Tensor {
            let n: i64 = dims.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| rng.range(-bound as f32, bound as f32))
                .collect();
            Tensor::from_slice(&v).view(dims)
        };
        let mut convs = Vec::new();
        let mut bns = Vec::new();
        let mut cin = 3;
        for (i, &c) in WIDTHS.iter().enumerate() {
            let b = p / format!("block{}", i + 1);
            let fan_in = (cin * 9) as f64;
            let w = uniform(&[c, cin, 3, 3], (6.0 / fan_in).sqrt());
            convs.push((&b / "conv").var_copy("weight", &w));
            let cfg = nn::BatchNormConfig {
                ws_init: nn::Init::Const(1.0),
                bs_init: nn::Init::Const(0.0),
                ..Default::default()
            };
            bns.push(nn::batch_norm2d(&b / "bn", c, cfg));
            cin = c;
        }
        let bound = 1.0 / (FEATURE_DIM as f64).sqrt();
        let fc = p / "fc";
        let fc_w = fc.var_copy("weight", &uniform(&[num_classes, FEATURE_DIM], bound));
        let fc_b = fc.var_copy("bias", &uniform(&[num_classes], bound));
        Net {
            convs,
            bns,
            fc_w,
            fc_b,
        }
    }

    /// `x`: float `[B, 3, 32, 32]` in [-1, 1]. Returns (features `[B, 256]`, logits `[B, K]`).
    fn forward_t(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let mut h = x.shallow_clone();
        for (i, (w, bn)) in self.convs.iter().zip(&self.bns).enumerate() {
            h = h.conv2d(w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
            h = bn.forward_t(&h, train).relu();
            if i + 1 < self.convs.len() {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        let f = h.mean_dim(&[2i64, 3][..], false, Kind::Float);
        let logits = f.linear(&self.fc_w, Some(&self.fc_b));
        (f, logits)
    }
}

/// A classifier used as a `Scorer` (name `classifier`).
pub struct ClassifierScorer {
    vs: nn::VarStore,
    net: Net,
    num_classes: i64,
    info: ClassifierInfo,
}

impl std::fmt::Debug for ClassifierScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifierScorer")
            .field("info", &self.info)
            .field("device", &self.vs.device())
            .finish()
    }
}

impl ClassifierScorer {
    /// An untrained classifier of `num_classes` (>= 2) classes on `device`, initialised from
    /// `seed`.
    pub fn new(num_classes: i64, device: Device, seed: u64) -> Result<ClassifierScorer> {
        ClassifierScorer::with_input_size(num_classes, device, seed, INPUT_SIZE)
    }

    /// [`ClassifierScorer::new`] for images of side `input_size` (4 to `INPUT_SIZE`): a stage
    /// scorer when below `INPUT_SIZE`.
    pub fn with_input_size(
        num_classes: i64,
        device: Device,
        seed: u64,
        input_size: i64,
    ) -> Result<ClassifierScorer> {
        if !(4..=INPUT_SIZE).contains(&input_size) {
            bail!("a classifier scorer takes images of side 4 to {INPUT_SIZE}, not {input_size}");
        }
        if num_classes < 2 {
            bail!("a classifier scorer needs at least 2 classes, got {num_classes}");
        }
        let vs = nn::VarStore::new(device);
        let net = Net::new(&vs.root(), num_classes, seed);
        Ok(ClassifierScorer {
            vs,
            net,
            num_classes,
            info: ClassifierInfo {
                dataset: String::new(),
                key: String::new(),
                num_classes,
                heldout_acc: None,
                seed,
                input_size,
                whole_scorer_acc: None,
            },
        })
    }

    /// Where it came from (data set, key, held-out accuracy).
    pub fn info(&self) -> &ClassifierInfo {
        &self.info
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Record measured accuracies: its own on held-out images and, for a stage scorer, that of
    /// the scorer of whole images on the same images (see `ClassifierInfo`).
    pub fn set_accuracies(&mut self, heldout: f64, whole_scorer: Option<f64>) {
        self.info.heldout_acc = Some(heldout);
        self.info.whole_scorer_acc = whole_scorer;
    }

    /// Side of the images the network sees.
    pub fn input_size(&self) -> i64 {
        self.info.input_size
    }

    /// Images uint8 `[B, 3, H, W]` -> the network's float input `[B, 3, S, S]` in [-1, 1]
    /// on the scorer's device, S its input size.
    fn prepare(&self, imgs: &Tensor) -> Tensor {
        let x = imgs.to_device(self.device()).to_kind(Kind::Float);
        let x = resize_float(&x, self.info.input_size);
        x / 127.5 - 1.0
    }

    /// Eval-mode features and logits of uint8 images, in chunks of `EVAL_CHUNK`.
    fn eval_forward(&self, imgs: &Tensor) -> (Tensor, Tensor) {
        let _guard = tch::no_grad_guard();
        let n = imgs.size()[0];
        let (mut fs, mut ls) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < n {
            let len = EVAL_CHUNK.min(n - start);
            let x = self.prepare(&imgs.narrow(0, start, len));
            let (f, l) = self.net.forward_t(&x, false);
            fs.push(f);
            ls.push(l);
            start += len;
        }
        if fs.len() == 1 {
            (fs.remove(0), ls.remove(0))
        } else {
            (Tensor::cat(&fs, 0), Tensor::cat(&ls, 0))
        }
    }

    /// Predicted classes, int64 `[B]` on the scorer's device, of uint8 `[B, 3, H, W]` images.
    pub fn predict(&self, imgs: &Tensor) -> Result<Tensor> {
        Ok(self.features_and_logits(imgs)?.1.argmax(1, false))
    }

    /// Fraction (0..=1) of `images` (uint8 `[N, 3, H, W]`) whose predicted class is `labels`
    /// (int64 `[N]`).
    pub fn accuracy(&self, images: &Tensor, labels: &Tensor) -> Result<f64> {
        let n = images.size().first().copied().unwrap_or(0);
        if n == 0 {
            bail!("accuracy of 0 images: give at least one labelled image");
        }
        let pred = self.predict(images)?;
        let right = pred
            .eq_tensor(&labels.to_device(pred.device()))
            .sum(Kind::Int64)
            .int64_value(&[]);
        Ok(right as f64 / n as f64)
    }

    /// Write the weights and `info` as metadata to `path` (temporary file, then rename;
    /// the parent folder is created).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        let mut tensors: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert(
            "format_version".to_string(),
            version_of(self.info.input_size).to_string(),
        );
        meta.insert("scorer".to_string(), NAME.to_string());
        meta.insert("dataset".to_string(), self.info.dataset.clone());
        meta.insert("dataset_key".to_string(), self.info.key.clone());
        meta.insert("image_size".to_string(), self.info.input_size.to_string());
        meta.insert("num_classes".to_string(), self.num_classes.to_string());
        meta.insert("feature_dim".to_string(), FEATURE_DIM.to_string());
        meta.insert("seed".to_string(), self.info.seed.to_string());
        if let Some(a) = self.info.heldout_acc {
            meta.insert("heldout_accuracy".to_string(), format!("{a}"));
        }
        if let Some(a) = self.info.whole_scorer_acc {
            meta.insert("whole_scorer_heldout_accuracy".to_string(), format!("{a}"));
        }
        crate::safetensors::write(path, &tensors, &meta)
    }

    /// Read a scorer written by `save` onto `device`. Every problem (missing, truncated,
    /// another format or version, missing or misshapen tensors) is an error naming the file.
    pub fn load(path: &Path, device: Device) -> Result<ClassifierScorer> {
        ClassifierScorer::load_sized(path, device, INPUT_SIZE)
    }

    /// [`ClassifierScorer::load`] of a scorer for images of side `input_size` (a stage
    /// scorer when below `INPUT_SIZE`); a file of another size is refused.
    pub fn load_sized(path: &Path, device: Device, input_size: i64) -> Result<ClassifierScorer> {
        let fix = "delete it or run `autogan scorer train --dataset NAME` to write it again";
        let meta = crate::safetensors::read_metadata(path)
            .with_context(|| format!("classifier scorer file {}: {fix}", path.display()))?;
        let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
        let version = version_of(input_size);
        if get("format") != FORMAT || get("format_version") != version {
            bail!(
                "{} is not a classifier scorer of format {FORMAT} version {version} \
                 (found format '{}' version '{}'); {fix}",
                path.display(),
                get("format"),
                get("format_version")
            );
        }
        if get("image_size") != input_size.to_string()
            || get("feature_dim") != FEATURE_DIM.to_string()
        {
            bail!(
                "{}: a classifier for {}x{} input with {}-d features, not the {input_size}x{input_size} / {FEATURE_DIM}-d one of this version; {fix}",
                path.display(),
                get("image_size"),
                get("image_size"),
                get("feature_dim")
            );
        }
        let num_classes: i64 = get("num_classes").parse().unwrap_or(0);
        let seed: u64 = get("seed").parse().unwrap_or(0);
        let mut sc = ClassifierScorer::with_input_size(num_classes, device, seed, input_size)
            .with_context(|| {
                format!("{}: bad num_classes in its metadata; {fix}", path.display())
            })?;
        let tensors = crate::safetensors::read(path)
            .with_context(|| format!("classifier scorer file {}: {fix}", path.display()))?;
        let mut by_name: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        let _guard = tch::no_grad_guard();
        for (name, mut var) in sc.vs.variables() {
            let Some(t) = by_name.remove(&name) else {
                bail!("{}: tensor {name} is missing; {fix}", path.display());
            };
            if t.size() != var.size() || !t.is_floating_point() {
                bail!(
                    "{}: tensor {name} is {:?} {:?}, expected float {:?}; {fix}",
                    path.display(),
                    t.kind(),
                    t.size(),
                    var.size()
                );
            }
            var.copy_(&t.to_kind(var.kind()));
        }
        if let Some(extra) = by_name.keys().next() {
            bail!(
                "{}: unexpected tensor {extra} (not a classifier scorer of this version); {fix}",
                path.display()
            );
        }
        sc.info = ClassifierInfo {
            dataset: get("dataset").to_string(),
            key: get("dataset_key").to_string(),
            num_classes,
            heldout_acc: get("heldout_accuracy").parse().ok(),
            seed,
            input_size,
            whole_scorer_acc: get("whole_scorer_heldout_accuracy").parse().ok(),
        };
        Ok(sc)
    }
}

impl Scorer for ClassifierScorer {
    fn name(&self) -> &str {
        NAME
    }

    fn data_set(&self) -> Option<String> {
        Some(self.info.dataset.clone())
    }

    fn feature_dim(&self) -> i64 {
        FEATURE_DIM
    }

    fn num_classes(&self) -> i64 {
        self.num_classes
    }

    fn features_and_logits(&self, imgs: &Tensor) -> Result<(Tensor, Tensor)> {
        check_images(imgs)?;
        Ok(self.eval_forward(imgs))
    }
}

/// Float `[B, 3, H, W]` -> `[B, 3, size, size]`: bilinear (align_corners = false) when growing,
/// area average when shrinking (as `data::resize_u8`), unchanged at `size`.
fn resize_float(x: &Tensor, size: i64) -> Tensor {
    let sz = x.size();
    if sz[2] == size && sz[3] == size {
        x.shallow_clone()
    } else if size <= sz[2].min(sz[3]) {
        x.adaptive_avg_pool2d([size, size])
    } else {
        x.upsample_bilinear2d([size, size], false, None, None)
    }
}

/// The message for a data set the classifier scorer cannot use.
fn needs_labels(name: &str, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "data set '{name}' {why}: the classifier scorer needs labelled data with at least 2 \
         classes (shapes, cifar10, the stl10 train split, or a folder with one subfolder per \
         class); use --scorer inception for this data set"
    )
}

/// The labelled images of `ds` (uint8 `[N, 3, H, W]`, int64 labels in `0..K`) and K, or the
/// error that says the classifier scorer needs labelled data.
pub fn require_labelled(ds: &Dataset) -> Result<(Dataset, i64)> {
    let Some(l) = ds.labelled_only() else {
        return Err(needs_labels(&ds.name, "has no labels"));
    };
    let labels = l.labels.as_ref().map(|t| t.shallow_clone());
    let Some(labels) = labels else {
        return Err(needs_labels(&ds.name, "has no labels"));
    };
    let max = labels.max().int64_value(&[]);
    let k = ds.num_classes.unwrap_or(max + 1).max(max + 1);
    let present = labels
        .to_device(Device::Cpu)
        .bincount(None::<Tensor>, k)
        .gt(0)
        .sum(Kind::Int64)
        .int64_value(&[]);
    if present < 2 {
        return Err(needs_labels(
            &ds.name,
            &format!("has labels of only {present} class"),
        ));
    }
    Ok((l, k))
}

/// Rows `idx` (int64 on the CPU) of a labelled set as a new set.
fn subset(ds: &Dataset, idx: &[i64], num_classes: i64) -> Result<Dataset> {
    let idx = Tensor::from_slice(idx).to_device(ds.device());
    let labels = ds.labels.as_ref().map(|l| l.index_select(0, &idx));
    Dataset::new(
        &ds.name,
        ds.images.index_select(0, &idx),
        labels,
        Some(num_classes),
    )
}

/// Train a classifier scorer on the labelled images of `ds` (any image size; resized to
/// `INPUT_SIZE` first). A seeded `cfg.heldout_fraction` of the images is held out; the report
/// gives the accuracy on them. `progress` receives a `TrainEvent` at the start, after each
/// step and after each epoch. Deterministic for a seed on the CPU (same thread count).
pub fn train_classifier(
    ds: &Dataset,
    cfg: &ClassifierConfig,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(ClassifierScorer, TrainReport)> {
    let t0 = Instant::now();
    if cfg.epochs == 0 || cfg.batch_size < 1 {
        bail!(
            "classifier scorer: {} epochs of batch {}: use at least 1 of each",
            cfg.epochs,
            cfg.batch_size
        );
    }
    if !(cfg.heldout_fraction > 0.0 && cfg.heldout_fraction < 1.0) {
        bail!(
            "classifier scorer: held-out fraction {} must be between 0 and 1 (e.g. 0.1)",
            cfg.heldout_fraction
        );
    }
    let (held, train, k) = split(ds, cfg)?;
    let train = train.to_device(device);
    let n_held = held.len();
    let n_train = train.len();
    let batch = cfg.batch_size.min(n_train as i64);
    let per_epoch = train.batches_per_epoch(batch) as u64;
    let total = per_epoch * cfg.epochs as u64;
    progress(TrainEvent::Start {
        total_steps: total,
        n_train,
        n_heldout: n_held,
    });

    let sc = ClassifierScorer::with_input_size(k, device, cfg.seed, cfg.input_size)?;
    let mut opt = nn::AdamW {
        wd: cfg.weight_decay,
        ..Default::default()
    }
    .build(&sc.vs, cfg.lr)?;
    let held_labels = held.labels.as_ref().map(|l| l.shallow_clone());
    let held_labels = held_labels.context("held-out part lost its labels")?;
    let mut rng = SplitMix64::new(data::mix(cfg.seed, AUGMENT_STREAM));
    let order_seed = data::mix(cfg.seed, ORDER_STREAM);
    let mut step = 0u64;
    let (mut train_acc, mut heldout_acc) = (0.0, 0.0);
    for epoch in 0..cfg.epochs {
        let mut right = Tensor::zeros([], (Kind::Int64, device));
        let mut seen = 0i64;
        for (x, y) in train.epoch_labelled(epoch as u64, order_seed, batch, None, device) {
            let lr =
                cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total as f64).cos());
            opt.set_lr(lr);
            let x = augment(&x.to_kind(Kind::Float), cfg, &mut rng);
            let (_, logits) = sc.net.forward_t(&(x / 127.5 - 1.0), true);
            let loss = logits.cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            right += logits
                .detach()
                .argmax(1, false)
                .eq_tensor(&y)
                .sum(Kind::Int64);
            seen += y.size()[0];
            step += 1;
            progress(TrainEvent::Step {
                step,
                loss: loss.double_value(&[]),
            });
        }
        train_acc = right.int64_value(&[]) as f64 / seen.max(1) as f64;
        heldout_acc = sc.accuracy(&held.images, &held_labels)?;
        progress(TrainEvent::Epoch {
            epoch: epoch + 1,
            epochs: cfg.epochs,
            train_acc,
            heldout_acc,
        });
    }
    let mut low_res = Vec::new();
    for s in [8, 16].into_iter().filter(|&s| s < cfg.input_size) {
        let small = data::resize_u8(&held.images, s);
        low_res.push((s, sc.accuracy(&small, &held_labels)?));
    }
    let (heldout_is, heldout_fid) = real_scores(&sc, &held.images, &train.images)?;
    let mut sc = sc;
    sc.info.dataset = ds.name.clone();
    sc.info.heldout_acc = Some(heldout_acc);
    let report = TrainReport {
        train_acc,
        heldout_acc,
        heldout_acc_low_res: low_res,
        heldout_is,
        heldout_fid,
        epochs: cfg.epochs,
        n_train,
        n_heldout: n_held,
        seconds: t0.elapsed().as_secs_f64(),
    };
    Ok((sc, report))
}

/// The held-out and training parts of the labelled images of `ds` at `cfg.input_size`, and
/// the number of classes: the split `train_classifier` uses for `cfg`'s seed and fraction.
pub fn split(ds: &Dataset, cfg: &ClassifierConfig) -> Result<(Dataset, Dataset, i64)> {
    let (labelled, k) = require_labelled(ds)?;
    let labelled = labelled.resized(cfg.input_size);
    let n = labelled.len();
    let n_held = ((n as f64 * cfg.heldout_fraction).round() as usize).clamp(1, n);
    if n - n_held < 2 {
        bail!(
            "data set '{}' has {n} labelled image(s): the classifier scorer needs more (a few thousand)",
            ds.name
        );
    }
    let perm = data::permutation(n, cfg.seed, SPLIT_STREAM);
    let held = subset(&labelled, &perm[..n_held], k)?;
    let train = subset(&labelled, &perm[n_held..], k)?;
    Ok((held, train, k))
}

/// (IS mean, IS std) of the uint8 images `held` and the FID between them and `train`, under
/// the scorer `sc`.
fn real_scores(sc: &ClassifierScorer, held: &Tensor, train: &Tensor) -> Result<((f64, f64), f64)> {
    let mut a = Accumulator::new(true, true);
    for chunk in held.split(EVAL_CHUNK, 0) {
        a.add_images(sc, &chunk)?;
    }
    let mut b = Accumulator::new(false, true);
    for chunk in train.split(EVAL_CHUNK, 0) {
        b.add_images(sc, &chunk)?;
    }
    let n = held.size()[0];
    let is = a.inception_score(IS_SPLITS.min(n))?;
    let fid = if n >= 2 && train.size()[0] >= 2 {
        frechet_distance(&a.stats()?, &b.stats()?)?
    } else {
        f64::NAN
    };
    Ok(((is.mean, is.std), fid))
}

/// Training augmentation of float `[B, 3, 32, 32]` images in 0..=255: random horizontal flips
/// (each image with probability 1/2) and, with `low_res`, one batch in 16 shrunk to 8x8 and
/// one in 16 to 16x16 (area average) and grown back (bilinear).
fn augment(x: &Tensor, cfg: &ClassifierConfig, rng: &mut SplitMix64) -> Tensor {
    let b = x.size()[0];
    let mut x = x.shallow_clone();
    if cfg.flip {
        let m: Vec<bool> = (0..b).map(|_| rng.f32() < 0.5).collect();
        let m = Tensor::from_slice(&m)
            .view([b, 1, 1, 1])
            .to_device(x.device());
        x = x.flip([3]).where_self(&m, &x);
    }
    if cfg.low_res && cfg.input_size == INPUT_SIZE {
        let r = rng.f32();
        let s = if r < 0.0625 {
            Some(8)
        } else if r < 0.125 {
            Some(16)
        } else {
            None
        };
        if let Some(s) = s {
            x = resize_float(&resize_float(&x, s), cfg.input_size);
        }
    }
    x
}

/// The cache key of a data set: `shapes`, `cifar10`, `stl10`, or for a folder
/// `folder-<name>-<16 hex digits>`, the hash (64-bit FNV-1a) of its canonical path, so two
/// folders of the same name never share a scorer.
pub fn dataset_key(spec: &DataSpec) -> Result<String> {
    let name = spec.name.as_deref().unwrap_or("shapes");
    if let Some(c) = data::canonical(name) {
        return Ok(c.to_string());
    }
    let path = Path::new(name);
    let canon = std::fs::canonicalize(path).with_context(|| {
        format!("--dataset {name}: no such data set or folder; use shapes (built-in), cifar10, stl10, or the path of a folder of PNG/JPEG images")
    })?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canon.as_os_str().as_encoded_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let base: String = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    Ok(format!("folder-{base}-{h:016x}"))
}

/// The cache file of a data set's scorer:
/// `paths::home()/scorers/<dataset_key>.v<FORMAT_VERSION>.safetensors`, so that a scorer of an
/// older version is never taken for the current one (it is trained again instead).
pub fn cache_path(spec: &DataSpec) -> Result<PathBuf> {
    cache_path_sized(spec, INPUT_SIZE)
}

/// The cache file of the scorer of `spec`'s data set for images of side `input_size`:
/// [`cache_path`] at `INPUT_SIZE`, else the stage scorer's
/// `<dataset_key>.<input_size>px.v<STAGE_FORMAT_VERSION>.safetensors`.
pub fn cache_path_sized(spec: &DataSpec, input_size: i64) -> Result<PathBuf> {
    let key = dataset_key(spec)?;
    let name = if input_size == INPUT_SIZE {
        format!("{key}.v{FORMAT_VERSION}.safetensors")
    } else {
        format!("{key}.{input_size}px.v{STAGE_FORMAT_VERSION}.safetensors")
    };
    Ok(crate::paths::home().join("scorers").join(name))
}

/// The `format_version` of a scorer for images of side `input_size`.
fn version_of(input_size: i64) -> &'static str {
    if input_size == INPUT_SIZE {
        FORMAT_VERSION
    } else {
        STAGE_FORMAT_VERSION
    }
}

/// `format_version` of a stage scorer's cache file (see [`stage_config`]); a file of another
/// version is trained again, never read.
pub const STAGE_FORMAT_VERSION: &str = "s1";

/// How a stage scorer is trained: as the scorer of whole images, but on the data shrunk to
/// `input_size` (area average, as the search's stage data), for 30 epochs at peak lr 5e-3
/// (a smaller network input converges more slowly per epoch and costs less per step). On the
/// built-in set at 8x8: held-out accuracy 0.772, where the scorer of whole images reaches
/// 0.348 on the same images grown back to 32 (12 epochs at 2e-3 gave 0.568).
pub fn stage_config(input_size: i64) -> ClassifierConfig {
    ClassifierConfig {
        epochs: 30,
        lr: 5e-3,
        input_size,
        ..ClassifierConfig::default()
    }
}

/// What the scorer of a data set is trained on, whatever `spec` asks for the run: the train
/// split, no limit, the set's own image size; the built-in set always as seed 0 with
/// `SHAPES_TRAIN_COUNT` images, so every run on shapes shares one scorer and its scores compare.
pub fn training_spec(spec: &DataSpec) -> DataSpec {
    let shapes = data::canonical(spec.name.as_deref().unwrap_or("shapes")) == Some("shapes");
    DataSpec {
        img_size: None,
        split: data::Split::Train,
        limit: None,
        seed: if shapes { 0 } else { spec.seed },
        shapes_count: SHAPES_TRAIN_COUNT,
        ..spec.clone()
    }
}

/// Train the scorer of `spec`'s data set (see `training_spec`) with `cfg` and write it to its
/// cache file. `progress` receives `TrainEvent::Caching` first, then the training's events,
/// then `TrainEvent::Saved`; nothing is printed here.
pub fn train_and_save(
    spec: &DataSpec,
    cfg: &ClassifierConfig,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(ClassifierScorer, TrainReport, PathBuf)> {
    train_and_save_with(spec, cfg, None, device, progress)
}

/// [`train_and_save`]; for a stage scorer (`cfg.input_size` below `INPUT_SIZE`) with `whole`,
/// the scorer of whole images, whose accuracy on the same held-out images at this size is
/// measured and kept in the file (`ClassifierInfo::whole_scorer_acc`).
pub fn train_and_save_with(
    spec: &DataSpec,
    cfg: &ClassifierConfig,
    whole: Option<&ClassifierScorer>,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(ClassifierScorer, TrainReport, PathBuf)> {
    let key = dataset_key(spec)?;
    let path = cache_path_sized(spec, cfg.input_size)?;
    let ds = data::load(&training_spec(spec))?;
    // Fail before spending time when the set cannot be used.
    require_labelled(&ds)?;
    progress(TrainEvent::Caching {
        dataset: spec.display_name(),
        path: path.clone(),
        epochs: cfg.epochs,
        input_size: cfg.input_size,
    });
    let (mut sc, report) = train_classifier(&ds, cfg, device, progress)?;
    sc.info.dataset = spec.display_name();
    sc.info.key = key;
    if let Some(whole) = whole.filter(|_| cfg.input_size != INPUT_SIZE) {
        let (held, _, _) = split(&ds, cfg)?;
        let labels = held
            .labels
            .as_ref()
            .context("held-out part lost its labels")?;
        sc.info.whole_scorer_acc = Some(whole.accuracy(&held.images, labels)?);
    }
    sc.save(&path)?;
    progress(TrainEvent::Saved {
        dataset: spec.display_name(),
        path: path.clone(),
        report: report.clone(),
    });
    Ok((sc, report, path))
}

/// The classifier scorer of `spec`'s data set: read from its cache file when there is one,
/// else trained with the default `ClassifierConfig` and saved there (`progress` then receives
/// the events of `train_and_save`). A cache file that cannot be read, or that was written for
/// another data set, is an error that names it and says how to rewrite it.
pub fn load_or_train(
    spec: &DataSpec,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<ClassifierScorer> {
    load_or_train_with(spec, &ClassifierConfig::default(), None, device, progress)
}

/// [`load_or_train`] of the scorer that `cfg` trains (its `input_size` names the cache file:
/// the scorer of whole images, or a stage scorer with [`stage_config`]).
pub fn load_or_train_with(
    spec: &DataSpec,
    cfg: &ClassifierConfig,
    whole: Option<&ClassifierScorer>,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<ClassifierScorer> {
    let path = cache_path_sized(spec, cfg.input_size)?;
    if let Some(sc) = load_cached(spec, &path, device, cfg.input_size)? {
        return Ok(sc);
    }
    // Parallel jobs (a comparison's evaluations on several GPUs or as a Slurm array) may all
    // find no scorer: one trains it, the others wait for its file and read it.
    let lock = crate::run::lock::cache_lock(&path)?;
    let _held = crate::run::lock::lock_file_waiting(&lock, &mut || {
        progress(TrainEvent::Waiting { path: path.clone() })
    })?;
    if let Some(sc) = load_cached(spec, &path, device, cfg.input_size)? {
        return Ok(sc);
    }
    let (sc, _, _) = train_and_save_with(spec, cfg, whole, device, progress)?;
    Ok(sc)
}

/// The scorer cached at `path` for `spec`'s data set, None when there is no file; a file of
/// another data set is an error that names it.
fn load_cached(
    spec: &DataSpec,
    path: &Path,
    device: Device,
    input_size: i64,
) -> Result<Option<ClassifierScorer>> {
    if !path.exists() {
        return Ok(None);
    }
    let sc = ClassifierScorer::load_sized(path, device, input_size)?;
    let key = dataset_key(spec)?;
    if sc.info.key != key {
        bail!(
            "{} holds the classifier scorer of '{}' (key {}), not of {} (key {key}); delete it or run `autogan scorer train --dataset {}`",
            path.display(),
            sc.info.dataset,
            sc.info.key,
            spec.display_name(),
            spec.display_name()
        );
    }
    Ok(Some(sc))
}
