//! `autogan sweep`: train a list of architectures x seeds (and/or configurations from a JSON
//! file), each as its own `autogan train` run under RUN/runs/NAME, through a launcher (here or
//! as a Slurm job array); the outcomes go to RUN/sweep.json. Also the launcher flags shared
//! with `search --final-train-steps`.
use anyhow::{bail, Result};
use serde_json::json;
use std::path::Path;

use crate::cli::SweepArgs;
use crate::device::Ctx;
use crate::launch::{self, Finished, Job, Outcome};
use crate::run;

/// The batch name of a sweep's jobs (RUN/jobs/train.json, RUN/jobs/train.sbatch).
const BATCH: &str = "train";

pub fn run(ctx: &Ctx, args: SweepArgs) -> Result<()> {
    let wait = !args.launcher.no_wait;
    let (dir, jobs, cfg, _lock) = if let Some(dir) = &args.resume {
        let own = [
            ("--arch", !args.arch.is_empty()),
            ("--seeds", args.seeds.is_some()),
            ("--steps", args.steps.is_some()),
            ("--preset", args.preset.is_some()),
            ("--jobs", args.jobs.is_some()),
            ("--out", args.out.is_some()),
            ("train flags after --", !args.train_args.is_empty()),
        ];
        let mut given: Vec<&str> = own.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect();
        if ctx.given.contains(&"--seed") {
            given.push("--seed (each job keeps its recorded seed)");
        }
        if !given.is_empty() {
            bail!(
                "--resume continues a sweep with its own jobs: drop {}",
                given.join(", ")
            );
        }
        let rec = launch::sweep::recorded(dir, BATCH)?;
        let cfg = args.launcher.config(Some(&rec.launcher))?;
        let lock = run::lock::lock_run_dir(dir)?;
        (dir.clone(), rec.jobs, cfg, lock)
    } else {
        // Everything that can fail on bad input happens before the run directory exists.
        let list = args.job_list(ctx.seed)?;
        let cfg = args.launcher.config(None)?;
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| run::default_run_dir("sweep"));
        let (jobs, lock) = launch::sweep::create(&dir, &list, &cfg)?;
        (dir, jobs, cfg, lock)
    };
    let opts = launch::Options::from_ctx(ctx, args.resume.is_some(), wait);
    // The first Ctrl-C lets the running jobs stop at their checkpoints and starts no other.
    run::interrupt::catch_ctrl_c()?;
    let finished = launch::run_jobs(&cfg, BATCH, &jobs, &dir, &opts).map_err(|e| {
        match run::interrupt::is_interrupted(&e) {
            true => run::interrupt::Interrupted::new(format!(
                "{e:#}\nthe sweep in {} keeps every finished job; continue it with\n  autogan \
                 sweep --resume {}",
                dir.display(),
                launch::shell_quote(&dir.display().to_string())
            ))
            .into(),
            false => e,
        }
    })?;
    let outcomes = match finished {
        Finished::Submitted { job_ids } => {
            let collect = format!("autogan sweep --resume {}", dir.display());
            if args.json {
                println!(
                    "{}",
                    json!({"run_dir": dir.display().to_string(), "submitted": job_ids, "collect": collect})
                );
            } else {
                println!(
                    "submitted {} jobs as Slurm job {}; when they have ended, collect the \
                     results with:\n  {collect}",
                    jobs.len(),
                    job_ids.join(", ")
                );
            }
            return Ok(());
        }
        Finished::Done(o) => o,
    };
    collect(&dir, &jobs, &outcomes, args.json, ctx.quiet)
}

/// RUN/sweep.json and the table; an error naming every job that did not finish.
fn collect(
    dir: &Path,
    jobs: &[Job],
    outcomes: &[Outcome],
    json_out: bool,
    quiet: bool,
) -> Result<()> {
    let (summary, results, unfinished) = launch::sweep::summary(dir, jobs, outcomes);
    let out = crate::run::RunFiles::of(dir).sweep_results();
    run::atomic_write(&out, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    if json_out {
        println!("{summary}");
    } else if !quiet {
        println!(
            "{:<28} {:<10} {:>7} {:>9} {:>9} {:>18}  run directory",
            "job", "state", "steps", "D loss", "G loss", "FID"
        );
        for (o, r) in outcomes.iter().zip(&results) {
            let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
            let fid = r
                .as_ref()
                .and_then(|r| r.eval.as_ref())
                .map(|e| format!("{:.3} ({})", e.fid, e.scorer))
                .unwrap_or_else(|| "-".into());
            println!(
                "{:<28} {:<10} {:>7} {:>9} {:>9} {:>18}  {}",
                o.name,
                o.state,
                r.as_ref()
                    .map(|r| r.steps.to_string())
                    .unwrap_or_else(|| "-".into()),
                f(r.as_ref().and_then(|r| r.d_loss)),
                f(r.as_ref().and_then(|r| r.g_loss)),
                fid,
                o.run_dir.display()
            );
        }
        println!("outcomes          {}", out.display());
    }
    if !unfinished.is_empty() {
        bail!(
            "{} of {} jobs did not finish:\n  {}\nthe others are collected in {}; run the \
             unfinished ones again with `autogan sweep --resume {}`",
            unfinished.len(),
            outcomes.len(),
            unfinished.join("\n  "),
            out.display(),
            dir.display()
        );
    }
    Ok(())
}
