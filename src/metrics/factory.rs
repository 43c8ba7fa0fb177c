//! Choosing the scorer a run uses: Inception where its weights exist and the data suits it,
//! else the classifier scorer trained on the (labelled) data set, cached once per machine. The
//! training of a classifier scorer is reported through `progress`; the commands draw it.
use anyhow::{bail, Result};
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
