//! Choosing the scorer a command uses: Inception where its weights exist and the data suits
//! it, else the classifier scorer trained on the (labelled) data set.
use anyhow::{bail, Result};
use std::path::Path;
use tch::Device;

use crate::data::DataSpec;
use crate::metrics::{InceptionScorer, Protocol, Scorer, ScorerKind};

/// The scorer `kind` for data set `spec`, Inception with the TF protocol. `auto` takes
/// Inception for natural-image data sets (cifar10, stl10, folders) when its weights are
/// present, else the classifier.
pub fn pick(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    device: Device,
    quiet: bool,
) -> Result<Box<dyn Scorer>> {
    pick_with_protocol(kind, spec, inception, Protocol::Tf, device, quiet)
}

/// [`pick`] with the Inception input pipeline `protocol`.
pub fn pick_with_protocol(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    protocol: Protocol,
    device: Device,
    quiet: bool,
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
    Ok(Box::new(crate::metrics::classifier::load_or_train(
        spec, device, quiet,
    )?))
}
