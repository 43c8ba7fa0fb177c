//! `autogan train`: train a fixed architecture from scratch (or resume a run).
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::Path;

use crate::arch::Arch;
use crate::cli::TrainArgs;
use crate::device::Ctx;
use crate::gan::run as gan_run;
use crate::gan::trainer::{StepStats, Trainer};
use crate::metrics::classifier::TrainEvent;
use crate::progress;
use crate::run;
use crate::run::RunFiles;

pub fn run(ctx: &Ctx, args: TrainArgs) -> Result<()> {
    let data_dir = args.data.data_dir.as_deref();
    let (mut tr, dir, wall0, data, best_score, lock) = if let Some(dir) = &args.resume {
        crate::cli::refuse_fixed_on_resume(
            dir,
            &args.fixed(),
            "only --steps, --lr, --checkpoint-every, --sample-every, --log-every, --data-dir and \
             --no-tensorboard can be given",
        )?;
        if !dir.is_dir() {
            bail!(
                "--resume {}: no such run directory (a directory written by autogan train)",
                dir.display()
            );
        }
        let ckpt = RunFiles::of(dir).last_checkpoint();
        if !ckpt.is_file() && !RunFiles::of(dir).config().is_file() {
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
            let tr = gan_run::recorded_trainer(dir, &ckpt, ctx.device)?;
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
        if args.gan.no_tensorboard {
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
        let data = gan_run::load_data(&tr.cfg, data_dir)?;
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
        let cfg = args.config()?;
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
        let data = gan_run::load_data(&tr.cfg, data_dir)?;
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
            &RunFiles::of(&dir).config(),
            serde_json::to_string_pretty(&snapshot)?.as_bytes(),
        )?;
        run::atomic_write(
            &RunFiles::of(&dir).arch(),
            serde_json::to_string_pretty(&tr.arch.to_json())?.as_bytes(),
        )?;
        (tr, dir, 0.0, data, None, run::RunDir::New(new_dir))
    };
    let start = gan_run::TrainStart {
        dir: dir.clone(),
        data_dir: data_dir.map(Path::to_path_buf),
        wall0,
        best_score,
    };
    let mut obs = Terminal::new(ctx.quiet);
    match gan_run::train(&mut tr, start, data, lock, &mut obs)? {
        gan_run::TrainEnd::Interrupted { step } => Err(run::interrupt::Interrupted::new(format!(
            "interrupted: stopped after G step {step} of {} with a checkpoint ({}); continue with\n  {}",
            tr.cfg.steps,
            RunFiles::of(&dir).last_checkpoint().display(),
            run::interrupt::resume_command("train", &dir, ctx.device, data_dir)
        ))
        .into()),
        gan_run::TrainEnd::Finished(summary) => {
            if args.json {
                println!("{}", serde_json::to_value(&summary)?);
            } else {
                // The result: printed with --quiet too (quiet drops progress and log lines).
                println!("trained {} G steps in {:.1} s", summary.steps, summary.wall_s);
                if let (Some(d), Some(g)) = (summary.d_loss, summary.g_loss) {
                    println!("last losses       D {d:.4}  G {g:.4}");
                }
                println!("run directory     {}", dir.display());
                println!("EMA generator     {}", summary.generator);
            }
            Ok(())
        }
    }
}

/// The training drawn on a terminal: a progress bar with the losses, its log lines, the
/// classifier scorer's training.
struct Terminal {
    pb: indicatif::ProgressBar,
    quiet: bool,
    scorer: super::scoring::ScorerProgress,
}

impl Terminal {
    fn new(quiet: bool) -> Terminal {
        Terminal {
            pb: progress::bar(0, "train", quiet),
            quiet,
            scorer: super::scoring::ScorerProgress::new(quiet),
        }
    }
}

impl gan_run::TrainObserver for Terminal {
    fn scorer(&mut self, event: TrainEvent) {
        self.scorer.on(event);
    }
    fn start(&mut self, step: u64, steps: u64) {
        self.pb.set_length(steps);
        self.pb.set_position(step);
    }
    fn step(&mut self, _step: u64, losses: Option<&StepStats>) {
        if let Some(s) = losses {
            self.pb
                .set_message(format!("D {:.3} G {:.3}", s.d_loss, s.g_loss));
        }
        self.pb.inc(1);
    }
    fn line(&mut self, text: &str) {
        progress::log(&self.pb, self.quiet, text);
    }
    fn stop(&mut self, finished: bool) {
        match finished {
            true => self.pb.finish_and_clear(),
            false => self.pb.abandon(),
        }
    }
}
