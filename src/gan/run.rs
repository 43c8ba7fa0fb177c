//! A training run: the loop from the trainer's step to its last, with the evaluations, the
//! best-checkpoint choice, sample grids, `train.jsonl` and TensorBoard, checkpoints and Ctrl-C;
//! and the reader of a recorded run that stopped before its first checkpoint. The loop reports
//! to a [`TrainObserver`] (the command draws a progress bar and prints lines from it); what it
//! writes into the run directory does not depend on the observer.
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Device;

use super::trainer::{StepStats, Trainer, READ_EVERY};
use crate::arch::Arch;
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::metrics::classifier::TrainEvent;
use crate::run::RunFiles;
use crate::run::{self, Jsonl};
use crate::tb::mirror::{LogKind, RunLog};

/// What a training loop tells the one who runs it. Every method has a default that does
/// nothing, so a test or a notebook-like caller implements only what it wants.
pub trait TrainObserver {
    /// The classifier scorer of the evaluations is being trained (once per machine).
    fn scorer(&mut self, _event: TrainEvent) {}
    /// The loop starts at G step `step` of `steps`.
    fn start(&mut self, _step: u64, _steps: u64) {}
    /// G step `step` is done; `losses` when they were read back at this step.
    fn step(&mut self, _step: u64, _losses: Option<&StepStats>) {}
    /// A line for people: a loss line, an evaluation.
    fn line(&mut self, _text: &str) {}
    /// The loop stopped early (an error, a Ctrl-C) or ended (`finished`).
    fn stop(&mut self, _finished: bool) {}
}

/// An observer that observes nothing.
pub struct Silent;
impl TrainObserver for Silent {}

/// Where a training run stands when its loop begins.
pub struct TrainStart {
    /// The run directory (`config.json` written, `checkpoint/` and `samples/` there).
    pub dir: PathBuf,
    /// Where named data sets live (`--data-dir`), for a classifier scorer trained on them.
    pub data_dir: Option<PathBuf>,
    /// Seconds the run had taken before this process (a resumed run).
    pub wall0: f64,
    /// The best evaluation score so far (a resumed run).
    pub best_score: Option<f64>,
}

/// The result of a finished training run (also `autogan train --json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    pub run_dir: String,
    pub steps: u64,
    pub d_loss: Option<f64>,
    pub g_loss: Option<f64>,
    pub generator: String,
    pub wall_s: f64,
}

/// How a training loop ended.
#[derive(Debug, Clone)]
pub enum TrainEnd {
    /// It ran to its last step and wrote `generator.safetensors`.
    Finished(TrainSummary),
    /// A Ctrl-C stopped it after G step `step`, with a checkpoint written.
    Interrupted { step: u64 },
}

/// The training loop from the trainer's current step to `cfg.steps`, in the run directory
/// `start.dir` (locked by `run_dir`, which is kept once the first checkpoint is written).
pub fn train(
    tr: &mut Trainer,
    start: TrainStart,
    data: Dataset,
    run_dir: run::RunDir,
    obs: &mut dyn TrainObserver,
) -> Result<TrainEnd> {
    let TrainStart {
        dir,
        data_dir,
        wall0,
        mut best_score,
    } = start;
    let dir = dir.as_path();
    let data = data.to_device(tr.device);
    let mut evaluator = match tr.cfg.eval_every {
        0 => None,
        _ => Some(Evaluator::new(
            &tr.cfg,
            &data,
            data_dir.as_deref(),
            tr.device,
            obs,
        )?),
    };
    let jsonl = Jsonl::open(&RunFiles::of(dir).train_log(), Some(tr.g_step))?;
    let tb = RunLog::event_writer(dir, tr.cfg.tensorboard, LogKind::Train, tr.g_step)?;
    let mut log = RunLog::new(jsonl, tb, LogKind::Train);
    let ckpt = RunFiles::of(dir).last_checkpoint();
    let start = Instant::now();
    // The first checkpoint, before the first step: a run stopped at any point can be resumed.
    if !ckpt.is_file() {
        tr.save_checkpoint(&ckpt, &json!({"wall_s": wall0, "best_score": best_score}))?;
    }
    let _lock = run_dir.keep();
    run::interrupt::catch_ctrl_c()?;
    let cfg = tr.cfg.clone();
    obs.start(tr.g_step, cfg.steps);
    let mut t_last = Instant::now();
    let mut steps_since = 0u64;
    let mut last: Option<StepStats> = None;
    // The failed step is never saved: say what is left to resume from.
    let failed = |e: anyhow::Error| {
        let lower = if format!("{e:#}").contains("diverged") {
            " --lr <lower>"
        } else {
            ""
        };
        let note = match crate::safetensors::read_metadata(&ckpt) {
            Ok(m) => format!(
                "the last checkpoint ({}, G step {}) is intact: continue it with \
                 `autogan train --resume {}{lower}`",
                ckpt.display(),
                m.get("g_step").map(String::as_str).unwrap_or("?"),
                dir.display()
            ),
            Err(_) => format!(
                "the last checkpoint ({}) cannot be read: start the run again",
                ckpt.display()
            ),
        };
        e.context(format!("run {}: {note}", dir.display()))
    };
    while tr.g_step < cfg.steps {
        // Steps run ahead of the host: the losses are read back (one sync, and the NaN check)
        // only where the host needs them, so nothing is written after a non-finite loss.
        if let Err(e) = tr.step_deferred(&data) {
            obs.stop(false);
            return Err(failed(e));
        }
        steps_since += 1;
        let step = tr.g_step;
        let done = step == cfg.steps;
        let interrupted = run::interrupt::requested() && !done;
        let eval_now = evaluator.is_some() && (step.is_multiple_of(cfg.eval_every) || done);
        let mut read_now = false;
        if done
            || interrupted
            || eval_now
            || [
                cfg.log_every,
                cfg.sample_every,
                cfg.checkpoint_every,
                READ_EVERY,
            ]
            .iter()
            .any(|&n| step.is_multiple_of(n))
        {
            match tr.read_losses() {
                Ok(Some(s)) => {
                    read_now = true;
                    last = Some(s);
                }
                Ok(None) => {}
                Err(e) => {
                    obs.stop(false);
                    return Err(failed(e));
                }
            }
        }
        obs.step(step, last.as_ref().filter(|_| read_now));
        if let Some(stats) = last.filter(|_| step.is_multiple_of(cfg.log_every) || done) {
            // (a log point is a read point: `stats` is this step's)
            let dt = t_last.elapsed().as_secs_f64().max(1e-9);
            let imgs = (steps_since * cfg.n_critic * cfg.batch_size as u64) as f64;
            log.write(&json!({
                "step": step,
                "d_loss": stats.d_loss,
                "g_loss": stats.g_loss,
                "lr": stats.lr,
                "images_per_s": imgs / dt,
                "wall_s": wall0 + start.elapsed().as_secs_f64(),
            }))?;
            obs.line(&format!(
                "step {step}/{}  D {:.4}  G {:.4}  {:.0} img/s",
                cfg.steps,
                stats.d_loss,
                stats.g_loss,
                imgs / dt
            ));
            t_last = Instant::now();
            steps_since = 0;
        }
        if step.is_multiple_of(cfg.sample_every) || done {
            let imgs = crate::data::from_gan(&tr.sample_ema(&tr.fixed_z));
            let grid = run::grid(&imgs, 8)?;
            run::save_rgb(
                &grid,
                &RunFiles::of(dir)
                    .samples()
                    .join(format!("step_{step:07}.png")),
            )?;
            if let Some(tb) = log.tb() {
                tb.image("samples", step, &grid)?;
            }
        }
        if let Some(ev) = evaluator.as_mut() {
            if step.is_multiple_of(cfg.eval_every) || done {
                let values = ev.evaluate(tr)?;
                let name = ev.scorer.name().to_string();
                let mut line = json!({
                    "step": step,
                    "kind": "eval",
                    "scorer": name,
                    "scorer_dataset": ev.scorer.data_set(),
                    "num_images": cfg.eval_images,
                });
                for (k, v) in &values {
                    line[*k] = json!(v);
                }
                log.write(&line)?;
                let shown: Vec<String> = ev
                    .metrics
                    .iter()
                    .map(|m| {
                        let v: Vec<f64> = m
                            .keys()
                            .iter()
                            .filter_map(|k| crate::metrics::metric::value(&values, k))
                            .collect();
                        format!("{name} {} {}", m.label(), m.format(&v))
                    })
                    .collect();
                obs.line(&format!(
                    "step {step}: {} ({} images)",
                    shown.join(", "),
                    cfg.eval_images
                ));
                let sel = ev.select;
                let score = crate::metrics::metric::value(&values, sel.key).unwrap_or(f64::NAN);
                let improved = score.is_finite()
                    && best_score.is_none_or(|b| crate::metrics::metric::better(&sel, score, b));
                if improved {
                    best_score = Some(score);
                    let extra = json!({"wall_s": wall0 + start.elapsed().as_secs_f64(), "best_score": best_score});
                    tr.save_checkpoint(&RunFiles::of(dir).best_checkpoint(), &extra)?;
                    let mut info = json!({"step": step, "select_by": sel.name, "scorer": name,
                                          "scorer_dataset": ev.scorer.data_set(),
                                          "num_images": cfg.eval_images});
                    for (k, v) in &values {
                        info[*k] = json!(v);
                    }
                    run::atomic_write(
                        &RunFiles::of(dir).best_eval(),
                        serde_json::to_string_pretty(&info)?.as_bytes(),
                    )?;
                }
            }
        }
        if step.is_multiple_of(cfg.checkpoint_every) || done || interrupted {
            tr.save_checkpoint(
                &ckpt,
                &json!({"wall_s": wall0 + start.elapsed().as_secs_f64(), "best_score": best_score}),
            )?;
        }
        if interrupted {
            obs.stop(false);
            return Ok(TrainEnd::Interrupted { step });
        }
    }
    obs.stop(true);
    let gen_path = RunFiles::of(dir).generator();
    crate::safetensors::write(
        &gen_path,
        &tr.ema_generator_tensors(),
        &tr.generator_metadata(),
    )?;
    Ok(TrainEnd::Finished(TrainSummary {
        run_dir: dir.display().to_string(),
        steps: tr.g_step,
        d_loss: last.map(|s| s.d_loss),
        g_loss: last.map(|s| s.g_loss),
        generator: gen_path.display().to_string(),
        wall_s: wall0 + start.elapsed().as_secs_f64(),
    }))
}

/// A fresh trainer from the `config.json` of a training run that has no checkpoint yet.
pub fn recorded_trainer(dir: &Path, ckpt: &Path, device: Device) -> Result<Trainer> {
    let (v, seed, config) = crate::run::recorded_config(dir, ckpt, "train")?;
    let cfg: TrainConfig = serde_json::from_value(v["train"].clone())
        .with_context(|| format!("{}: the \"train\" section is invalid", config.display()))?;
    let arch = Arch::from_json_str(&v["arch"].to_string(), &config.display().to_string())?;
    Trainer::new(cfg, arch, seed, device)
}

/// The training images at the run's size. The built-in set is always drawn with data seed 0,
/// so runs with different `--seed` see the same images (comparable scores); the run seed only
/// decides their order.
pub fn load_data(cfg: &TrainConfig, data_dir: Option<&Path>) -> Result<Dataset> {
    let spec = crate::data::DataSpec::for_training(
        cfg.dataset.as_deref(),
        data_dir,
        cfg.img_size,
        cfg.shapes_count,
        0,
    );
    crate::data::load(&spec)
}

/// Scores the EMA generator during training with the run's metrics against fixed real
/// statistics / features (`eval_images` training images spread over the set).
struct Evaluator {
    scorer: Box<dyn crate::metrics::Scorer>,
    real: crate::metrics::RealSide,
    metrics: Vec<&'static dyn crate::metrics::Metric>,
    select: crate::metrics::metric::Selectable,
}

impl Evaluator {
    /// `data_dir`: where named data sets live (`--data-dir`), for a classifier scorer that has
    /// to be trained on the run's data set (its training is told to `obs`).
    fn new(
        cfg: &TrainConfig,
        data: &Dataset,
        data_dir: Option<&Path>,
        device: Device,
        obs: &mut dyn TrainObserver,
    ) -> Result<Evaluator> {
        use crate::metrics::{Accumulator, Needs};
        let metrics = crate::metrics::registry::parse_list(&cfg.metrics, "--metric")?;
        let (_, select) = crate::metrics::registry::selection(&cfg.select_by)?;
        let needs = Needs::of(&metrics);
        let spec = crate::data::DataSpec::for_training(
            cfg.dataset.as_deref(),
            data_dir,
            cfg.img_size,
            cfg.shapes_count,
            0,
        );
        let scorer =
            crate::metrics::factory::pick(cfg.scorer, &spec, None, device, &mut |e| obs.scorer(e))?;
        let scorer = crate::metrics::at_precision(scorer, device, cfg.scorer_precision);
        // Spread over the set: the first n of a folder sorted by class would be its first
        // classes only.
        let data = data.spread(cfg.eval_images as usize);
        let n = data.len() as i64;
        let mut acc = Accumulator::for_needs(Needs {
            stats: needs.real_stats,
            features: needs.real_features,
            ..Needs::default()
        });
        let slice = |i, b| Ok(data.images.narrow(0, i, b));
        let batch = crate::metrics::scoring_batch(device);
        crate::metrics::score_stream(&mut acc, scorer.as_ref(), n, batch, slice, |_| {})?;
        let real = crate::metrics::RealSide {
            stats: if needs.real_stats {
                Some(acc.stats()?)
            } else {
                None
            },
            features: acc.features(),
        };
        Ok(Evaluator {
            real,
            scorer,
            metrics,
            select,
        })
    }

    /// The metrics' values (`(key, value)`, e.g. `is_mean`, `fid`) of `eval_images` images
    /// from the EMA generator, all from one scoring pass.
    fn evaluate(&mut self, tr: &Trainer) -> Result<Vec<(&'static str, f64)>> {
        let n = tr.cfg.eval_images;
        let mut acc =
            crate::metrics::Accumulator::for_needs(crate::metrics::Needs::of(&self.metrics));
        let gen = |_, b| {
            let z = tch::Tensor::randn([b, tr.cfg.latent_dim], (tch::Kind::Float, tr.device));
            Ok(crate::data::from_gan(&tr.sample_ema(&z)))
        };
        let batch = crate::metrics::scoring_batch(tr.device);
        crate::metrics::score_stream(&mut acc, self.scorer.as_ref(), n, batch, gen, |_| {})?;
        crate::metrics::metric::compute_all(&self.metrics, &acc.collected()?, Some(&self.real))
    }
}

/// The data set a training run was trained on (`shapes` for the built-in set) and its run
/// directory, when `input` is a training run directory or a file in one (its
/// `generator.safetensors`, `checkpoint/*.safetensors`); None for anything else.
pub fn recorded_dataset(input: &Path) -> Result<Option<(String, PathBuf)>> {
    let run = if input.is_dir() {
        input.to_path_buf()
    } else {
        match input.parent() {
            Some(p)
                if p.file_name()
                    .is_some_and(|n| n == crate::run::layout::CHECKPOINT_DIR) =>
            {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
            Some(p) => p.to_path_buf(),
            None => return Ok(None),
        }
    };
    let cfg = RunFiles::of(&run).config();
    if !cfg.is_file() {
        return Ok(None);
    }
    let v: serde_json::Value = crate::config::read_json(&cfg)?;
    if v["command"] != "train" || !v["train"].is_object() {
        return Ok(None); // not a training run's configuration
    }
    let name = v["train"]["dataset"]
        .as_str()
        .unwrap_or(crate::data::DEFAULT_NAME)
        .to_string();
    Ok(Some((name, run)))
}
