//! Jobs of `autogan compare`: each an `autogan` command line with the run directory it
//! writes, and report how each ended. `Local` runs them one after another as child processes
//! of the same binary; a cluster launcher (Slurm) would take the same `Job`s. Commands that fan
//! out work (`compare`) build jobs and never know which launcher runs them.
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// One unit of work: `autogan ARGS...`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// Short unique name, also the stem of its log file (`train-random-3`).
    pub name: String,
    /// The arguments after the program name (global flags included).
    pub args: Vec<String>,
    /// The directory the job writes (its run directory, or the one it reads and reports on).
    pub run_dir: PathBuf,
    /// When set, the job's standard output goes to this file (written whole, only on success).
    pub stdout: Option<PathBuf>,
    /// Standard error of the job goes to this file (appended).
    pub log: PathBuf,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    /// Exit status 0.
    pub ok: bool,
    /// The exit code; None when killed by a signal or not started.
    pub code: Option<i32>,
    pub seconds: f64,
    /// Why it failed, in words (the last lines of its log), empty on success.
    pub message: String,
}

/// Runs jobs. `on_done` is called after each job with its outcome; a launcher stops at the
/// first failure when `stop_on_failure` and returns the outcomes of the jobs it ran.
pub trait Launcher {
    fn run(
        &self,
        jobs: &[Job],
        stop_on_failure: bool,
        on_done: &mut dyn FnMut(usize, &Outcome),
    ) -> Result<Vec<Outcome>>;
}

/// Runs each job as a child process of `program` on this machine, one at a time.
#[derive(Debug, Clone)]
pub struct Local {
    pub program: PathBuf,
}

impl Local {
    /// The launcher of the running binary (`std::env::current_exe`).
    pub fn current() -> Result<Local> {
        let program = std::env::current_exe()
            .context("cannot find the path of the running autogan binary")?;
        Ok(Local { program })
    }

    fn run_one(&self, job: &Job) -> Result<Outcome> {
        let t0 = Instant::now();
        if let Some(dir) = job.log.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the log folder {}", dir.display()))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&job.log)
            .with_context(|| format!("cannot write the job log {}", job.log.display()))?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&job.args)
            .stdin(Stdio::null())
            .stderr(Stdio::from(log));
        cmd.stdout(if job.stdout.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let out = cmd
            .output()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        let ok = out.status.success();
        if ok {
            if let Some(path) = &job.stdout {
                crate::run::atomic_write(path, &out.stdout)?;
            }
        }
        let message = if ok {
            String::new()
        } else {
            tail_lines(&job.log, 8)
        };
        Ok(Outcome {
            name: job.name.clone(),
            ok,
            code: out.status.code(),
            seconds: t0.elapsed().as_secs_f64(),
            message,
        })
    }
}

impl Launcher for Local {
    fn run(
        &self,
        jobs: &[Job],
        stop_on_failure: bool,
        on_done: &mut dyn FnMut(usize, &Outcome),
    ) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            let o = self.run_one(job)?;
            on_done(i, &o);
            let failed = !o.ok;
            outcomes.push(o);
            if failed && stop_on_failure {
                break;
            }
        }
        Ok(outcomes)
    }
}

/// The last `n` lines of a text file (empty when it cannot be read).
pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
