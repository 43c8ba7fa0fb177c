//! Choosing the scorer a command uses: Inception where its weights exist and the data suits
//! it, else the classifier scorer trained on the (labelled) data set.
use anyhow::{bail, Result};
use std::path::Path;
use tch::Device;

use indicatif::ProgressBar;

use crate::data::DataSpec;
use crate::metrics::classifier::{self, ClassifierScorer, TrainEvent};
use crate::metrics::{InceptionScorer, Protocol, Scorer};
use crate::progress;

/// `kind`: "auto", "inception" or "classifier". `auto` takes Inception for natural-image data
/// sets (cifar10, stl10, folders) when its weights are present, else the classifier.
pub fn pick(
    kind: &str,
    spec: &DataSpec,
    inception: Option<&Path>,
    device: Device,
    quiet: bool,
) -> Result<Box<dyn Scorer>> {
    let weights = crate::paths::inception_weights(inception);
    let natural = spec.name.as_deref().is_some_and(|n| n != "shapes");
    let use_inception = match kind {
        "inception" => true,
        "classifier" => false,
        "auto" => natural && weights.is_file(),
        other => bail!("scorer '{other}' is not known: use auto, inception or classifier"),
    };
    if use_inception {
        if !weights.is_file() {
            bail!(
                "Inception weights not found at {}: run scripts/fetch_inception.sh (or pass \
                 --scorer classifier to score with a classifier trained on the data set)",
                weights.display()
            );
        }
        return Ok(Box::new(InceptionScorer::load(
            &weights,
            device,
            Protocol::Tf,
        )?));
    }
    Ok(Box::new(classifier(spec, device, quiet)?))
}

/// The classifier scorer of `spec`'s data set (`classifier::load_or_train`), with a progress
/// bar (or log lines) on stderr when it has to be trained, unless `quiet`.
pub fn classifier(spec: &DataSpec, device: Device, quiet: bool) -> Result<ClassifierScorer> {
    let mut p = ScorerProgress::new(quiet);
    classifier::load_or_train(spec, device, &mut |e| p.on(e))
}

/// Draws the `TrainEvent`s of a classifier scorer's training: a bar over its steps, a line per
/// epoch, and where the scorer went.
pub struct ScorerProgress {
    pb: ProgressBar,
    quiet: bool,
}

impl ScorerProgress {
    pub fn new(quiet: bool) -> ScorerProgress {
        ScorerProgress {
            pb: progress::bar(0, "classifier scorer", quiet),
            quiet,
        }
    }

    fn log(&self, line: &str) {
        progress::log(&self.pb, self.quiet, line);
    }

    pub fn on(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Caching {
                dataset,
                path,
                epochs,
            } => self.log(&format!(
                "classifier scorer: none cached for {dataset} at {}; training one ({epochs} \
                 epochs, once per machine)",
                path.display()
            )),
            TrainEvent::Start {
                total_steps,
                n_train,
                n_heldout,
            } => {
                self.pb.set_length(total_steps);
                self.log(&format!(
                    "classifier scorer: training on {n_train} images, {n_heldout} held out"
                ));
            }
            TrainEvent::Step { loss, .. } => {
                self.pb.inc(1);
                self.pb.set_message(format!("loss {loss:.3}"));
            }
            TrainEvent::Epoch {
                epoch,
                epochs,
                train_acc,
                heldout_acc,
            } => self.log(&format!(
                "classifier scorer: epoch {epoch}/{epochs}: train accuracy {train_acc:.4}, \
                 held-out accuracy {heldout_acc:.4}"
            )),
            TrainEvent::Saved {
                dataset,
                path,
                report,
            } => {
                self.pb.finish_and_clear();
                self.log(&format!(
                    "classifier scorer: held-out accuracy {:.4} on {} images of {dataset} \
                     ({:.0} s); saved to {}",
                    report.heldout_acc,
                    report.n_heldout,
                    report.seconds,
                    path.display()
                ));
            }
        }
    }
}

impl Drop for ScorerProgress {
    fn drop(&mut self) {
        self.pb.finish_and_clear();
    }
}
