//! Launchers: run a list of `autogan` jobs -- one command line and one run directory each --
//! on this machine (`local`) or as one Slurm job array (`slurm`), and say how each one ended.
//! The fan-out commands (`search --final-train-steps`, `sweep`, `compare`) build the jobs and
//! read their results from the jobs' run directories; they never know which launcher ran them.
//!
//! A batch named NAME keeps its bookkeeping under `RUN/jobs/`:
//! - `NAME.json`: the record (launcher settings, the jobs, every Slurm submission and job id);
//! - `NAME.sbatch` (and `NAME.retryN.sbatch` for resubmissions): the Slurm job-array scripts;
//! - `NAME/<task>.log`: a job's stdout and stderr, appended to by every attempt;
//! - `NAME/<task>.exit`: its exit status, written when it ends (missing when it was killed).
//!
//! Tasks are numbered from 1 in job order (the Slurm array index). A job is started afresh
//! (`... --out RUN_DIR`) or, where its run directory already holds a checkpoint from an earlier
//! attempt, continued (`<command> --resume RUN_DIR`); a step that only reads a run directory
//! and writes one result file (`eval --json-out`, `Restart::Rerun`) is simply run again.
use crate::run::RunFiles;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod local;
pub mod slurm;
pub mod sweep;

/// Which launcher runs a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// On this machine: one job at a time, `parallel` at a time, or one per GPU of `gpus`.
    #[default]
    Local,
    /// One Slurm job array, one array task per job.
    Slurm,
}

/// Launcher settings: from `--launcher-config FILE` (a JSON object with these keys) and flags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LauncherConfig {
    pub launcher: LauncherKind,
    /// local: run one job per GPU at a time, each with `CUDA_VISIBLE_DEVICES` set to its GPU.
    /// Empty: one job at a time on the parent's device.
    pub gpus: Vec<u32>,
    /// local, without `gpus`: how many jobs run at a time on the parent's device (each with
    /// the parent's `--threads`; on a CPU, e.g. 2 jobs of one thread on two cores).
    pub parallel: u32,
    /// slurm: `--partition`.
    pub partition: Option<String>,
    /// slurm: `--time` (the wall-clock limit of each task, e.g. `2-00:00:00`).
    pub time: Option<String>,
    /// slurm: `--gpus-per-task`.
    pub gpus_per_task: Option<u32>,
    /// slurm: `--cpus-per-task` (also each job's `--threads`).
    pub cpus_per_task: Option<u32>,
    /// slurm: `--mem` (e.g. `32G`).
    pub mem: Option<String>,
    /// slurm: further `#SBATCH` lines, e.g. `--qos=long` or `--account=proj`.
    pub sbatch_args: Vec<String>,
    /// slurm: seconds between two looks at the queue while following the tasks.
    pub poll_interval: f64,
}

impl Default for LauncherConfig {
    fn default() -> Self {
        LauncherConfig {
            launcher: LauncherKind::Local,
            gpus: Vec::new(),
            parallel: 1,
            partition: None,
            time: None,
            gpus_per_task: None,
            cpus_per_task: None,
            mem: None,
            sbatch_args: Vec::new(),
            poll_interval: 10.0,
        }
    }
}

impl LauncherConfig {
    /// Settings that do not fit the launcher are refused, not ignored.
    pub fn validate(&self) -> Result<()> {
        let slurm_only = [
            ("--partition", self.partition.is_some()),
            ("--time", self.time.is_some()),
            ("--gpus-per-task", self.gpus_per_task.is_some()),
            ("--cpus-per-task", self.cpus_per_task.is_some()),
            ("--mem", self.mem.is_some()),
            ("--sbatch-arg", !self.sbatch_args.is_empty()),
        ];
        match self.launcher {
            LauncherKind::Local => {
                let given: Vec<&str> = slurm_only
                    .iter()
                    .filter(|(_, g)| *g)
                    .map(|(n, _)| *n)
                    .collect();
                if !given.is_empty() {
                    bail!(
                        "{} only apply to --launcher slurm (the local launcher runs the jobs on \
                         this machine; it takes --gpus or --parallel)",
                        given.join(", ")
                    );
                }
                if self.parallel > 1 && !self.gpus.is_empty() {
                    bail!(
                        "--parallel {} with --gpus: with --gpus one job runs per GPU at a time; \
                         give one of the two",
                        self.parallel
                    );
                }
            }
            LauncherKind::Slurm => {
                if self.parallel > 1 {
                    bail!(
                        "--parallel is for --launcher local: Slurm runs the tasks of the array \
                         side by side as its resources allow"
                    );
                }
                if !self.gpus.is_empty() {
                    bail!(
                        "--gpus is for --launcher local: with slurm, ask for GPUs with \
                         --gpus-per-task N"
                    );
                }
            }
        }
        if self.parallel == 0 {
            bail!("--parallel 0: must be at least 1 (the number of jobs run at a time)");
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(g) = self.gpus.iter().find(|g| !seen.insert(**g)) {
            bail!("--gpus names GPU {g} twice: list each GPU once, e.g. --gpus 0,1");
        }
        if !(self.poll_interval > 0.0 && self.poll_interval.is_finite()) {
            bail!(
                "--poll-interval {}: must be a positive number of seconds",
                self.poll_interval
            );
        }
        for (name, v) in [
            ("--partition", &self.partition),
            ("--time", &self.time),
            ("--mem", &self.mem),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() || v.contains(char::is_whitespace) {
                    bail!("{name} '{v}': must be one word without spaces");
                }
            }
        }
        for a in &self.sbatch_args {
            if !a.starts_with('-') || a.contains('\n') {
                bail!(
                    "--sbatch-arg '{a}': give one sbatch option on one line, starting with '-', \
                     e.g. --sbatch-arg=--qos=long"
                );
            }
        }
        Ok(())
    }
}

/// How a job's next attempt is started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Restart {
    /// A run that writes RUN_DIR (`train`, `search`): `--out RUN_DIR` to start, and
    /// `<command> --resume RUN_DIR` to continue from the checkpoint an earlier attempt left.
    #[default]
    Resume,
    /// A step that only reads RUN_DIR and writes its `result` file whole (`eval --json-out`):
    /// the same command line every attempt, and nothing in RUN_DIR is touched.
    Rerun,
}

/// Whether a job's result file marks it finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultState {
    /// Not there: the job has not finished.
    Missing,
    /// There and whole: the job has finished.
    Valid,
    /// There but unreadable (cut short, edited by hand, not a file): why.
    Invalid(String),
}

/// The one rule for every fan-out command's result files: a `.json` file must parse as JSON,
/// a `.safetensors` file must have a whole header whose tensors fill the file, and anything
/// else must be a regular file.
pub fn result_state(path: &Path) -> ResultState {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ResultState::Missing,
        Err(e) => return ResultState::Invalid(format!("cannot be read: {e}")),
        Ok(m) => m,
    };
    if !meta.is_file() {
        return ResultState::Invalid("not a regular file".into());
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => match std::fs::read(path) {
            Err(e) => ResultState::Invalid(format!("cannot be read: {e}")),
            Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                Ok(_) => ResultState::Valid,
                Err(e) => ResultState::Invalid(format!("not valid JSON: {e}")),
            },
        },
        Some("safetensors") => match crate::safetensors::read_metadata(path) {
            Ok(_) => ResultState::Valid,
            Err(e) => ResultState::Invalid(format!("{e:#}")),
        },
        _ => ResultState::Valid,
    }
}

fn is_default<T: Default + PartialEq>(x: &T) -> bool {
    *x == T::default()
}

/// One `autogan` run: `autogan GLOBAL... COMMAND ARGS... --out RUN_DIR`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique within its batch; letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// Global flags before the subcommand (e.g. `--seed 3`); the launcher adds `--device`
    /// and `--threads` where they apply.
    pub global: Vec<String>,
    /// The subcommand (`train`, `search`): it must write RUN_DIR/checkpoint/last.safetensors
    /// and continue from it with `--resume RUN_DIR` (unless `restart` is `Rerun`).
    pub command: String,
    /// Its flags, without `--out` and `--resume` (the launcher adds those).
    pub args: Vec<String>,
    pub run_dir: PathBuf,
    /// Flags the continuing command line needs as well (`--data-dir DIR`: a run directory
    /// records the data set's name, not where named data sets live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resume_args: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub restart: Restart,
    /// The file the job writes last, whole. When set, it decides whether the job has ended
    /// successfully (a resumed batch runs the job again exactly when the file is missing);
    /// when not, the job's exit status decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PathBuf>,
}

impl Job {
    /// The command line that starts the job afresh.
    pub fn fresh_argv(&self) -> Vec<String> {
        let mut v = self.global.clone();
        v.push(self.command.clone());
        v.extend(self.args.iter().cloned());
        if self.restart == Restart::Resume {
            v.push("--out".into());
            v.push(self.run_dir.display().to_string());
        }
        v
    }

    /// The command line that continues it from its run directory's last checkpoint.
    pub fn continue_argv(&self) -> Vec<String> {
        if self.restart == Restart::Rerun {
            return self.fresh_argv();
        }
        let mut v = self.global.clone();
        v.push(self.command.clone());
        v.push("--resume".into());
        v.push(self.run_dir.display().to_string());
        v.extend(self.resume_args.iter().cloned());
        v
    }

    /// Whether an earlier attempt left a checkpoint to continue from.
    pub fn resumable(&self) -> bool {
        self.restart == Restart::Resume && RunFiles::of(&self.run_dir).last_checkpoint().is_file()
    }

    /// The command line of the next attempt as it stands now (`prepare` without moving
    /// anything): for printing.
    pub fn next_argv(&self) -> Vec<String> {
        match self.resumable() {
            true => self.continue_argv(),
            false => self.fresh_argv(),
        }
    }

    /// Its `result` file exists and is whole (see [`result_state`]).
    pub fn has_result(&self) -> bool {
        self.result_state() == ResultState::Valid
    }

    /// The state of its `result` file (Missing for a job without one).
    pub fn result_state(&self) -> ResultState {
        match &self.result {
            Some(p) => result_state(p),
            None => ResultState::Missing,
        }
    }

    /// A `result` file that is there but unreadable is moved aside to `NAME.invalid-N` (kept,
    /// never deleted) so that the job runs again; returns the line that says so.
    pub fn set_aside_invalid_result(&self) -> Result<Option<String>> {
        let (Some(p), ResultState::Invalid(why)) = (&self.result, self.result_state()) else {
            return Ok(None);
        };
        let aside = (1..)
            .map(|n| PathBuf::from(format!("{}.invalid-{n}", p.display())))
            .find(|q| std::fs::symlink_metadata(q).is_err())
            .context("no free name")?;
        std::fs::rename(p, &aside).with_context(|| {
            format!(
                "job {}: its result {} is unreadable ({why}) and cannot be moved aside to {}",
                self.name,
                p.display(),
                aside.display()
            )
        })?;
        Ok(Some(format!(
            "job {}: its result {} is unreadable ({why}); moved it to {} and running the job \
             again",
            self.name,
            p.display(),
            aside.display()
        )))
    }

    /// The command line of the next attempt: it continues from a checkpoint left by an earlier
    /// attempt; a run directory without one is moved aside to `<dir>.incomplete-N` (nothing is
    /// deleted) so that the fresh start finds the place free.
    pub fn prepare(&self) -> Result<Vec<String>> {
        let d = &self.run_dir;
        if self.restart == Restart::Rerun {
            return Ok(self.fresh_argv());
        }
        if self.resumable() {
            return Ok(self.continue_argv());
        }
        let non_empty = std::fs::read_dir(d).is_ok_and(|mut r| r.next().is_some());
        if non_empty {
            let aside = (1..)
                .map(|n| PathBuf::from(format!("{}.incomplete-{n}", d.display())))
                .find(|p| !p.exists())
                .context("no free name")?;
            std::fs::rename(d, &aside).with_context(|| {
                format!(
                    "job {}: cannot move the unfinished {} aside to {}",
                    self.name,
                    d.display(),
                    aside.display()
                )
            })?;
        }
        Ok(self.fresh_argv())
    }
}

/// How one job ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub name: String,
    /// 1-based task number (the Slurm array index).
    pub task: usize,
    pub run_dir: PathBuf,
    /// COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ... as Slurm names
    /// them (the local launcher uses COMPLETED and FAILED); LOST when Slurm no longer knows
    /// the task and it left no exit status.
    pub state: String,
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// `JOBID_TASK` under Slurm.
    pub slurm_job: Option<String>,
}

impl Outcome {
    /// Ended normally with exit code 0.
    pub fn ok(&self) -> bool {
        self.state == "COMPLETED" && self.exit_code == Some(0)
    }

    /// `top2: FAILED, exit code 1 (Slurm job 17_2), log RUN/jobs/final/2.log`.
    pub fn describe(&self) -> String {
        let mut s = format!("{}: {}", self.name, self.state);
        if let Some(c) = self.exit_code {
            s.push_str(&format!(", exit code {c}"));
        }
        if let Some(sig) = self.signal.filter(|s| *s != 0) {
            s.push_str(&format!(", signal {sig}"));
        }
        if let Some(j) = &self.slurm_job {
            s.push_str(&format!(" (Slurm job {j})"));
        }
        match self.log.exists() {
            true => s.push_str(&format!(", log {}", self.log.display())),
            false => s.push_str(", before it started (no log)"),
        }
        s
    }
}

/// A Slurm submission of some of a batch's tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub job_id: String,
    pub tasks: Vec<usize>,
    pub script: PathBuf,
    pub submitted_unix: u64,
}

/// `RUN/jobs/NAME.json`: what a resumed fan-out needs to re-attach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub batch: String,
    pub autogan_version: String,
    pub launcher: LauncherConfig,
    pub jobs: Vec<Job>,
    #[serde(default)]
    pub submissions: Vec<Submission>,
}

/// Per-invocation choices of a fan-out.
#[derive(Clone, Debug)]
pub struct Options {
    /// Re-attach to a recorded batch (and rerun only its unfinished jobs).
    pub resume: bool,
    /// Follow the jobs until they end (false: submit and return; slurm only).
    pub wait: bool,
    pub quiet: bool,
    /// local: the parent's `--device` value for jobs without a GPU of their own.
    pub device: String,
    /// local: the parent's `--threads`.
    pub threads: Option<i32>,
}

impl Options {
    /// Options that hand the parent's device and thread count to local jobs.
    pub fn from_ctx(ctx: &crate::device::Ctx, resume: bool, wait: bool) -> Options {
        let device = match ctx.device {
            tch::Device::Cpu => "cpu".to_string(),
            tch::Device::Cuda(i) => format!("cuda:{i}"),
            _ => "auto".to_string(),
        };
        Options {
            resume,
            wait,
            quiet: ctx.quiet,
            device,
            threads: Some(tch::get_num_threads()),
        }
    }
}

/// The result of [`run_jobs`].
#[derive(Clone, Debug)]
pub enum Finished {
    /// Every job ended; one outcome per job, in job order.
    Done(Vec<Outcome>),
    /// Submitted without waiting (`--no-wait`): these Slurm job ids run them.
    Submitted { job_ids: Vec<String> },
}

/// The files of one batch under `RUN/jobs/`.
#[derive(Clone, Debug)]
pub struct BatchDir {
    pub jobs_dir: PathBuf,
    pub name: String,
}

impl BatchDir {
    pub fn new(run_dir: &Path, name: &str) -> BatchDir {
        BatchDir {
            jobs_dir: run_dir.join("jobs"),
            name: name.to_string(),
        }
    }
    pub fn record(&self) -> PathBuf {
        self.jobs_dir.join(format!("{}.json", self.name))
    }
    /// The script of submission `n` (0-based): NAME.sbatch, NAME.retry1.sbatch, ...
    pub fn script(&self, n: usize) -> PathBuf {
        match n {
            0 => self.jobs_dir.join(format!("{}.sbatch", self.name)),
            _ => self.jobs_dir.join(format!("{}.retry{n}.sbatch", self.name)),
        }
    }
    pub fn task_dir(&self) -> PathBuf {
        self.jobs_dir.join(&self.name)
    }
    pub fn log(&self, task: usize) -> PathBuf {
        self.task_dir().join(format!("{task}.log"))
    }
    pub fn exit_file(&self, task: usize) -> PathBuf {
        self.task_dir().join(format!("{task}.exit"))
    }
    /// local: the pid of a job while it runs.
    pub fn pid_file(&self, task: usize) -> PathBuf {
        self.task_dir().join(format!("{task}.pid"))
    }
    /// The exit status a task left, if any.
    pub fn read_exit(&self, task: usize) -> Option<i32> {
        std::fs::read_to_string(self.exit_file(task))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
    /// Whether `job` (task `task`) has ended successfully: its `result` file exists, or, for
    /// a job without one, it left exit status 0.
    pub fn succeeded(&self, task: usize, job: &Job) -> bool {
        match &job.result {
            Some(_) => job.has_result(),
            None => self.read_exit(task) == Some(0),
        }
    }
    pub fn write_exit(&self, task: usize, code: i32) -> Result<()> {
        crate::run::atomic_write(&self.exit_file(task), format!("{code}\n").as_bytes())
    }
}

impl BatchDir {
    /// Wall-clock seconds of the last attempt of task `task`: from the start its log's last
    /// `== YYYYMMDD-HHMMSS ...` line gives (both launchers write one per attempt) to the time
    /// its exit status was written. None when either is missing.
    pub fn seconds(&self, task: usize) -> Option<f64> {
        let log = std::fs::read_to_string(self.log(task)).ok()?;
        let start = log
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("== "))
            .find_map(|l| parse_timestamp(l.split_whitespace().next()?))?;
        let end = std::fs::metadata(self.exit_file(task))
            .ok()?
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some((end - start as f64).max(0.0))
    }
}

/// Seconds since 1970 of a `crate::run::timestamp` (`YYYYMMDD-HHMMSS`, UTC).
fn parse_timestamp(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('-')?;
    if date.len() != 8
        || time.len() != 6
        || !(date.chars().chain(time.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let n = |t: &str| t.parse::<i64>().ok();
    let (y, m, d) = (n(&date[..4])?, n(&date[4..6])?, n(&date[6..])?);
    let (hh, mm, ss) = (n(&time[..2])?, n(&time[2..4])?, n(&time[4..])?);
    // Days since 1970-01-01 of a civil date (the inverse of the one in `run::timestamp`).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// The record of batch `name` in `run_dir`, if one was written.
pub fn recorded(run_dir: &Path, name: &str) -> Result<Option<Record>> {
    let p = BatchDir::new(run_dir, name).record();
    if !p.is_file() {
        return Ok(None);
    }
    let r: Record = crate::config::read_json(&p)
        .with_context(|| format!("{}: not a job record written by autogan", p.display()))?;
    Ok(Some(r))
}

/// The batches that [`set_aside`] moved out of the way of batch `name`, oldest first
/// (`<name>.replaced-1`, `<name>.replaced-2`, ...).
pub fn set_aside_batches(run_dir: &Path, name: &str) -> Vec<String> {
    (1..)
        .map(|n| format!("{name}.replaced-{n}"))
        .take_while(|b| BatchDir::new(run_dir, b).record().is_file())
        .collect()
}

/// Move batch `name` of `run_dir` aside so that a batch of that name with other jobs can
/// start: its record, its task folder (logs, exit codes) and its Slurm scripts become those
/// of batch `<name>.replaced-<n>` (the first free n), where the wall times of its finished
/// jobs are still read. The jobs' results stay where they are: a finished job is not run
/// again by the new batch. Refused while a job of it may still run (a Slurm submission with
/// unfinished jobs, or a local process). Returns the new name, None when there was no batch.
pub fn set_aside(run_dir: &Path, name: &str) -> Result<Option<String>> {
    let Some(rec) = recorded(run_dir, name)? else {
        return Ok(None);
    };
    let dir = BatchDir::new(run_dir, name);
    if !rec.submissions.is_empty() && !rec.jobs.iter().all(Job::has_result) {
        let ids: Vec<&str> = rec.submissions.iter().map(|s| s.job_id.as_str()).collect();
        bail!(
            "{} records Slurm job {} whose {name} jobs have not all finished: let them end \
             (continue with --resume) or cancel them (scancel {}) and move that record aside \
             first",
            dir.record().display(),
            ids.join(", "),
            ids.join(" ")
        );
    }
    for (i, job) in rec.jobs.iter().enumerate() {
        if let Some(pid) = local::running_pid(&dir, i + 1, job) {
            bail!(
                "job {} of {} still runs as process {pid}: let it finish or end it (kill {pid}) \
                 first",
                job.name,
                dir.record().display()
            );
        }
    }
    let n = set_aside_batches(run_dir, name).len() + 1;
    let new = BatchDir::new(run_dir, &format!("{name}.replaced-{n}"));
    let mut moves = vec![(dir.task_dir(), new.task_dir())];
    moves.extend(
        (0..)
            .map(|k| (dir.script(k), new.script(k)))
            .take_while(|(from, _)| from.is_file()),
    );
    // The record last: until it has moved, the batch is still where it was.
    moves.push((dir.record(), new.record()));
    for (from, to) in moves {
        if !from.exists() {
            continue;
        }
        if to.exists() {
            bail!(
                "cannot move {} aside: {} exists already; move it away by hand",
                from.display(),
                to.display()
            );
        }
        std::fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} aside to {}", from.display(), to.display()))?;
    }
    Ok(Some(new.name))
}

fn write_record(dir: &BatchDir, rec: &Record) -> Result<()> {
    crate::run::atomic_write(&dir.record(), serde_json::to_string_pretty(rec)?.as_bytes())
}

/// Settings valid, and for slurm Slurm's commands at hand: checked before a long command
/// starts, so a search does not end hours later on a missing `sbatch`.
pub fn check(cfg: &LauncherConfig, wait: bool) -> Result<()> {
    cfg.validate()?;
    if !wait && cfg.launcher == LauncherKind::Local {
        bail!("--no-wait needs --launcher slurm: the local launcher runs the jobs itself");
    }
    if cfg.launcher == LauncherKind::Slurm {
        slurm::check_tools()?;
    }
    Ok(())
}

/// Names must be unique and usable in file names.
fn check_jobs(jobs: &[Job]) -> Result<()> {
    if jobs.is_empty() {
        bail!("no jobs to run");
    }
    let mut seen = std::collections::HashSet::new();
    for j in jobs {
        let ok = !j.name.is_empty()
            && !j.name.starts_with('.')
            && j.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            bail!(
                "job name '{}': use letters, digits, '-', '_' and '.' only",
                j.name
            );
        }
        if !seen.insert(j.name.as_str()) {
            bail!("job name '{}' is used twice: job names must differ", j.name);
        }
        if j.args.iter().any(|a| a == "--out" || a == "--resume") {
            bail!(
                "job {}: its arguments must not hold --out or --resume (the launcher gives each \
                 job its run directory)",
                j.name
            );
        }
    }
    Ok(())
}

/// Run `jobs` as batch `name` of `run_dir` with the launcher `cfg`.
///
/// A fresh batch is recorded in `RUN/jobs/NAME.json` before anything runs. With
/// `opts.resume` a recorded batch (the same job names) is re-attached, with the recorded
/// command lines and run directories: jobs that ended successfully are not run
/// again, Slurm tasks still queued or running are followed, and the others are run again
/// (continuing from their checkpoints). Without `opts.resume` an existing record is an error,
/// so a batch is never submitted twice by accident.
pub fn run_jobs(
    cfg: &LauncherConfig,
    name: &str,
    jobs: &[Job],
    run_dir: &Path,
    opts: &Options,
) -> Result<Finished> {
    check(cfg, opts.wait)?;
    check_jobs(jobs)?;
    let dir = BatchDir::new(run_dir, name);
    let mut rec = match recorded(run_dir, name)? {
        Some(r) => {
            if !opts.resume {
                bail!(
                    "{} records jobs started earlier: pass --resume to re-attach to them",
                    dir.record().display()
                );
            }
            let names = |js: &[Job]| js.iter().map(|j| j.name.clone()).collect::<Vec<_>>();
            if names(&r.jobs) != names(jobs) {
                bail!(
                    "{} records other jobs ({}) than this run has ({}): resume the run that \
                     wrote it with its own settings",
                    dir.record().display(),
                    names(&r.jobs).join(", "),
                    names(jobs).join(", ")
                );
            }
            // The recorded jobs are the ones re-attached to (their paths as first written).
            if r.launcher.launcher != cfg.launcher && !r.submissions.is_empty() {
                bail!(
                    "{} was submitted to Slurm: resume it with --launcher slurm",
                    dir.record().display()
                );
            }
            Record {
                launcher: cfg.clone(),
                ..r
            }
        }
        None => Record {
            batch: name.to_string(),
            autogan_version: env!("CARGO_PKG_VERSION").to_string(),
            launcher: cfg.clone(),
            jobs: jobs.to_vec(),
            submissions: Vec::new(),
        },
    };
    std::fs::create_dir_all(dir.task_dir())
        .with_context(|| format!("cannot create {}", dir.task_dir().display()))?;
    write_record(&dir, &rec)?;
    // A result cut short or edited by hand does not count as finished: it is named, kept
    // aside, and its job runs again.
    for job in &rec.jobs {
        if let Some(line) = job.set_aside_invalid_result()? {
            eprintln!("warning: {line}");
        }
    }
    match cfg.launcher {
        LauncherKind::Local => local::run(&dir, &rec, opts).map(Finished::Done),
        LauncherKind::Slurm => slurm::run(&dir, &mut rec, opts),
    }
}

/// The flags a launcher puts before a job's own command line: local, `--device` (`cuda` on
/// a GPU of `--gpus`, else the parent's device) and the parent's `--threads`; slurm,
/// `--threads` from `--cpus-per-task`. (Local jobs on GPUs get the first GPU here; each
/// runs with `CUDA_VISIBLE_DEVICES` set to its own.)
pub fn launcher_flags(cfg: &LauncherConfig, opts: &Options) -> Vec<String> {
    match cfg.launcher {
        LauncherKind::Local => local::flags(cfg.gpus.first().copied(), opts),
        LauncherKind::Slurm => slurm::flags(cfg),
    }
}

/// `std::path::absolute`, naming the path in its error.
pub fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot make {} absolute", p.display()))
}

/// Seconds since 1970.
fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Quote a word for bash (only where it needs it).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, dir: &Path) -> Job {
        Job {
            name: name.into(),
            global: vec!["--seed".into(), "1".into()],
            command: "train".into(),
            args: vec!["--arch".into(), "a b.json".into()],
            run_dir: dir.to_path_buf(),
            ..Job::default()
        }
    }

    #[test]
    fn quoting_keeps_words_whole() {
        assert_eq!(shell_quote("--steps"), "--steps");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn timestamps_read_back() {
        for t in [
            0,
            59,
            86_399,
            951_782_400,
            1_700_000_000,
            1_798_848_061,
            4_102_444_800,
        ] {
            assert_eq!(parse_timestamp(&crate::run::timestamp(t)), Some(t), "{t}");
        }
        assert_eq!(parse_timestamp("2026-1127"), None);
        assert_eq!(parse_timestamp("Slurm"), None);
    }

    #[test]
    fn result_files_count_only_when_whole_and_a_bad_one_is_set_aside() {
        let root = std::env::temp_dir().join(format!("autogan-result-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut j = job("e", &root);
        j.restart = Restart::Rerun;
        let out = root.join("eval.json");
        j.result = Some(out.clone());
        assert_eq!(j.result_state(), ResultState::Missing);
        std::fs::write(&out, "{\"is_mean\": \"x\"").unwrap();
        assert!(
            matches!(j.result_state(), ResultState::Invalid(w) if w.contains("not valid JSON"))
        );
        assert!(!j.has_result());
        let line = j.set_aside_invalid_result().unwrap().unwrap();
        assert!(
            line.contains("eval.json is unreadable") && line.contains("eval.json.invalid-1"),
            "{line}"
        );
        assert!(!out.exists());
        assert_eq!(
            std::fs::read_to_string(root.join("eval.json.invalid-1")).unwrap(),
            "{\"is_mean\": \"x\""
        );
        std::fs::write(&out, "{\"is_mean\": 1.5}").unwrap();
        assert!(j.has_result());
        assert_eq!(
            j.set_aside_invalid_result().unwrap(),
            None,
            "a whole file stays"
        );
        // A weight file must hold what its header says; a folder is no result.
        let w = root.join("generator.safetensors");
        j.result = Some(w.clone());
        std::fs::write(&w, "x").unwrap();
        assert!(matches!(j.result_state(), ResultState::Invalid(_)));
        let t = tch::Tensor::zeros([3], (tch::Kind::Float, tch::Device::Cpu));
        tch::Tensor::write_safetensors(&[("t", &t)], &w).unwrap();
        assert!(j.has_result());
        let len = std::fs::metadata(&w).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
        f.set_len(len - 4).unwrap();
        assert!(matches!(j.result_state(), ResultState::Invalid(w) if w.contains("truncated")));
        std::fs::remove_file(&w).unwrap();
        std::fs::create_dir(&w).unwrap();
        assert!(
            matches!(j.result_state(), ResultState::Invalid(w) if w.contains("not a regular file"))
        );
    }

    #[test]
    fn a_rerun_step_keeps_its_command_line_and_its_input() {
        let root = std::env::temp_dir().join(format!("autogan-rerun-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("checkpoint")).unwrap();
        std::fs::write(root.join("checkpoint/last.safetensors"), "x").unwrap();
        let j = Job {
            name: "eval".into(),
            global: vec!["--seed".into(), "1".into()],
            command: "eval".into(),
            args: vec![
                root.display().to_string(),
                "--json-out".into(),
                "r.json".into(),
            ],
            run_dir: root.clone(),
            restart: Restart::Rerun,
            result: Some(root.join("r.json")),
            ..Job::default()
        };
        let want = [
            "--seed",
            "1",
            "eval",
            &root.display().to_string(),
            "--json-out",
            "r.json",
        ];
        assert_eq!(j.prepare().unwrap(), want);
        assert_eq!(j.next_argv(), want);
        assert!(root.join("checkpoint/last.safetensors").is_file());
        // Its result file, not an exit status, says whether it succeeded.
        let dir = BatchDir::new(&root, "b");
        std::fs::create_dir_all(dir.task_dir()).unwrap();
        dir.write_exit(1, 0).unwrap();
        assert!(!dir.succeeded(1, &j));
        std::fs::write(root.join("r.json"), "{}").unwrap();
        dir.write_exit(1, 1).unwrap();
        assert!(dir.succeeded(1, &j));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn job_command_lines() {
        let j = job("x", Path::new("/r/x"));
        assert_eq!(
            j.fresh_argv(),
            ["--seed", "1", "train", "--arch", "a b.json", "--out", "/r/x"]
        );
        assert_eq!(
            j.continue_argv(),
            ["--seed", "1", "train", "--resume", "/r/x"]
        );
        let j = Job {
            resume_args: vec!["--data-dir".into(), "/d".into()],
            ..j
        };
        assert_eq!(
            j.continue_argv(),
            [
                "--seed",
                "1",
                "train",
                "--resume",
                "/r/x",
                "--data-dir",
                "/d"
            ]
        );
        assert!(!j.fresh_argv().contains(&"/d".to_string()));
    }

    #[test]
    fn prepare_continues_a_checkpoint_and_moves_an_unfinished_run_aside() {
        let root = std::env::temp_dir().join(format!("autogan-prepare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let d = root.join("run");
        let j = job("x", &d);
        // Nothing there: a fresh start.
        assert_eq!(j.prepare().unwrap(), j.fresh_argv());
        // A started run without checkpoint: moved aside, then a fresh start.
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config.json"), "{}").unwrap();
        assert_eq!(j.prepare().unwrap(), j.fresh_argv());
        assert!(!d.exists());
        assert!(root.join("run.incomplete-1/config.json").is_file());
        // A run with a checkpoint: continued.
        std::fs::create_dir_all(d.join("checkpoint")).unwrap();
        std::fs::write(d.join("checkpoint/last.safetensors"), "x").unwrap();
        assert_eq!(j.prepare().unwrap(), j.continue_argv());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn bad_jobs_and_settings_are_refused() {
        let d = Path::new("/r");
        assert!(check_jobs(&[job("a", d), job("a", d)]).is_err());
        assert!(check_jobs(&[job("a/b", d)]).is_err());
        let mut j = job("a", d);
        j.args.push("--out".into());
        assert!(check_jobs(&[j]).is_err());
        assert!(check_jobs(&[]).is_err());
        let local_with_partition = LauncherConfig {
            partition: Some("gpu".into()),
            ..LauncherConfig::default()
        };
        let e = local_with_partition.validate().unwrap_err().to_string();
        assert!(e.contains("--partition"), "{e}");
        let slurm_with_gpus = LauncherConfig {
            launcher: LauncherKind::Slurm,
            gpus: vec![0],
            ..LauncherConfig::default()
        };
        assert!(slurm_with_gpus.validate().is_err());
        let bad_arg = LauncherConfig {
            launcher: LauncherKind::Slurm,
            sbatch_args: vec!["qos=long".into()],
            ..LauncherConfig::default()
        };
        assert!(bad_arg.validate().is_err());
        let twice = LauncherConfig {
            gpus: vec![0, 0],
            ..LauncherConfig::default()
        };
        assert!(twice.validate().is_err());
        for (launcher, gpus, parallel, msg) in [
            (LauncherKind::Local, vec![], 0, "--parallel 0"),
            (LauncherKind::Local, vec![0, 1], 2, "with --gpus"),
            (
                LauncherKind::Slurm,
                vec![],
                2,
                "--parallel is for --launcher local",
            ),
        ] {
            let c = LauncherConfig {
                launcher,
                gpus,
                parallel,
                ..LauncherConfig::default()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
        let two = LauncherConfig {
            parallel: 2,
            ..LauncherConfig::default()
        };
        assert!(two.validate().is_ok());
    }

    #[test]
    fn outcome_lines_name_state_code_and_log() {
        let log = std::env::temp_dir().join(format!("autogan-outcome-{}.log", std::process::id()));
        std::fs::write(&log, "x").unwrap();
        let mut o = Outcome {
            name: "top2".into(),
            task: 2,
            run_dir: "/r/final/top2".into(),
            state: "FAILED".into(),
            exit_code: Some(1),
            signal: Some(0),
            log: log.clone(),
            slurm_job: Some("17_2".into()),
        };
        assert!(!o.ok());
        assert_eq!(
            o.describe(),
            format!(
                "top2: FAILED, exit code 1 (Slurm job 17_2), log {}",
                log.display()
            )
        );
        std::fs::remove_file(&log).unwrap();
        o.state = "CANCELLED".into();
        o.exit_code = None;
        assert_eq!(
            o.describe(),
            "top2: CANCELLED (Slurm job 17_2), before it started (no log)"
        );
    }
}
