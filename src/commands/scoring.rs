//! The terminal side of choosing a scorer (`metrics::factory`): the same calls with a
//! progress bar and log lines for a classifier scorer's training.
use anyhow::Result;
use std::path::Path;
use tch::Device;

use indicatif::ProgressBar;

use crate::data::DataSpec;
use crate::metrics::classifier::{ClassifierScorer, TrainEvent};
use crate::metrics::{factory, Protocol, Scorer, ScorerKind};
use crate::progress;

pub use crate::metrics::factory::check_cache_writable;

/// `factory::pick`, drawing a classifier scorer's training unless `quiet`.
pub fn pick(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    device: Device,
    quiet: bool,
) -> Result<Box<dyn Scorer>> {
    let mut p = ScorerProgress::new(quiet);
    factory::pick(kind, spec, inception, device, &mut |e| p.on(e))
}

/// The reward's scorer of a search (`factory::pick_for_search`), drawing a classifier
/// scorer's training unless `quiet`, and saying which stages a stage scorer scores.
pub fn pick_for_search(
    cfg: &crate::config::SearchConfig,
    spec: &DataSpec,
    device: Device,
    quiet: bool,
) -> Result<Box<dyn Scorer>> {
    let mut p = ScorerProgress::new(quiet);
    let sizes: Vec<i64> = (0..crate::arch::NUM_CELLS)
        .map(|s| cfg.stage_size(s))
        .collect();
    let (scorer, notes) = factory::pick_for_search(
        cfg.scorer,
        spec,
        &sizes,
        cfg.stage_scorers,
        device,
        &mut |e| p.on(e),
    )?;
    for n in notes {
        p.log(&format!("reward: {n}"));
    }
    Ok(scorer)
}

/// `factory::pick_with_protocol`, drawing a classifier scorer's training unless `quiet`.
pub fn pick_with_protocol(
    kind: ScorerKind,
    spec: &DataSpec,
    inception: Option<&Path>,
    protocol: Protocol,
    device: Device,
    quiet: bool,
) -> Result<Box<dyn Scorer>> {
    let mut p = ScorerProgress::new(quiet);
    factory::pick_with_protocol(kind, spec, inception, protocol, device, &mut |e| p.on(e))
}

/// `factory::classifier`, drawing its training unless `quiet`.
pub fn classifier(spec: &DataSpec, device: Device, quiet: bool) -> Result<ClassifierScorer> {
    let mut p = ScorerProgress::new(quiet);
    factory::classifier(spec, device, &mut |e| p.on(e))
}

/// Draws the `TrainEvent`s of a classifier scorer's training: a bar over its steps, a line per
/// epoch, and where the scorer went.
pub struct ScorerProgress {
    pb: ProgressBar,
    quiet: bool,
    /// Steps of the training, and when its second step ended (the first one warms up).
    total: u64,
    timer: Option<std::time::Instant>,
}

/// Steps timed (after the first) before the whole training's duration is estimated.
const TIMED_STEPS: u64 = 20;

impl ScorerProgress {
    pub fn new(quiet: bool) -> ScorerProgress {
        ScorerProgress {
            pb: progress::bar(0, "classifier scorer", quiet),
            quiet,
            total: 0,
            timer: None,
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
                input_size,
            } => self.log(&format!(
                "classifier scorer{}: none cached for {dataset} at {}; training one ({epochs} \
                 epochs, once per machine)",
                if input_size == crate::metrics::classifier::INPUT_SIZE {
                    String::new()
                } else {
                    format!(" of {input_size}x{input_size} stage images")
                },
                path.display()
            )),
            TrainEvent::Start {
                total_steps,
                n_train,
                n_heldout,
            } => {
                self.pb.set_length(total_steps);
                self.total = total_steps;
                self.log(&format!(
                    "classifier scorer: training on {n_train} images, {n_heldout} held out"
                ));
            }
            TrainEvent::Step { step, loss } => {
                self.pb.inc(1);
                self.pb.set_message(format!("loss {loss:.3}"));
                if step == 1 {
                    self.timer = Some(std::time::Instant::now());
                } else if step == 1 + TIMED_STEPS && self.total > step {
                    if let Some(t) = self.timer {
                        let per_step = t.elapsed().as_secs_f64() / TIMED_STEPS as f64;
                        let left = per_step * (self.total - step) as f64;
                        self.log(&format!(
                            "classifier scorer: its {} steps take about {} more on this machine \
                             (timed over the first {TIMED_STEPS}; a held-out check after each \
                             epoch adds about a tenth); it is trained once and cached",
                            self.total,
                            progress::duration(left)
                        ));
                    }
                }
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
            TrainEvent::Waiting { path } => self.log(&format!(
                "classifier scorer: another process is training the one for {}; waiting for it",
                path.display()
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
