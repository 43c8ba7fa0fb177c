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
use clap::Parser;

use crate::compare::{self, Layout, Phase, Plan, DEFAULT_STRATEGY};
use crate::device::Ctx;
use crate::launch::{self, Finished, Job, LauncherConfig, LauncherKind};

/// G steps per training when `--train-steps` is not given (see the README: the budget at which
/// the paper's arch a clearly beats the worst random architecture on the built-in set).
pub const DEFAULT_TRAIN_STEPS: u64 = 2000;

pub fn run(ctx: &Ctx, args: CompareArgs) -> Result<()> {
    let (plan, layout, cfg, _lock) = match &args.resume {
        Some(dir) => {
            let given = plan_flags_given(&args);
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
                plan = fix_pass_through(&layout, plan, &args, args.dry_run)?;
            }
            let base = compare::recorded_launcher(&layout)?;
            let cfg = args.launcher.config(base.as_ref())?;
            compare::check_slurm_records(&layout, &cfg)?;
            (plan, layout, cfg, lock)
        }
        None => {
            let plan = build_plan(ctx, &args)?;
            check_pass_through(&plan)?;
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
            "comparison in {}: {} searches, {} random and {} paper architectures, {} G steps each",
            layout.root.display(),
            plan.searches().len(),
            plan.random_archs.len(),
            plan.paper.len(),
            plan.train_steps
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

/// The plan flags given with `--resume` (which reads its plan from the directory).
fn plan_flags_given(a: &CompareArgs) -> Vec<&'static str> {
    [
        ("--strategies", a.strategies.is_some()),
        ("--seeds", a.seeds.is_some()),
        ("--random", a.random.is_some()),
        ("--paper", a.paper.is_some()),
        ("--train-steps", a.train_steps.is_some()),
        ("--preset", a.preset.is_some()),
        ("--eval-images", a.eval_images.is_some()),
        ("--topk-train", a.topk_train.is_some()),
        ("--out", a.out.is_some()),
        ("--dataset", a.data.dataset.is_some()),
        ("--data-dir", a.data.data_dir.is_some()),
    ]
    .into_iter()
    .filter(|(_, g)| *g)
    .map(|(n, _)| n)
    .collect()
}

fn build_plan(ctx: &Ctx, a: &CompareArgs) -> Result<Plan> {
    let strategies = a
        .strategies
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_STRATEGY.to_string()]);
    let strategies: Vec<String> = strategies
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let paper: Vec<String> = match &a.paper {
        None => compare::PAPER.iter().map(|s| s.to_string()).collect(),
        Some(v) if v.iter().any(|p| p.trim().eq_ignore_ascii_case("none")) => {
            if v.len() > 1 {
                bail!(
                    "--paper: 'none' cannot be combined with letters ({})",
                    v.join(",")
                );
            }
            Vec::new()
        }
        Some(v) => v.iter().map(|p| p.trim().to_ascii_lowercase()).collect(),
    };
    let random = a.random.unwrap_or(8);
    // Before anything is drawn: a count far beyond any budget is refused at once.
    compare::check_counts(ctx.seed, a.seeds.unwrap_or(3), strategies.len(), random)?;
    let preset = a
        .preset
        .clone()
        .unwrap_or_else(|| crate::config::default_preset(a.data.dataset.as_deref()).to_string());
    // The preset must have both sections; read it now rather than in the first job.
    let (path, p) =
        crate::config::load_preset(&preset).with_context(|| format!("--preset {preset}"))?;
    if p.train.is_none() || p.search.is_none() {
        bail!(
            "--preset {preset}: {} needs both a \"search\" and a \"train\" section",
            path.display()
        );
    }
    // The trainings take each search's top-K files: as many as the searches write.
    // `--topk` in --search-args as clap reads it (any spelling), else the preset's.
    let mut argv = vec!["autogan".to_string(), "search".into()];
    argv.extend(split_flags(a.search_args.as_deref()));
    let given_topk = match crate::cli::Cli::try_parse_from(&argv) {
        Ok(crate::cli::Cli {
            command: crate::cli::Command::Search(s),
            ..
        }) => s.topk,
        _ => None, // a bad flag is refused, with its message, by check_pass_through
    };
    let search_topk = given_topk.or_else(|| p.search.as_ref().map(|s| s.topk));
    if let (Some(k), Some(want)) = (search_topk, a.topk_train) {
        if want > k && a.seeds != Some(0) {
            bail!(
                "--topk-train {want}: the searches write only their top {k} (the preset's topk, \
                 or --topk in --search-args); give --topk-train {k} or less, or --search-args \
                 \"--topk {want}\""
            );
        }
    }
    let mut scorers = vec!["classifier".to_string()];
    if crate::paths::inception_weights(None).is_file() {
        scorers.push("inception".to_string());
    }
    let device = match ctx.device {
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    };
    let plan = Plan {
        strategies,
        seeds: a.seeds.unwrap_or(3),
        seed: ctx.seed,
        random,
        paper,
        train_steps: a.train_steps.unwrap_or(DEFAULT_TRAIN_STEPS),
        preset,
        dataset: a.data.dataset.clone(),
        data_dir: a.data.data_dir.clone(),
        eval_images: a.eval_images.unwrap_or(1000),
        topk_train: a.topk_train.unwrap_or(3),
        search_args: split_flags(a.search_args.as_deref()),
        train_args: split_flags(a.train_args.as_deref()),
        scorers,
        device,
        threads: Some(tch::get_num_threads()),
        random_archs: compare::random_archs(random, ctx.seed)
            .iter()
            .map(|x| x.to_vector())
            .collect(),
    };
    plan.validate()?;
    Ok(plan)
}

/// Every search and training command line of the plan must parse (its `--search-args` and
/// `--train-args` included): checked before anything is written, as `sweep` checks its jobs.
fn check_pass_through(plan: &Plan) -> Result<()> {
    let layout = Layout {
        root: std::path::PathBuf::from("compare-check"),
    };
    let probe = compare::Entry {
        label: "check".into(),
        group: compare::RANDOM_GROUP.into(),
        role: compare::Role::Random,
        arch_file: "check.json".into(),
    };
    let mut lines = Vec::new();
    let mut strategies_seen = Vec::new();
    for job in compare::search_jobs(plan, &layout) {
        let strategy = job
            .args
            .iter()
            .skip_while(|a| *a != "--strategy")
            .nth(1)
            .cloned();
        if strategies_seen.contains(&strategy) {
            continue;
        }
        strategies_seen.push(strategy);
        lines.push(("--search-args", plan.search_args.join(" "), job));
    }
    for job in compare::train_jobs(plan, &layout, &[probe]) {
        lines.push(("--train-args", plan.train_args.join(" "), job));
    }
    for (flag, given, job) in lines {
        let mut argv = vec!["autogan".to_string()];
        argv.extend(job.fresh_argv());
        if let Err(e) = crate::cli::Cli::try_parse_from(&argv) {
            let first = crate::cli::first_error_line(&e);
            bail!(
                "{flag} \"{given}\": `autogan {}` would not run: {first}",
                job.command
            );
        }
    }
    Ok(())
}

/// `--resume DIR --search-args ... / --train-args ...`: replace the plan's pass-through flags
/// of a comparison whose jobs of that kind have not run yet (their command lines failed, e.g.
/// on a misspelt flag), so that such a directory can be mended instead of abandoned. The new
/// command lines are parsed before anything is written; a dry run writes nothing.
fn fix_pass_through(layout: &Layout, plan: Plan, args: &CompareArgs, dry: bool) -> Result<Plan> {
    let search_args = args.search_args.as_deref().map(|a| split_flags(Some(a)));
    let train_args = args.train_args.as_deref().map(|a| split_flags(Some(a)));
    let (plan, phases) = compare::with_pass_through(layout, plan, search_args, train_args)?;
    check_pass_through(&plan)?;
    if dry {
        return Ok(plan);
    }
    compare::write_pass_through(layout, &plan, &phases)?;
    eprintln!(
        "{}: the searches run with \"{}\", the trainings with \"{}\" from now on",
        layout.config().display(),
        plan.search_args.join(" "),
        plan.train_args.join(" ")
    );
    Ok(plan)
}

/// `"--a 1  --b 2"` -> `["--a", "1", "--b", "2"]`.
fn split_flags(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}
