//! The job lists of the fan-out commands from their flags: compare's plan and sweep's
//! trainings. Each job's command line is parsed as the CLI would parse it before anything is
//! written, so a misspelt pass-through flag is refused at once rather than in every job.
use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::Path;

use super::{Cli, Command, CompareArgs, SweepArgs};
use crate::compare::{self, Layout, Plan, DEFAULT_STRATEGY};
use crate::launch;

/// G steps per training when `--train-steps` is not given (see the README: the budget at which
/// the paper's arch a clearly beats the worst random architecture on the built-in set).
pub const DEFAULT_TRAIN_STEPS: u64 = 2000;

impl CompareArgs {
    /// The plan flags given with `--resume` (which reads its plan from the directory).
    pub fn plan_flags_given(&self) -> Vec<&'static str> {
        let a = self;
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

    /// The comparison's plan from its flags, the global seed and device: every count and
    /// pass-through command line checked before anything is written.
    pub fn plan(&self, seed: u64, device: tch::Device) -> Result<Plan> {
        let a = self;
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
        compare::check_counts(seed, a.seeds.unwrap_or(3), strategies.len(), random)?;
        let preset = a.preset.clone().unwrap_or_else(|| {
            crate::config::default_preset(a.data.dataset.as_deref()).to_string()
        });
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
        let given_topk = match super::Cli::try_parse_from(&argv) {
            Ok(super::Cli {
                command: super::Command::Search(s),
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
        let device = match device {
            tch::Device::Cuda(i) => format!("cuda:{i}"),
            _ => "cpu".to_string(),
        };
        let plan = Plan {
            strategies,
            seeds: a.seeds.unwrap_or(3),
            seed,
            random,
            paper,
            train_steps: a.train_steps.unwrap_or(DEFAULT_TRAIN_STEPS),
            train_seeds: a.train_seeds.unwrap_or(1),
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
            random_archs: compare::random_archs(random, seed)
                .iter()
                .map(|x| x.to_vector())
                .collect(),
        };
        plan.validate()?;
        Ok(plan)
    }

    /// `--resume DIR --search-args ... / --train-args ...`: replace the plan's pass-through flags
    /// of a comparison whose jobs of that kind have not run yet (their command lines failed, e.g.
    /// on a misspelt flag), so that such a directory can be mended instead of abandoned. The new
    /// command lines are parsed before anything is written; a dry run writes nothing.
    pub fn fix_pass_through(&self, layout: &Layout, plan: Plan, dry: bool) -> Result<Plan> {
        let args = self;
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

    /// `--resume DIR --train-seeds K`: train every architecture of the comparison K times
    /// (more than its plan says; the finished trainings and evaluations are kept). The train
    /// and eval batch records, which list the old jobs, are set aside; a dry run writes
    /// nothing.
    pub fn fix_train_seeds(&self, layout: &Layout, plan: Plan, k: u64, dry: bool) -> Result<Plan> {
        let (plan, phases) = compare::with_train_seeds(plan, k)?;
        if dry || phases.is_empty() {
            return Ok(plan);
        }
        compare::write_pass_through(layout, &plan, &phases)?;
        eprintln!(
            "{}: every architecture is trained {k} times from now on (seeds {} to {})",
            layout.config().display(),
            plan.seed,
            plan.seed + k - 1
        );
        Ok(plan)
    }
}

/// Every search and training command line of the plan must parse (its `--search-args` and
/// `--train-args` included): checked before anything is written, as `sweep` checks its jobs.
pub fn check_pass_through(plan: &Plan) -> Result<()> {
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
        if let Err(e) = super::Cli::try_parse_from(&argv) {
            let first = super::first_error_line(&e);
            bail!(
                "{flag} \"{given}\": `autogan {}` would not run: {first}",
                job.command
            );
        }
    }
    Ok(())
}

/// `"--a 1  --b 2"` -> `["--a", "1", "--b", "2"]`.
fn split_flags(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

impl SweepArgs {
    /// (name, seed, train args) of every job, before run directories are given.
    pub fn job_list(&self, seed: u64) -> Result<Vec<(String, u64, Vec<String>)>> {
        let args = self;
        let seeds = args.seeds.clone().unwrap_or_else(|| vec![seed]);
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
            let first = super::first_error_line(&e);
            bail!(
                "job {name}: `autogan train {}` is not a valid command line: {first}",
                a.join(" ")
            )
        }
    }
}
