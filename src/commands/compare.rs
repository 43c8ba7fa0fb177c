//! `autogan compare`: searches per strategy, random architectures and the paper's ones, all
//! trained with the same preset, budget and seed and scored alike, as jobs of this same binary
//! (`compare::jobs::Local`, one after another; not yet through the `launch` module, so not on Slurm); prints the table and writes `compare.json`. `--resume DIR` runs only the
//! jobs that have not finished.
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

use crate::cli::CompareArgs;
use crate::compare::jobs::{Job, Launcher, Local};
use crate::compare::{self, Layout, Plan, DEFAULT_STRATEGY};
use crate::device::Ctx;
use crate::progress;

/// G steps per training when `--train-steps` is not given (see the README: the budget at which
/// the paper's arch a clearly beats the worst random architecture on the built-in set).
pub const DEFAULT_TRAIN_STEPS: u64 = 2000;

pub fn run(ctx: &Ctx, args: CompareArgs) -> Result<()> {
    let launcher = Local::current()?;
    let (plan, layout) = match &args.resume {
        Some(dir) => {
            let given = plan_flags_given(&args);
            if !given.is_empty() {
                bail!(
                    "--resume continues a comparison with its own plan (config.json): drop {}",
                    given.join(", ")
                );
            }
            let layout = Layout { root: dir.clone() };
            (compare::load_plan(&layout)?, layout)
        }
        None => {
            let plan = build_plan(ctx, &args)?;
            check_strategies(&launcher, &plan)?;
            let root = args
                .out
                .clone()
                .unwrap_or_else(|| crate::run::default_run_dir("compare"));
            let layout = Layout { root };
            compare::create(&layout, &plan)?;
            (plan, layout)
        }
    };
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
    let searches = compare::search_jobs(&plan, &layout, args.dry_run)?;
    if args.dry_run {
        let entries = compare::entries(&plan, &layout)?;
        let rest = compare::train_eval_jobs(&plan, &layout, &entries, true)?;
        for job in searches.iter().chain(&rest) {
            println!("{}", command_line(&launcher, job));
        }
        if !searches.is_empty() {
            println!(
                "# then the trainings and evaluations of each search's top {} (after it ends)",
                plan.topk_train
            );
        }
        return Ok(());
    }
    run_jobs(ctx, &launcher, &layout, &searches, "searches")?;
    let entries = compare::entries(&plan, &layout)?;
    let rest = compare::train_eval_jobs(&plan, &layout, &entries, false)?;
    run_jobs(ctx, &launcher, &layout, &rest, "trainings and evaluations")?;
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
        ("--search-args", a.search_args.is_some()),
        ("--train-args", a.train_args.is_some()),
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
    let preset = a
        .preset
        .clone()
        .unwrap_or_else(|| super::train::default_preset(a.data.dataset.as_deref()).to_string());
    // The preset must have both sections; read it now rather than in the first job.
    let (path, p) =
        crate::config::load_preset(&preset).with_context(|| format!("--preset {preset}"))?;
    if p.train.is_none() || p.search.is_none() {
        bail!(
            "--preset {preset}: {} needs both a \"search\" and a \"train\" section",
            path.display()
        );
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

/// A job as a shell command line (arguments with spaces or quotes single-quoted).
fn command_line(launcher: &Local, job: &Job) -> String {
    let quote = |a: &str| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@".contains(c))
        {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    let mut parts = vec![quote(&launcher.program.display().to_string())];
    parts.extend(job.args.iter().map(|a| quote(a)));
    let mut line = parts.join(" ");
    if let Some(out) = &job.stdout {
        line.push_str(&format!(" > {}", quote(&out.display().to_string())));
    }
    line
}

/// `"--a 1  --b 2"` -> `["--a", "1", "--b", "2"]`.
fn split_flags(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// A strategy other than the default needs a search that takes `--strategy`: ask this binary's
/// `search --help` before any job starts.
fn check_strategies(launcher: &Local, plan: &Plan) -> Result<()> {
    let others: Vec<&String> = plan
        .strategies
        .iter()
        .filter(|s| *s != DEFAULT_STRATEGY)
        .collect();
    if others.is_empty() || plan.seeds == 0 {
        return Ok(());
    }
    let out = std::process::Command::new(&launcher.program)
        .args(["search", "--help"])
        .output()
        .with_context(|| format!("cannot run {} search --help", launcher.program.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    if !help.contains("--strategy") {
        bail!(
            "--strategies {}: this build's `autogan search` has no --strategy flag (only \
             {DEFAULT_STRATEGY}); compare {DEFAULT_STRATEGY} alone, or use a build with the \
             strategies",
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(())
}

/// Run `jobs` with a bar (or log lines), writing each one's exit code and wall time next to
/// its log; stop at the first failure with its log's last lines and how to continue.
fn run_jobs(ctx: &Ctx, launcher: &Local, layout: &Layout, jobs: &[Job], what: &str) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let pb = progress::bar(jobs.len() as u64, "compare", ctx.quiet);
    progress::log(&pb, ctx.quiet, &format!("{} {what} to run", jobs.len()));
    if let Some(first) = jobs.first() {
        pb.set_message(first.name.clone());
    }
    let mut write_err = None;
    let outcomes = launcher.run(jobs, true, &mut |i, o| {
        let rec =
            serde_json::json!({"job": o.name, "ok": o.ok, "code": o.code, "seconds": o.seconds});
        if let Err(e) =
            crate::run::atomic_write(&layout.outcome(&o.name), rec.to_string().as_bytes())
        {
            write_err.get_or_insert(e);
        }
        pb.inc(1);
        if let Some(next) = jobs.get(i + 1) {
            pb.set_message(next.name.clone());
        }
        progress::log(
            &pb,
            ctx.quiet,
            &format!(
                "[{}/{}] {} {} in {:.0} s",
                i + 1,
                jobs.len(),
                o.name,
                if o.ok { "finished" } else { "FAILED" },
                o.seconds
            ),
        );
    })?;
    pb.finish_and_clear();
    if let Some(e) = write_err {
        return Err(e);
    }
    if let Some(o) = outcomes.iter().find(|o| !o.ok) {
        let job = jobs.iter().find(|j| j.name == o.name);
        bail!(
            "job {} failed (exit code {}): autogan {}\n{}\nits log: {}\nfix the cause, then \
             continue with `autogan compare --resume {}`",
            o.name,
            o.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into()),
            job.map(|j| j.args.join(" ")).unwrap_or_default(),
            o.message,
            layout.log(&o.name).display(),
            layout.root.display()
        );
    }
    Ok(())
}

/// Seconds of every finished job, from `logs/<job>.json`.
fn wall_times(layout: &Layout) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(layout.root.join("logs")) else {
        return m;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let (Some(job), Some(s), true) =
            (v["job"].as_str(), v["seconds"].as_f64(), v["ok"] == true)
        {
            m.insert(job.to_string(), s);
        }
    }
    m
}
