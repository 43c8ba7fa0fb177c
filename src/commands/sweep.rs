//! `autogan sweep`: train a list of architectures x seeds (and/or configurations from a JSON
//! file), each as its own `autogan train` run under RUN/runs/NAME, through a launcher (here or
//! as a Slurm job array); the outcomes go to RUN/sweep.json. Also the launcher flags shared
//! with `search --final-train-steps`.
use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;
use std::path::Path;

use crate::cli::{Cli, Command, SweepArgs};
use crate::device::Ctx;
use crate::launch::{self, Finished, Job, Outcome};
use crate::run;
use crate::run::RunFiles;

/// The batch name of a sweep's jobs (RUN/jobs/train.json, RUN/jobs/train.sbatch).
const BATCH: &str = "train";

/// (name, seed, train args) of every job, before run directories are given.
fn job_list(ctx: &Ctx, args: &SweepArgs) -> Result<Vec<(String, u64, Vec<String>)>> {
    let seeds = args.seeds.clone().unwrap_or_else(|| vec![ctx.seed]);
    if seeds.is_empty() {
        bail!("--seeds: give at least one seed, e.g. --seeds 0,1,2");
    }
    let mut common = Vec::new();
    if let Some(s) = args.steps {
        common.extend(["--steps".to_string(), s.to_string()]);
    }
    if let Some(p) = &args.preset {
        common.extend(["--preset".to_string(), p.clone()]);
    }
    common.extend(args.train_args.iter().cloned());
    // Every architecture file is read before the first job starts.
    let mut seen_archs: Vec<(&Path, Vec<i64>)> = Vec::new();
    for a in &args.arch {
        if !a.is_file() {
            bail!("--arch {}: no such file", a.display());
        }
        let v = crate::arch::Arch::load(a)
            .with_context(|| format!("--arch {}", a.display()))?
            .to_vector();
        if let Some((other, _)) = seen_archs.iter().find(|(_, w)| *w == v) {
            bail!(
                "--arch {} and {} are the same architecture: the sweep would train it twice \
                 alike; give each architecture once (use --seeds for repeats)",
                other.display(),
                a.display()
            );
        }
        seen_archs.push((a, v));
    }
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "--seeds names seed {} twice: its jobs would be identical; give each seed once",
            w[0]
        );
    }
    let mut list = Vec::new();
    for a in &args.arch {
        let stem = a.file_stem().and_then(|s| s.to_str()).unwrap_or("arch");
        for &s in &seeds {
            let abs = launch::absolute(a)?;
            let mut v = vec!["--arch".to_string(), abs.display().to_string()];
            v.extend(common.iter().cloned());
            list.push((format!("{}-s{s}", launch::sweep::clean(stem)), s, v));
        }
    }
    if let Some(f) = &args.jobs {
        let specs = launch::sweep::read_job_specs(f)?;
        for (i, spec) in specs.into_iter().enumerate() {
            let (name, seed, a) = match spec {
                launch::sweep::JobSpec::Args(a) => (None, None, a),
                launch::sweep::JobSpec::Full(f) => (f.name, f.seed, f.args),
            };
            let name = name.unwrap_or_else(|| format!("job{}", i + 1));
            let seeds_here = seed.map(|s| vec![s]).unwrap_or_else(|| seeds.clone());
            for s in seeds_here {
                let mut v = a.clone();
                v.extend(common.iter().cloned());
                let n = match seed.is_some() || seeds.len() == 1 && args.seeds.is_none() {
                    true => launch::sweep::clean(&name),
                    false => format!("{}-s{s}", launch::sweep::clean(&name)),
                };
                list.push((n, s, v));
            }
        }
    }
    if list.is_empty() {
        bail!(
            "nothing to train: give architecture files (--arch A.json B.json), a --jobs FILE, \
             or --resume RUN_DIR"
        );
    }
    // Repeated names (the same file stem twice) get -2, -3, ...
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for (name, _, _) in list.iter_mut() {
        let k = seen.entry(name.clone()).or_insert(0);
        *k += 1;
        if *k > 1 {
            *name = format!("{name}-{k}");
        }
    }
    for (name, seed, a) in &list {
        check_train_args(name, *seed, a)?;
    }
    Ok(list)
}

/// A job's flags must make a valid `autogan train` command line (checked before anything is
/// submitted), with an architecture, and without --out/--resume.
fn check_train_args(name: &str, seed: u64, a: &[String]) -> Result<()> {
    if let Some(f) = a
        .iter()
        .find(|x| ["--out", "--resume"].contains(&x.as_str()))
    {
        bail!("job {name}: {f} is not allowed (the sweep gives each job its own run directory)");
    }
    let mut argv = vec![
        "autogan".to_string(),
        "--seed".into(),
        seed.to_string(),
        "train".into(),
    ];
    argv.extend(a.iter().cloned());
    argv.extend(["--out".to_string(), "x".into()]);
    match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Command::Train(t),
            ..
        }) => {
            if t.arch.is_none() {
                bail!(
                    "job {name}: no --arch FILE among its flags ({})",
                    a.join(" ")
                );
            }
            Ok(())
        }
        Ok(_) => bail!("job {name}: not a train command line"),
        Err(e) => {
            let first = crate::cli::first_error_line(&e);
            bail!(
                "job {name}: `autogan train {}` is not a valid command line: {first}",
                a.join(" ")
            )
        }
    }
}

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
        // Another command's directory (a comparison, a search) holds batch records too.
        let written_by = RunFiles::of(dir).config();
        if let Ok(v) = crate::config::read_json::<serde_json::Value>(&written_by) {
            if let Some(c) = v["command"].as_str().filter(|c| *c != "sweep") {
                bail!(
                    "{} is a {c} directory, not a sweep (its config.json was written by \
                     `autogan {c}`): continue it with `autogan {c} --resume {}`",
                    dir.display(),
                    dir.display()
                );
            }
        }
        let rec = launch::recorded(dir, BATCH)?.with_context(|| {
            format!(
                "{}: no sweep to resume (expected {})",
                dir.display(),
                launch::BatchDir::new(dir, BATCH).record().display()
            )
        })?;
        let cfg = args.launcher.config(Some(&rec.launcher))?;
        let lock = run::lock::lock_run_dir(dir)?;
        (dir.clone(), rec.jobs, cfg, lock)
    } else {
        // Everything that can fail on bad input happens before the run directory exists.
        let list = job_list(ctx, &args)?;
        let cfg = args.launcher.config(None)?;
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| run::default_run_dir("sweep"));
        if dir.exists() && std::fs::read_dir(&dir).is_ok_and(|mut r| r.next().is_some()) {
            bail!(
                "{} already exists and is not empty: pass --resume {} to continue that sweep, \
                 or choose another --out",
                dir.display(),
                dir.display()
            );
        }
        std::fs::create_dir_all(dir.join("runs"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = run::lock::lock_run_dir(&dir)?;
        let abs = launch::absolute(&dir)?;
        let jobs: Vec<Job> = list
            .iter()
            .map(|(name, seed, a)| Job {
                name: name.clone(),
                global: vec!["--seed".into(), seed.to_string()],
                command: "train".into(),
                args: a.clone(),
                run_dir: abs.join("runs").join(name),
                ..Job::default()
            })
            .collect();
        let snapshot = json!({
            "command": "sweep",
            "autogan_version": env!("CARGO_PKG_VERSION"),
            "launcher": cfg,
            "jobs": jobs,
        });
        run::atomic_write(
            &RunFiles::of(&dir).config(),
            serde_json::to_string_pretty(&snapshot)?.as_bytes(),
        )?;
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
    let out = dir.join("sweep.json");
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
