//! `autogan train`: train a fixed architecture from scratch (or resume a run).
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

use crate::arch::Arch;
use crate::cli::TrainArgs;
use crate::config::{load_preset, TrainConfig};
use crate::device::Ctx;
use crate::gan::trainer::{StepStats, Trainer, READ_EVERY};
use crate::progress;
use crate::run::{self, Jsonl};
use crate::tb::mirror::{LogKind, RunLog};

/// The preset for a data set when none is named: cifar10 / stl10 for those, `quick` otherwise.
pub fn default_preset(dataset: Option<&str>) -> &'static str {
    match dataset {
        Some("cifar10") => "cifar10",
        Some("stl10") => "stl10",
        _ => "quick",
    }
}

/// Preset + flags -> a validated config.
pub fn build_config(args: &TrainArgs) -> Result<TrainConfig> {
    let name = args
        .preset
        .clone()
        .unwrap_or_else(|| default_preset(args.data.dataset.as_deref()).into());
    let (path, preset) = load_preset(&name)?;
    let mut c = preset
        .train
        .with_context(|| format!("{}: this preset has no \"train\" section", path.display()))?;
    if let Some(d) = &args.data.dataset {
        c.dataset = Some(d.clone());
    }
    let s = &args.size;
    macro_rules! set {
        ($field:ident, $val:expr) => {
            if let Some(v) = $val {
                c.$field = v;
            }
        };
    }
    set!(gf_dim, s.gf_dim);
    set!(df_dim, s.df_dim);
    set!(latent_dim, s.latent_dim);
    set!(steps, args.steps);
    set!(batch_size, args.batch_size);
    set!(gen_batch_size, args.gen_batch_size);
    set!(lr, args.lr);
    set!(n_critic, args.n_critic);
    set!(lr_decay, args.lr_decay);
    set!(ema, args.ema);
    set!(checkpoint_every, args.checkpoint_every);
    set!(sample_every, args.sample_every);
    set!(log_every, args.log_every);
    set!(eval_every, args.eval_every);
    set!(eval_images, args.eval_images);
    set!(metrics, args.metric.clone());
    set!(select_by, args.select_by.clone());
    if let Some(sc) = args.scorer {
        c.scorer = sc;
    }
    set!(precision, args.precision);
    set!(scorer_precision, args.scorer_precision);
    if args.no_tensorboard {
        c.tensorboard = false;
    }
    match (s.bottom_width, args.img_size) {
        (Some(bw), Some(im)) => {
            c.bottom_width = bw;
            c.img_size = im;
        }
        (Some(bw), None) => {
            c.bottom_width = bw;
            c.img_size = bw * 8;
        }
        (None, Some(im)) => {
            c.img_size = im;
            c.bottom_width = im / 8;
        }
        (None, None) => {}
    }
    if c.eval_every == 0 && (args.metric.is_some() || args.select_by.is_some()) {
        bail!(
            "--metric and --select-by choose what --eval-every N computes: give --eval-every too"
        );
    }
    c.validate()
        .with_context(|| format!("configuration from preset {} and flags", path.display()))?;
    Ok(c)
}

pub fn run(ctx: &Ctx, args: TrainArgs) -> Result<()> {
    let data_dir = args.data.data_dir.as_deref();
    let (mut tr, dir, wall0, data, best_score, lock) = if let Some(dir) = &args.resume {
        super::refuse_fixed_on_resume(
            dir,
            &fixed_flags(&args),
            "only --steps, --lr, --checkpoint-every, --sample-every, --log-every, --data-dir and \
             --no-tensorboard can be given",
        )?;
        if !dir.is_dir() {
            bail!(
                "--resume {}: no such run directory (a directory written by autogan train)",
                dir.display()
            );
        }
        let ckpt = dir.join("checkpoint").join("last.safetensors");
        if !ckpt.is_file() && !dir.join("config.json").is_file() {
            bail!(
                "{}: no checkpoint to resume from (expected {}) and no config.json: not a run \
                 directory of autogan train",
                dir.display(),
                ckpt.display()
            );
        }
        let lock = run::lock::lock_run_dir(dir)?;
        let (mut tr, extra) = if ckpt.is_file() {
            Trainer::load_checkpoint(&ckpt, ctx.device)?
        } else {
            // Stopped before its first checkpoint: start again from step 0 as recorded.
            let tr = recorded_trainer(dir, &ckpt, ctx.device)?;
            (tr, serde_json::Value::Null)
        };
        if let Some(steps) = args.steps {
            if steps < tr.g_step {
                bail!(
                    "--steps {steps}: the run in {} is already at G step {}; a resumed run can \
                     only go further (give --steps above {}, or leave --steps out to finish its \
                     {} steps)",
                    dir.display(),
                    tr.g_step,
                    tr.g_step,
                    tr.cfg.steps
                );
            }
            tr.cfg.steps = steps;
        }
        if let Some(lr) = args.lr {
            tr.cfg.lr = lr;
        }
        if let Some(v) = args.checkpoint_every {
            tr.cfg.checkpoint_every = v;
        }
        if let Some(v) = args.sample_every {
            tr.cfg.sample_every = v;
        }
        if let Some(v) = args.log_every {
            tr.cfg.log_every = v;
        }
        if args.no_tensorboard {
            tr.cfg.tensorboard = false;
        }
        tr.cfg
            .validate()
            .with_context(|| format!("resuming {}", dir.display()))?;
        let wall0 = extra["wall_s"].as_f64().unwrap_or(0.0);
        // (checkpoints before --select-by kept the best FID as "best_fid")
        let best_score = extra["best_score"]
            .as_f64()
            .or_else(|| extra["best_fid"].as_f64());
        if !ctx.quiet {
            eprintln!(
                "resuming {} at G step {} of {}{}",
                dir.display(),
                tr.g_step,
                tr.cfg.steps,
                if ckpt.is_file() {
                    ""
                } else {
                    " (it had no checkpoint: starting from its recorded configuration)"
                }
            );
        }
        let data = load_data(&tr.cfg, data_dir)?;
        data.check_batch(tr.cfg.batch_size)?;
        (
            tr,
            dir.clone(),
            wall0,
            data,
            best_score,
            run::RunDir::Resumed(lock),
        )
    } else {
        let arch_path = args
            .arch
            .as_ref()
            .context("--arch FILE is required (e.g. configs/arch/autogan_cifar10_a.json, or a search's best.json)")?;
        let arch = Arch::load(arch_path)?;
        let cfg = build_config(&args)?;
        let name = arch_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("arch")
            .to_string();
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| run::default_run_dir(&name));
        // Everything that can fail on bad input happens before the run directory is created.
        run::check_new_run_dir(&dir)?;
        let tr = Trainer::new(cfg, arch, ctx.seed, ctx.device)?;
        let data = load_data(&tr.cfg, data_dir)?;
        data.check_batch(tr.cfg.batch_size)?;
        let new_dir = run::NewRunDir::create(&dir)?;
        let snapshot = json!({
            "command": "train",
            "autogan_version": env!("CARGO_PKG_VERSION"),
            "train": tr.cfg,
            "arch": tr.arch.to_json(),
            "seed": ctx.seed,
            "device": format!("{:?}", ctx.device),
        });
        run::atomic_write(
            &dir.join("config.json"),
            serde_json::to_string_pretty(&snapshot)?.as_bytes(),
        )?;
        run::atomic_write(
            &dir.join("arch.json"),
            serde_json::to_string_pretty(&tr.arch.to_json())?.as_bytes(),
        )?;
        (tr, dir, 0.0, data, None, run::RunDir::New(new_dir))
    };
    let stop = train_loop(
        ctx, &mut tr, &dir, data, data_dir, wall0, best_score, args.json, lock,
    )?;
    if let Some(step) = stop {
        return Err(run::interrupt::Interrupted::new(format!(
            "interrupted: stopped after G step {step} of {} with a checkpoint ({}); continue with\n  {}",
            tr.cfg.steps,
            dir.join("checkpoint").join("last.safetensors").display(),
            run::interrupt::resume_command("train", &dir, ctx.device, data_dir)
        ))
        .into());
    }
    Ok(())
}

/// A fresh trainer from the `config.json` of a training run that has no checkpoint yet.
fn recorded_trainer(dir: &Path, ckpt: &Path, device: tch::Device) -> Result<Trainer> {
    let config = dir.join("config.json");
    let text = std::fs::read_to_string(&config).with_context(|| {
        format!(
            "{}: no checkpoint to resume from (expected {}) and {} cannot be read",
            dir.display(),
            ckpt.display(),
            config.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", config.display()))?;
    if v["command"] != "train" {
        bail!(
            "{}: this run directory was written by `autogan {}`, not by `autogan train`",
            dir.display(),
            v["command"].as_str().unwrap_or("?")
        );
    }
    let cfg: TrainConfig = serde_json::from_value(v["train"].clone())
        .with_context(|| format!("{}: the \"train\" section is invalid", config.display()))?;
    let arch = Arch::from_json_str(&v["arch"].to_string(), &config.display().to_string())?;
    let seed = v["seed"]
        .as_u64()
        .with_context(|| format!("{}: no \"seed\"", config.display()))?;
    for sub in ["checkpoint", "samples"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Trainer::new(cfg, arch, seed, device)
}

/// The flags a resumed run cannot change (its arch, directory, models, data, optimiser and
/// evaluation are fixed), each with whether it was given.
fn fixed_flags(args: &TrainArgs) -> Vec<(&'static str, bool)> {
    let s = &args.size;
    vec![
        ("--arch", args.arch.is_some()),
        ("--preset", args.preset.is_some()),
        ("--out", args.out.is_some()),
        ("--dataset", args.data.dataset.is_some()),
        ("--gf-dim", s.gf_dim.is_some()),
        ("--df-dim", s.df_dim.is_some()),
        ("--latent-dim", s.latent_dim.is_some()),
        ("--bottom-width", s.bottom_width.is_some()),
        ("--img-size", args.img_size.is_some()),
        ("--batch-size", args.batch_size.is_some()),
        ("--gen-batch-size", args.gen_batch_size.is_some()),
        ("--n-critic", args.n_critic.is_some()),
        ("--lr-decay", args.lr_decay.is_some()),
        ("--ema", args.ema.is_some()),
        ("--precision", args.precision.is_some()),
        ("--eval-every", args.eval_every.is_some()),
        ("--eval-images", args.eval_images.is_some()),
        ("--scorer", args.scorer.is_some()),
        ("--metric", args.metric.is_some()),
        ("--select-by", args.select_by.is_some()),
    ]
}

/// The training images at the run's size. The built-in set is always drawn with data seed 0,
/// so runs with different `--seed` see the same images (comparable scores); the run seed only
/// decides their order.
pub fn load_data(cfg: &TrainConfig, data_dir: Option<&Path>) -> Result<crate::data::Dataset> {
    let spec = crate::data::DataSpec::for_training(
        cfg.dataset.as_deref(),
        data_dir,
        cfg.img_size,
        cfg.shapes_count,
        0,
    );
    crate::data::load(&spec)
}

/// The training loop from the trainer's current step to `cfg.steps`. Returns `Some(step)` when
/// a Ctrl-C stopped it after `step` (with a checkpoint written), None when it ran to the end.
#[allow(clippy::too_many_arguments)]
fn train_loop(
    ctx: &Ctx,
    tr: &mut Trainer,
    dir: &Path,
    data: crate::data::Dataset,
    data_dir: Option<&Path>,
    wall0: f64,
    mut best_score: Option<f64>,
    json_out: bool,
    run_dir: run::RunDir,
) -> Result<Option<u64>> {
    let data = data.to_device(ctx.device);
    let mut evaluator = match tr.cfg.eval_every {
        0 => None,
        _ => Some(Evaluator::new(ctx, &tr.cfg, &data, data_dir)?),
    };
    let jsonl = Jsonl::open(&dir.join("train.jsonl"), Some(tr.g_step))?;
    let tb = RunLog::event_writer(dir, tr.cfg.tensorboard, LogKind::Train, tr.g_step)?;
    let mut log = RunLog::new(jsonl, tb, LogKind::Train);
    let ckpt = dir.join("checkpoint").join("last.safetensors");
    let start = Instant::now();
    // The first checkpoint, before the first step: a run stopped at any point can be resumed.
    if !ckpt.is_file() {
        tr.save_checkpoint(&ckpt, &json!({"wall_s": wall0, "best_score": best_score}))?;
    }
    let _lock = run_dir.keep();
    run::interrupt::catch_ctrl_c()?;
    let cfg = tr.cfg.clone();
    let pb = progress::bar(cfg.steps, "train", ctx.quiet);
    pb.set_position(tr.g_step);
    let mut t_last = Instant::now();
    let mut steps_since = 0u64;
    let mut last: Option<StepStats> = None;
    // The failed step is never saved: say what is left to resume from.
    let failed = |e: anyhow::Error| {
        pb.abandon();
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
        tr.step_deferred(&data).map_err(failed)?;
        steps_since += 1;
        let step = tr.g_step;
        let done = step == cfg.steps;
        let interrupted = run::interrupt::requested() && !done;
        let eval_now = evaluator.is_some() && (step.is_multiple_of(cfg.eval_every) || done);
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
            if let Some(s) = tr.read_losses().map_err(failed)? {
                pb.set_message(format!("D {:.3} G {:.3}", s.d_loss, s.g_loss));
                last = Some(s);
            }
        }
        pb.inc(1);
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
            progress::log(
                &pb,
                ctx.quiet,
                &format!(
                    "step {step}/{}  D {:.4}  G {:.4}  {:.0} img/s",
                    cfg.steps,
                    stats.d_loss,
                    stats.g_loss,
                    imgs / dt
                ),
            );
            t_last = Instant::now();
            steps_since = 0;
        }
        if step.is_multiple_of(cfg.sample_every) || done {
            let imgs = crate::data::from_gan(&tr.sample_ema(&tr.fixed_z));
            let grid = run::grid(&imgs, 8)?;
            run::save_rgb(
                &grid,
                &dir.join("samples").join(format!("step_{step:07}.png")),
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
                progress::log(
                    &pb,
                    ctx.quiet,
                    &format!(
                        "step {step}: {} ({} images)",
                        shown.join(", "),
                        cfg.eval_images
                    ),
                );
                let sel = ev.select;
                let score = crate::metrics::metric::value(&values, sel.key).unwrap_or(f64::NAN);
                let improved = score.is_finite()
                    && best_score.is_none_or(|b| crate::metrics::metric::better(&sel, score, b));
                if improved {
                    best_score = Some(score);
                    let extra = json!({"wall_s": wall0 + start.elapsed().as_secs_f64(), "best_score": best_score});
                    tr.save_checkpoint(&dir.join("checkpoint").join("best.safetensors"), &extra)?;
                    let mut info = json!({"step": step, "select_by": sel.name, "scorer": name,
                                          "scorer_dataset": ev.scorer.data_set(),
                                          "num_images": cfg.eval_images});
                    for (k, v) in &values {
                        info[*k] = json!(v);
                    }
                    run::atomic_write(
                        &dir.join("checkpoint").join("best.json"),
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
            pb.abandon();
            return Ok(Some(step));
        }
    }
    pb.finish_and_clear();
    let gen_path = dir.join("generator.safetensors");
    crate::safetensors::write(
        &gen_path,
        &tr.ema_generator_tensors(),
        &tr.generator_metadata(),
    )?;
    let summary = json!({
        "run_dir": dir.display().to_string(),
        "steps": tr.g_step,
        "d_loss": last.map(|s| s.d_loss),
        "g_loss": last.map(|s| s.g_loss),
        "generator": gen_path.display().to_string(),
        "wall_s": wall0 + start.elapsed().as_secs_f64(),
    });
    if json_out {
        println!("{summary}");
    } else {
        // The result: printed with --quiet too (quiet drops progress and log lines only).
        println!(
            "trained {} G steps in {:.1} s",
            tr.g_step,
            summary["wall_s"].as_f64().unwrap_or(0.0)
        );
        if let Some(s) = last {
            println!("last losses       D {:.4}  G {:.4}", s.d_loss, s.g_loss);
        }
        println!("run directory     {}", dir.display());
        println!("EMA generator     {}", gen_path.display());
    }
    Ok(None)
}

/// Scores the EMA generator during training with the run's metrics against fixed real
/// statistics / features (the first `eval_images` training images).
struct Evaluator {
    scorer: Box<dyn crate::metrics::Scorer>,
    real: crate::metrics::RealSide,
    metrics: Vec<&'static dyn crate::metrics::Metric>,
    select: crate::metrics::metric::Selectable,
}

impl Evaluator {
    /// `data_dir`: where named data sets live (`--data-dir`), for a classifier scorer that has
    /// to be trained on the run's data set.
    fn new(
        ctx: &Ctx,
        cfg: &TrainConfig,
        data: &crate::data::Dataset,
        data_dir: Option<&Path>,
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
        let scorer = super::scoring::pick(cfg.scorer, &spec, None, ctx.device, ctx.quiet)?;
        let scorer = crate::metrics::at_precision(scorer, ctx.device, cfg.scorer_precision);
        let n = cfg.eval_images.min(data.len() as i64);
        let mut acc = Accumulator::for_needs(Needs {
            stats: needs.real_stats,
            features: needs.real_features,
            ..Needs::default()
        });
        let slice = |i, b| Ok(data.images.narrow(0, i, b));
        let batch = crate::metrics::scoring_batch(ctx.device);
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
