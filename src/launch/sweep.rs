//! A sweep's jobs from a `--jobs` file (each entry checked on its own, errors naming the entry
//! and field), job names safe for file names, and the outcomes as `sweep.json` holds them.
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;

use super::{Job, Outcome};
use crate::run::result::TrainResult;

/// A job of a `--jobs` file: an argument list, or an object with a name and seed.
pub enum JobSpec {
    Args(Vec<String>),
    Full(FullSpec),
}

pub struct FullSpec {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub args: Vec<String>,
}

/// The jobs of a `--jobs` file, each entry checked on its own so that an error names the
/// entry (from 1) and its field in the file's own terms.
pub fn read_job_specs(f: &Path) -> Result<Vec<JobSpec>> {
    use serde_json::Value;
    let form = "each entry is a list of `autogan train` flags, e.g. [\"--arch\", \"a.json\"], or \
                {\"name\": \"...\", \"seed\": 0, \"args\": [...]}";
    let v: Value = crate::config::read_json(f).with_context(|| {
        format!(
            "--jobs {}: expected a JSON list of jobs; {form}",
            f.display()
        )
    })?;
    let Some(list) = v.as_array() else {
        bail!(
            "--jobs {}: expected a JSON list of jobs, not {}; {form}",
            f.display(),
            kind(&v)
        );
    };
    let strings = |x: &Value, what: &str, i: usize| -> Result<Vec<String>> {
        let Some(a) = x.as_array() else {
            bail!(
                "--jobs {}: entry {i}: {what} must be a list of strings (the flags), not {}",
                f.display(),
                kind(x)
            );
        };
        a.iter()
            .enumerate()
            .map(|(j, s)| match s.as_str() {
                Some(s) => Ok(s.to_string()),
                None => bail!(
                    "--jobs {}: entry {i}: {what}[{j}] must be a string (write numbers as \
                     \"3\"), not {}",
                    f.display(),
                    kind(s)
                ),
            })
            .collect()
    };
    let mut specs = Vec::new();
    for (k, e) in list.iter().enumerate() {
        let i = k + 1;
        let spec = match e {
            Value::Array(_) => JobSpec::Args(strings(e, "the entry", i)?),
            Value::Object(m) => {
                if let Some(key) = m
                    .keys()
                    .find(|k| !["name", "seed", "args"].contains(&k.as_str()))
                {
                    bail!(
                        "--jobs {}: entry {i}: unknown field \"{key}\" (the fields are name, \
                         seed and args)",
                        f.display()
                    );
                }
                let name = match m.get("name") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(x) => bail!(
                        "--jobs {}: entry {i}: \"name\" must be a string, not {}",
                        f.display(),
                        kind(x)
                    ),
                };
                let seed = match m.get("seed") {
                    None | Some(Value::Null) => None,
                    Some(x) => match x.as_u64() {
                        Some(s) => Some(s),
                        None => bail!(
                            "--jobs {}: entry {i}: \"seed\" must be a whole number of 0 or \
                             more, not {}",
                            f.display(),
                            kind(x)
                        ),
                    },
                };
                let args = match m.get("args") {
                    None => bail!(
                        "--jobs {}: entry {i}: no \"args\" (the list of `autogan train` \
                         flags)",
                        f.display()
                    ),
                    Some(x) => strings(x, "\"args\"", i)?,
                };
                JobSpec::Full(FullSpec { name, seed, args })
            }
            x => bail!("--jobs {}: entry {i} is {}; {form}", f.display(), kind(x)),
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// A JSON value's kind in words, for messages.
pub fn kind(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A file-name-safe job name.
pub fn clean(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "-_.".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    c.trim_start_matches('.').to_string()
}

/// The outcomes of a sweep's jobs as `sweep.json` holds them, each finished job's training
/// result (None for the others), and a line for each job that did not finish.
pub fn summary(
    dir: &Path,
    jobs: &[Job],
    outcomes: &[Outcome],
) -> (Value, Vec<Option<TrainResult>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut unfinished = Vec::new();
    let mut results: Vec<Option<TrainResult>> = Vec::new();
    for (job, o) in jobs.iter().zip(outcomes) {
        let result = match o.ok() {
            true => match crate::run::result::read_train_result(&o.run_dir) {
                Ok(r) => Some(r),
                Err(e) => {
                    unfinished.push(format!("{} ({e:#})", o.describe()));
                    None
                }
            },
            false => {
                unfinished.push(o.describe());
                None
            }
        };
        rows.push(json!({
            "name": o.name,
            "seed": job.global.get(1).and_then(|s| s.parse::<u64>().ok()),
            "args": job.args,
            "run_dir": o.run_dir,
            "state": o.state,
            "exit_code": o.exit_code,
            "signal": o.signal,
            "log": o.log,
            "slurm_job": o.slurm_job,
            "finished": result.is_some(),
            "result": result,
        }));
        results.push(result);
    }
    let summary = json!({
        "run_dir": dir.display().to_string(),
        "jobs": rows.len(),
        "finished": rows.len() - unfinished.len(),
        "outcomes": rows,
    });
    (summary, results, unfinished)
}

/// The job record of the sweep in `dir` (its batch `batch`), refusing another command's run
/// directory (a comparison or a search holds batch records too) with the command to use.
pub fn recorded(dir: &Path, batch: &str) -> Result<super::Record> {
    let written_by = crate::run::RunFiles::of(dir).config();
    if let Ok(v) = crate::config::read_json::<Value>(&written_by) {
        if let Some(c) = v["command"].as_str().filter(|c| *c != "sweep") {
            bail!(
                "{} is a {c} directory, not a sweep (its config.json was written by \
                 `autogan {c}`): continue it with `autogan {c} --resume {}`",
                dir.display(),
                dir.display()
            );
        }
    }
    super::recorded(dir, batch)?.with_context(|| {
        format!(
            "{}: no sweep to resume (expected {})",
            dir.display(),
            super::BatchDir::new(dir, batch).record().display()
        )
    })
}

/// Create the run directory of a new sweep (which must not exist or be empty) with one job
/// per (name, seed, train flags) of `list`, each under `dir/runs/NAME`, and its
/// `config.json`; returns the jobs and the directory's lock.
pub fn create(
    dir: &Path,
    list: &[(String, u64, Vec<String>)],
    launcher: &super::LauncherConfig,
) -> Result<(Vec<Job>, crate::run::lock::RunLock)> {
    if dir.exists() && std::fs::read_dir(dir).is_ok_and(|mut r| r.next().is_some()) {
        bail!(
            "{} already exists and is not empty: pass --resume {} to continue that sweep, \
             or choose another --out",
            dir.display(),
            dir.display()
        );
    }
    std::fs::create_dir_all(dir.join("runs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let lock = crate::run::lock::lock_run_dir(dir)?;
    let abs = super::absolute(dir)?;
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
        "launcher": launcher,
        "jobs": jobs,
    });
    crate::run::atomic_write(
        &crate::run::RunFiles::of(dir).config(),
        serde_json::to_string_pretty(&snapshot)?.as_bytes(),
    )?;
    Ok((jobs, lock))
}
