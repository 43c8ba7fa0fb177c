//! Choosing the scorer a run uses: Inception where its weights exist and the data suits it,
//! else the classifier scorer trained on the (labelled) data set, cached once per machine. The
//! training of a classifier scorer is reported through `progress`; the commands draw it.
use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::Device;

use super::classifier::{self, ClassifierScorer, TrainEvent};
use super::{InceptionScorer, Protocol, Scorer, ScorerKind};
use crate::data::DataSpec;

/// The scorer `kind` for data set `spec`, Inception with the TF protocol. `auto` takes
/// Inception for natural-image data sets (cifar10, stl10, folders) when its weights are
/// present, else the classifier.
pub fn pick(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<Box<dyn Scorer>> {
    pick_with_protocol(kind, spec, inception, Protocol::Tf, device, progress)
}

/// [`pick`] with the Inception input pipeline `protocol`.
pub fn pick_with_protocol(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    protocol: Protocol,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<Box<dyn Scorer>> {
    let weights = crate::paths::inception_weights(inception);
    let natural = spec.name.as_deref().is_some_and(|n| n != "shapes");
    let use_inception = match kind {
        ScorerKind::Inception => true,
        ScorerKind::Classifier => false,
        ScorerKind::Auto => natural && weights.is_file(),
    };
    if use_inception {
        if !weights.is_file() {
            bail!(
                "Inception weights not found at {}: run scripts/fetch_inception.sh (or pass \
                 --scorer classifier to score with a classifier trained on the data set)",
                weights.display()
            );
        }
        return Ok(Box::new(InceptionScorer::load(&weights, device, protocol)?));
    }
    Ok(Box::new(classifier(spec, device, progress)?))
}

/// The classifier scorer of `spec`'s data set from the cache, or trained and cached when it is
/// not there yet (`progress` then hears of its training); a cache folder that cannot be
/// written fails before the training.
pub fn classifier(
    spec: &DataSpec,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<ClassifierScorer> {
    let path = classifier::cache_path(spec)?;
    if !path.exists() {
        check_cache_writable(&path)?;
    }
    classifier::load_or_train(spec, device, progress)
}

/// Fail early when the scorer cache file `path` could not be written.
pub fn check_cache_writable(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) => crate::paths::ensure_writable_dir(
            dir,
            "the classifier scorer cache",
            "set AUTOGAN_HOME to a folder you can write (the scorer is trained once and kept there)",
        ),
        None => Ok(()),
    }
}

/// A stage scorer is trained for a stage size only where the scorer of whole images keeps
/// less than this share of its held-out accuracy on the held-out images shrunk to that size
/// (on the built-in set: 0.36 of it at 8x8, where a stage scorer is trained; 0.97 at 16x16,
/// where none is).
pub const STAGE_SCORER_GATE: f64 = 0.9;

/// The scorer of a search's reward: [`pick`], and with `stage_scorers` and the classifier
/// scorer, a stage scorer (see `classifier::stage_config`; trained once and cached) for each
/// stage size in `stage_sizes` below the classifier's input where the scorer of whole images
/// loses too much accuracy ([`STAGE_SCORER_GATE`]). A stage's images go to its stage scorer
/// where that one is the more accurate on the held-out images at that size, else to the
/// scorer of whole images, as without `stage_scorers`. Also returns one line per stage size
/// saying which scorer scores it and why.
pub fn pick_for_search(
    kind: ScorerKind,
    spec: &DataSpec,
    stage_sizes: &[i64],
    stage_scorers: bool,
    device: Device,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(Box<dyn Scorer>, Vec<String>)> {
    let whole = pick(kind, spec, None, device, progress)?;
    if !stage_scorers || whole.name() != classifier::NAME {
        return Ok((whole, Vec::new()));
    }
    // The scorer of whole images as a classifier, to measure against (cached: read again).
    let whole_classifier = classifier(spec, device, progress)?;
    let whole_acc = whole_classifier.info().heldout_acc;
    let acc = |a: Option<f64>| a.map_or("?".to_string(), |a| format!("{a:.3}"));
    let mut notes = Vec::new();
    let mut stages = Vec::new();
    let mut labelled = None;
    for &size in stage_sizes.iter().filter(|&&s| s < classifier::INPUT_SIZE) {
        let cfg = classifier::stage_config(size);
        let path = classifier::cache_path_sized(spec, size)?;
        if !path.exists() {
            // Measure the scorer of whole images at this size before training one for it.
            if labelled.is_none() {
                labelled = Some(crate::data::load(&classifier::training_spec(spec))?);
            }
            let ds = labelled.as_ref().expect("loaded above");
            let (held, _, _) = classifier::split(ds, &cfg)?;
            let labels = held
                .labels
                .as_ref()
                .context("held-out images without labels")?;
            let small = whole_classifier.accuracy(&held.images, labels)?;
            if let Some(full) = whole_acc.filter(|&full| small >= STAGE_SCORER_GATE * full) {
                notes.push((
                    size,
                    format!(
                    "{size}x{size} stage images: scored by the scorer of whole images (held-out \
                     accuracy {small:.3} at {size}x{size}, {full:.3} on whole images: no stage \
                     scorer needed)"
                ),
                ));
                continue;
            }
            check_cache_writable(&path)?;
        }
        let sc =
            classifier::load_or_train_with(spec, &cfg, Some(&whole_classifier), device, progress)?;
        stages.push(sc);
    }
    let by_stage = ByStage::new(whole, stages);
    for (s, used) in by_stage
        .stages
        .iter()
        .map(|s| (s, true))
        .chain(by_stage.unused.iter().map(|s| (s, false)))
    {
        let i = s.info();
        let size = i.input_size;
        notes.push((
            size,
            format!(
                "{size}x{size} stage images: {} (held-out accuracy at {size}x{size}: stage scorer \
             {}, scorer of whole images {})",
                if used {
                    "scored by the stage scorer"
                } else {
                    "scored by the scorer of whole images, the more accurate there"
                },
                acc(i.heldout_acc),
                acc(i.whole_scorer_acc)
            ),
        ));
    }
    notes.sort_by_key(|(size, _)| *size);
    Ok((
        Box::new(by_stage),
        notes.into_iter().map(|(_, n)| n).collect(),
    ))
}

/// A scorer that sends images of a stage size to that stage's scorer (when it is the more
/// accurate one) and all others to the scorer of whole images. Its name, data set and sizes
/// are those of the scorer of whole images (the stage scorers share them).
pub struct ByStage {
    whole: Box<dyn Scorer>,
    /// The stage scorers in use, each for images of its input size.
    stages: Vec<ClassifierScorer>,
    /// Stage scorers left unused: the scorer of whole images was as accurate at their size.
    pub unused: Vec<ClassifierScorer>,
}

impl ByStage {
    /// `stages` whose held-out accuracy is above the recorded accuracy of the scorer of whole
    /// images at their size are used; the others are kept in `unused`.
    pub fn new(whole: Box<dyn Scorer>, stages: Vec<ClassifierScorer>) -> ByStage {
        let (used, unused) = stages.into_iter().partition(|s| {
            let info = s.info();
            match (info.heldout_acc, info.whole_scorer_acc) {
                (Some(own), Some(whole)) => own > whole,
                // Not measured: the stage scorer, trained for the size.
                (Some(_), None) => true,
                _ => false,
            }
        });
        ByStage {
            whole,
            stages: used,
            unused,
        }
    }

    /// The stage scorers in use.
    pub fn stages(&self) -> &[ClassifierScorer] {
        &self.stages
    }
}

impl Scorer for ByStage {
    fn name(&self) -> &str {
        self.whole.name()
    }
    fn data_set(&self) -> Option<String> {
        self.whole.data_set()
    }
    fn feature_dim(&self) -> i64 {
        self.whole.feature_dim()
    }
    fn num_classes(&self) -> i64 {
        self.whole.num_classes()
    }
    fn features_and_logits(&self, imgs: &tch::Tensor) -> Result<(tch::Tensor, tch::Tensor)> {
        let sz = imgs.size();
        let stage = (sz.len() == 4 && sz[2] == sz[3])
            .then(|| self.stages.iter().find(|s| s.input_size() == sz[2]))
            .flatten();
        match stage {
            Some(s) => s.features_and_logits(imgs),
            None => self.whole.features_and_logits(imgs),
        }
    }
}
