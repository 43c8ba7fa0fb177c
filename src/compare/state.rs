//! A comparison directory as it stands: the jobs of each phase, what a finished phase must
//! have left, the launcher and Slurm records a resumed comparison continues with, the wall
//! time of every finished job, and new pass-through flags for jobs that have not run.
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;

use super::{entries, eval_jobs, search_jobs, supernet_jobs, train_jobs, Layout, Phase, Plan};
use crate::launch::{self, Job, LauncherConfig, LauncherKind};

/// The jobs of one phase; the trainings and evaluations are those of the architectures known
/// now (a search's top-K once it has ended).
pub fn phase_jobs(plan: &Plan, layout: &Layout, phase: Phase) -> Result<Vec<Job>> {
    Ok(match phase {
        Phase::Search => search_jobs(plan, layout),
        Phase::Train => train_jobs(plan, layout, &entries(plan, layout)?),
        Phase::Eval => eval_jobs(plan, layout, &entries(plan, layout)?),
        Phase::Supernet => supernet_jobs(plan, layout, &entries(plan, layout)?),
    })
}

/// Every job of a phase must have written its result before the next phase starts: name
/// the ones that did not (state, exit code, log) and how to continue.
pub fn check_phase(
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

/// The launcher a resumed comparison continues with: that of its latest batch record, else
/// the one its config.json was written with, else the default (local).
pub fn recorded_launcher(layout: &Layout) -> Result<Option<LauncherConfig>> {
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
pub fn check_slurm_records(layout: &Layout, cfg: &LauncherConfig) -> Result<()> {
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

/// Pass-through flags can change only while no job of their kind has run far enough to leave
/// a result or a checkpoint: every job of a kind must run alike.
pub fn refuse_if_started(jobs: &[Job], flag: &str, what: &str) -> Result<()> {
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

/// Seconds of every finished job: the last attempt of each job of the phases' records, and
/// the `logs/<job>.json` of a directory begun before compare ran through the launcher.
pub fn wall_times(layout: &Layout) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    // Batches set aside first: a job finished there keeps its time unless it ran again.
    let batches = Phase::ALL.iter().flat_map(|p| {
        let mut names = launch::set_aside_batches(&layout.root, p.name());
        names.push(p.name().to_string());
        names
    });
    for name in batches {
        let Ok(Some(rec)) = launch::recorded(&layout.root, &name) else {
            continue;
        };
        let dir = launch::BatchDir::new(&layout.root, &name);
        for (i, job) in rec.jobs.iter().enumerate() {
            // Only an attempt that ended with status 0 counts: a job whose last attempt here
            // was interrupted, and which was then finished another way (by hand), has no
            // wall time rather than that of the interrupted attempt.
            let ok = dir.succeeded(i + 1, job) && dir.read_exit(i + 1) == Some(0);
            if let (true, Some(s)) = (ok, dir.seconds(i + 1)) {
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

/// Every job that would run now, in order (the trainings of found architectures are known
/// once their search has ended), for `--dry-run`.
pub fn pending_jobs(plan: &Plan, layout: &Layout) -> Result<Vec<Job>> {
    let entries = entries(plan, layout)?;
    Ok(search_jobs(plan, layout)
        .iter()
        .chain(&train_jobs(plan, layout, &entries))
        .chain(&eval_jobs(plan, layout, &entries))
        .chain(&supernet_jobs(plan, layout, &entries))
        .filter(|j| !j.has_result())
        .cloned()
        .collect())
}

/// The plan with new pass-through flags of a resumed comparison (`--resume DIR
/// --search-args ... / --train-args ...`), allowed while no job of that kind has run, and the
/// phases whose batch records hold the old command lines.
pub fn with_pass_through(
    layout: &Layout,
    mut plan: Plan,
    search_args: Option<Vec<String>>,
    train_args: Option<Vec<String>>,
) -> Result<(Plan, Vec<Phase>)> {
    let mut phases = Vec::new();
    if let Some(a) = search_args {
        refuse_if_started(&search_jobs(&plan, layout), "--search-args", "searches")?;
        plan.search_args = a;
        phases.push(Phase::Search);
    }
    if let Some(a) = train_args {
        let jobs = train_jobs(&plan, layout, &entries(&plan, layout)?);
        refuse_if_started(&jobs, "--train-args", "trainings")?;
        plan.train_args = a;
        phases.push(Phase::Train);
    }
    plan.validate()?;
    Ok((plan, phases))
}

/// The plan of a resumed comparison with `k` trainings per architecture: more than it had
/// (never fewer: its results would leave finished trainings out), and the phases whose batch
/// records list the old jobs (none when `k` is the plan's count).
pub fn with_train_seeds(mut plan: Plan, k: u64) -> Result<(Plan, Vec<Phase>)> {
    if k < plan.train_seeds {
        bail!(
            "--train-seeds {k} with --resume: this comparison trains every architecture {} \
             times; a resumed comparison can add trainings, never drop them: give \
             --train-seeds {} or more",
            plan.train_seeds,
            plan.train_seeds
        );
    }
    if k == plan.train_seeds {
        return Ok((plan, Vec::new()));
    }
    plan.train_seeds = k;
    plan.validate()?;
    Ok((plan, vec![Phase::Train, Phase::Eval]))
}

/// Record a changed plan (new pass-through flags, more trainings per architecture): each of
/// `phases`' batch records, which hold the old job lines, is set aside
/// ([`launch::set_aside`]: refused while a job of it may still run), then config.json gets
/// the plan.
pub fn write_pass_through(layout: &Layout, plan: &Plan, phases: &[Phase]) -> Result<()> {
    for phase in phases {
        launch::set_aside(&layout.root, phase.name())?;
    }
    let mut v: Value = crate::config::read_json(&layout.config())?;
    v["plan"] = serde_json::to_value(plan)?;
    crate::run::atomic_write(
        &layout.config(),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )
}
