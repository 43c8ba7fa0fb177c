//! `autogan compare`: searches per strategy, random architectures and the paper's ones, all
//! trained with the same preset, budget and seed and scored alike. The jobs run through the
//! launcher (`launch::run_jobs`: here, one per GPU, or as Slurm job arrays) in four phases,
//! each one batch: the searches, then the trainings of their top-K and of the random and
//! paper architectures, then the evaluations, then every trained architecture scored on each
//! search's supernet. Prints the table and writes `compare.json`.
//! `--resume DIR` re-attaches to recorded Slurm jobs and runs only the jobs that have not
//! finished.
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::CompareArgs;

use crate::compare::{self, Layout, Phase, Plan};
use crate::device::Ctx;
use crate::launch::{self, Finished, Job, LauncherConfig, LauncherKind};

pub fn run(ctx: &Ctx, args: CompareArgs) -> Result<()> {
    let (plan, layout, cfg, _lock) = match &args.resume {
        Some(dir) => {
            let given = args.plan_flags_given();
            if !given.is_empty() {
                bail!(
                    "--resume continues a comparison with its own plan (config.json): drop {}",
                    given.join(", ")
                );
            }
            if !ctx.given.is_empty() {
                bail!(
                    "--resume runs the comparison's jobs with the seed, device and threads of its \
                     plan (config.json), so that they give the numbers they would have given \
                     uninterrupted: drop {}",
                    ctx.given.join(", ")
                );
            }
            let layout = Layout {
                root: launch::absolute(dir)?,
            };
            let mut plan = compare::load_plan(&layout)?;
            let lock = match args.dry_run {
                true => None,
                false => Some(crate::run::lock::lock_run_dir(&layout.root)?),
            };
            if args.search_args.is_some() || args.train_args.is_some() {
                plan = args.fix_pass_through(&layout, plan, args.dry_run)?;
            }
            if let Some(k) = args.train_seeds {
                plan = args.fix_train_seeds(&layout, plan, k, args.dry_run)?;
            }
            let base = compare::recorded_launcher(&layout)?;
            let cfg = args.launcher.config(base.as_ref())?;
            compare::check_slurm_records(&layout, &cfg)?;
            (plan, layout, cfg, lock)
        }
        None => {
            let plan = args.plan(ctx.seed, ctx.device)?;
            crate::cli::check_pass_through(&plan)?;
            let cfg = args.launcher.config(None)?;
            let root = args
                .out
                .clone()
                .unwrap_or_else(|| crate::run::default_run_dir("compare"));
            let layout = Layout {
                root: launch::absolute(&root)?,
            };
            if args.dry_run {
                // Nothing is written: the plan as it would start, and its first jobs.
                crate::run::check_new_run_dir(&layout.root)?;
                let opts = launch::Options {
                    resume: false,
                    wait: !args.launcher.no_wait,
                    quiet: ctx.quiet,
                    device: plan.device.clone(),
                    threads: plan.threads,
                };
                return dry_run(&plan, &layout, &cfg, &opts);
            }
            compare::create(&layout, &plan, &cfg)?;
            let lock = crate::run::lock::lock_run_dir(&layout.root)?;
            (plan, layout, cfg, Some(lock))
        }
    };
    // The first Ctrl-C lets the running jobs stop at their checkpoints and starts no other.
    if !args.dry_run {
        crate::run::interrupt::catch_ctrl_c()?;
    }
    let res = run_phases(ctx, &args, &plan, &layout, &cfg);
    match res {
        Err(e) if crate::run::interrupt::is_interrupted(&e) => {
            Err(crate::run::interrupt::Interrupted::new(format!(
                "{e:#}\nthe comparison in {} keeps every finished job; continue it with\n  \
                 autogan compare --resume {}",
                layout.root.display(),
                launch::shell_quote(&layout.root.display().to_string())
            ))
            .into())
        }
        r => r,
    }
}

fn run_phases(
    ctx: &Ctx,
    args: &CompareArgs,
    plan: &Plan,
    layout: &Layout,
    cfg: &LauncherConfig,
) -> Result<()> {
    let (plan, layout, cfg) = (plan.clone(), layout.clone(), cfg.clone());
    if !ctx.quiet {
        eprintln!(
            "comparison in {}: {} searches, {} random and {} paper architectures, {} G steps each{}",
            layout.root.display(),
            plan.searches().len(),
            plan.random_archs.len(),
            plan.paper.len(),
            plan.train_steps,
            match plan.train_seeds {
                1 => String::new(),
                k => format!(", {k} trainings of each"),
            }
        );
    }
    // The jobs run with the plan's device and threads (the same threads, the same numbers on
    // the CPU); Slurm tasks get --threads from --cpus-per-task.
    let opts = launch::Options {
        resume: args.resume.is_some(),
        wait: !args.launcher.no_wait,
        quiet: ctx.quiet,
        device: plan.device.clone(),
        threads: plan.threads,
    };
    if args.dry_run {
        return dry_run(&plan, &layout, &cfg, &opts);
    }
    for phase in Phase::ALL {
        let jobs = compare::phase_jobs(&plan, &layout, phase)?;
        if jobs.is_empty() || jobs.iter().all(Job::has_result) {
            continue;
        }
        match launch::run_jobs(&cfg, phase.name(), &jobs, &layout.root, &opts)? {
            Finished::Submitted { job_ids } => {
                let collect = format!("autogan compare --resume {}", layout.root.display());
                if args.json {
                    println!(
                        "{}",
                        json!({"dir": layout.root.display().to_string(), "phase": phase.name(),
                               "submitted": job_ids, "collect": collect})
                    );
                } else {
                    println!(
                        "the {} {} jobs run as Slurm job {}; when they have ended, collect them \
                         and go on with the next phase with\n  {collect}\n(with --no-wait it \
                         submits the next phase and returns again)",
                        jobs.len(),
                        phase.name(),
                        job_ids.join(", ")
                    );
                }
                return Ok(());
            }
            Finished::Done(outcomes) => compare::check_phase(&layout, phase, &jobs, &outcomes)?,
        }
    }
    let results = compare::collect(&plan, &layout, &compare::wall_times(&layout))?;
    crate::run::atomic_write(
        &layout.results(),
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )?;
    if args.json {
        println!("{results}");
    } else {
        print!("{}", compare::table(&results));
        println!("results: {}", layout.results().display());
    }
    Ok(())
}

/// `--dry-run`: the command line of every job that would run now, in order, as the launcher
/// would start it; the trainings of found architectures are known once their search ends.
fn dry_run(
    plan: &Plan,
    layout: &Layout,
    cfg: &LauncherConfig,
    opts: &launch::Options,
) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the path of this autogan binary")?;
    if cfg.launcher == LauncherKind::Slurm {
        println!(
            "# each phase (search, train, eval, supernet) is submitted as one Slurm job array"
        );
    }
    for job in &compare::pending_jobs(plan, layout)? {
        let line: Vec<String> = std::iter::once(exe.display().to_string())
            .chain(launch::launcher_flags(cfg, opts))
            .chain(job.next_argv())
            .map(|a| launch::shell_quote(&a))
            .collect();
        println!("{}", line.join(" "));
    }
    if compare::search_jobs(plan, layout)
        .iter()
        .any(|j| !j.has_result())
    {
        println!(
            "# then the trainings and evaluations of each search's top {} (after it ends), and \
             the scores of every architecture on its supernet",
            plan.topk_train
        );
    }
    Ok(())
}
