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
use std::collections::BTreeMap;

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
            let base = recorded_launcher(&layout)?;
            let cfg = args.launcher.config(base.as_ref())?;
            check_slurm_records(&layout, &cfg)?;
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
        let jobs = phase_jobs(&plan, &layout, phase)?;
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
            Finished::Done(outcomes) => check_phase(&layout, phase, &jobs, &outcomes)?,
        }
    }
    let results = compare::collect(&plan, &layout, &wall_times(&layout))?;
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

/// The jobs of one phase; the trainings and evaluations are those of the architectures known
/// now (a search's top-K once it has ended).
fn phase_jobs(plan: &Plan, layout: &Layout, phase: Phase) -> Result<Vec<Job>> {
    Ok(match phase {
        Phase::Search => compare::search_jobs(plan, layout),
        Phase::Train => compare::train_jobs(plan, layout, &compare::entries(plan, layout)?),
        Phase::Eval => compare::eval_jobs(plan, layout, &compare::entries(plan, layout)?),
        Phase::Supernet => compare::supernet_jobs(plan, layout, &compare::entries(plan, layout)?),
    })
}

/// Every job of a phase must have written its result before the next phase starts: name
/// the ones that did not (state, exit code, log) and how to continue.
fn check_phase(
    layout: &Layout,
    phase: Phase,
    jobs: &[Job],
    outcomes: &[launch::Outcome],
) -> Result<()> {
    let mut missing = Vec::new();
    for (job, o) in jobs.iter().zip(outcomes) {
        if job.has_result() {
            continue;
        }
        let result = job
            .result
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        missing.push(match o.ok() {
            true => format!("{}, but it did not write {result}", o.describe()),
            false => o.describe(),
        });
    }
    if missing.is_empty() {
        return Ok(());
    }
    let others = match missing.len() < jobs.len() {
        true => "the others finished; ",
        false => "",
    };
    bail!(
        "{} of {} {} jobs did not finish:\n  {}\n{others}fix the cause, then continue with \
         `autogan compare --resume {}` (only the unfinished jobs run again)",
        missing.len(),
        jobs.len(),
        phase.name(),
        missing.join("\n  "),
        layout.root.display()
    )
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
    let searches = compare::search_jobs(plan, layout);
    let entries = compare::entries(plan, layout)?;
    let jobs = searches
        .iter()
        .chain(&compare::train_jobs(plan, layout, &entries))
        .chain(&compare::eval_jobs(plan, layout, &entries))
        .chain(&compare::supernet_jobs(plan, layout, &entries))
        .filter(|j| !j.has_result())
        .cloned()
        .collect::<Vec<_>>();
    if cfg.launcher == LauncherKind::Slurm {
        println!(
            "# each phase (search, train, eval, supernet) is submitted as one Slurm job array"
        );
    }
    for job in &jobs {
        let line: Vec<String> = std::iter::once(exe.display().to_string())
            .chain(launch::launcher_flags(cfg, opts))
            .chain(job.next_argv())
            .map(|a| launch::shell_quote(&a))
            .collect();
        println!("{}", line.join(" "));
    }
    if searches.iter().any(|j| !j.has_result()) {
        println!(
            "# then the trainings and evaluations of each search's top {} (after it ends), and \
             the scores of every architecture on its supernet",
            plan.topk_train
        );
    }
    Ok(())
}

/// The launcher a resumed comparison continues with: that of its latest batch record, else
/// the one its config.json was written with, else the default (local).
fn recorded_launcher(layout: &Layout) -> Result<Option<LauncherConfig>> {
    for phase in Phase::ALL.iter().rev() {
        if let Some(r) = launch::recorded(&layout.root, phase.name())? {
            return Ok(Some(r.launcher));
        }
    }
    let v: serde_json::Value = crate::config::read_json(&layout.config())?;
    if v["launcher"].is_null() {
        return Ok(None);
    }
    serde_json::from_value(v["launcher"].clone())
        .map(Some)
        .with_context(|| format!("{}: invalid \"launcher\"", layout.config().display()))
}

/// A batch submitted to Slurm whose jobs have not all finished may still run there: resuming
/// it with another launcher would run them twice. Refused before anything starts.
fn check_slurm_records(layout: &Layout, cfg: &LauncherConfig) -> Result<()> {
    if cfg.launcher == LauncherKind::Slurm {
        return Ok(());
    }
    for phase in Phase::ALL {
        let Some(r) = launch::recorded(&layout.root, phase.name())? else {
            continue;
        };
        if r.submissions.is_empty() || r.jobs.iter().all(Job::has_result) {
            continue;
        }
        let ids: Vec<&str> = r.submissions.iter().map(|s| s.job_id.as_str()).collect();
        bail!(
            "{} records Slurm job {} with unfinished {} jobs: continue with --launcher slurm (or \
             without --launcher); to run them here instead, cancel them (scancel {}) and move \
             that record aside",
            launch::BatchDir::new(&layout.root, phase.name())
                .record()
                .display(),
            ids.join(", "),
            phase.name(),
            ids.join(" ")
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
    let search_args = split_flags(a.search_args.as_deref());
    let search_topk = search_args
        .iter()
        .rposition(|x| x == "--topk")
        .and_then(|i| search_args.get(i + 1))
        .and_then(|v| v.parse::<usize>().ok())
        .or_else(|| p.search.as_ref().map(|s| s.topk));
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
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
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
/// on a misspelt flag), so that such a directory can be mended instead of abandoned. The
/// phase's batch record, which holds the old command lines, is moved aside.
fn fix_pass_through(
    layout: &Layout,
    mut plan: Plan,
    args: &CompareArgs,
    dry: bool,
) -> Result<Plan> {
    let mut phases = Vec::new();
    if let Some(a) = &args.search_args {
        let jobs = compare::search_jobs(&plan, layout);
        refuse_if_started(&jobs, "--search-args", "searches")?;
        plan.search_args = split_flags(Some(a));
        phases.push(Phase::Search);
    }
    if let Some(a) = &args.train_args {
        let jobs = compare::train_jobs(&plan, layout, &compare::entries(&plan, layout)?);
        refuse_if_started(&jobs, "--train-args", "trainings")?;
        plan.train_args = split_flags(Some(a));
        phases.push(Phase::Train);
    }
    plan.validate()?;
    check_pass_through(&plan)?;
    if dry {
        return Ok(plan);
    }
    for phase in phases {
        let record = launch::BatchDir::new(&layout.root, phase.name()).record();
        if let Some(r) = launch::recorded(&layout.root, phase.name())? {
            if !r.submissions.is_empty() {
                bail!(
                    "{} records Slurm submissions of the {} jobs: cancel them (scancel) and move \
                     that record aside before changing their flags",
                    record.display(),
                    phase.name()
                );
            }
            let aside = (1..)
                .map(|n| std::path::PathBuf::from(format!("{}.replaced-{n}", record.display())))
                .find(|p| !p.exists())
                .context("no free name")?;
            std::fs::rename(&record, &aside).with_context(|| {
                format!(
                    "cannot move {} aside to {}",
                    record.display(),
                    aside.display()
                )
            })?;
        }
    }
    let mut v: serde_json::Value = crate::config::read_json(&layout.config())?;
    v["plan"] = serde_json::to_value(&plan)?;
    crate::run::atomic_write(
        &layout.config(),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )?;
    eprintln!(
        "{}: the searches run with \"{}\", the trainings with \"{}\" from now on",
        layout.config().display(),
        plan.search_args.join(" "),
        plan.train_args.join(" ")
    );
    Ok(plan)
}

/// Pass-through flags can change only while no job of their kind has run far enough to leave
/// a result or a checkpoint: every job of a kind must run alike.
fn refuse_if_started(jobs: &[Job], flag: &str, what: &str) -> Result<()> {
    let started: Vec<&str> = jobs
        .iter()
        .filter(|j| j.has_result() || j.resumable())
        .map(|j| j.name.as_str())
        .collect();
    if !started.is_empty() {
        bail!(
            "{flag} with --resume: {} of the {what} ({}) ran with the recorded flags already, \
             and all of them must run alike; start a new comparison (--out) with the new flags",
            started.len(),
            started.join(", ")
        );
    }
    Ok(())
}

/// `"--a 1  --b 2"` -> `["--a", "1", "--b", "2"]`.
fn split_flags(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Seconds of every finished job: the last attempt of each job of the phases' records, and
/// the `logs/<job>.json` of a directory begun before compare ran through the launcher.
fn wall_times(layout: &Layout) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for phase in Phase::ALL {
        let Ok(Some(rec)) = launch::recorded(&layout.root, phase.name()) else {
            continue;
        };
        let dir = launch::BatchDir::new(&layout.root, phase.name());
        for (i, job) in rec.jobs.iter().enumerate() {
            if let (true, Some(s)) = (dir.succeeded(i + 1, job), dir.seconds(i + 1)) {
                m.insert(job.name.clone(), s);
            }
        }
    }
    // logs/<job>.json: {"job", "ok", "seconds"}.
    let legacy = std::fs::read_dir(layout.root.join("logs"));
    for e in legacy.into_iter().flatten().flatten() {
        let Ok(v) = crate::config::read_json::<serde_json::Value>(&e.path()) else {
            continue;
        };
        if let (Some(job), Some(s), true) =
            (v["job"].as_str(), v["seconds"].as_f64(), v["ok"] == true)
        {
            m.entry(job.to_string()).or_insert(s);
        }
    }
    m
}
