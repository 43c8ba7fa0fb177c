//! The Slurm launcher: a batch becomes one job array (`RUN/jobs/NAME.sbatch`, one array task
//! per job) submitted with `sbatch --parsable`; its job id goes into the batch record at once.
//! The tasks are followed with `squeue` (states) and `scontrol show job` (exit codes) until
//! every one has ended. Where Slurm has forgotten a task (after `MinJobAge`), the exit status
//! the task script wrote into `RUN/jobs/NAME/<task>.exit` stands in. No `sacct`: it needs
//! slurmdbd, which many small clusters lack.
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::{shell_quote, BatchDir, Finished, LauncherConfig, Options, Outcome, Record};
use crate::progress;

/// States after which a task will not run again.
const ENDED: [&str; 10] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
    "LOST",
];

fn is_ended(state: &str) -> bool {
    ENDED.contains(&state)
}

/// What is known of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub state: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub slurm_job: String,
}

impl TaskView {
    fn ok(&self) -> bool {
        self.state == "COMPLETED" && self.exit_code == Some(0)
    }
}

/// Submit what has to run, then (unless `opts.wait` is false) follow every task to its end.
pub fn run(dir: &BatchDir, rec: &mut Record, opts: &Options) -> Result<Finished> {
    check_tools()?;
    let n = rec.jobs.len();
    let to_submit: Vec<usize> = if rec.submissions.is_empty() {
        // A batch the local launcher began: what ended successfully stays done.
        (1..=n)
            .filter(|&t| !(opts.resume && dir.succeeded(t, &rec.jobs[t - 1])))
            .collect()
    } else {
        let view = look(dir, rec)?;
        // A job with a result file has succeeded exactly when the file is there.
        let ok = |t: usize| match rec.jobs[t - 1].result {
            Some(_) => rec.jobs[t - 1].has_result(),
            None => view[t - 1].ok(),
        };
        let again: Vec<usize> = (1..=n)
            .filter(|&t| is_ended(&view[t - 1].state) && !ok(t))
            .collect();
        let done = (1..=n).filter(|&t| ok(t)).count();
        if !opts.quiet {
            let ids: Vec<&str> = rec.submissions.iter().map(|s| s.job_id.as_str()).collect();
            eprintln!(
                "re-attaching to Slurm job {} of {}: {done} of {n} tasks done, {} queued or \
                 running, {} to submit again",
                ids.join(", "),
                dir.record().display(),
                n - done - again.len(),
                again.len()
            );
            for t in &again {
                eprintln!(
                    "  again: {}",
                    outcome(dir, rec, *t, &view[t - 1]).describe()
                );
            }
        }
        again
    };
    if !to_submit.is_empty() {
        submit(dir, rec, &to_submit, opts)?;
    }
    if !opts.wait {
        let mut ids: Vec<String> = Vec::new();
        for s in &rec.submissions {
            if !ids.contains(&s.job_id) {
                ids.push(s.job_id.clone());
            }
        }
        return Ok(Finished::Submitted { job_ids: ids });
    }
    follow(dir, rec, opts).map(Finished::Done)
}

/// sbatch, squeue and scontrol must be on PATH.
pub(crate) fn check_tools() -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = ["sbatch", "squeue", "scontrol"]
        .into_iter()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "--launcher slurm needs sbatch, squeue and scontrol on PATH ({} not found): run it \
             where Slurm's commands are (a login node), or start a one-node Slurm on this \
             machine with scripts/slurm/start.sh",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Write the job-array script for `tasks`, submit it, record the job id.
fn submit(dir: &BatchDir, rec: &mut Record, tasks: &[usize], opts: &Options) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the path of this autogan binary")?;
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let mut lines = Vec::new();
    for &t in tasks {
        let _ = std::fs::remove_file(dir.exit_file(t));
        lines.push((t, rec.jobs[t - 1].prepare()?));
    }
    let script = dir.script(rec.submissions.len());
    let text = script_text(&rec.launcher, dir, &lines, &exe, &cwd)?;
    crate::run::atomic_write(&script, text.as_bytes())?;
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&script)
        .output()
        .context("cannot run sbatch")?;
    if !out.status.success() {
        bail!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch --parsable {} printed '{}', not a job id",
            script.display(),
            stdout.trim()
        );
    }
    rec.submissions.push(super::Submission {
        job_id: job_id.clone(),
        tasks: tasks.to_vec(),
        script: script.clone(),
        submitted_unix: super::now_unix(),
    });
    super::write_record(dir, rec)?;
    if !opts.quiet {
        eprintln!(
            "submitted {} job{} as Slurm job {job_id} ({}); logs in {}",
            tasks.len(),
            if tasks.len() == 1 { "" } else { "s" },
            script.display(),
            dir.task_dir().display()
        );
    }
    Ok(())
}

/// `1-3,5,7-8`: the `--array` list of sorted task numbers.
pub fn array_spec(tasks: &[usize]) -> String {
    let mut t = tasks.to_vec();
    t.sort_unstable();
    t.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let mut j = i;
        while j + 1 < t.len() && t[j + 1] == t[j] + 1 {
            j += 1;
        }
        parts.push(match i == j {
            true => t[i].to_string(),
            false => format!("{}-{}", t[i], t[j]),
        });
        i = j + 1;
    }
    parts.join(",")
}

/// `--threads N` where `--cpus-per-task N` is set, before every task's own flags.
pub(crate) fn flags(cfg: &LauncherConfig) -> Vec<String> {
    match cfg.cpus_per_task {
        Some(c) => vec!["--threads".into(), c.to_string()],
        None => Vec::new(),
    }
}

/// The job-array script: Slurm options, then one `case` branch per task with its own
/// `autogan` command line; each task writes its exit status next to its log.
pub fn script_text(
    cfg: &LauncherConfig,
    dir: &BatchDir,
    tasks: &[(usize, Vec<String>)],
    exe: &Path,
    cwd: &Path,
) -> Result<String> {
    let abs = |p: &Path| super::absolute(p);
    let task_dir = abs(&dir.task_dir())?;
    let ids: Vec<usize> = tasks.iter().map(|(t, _)| *t).collect();
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Written by autogan {}: batch '{}', {} job{}, one array task each.\n# Every task runs \
         its own autogan command line into its own run directory; its output\n# goes to \
         <task>.log and its exit status to <task>.exit in {}\n",
        env!("CARGO_PKG_VERSION"),
        dir.name,
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
        task_dir.display()
    ));
    let mut opt = |o: String| s.push_str(&format!("#SBATCH {o}\n"));
    opt(format!("--job-name=autogan-{}", dir.name));
    opt(format!("--array={}", array_spec(&ids)));
    opt("--ntasks=1".into());
    opt(format!("--output={}/%a.log", task_dir.display()));
    opt("--open-mode=append".into());
    opt(format!("--chdir={}", cwd.display()));
    if let Some(p) = &cfg.partition {
        opt(format!("--partition={p}"));
    }
    if let Some(t) = &cfg.time {
        opt(format!("--time={t}"));
    }
    if let Some(g) = cfg.gpus_per_task {
        opt(format!("--gpus-per-task={g}"));
    }
    if let Some(c) = cfg.cpus_per_task {
        opt(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &cfg.mem {
        opt(format!("--mem={m}"));
    }
    for a in &cfg.sbatch_args {
        opt(a.clone());
    }
    s.push_str("set -u\n");
    s.push_str(&format!(
        "autogan={}\n",
        shell_quote(&exe.display().to_string())
    ));
    s.push_str(&format!(
        "status={}/$SLURM_ARRAY_TASK_ID.exit\n",
        shell_quote(&task_dir.display().to_string())
    ));
    s.push_str("rm -f \"$status\"\n");
    s.push_str(
        "echo \"== $(date -u +%Y%m%d-%H%M%S) Slurm job ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID \
         on $(hostname)\"\n",
    );
    let threads = flags(cfg);
    s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (t, argv) in tasks {
        let words: Vec<String> = threads.iter().chain(argv).map(|a| shell_quote(a)).collect();
        s.push_str(&format!("  {t}) \"$autogan\" {} ;;\n", words.join(" ")));
    }
    s.push_str(
        "  *) echo \"no job for array task $SLURM_ARRAY_TASK_ID\" >&2; false ;;\nesac\nrc=$?\n",
    );
    s.push_str("echo \"$rc\" >\"$status.tmp\" && mv \"$status.tmp\" \"$status\"\nexit \"$rc\"\n");
    Ok(s)
}

/// The current view of every task, from its latest submission.
fn look(dir: &BatchDir, rec: &Record) -> Result<Vec<TaskView>> {
    let n = rec.jobs.len();
    let mut latest: Vec<Option<&str>> = vec![None; n];
    for s in &rec.submissions {
        for &t in &s.tasks {
            if (1..=n).contains(&t) {
                latest[t - 1] = Some(&s.job_id);
            }
        }
    }
    let mut queue: HashMap<&str, Option<HashMap<usize, String>>> = HashMap::new();
    let mut records: HashMap<&str, Option<HashMap<usize, TaskRecord>>> = HashMap::new();
    let mut out = Vec::with_capacity(n);
    for t in 1..=n {
        let Some(id) = latest[t - 1] else {
            bail!(
                "{}: task {t} was never submitted (a damaged record?): move the record aside \
                 to start the batch again",
                dir.record().display()
            );
        };
        if !queue.contains_key(id) {
            queue.insert(id, squeue(id)?);
        }
        let q = queue[id].as_ref().and_then(|q| q.get(&t).cloned());
        let ended_or_gone = q.as_deref().is_none_or(is_ended);
        if ended_or_gone && !records.contains_key(id) {
            records.insert(id, scontrol(id)?);
        }
        let r = records
            .get(id)
            .and_then(|r| r.as_ref())
            .and_then(|r| r.get(&t));
        let slurm_job = format!("{id}_{t}");
        let view = match (q, r) {
            (Some(state), _) if !is_ended(&state) => TaskView {
                state,
                exit_code: None,
                signal: None,
                slurm_job,
            },
            (_, Some(r)) => TaskView {
                state: r.state.clone(),
                exit_code: r.exit_code,
                signal: r.signal,
                slurm_job,
            },
            (q, None) => {
                // Slurm has no record of how the task ended: the exit status it wrote decides.
                // A task of a job Slurm still knows that is missing from the queue and never
                // started was cancelled while it waited (Slurm 22.05 drops such array tasks
                // without a trace).
                let job_known = queue[id].is_some();
                let (state, code) = match (q, dir.read_exit(t)) {
                    (Some(state), code) => (state, code),
                    (None, Some(0)) => ("COMPLETED".to_string(), Some(0)),
                    (None, Some(c)) => ("FAILED".to_string(), Some(c)),
                    (None, None) if job_known && !started(dir, t, &slurm_job) => {
                        ("CANCELLED".to_string(), None)
                    }
                    (None, None) => ("LOST".to_string(), None),
                };
                TaskView {
                    state,
                    exit_code: code,
                    signal: None,
                    slurm_job,
                }
            }
        };
        out.push(view);
    }
    Ok(out)
}

/// Whether task `t` started as Slurm job `slurm_job`: its script writes a first line
/// `== <time> Slurm job <slurm_job> on <host>` into its log.
fn started(dir: &BatchDir, t: usize, slurm_job: &str) -> bool {
    std::fs::read_to_string(dir.log(t))
        .is_ok_and(|log| log.contains(&format!(" Slurm job {slurm_job} on ")))
}

/// Follow every task until it has ended, with a progress bar.
fn follow(dir: &BatchDir, rec: &Record, opts: &Options) -> Result<Vec<Outcome>> {
    let n = rec.jobs.len();
    let pb = progress::bar(n as u64, &format!("slurm {}", dir.name), opts.quiet);
    progress::log(
        &pb,
        opts.quiet,
        &format!(
            "following {n} Slurm task{}; stopping autogan does not stop them (re-attach with \
             --resume)",
            if n == 1 { "" } else { "s" }
        ),
    );
    let mut told = vec![false; n];
    let mut failures = 0;
    let interval = std::time::Duration::from_secs_f64(rec.launcher.poll_interval);
    loop {
        let view = match look(dir, rec) {
            Ok(v) => {
                failures = 0;
                v
            }
            // The controller can be briefly unreachable: try again a few times.
            Err(e) if failures < 10 => {
                failures += 1;
                progress::log(
                    &pb,
                    opts.quiet,
                    &format!("asking Slurm failed ({e:#}); trying again"),
                );
                std::thread::sleep(interval);
                continue;
            }
            Err(e) => return Err(e.context("Slurm did not answer 10 times in a row")),
        };
        let mut ended = 0;
        let mut running = 0;
        for (i, v) in view.iter().enumerate() {
            if is_ended(&v.state) {
                ended += 1;
                if !told[i] {
                    told[i] = true;
                    let o = outcome(dir, rec, i + 1, v);
                    let line = match o.ok() {
                        true => format!("job {} finished (Slurm job {})", o.name, v.slurm_job),
                        false => format!("job {}", o.describe()),
                    };
                    progress::log(&pb, opts.quiet, &line);
                }
            } else if v.state == "RUNNING" {
                running += 1;
            }
        }
        pb.set_position(ended as u64);
        pb.set_message(format!(
            "{running} running, {} waiting",
            n - ended - running
        ));
        if ended == n {
            pb.finish_and_clear();
            return Ok(view
                .iter()
                .enumerate()
                .map(|(i, v)| outcome(dir, rec, i + 1, v))
                .collect());
        }
        std::thread::sleep(interval);
    }
}

fn outcome(dir: &BatchDir, rec: &Record, task: usize, v: &TaskView) -> Outcome {
    let job = &rec.jobs[task - 1];
    Outcome {
        name: job.name.clone(),
        task,
        run_dir: job.run_dir.clone(),
        state: v.state.clone(),
        exit_code: v.exit_code,
        signal: v.signal,
        log: dir.log(task),
        slurm_job: Some(v.slurm_job.clone()),
    }
}

/// Run a Slurm query; `None` where Slurm no longer knows the job.
fn query(cmd: &mut Command) -> Result<Option<String>> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("Invalid job id") {
            return Ok(None);
        }
        bail!("{cmd:?} failed: {}", stderr.trim());
    }
    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Array task -> state, from `squeue -r -t all` (one line per task).
fn squeue(job_id: &str) -> Result<Option<HashMap<usize, String>>> {
    let out =
        query(Command::new("squeue").args(["-h", "-r", "-t", "all", "-j", job_id, "-o", "%K|%T"]))?;
    Ok(out.map(|o| parse_squeue(&o)))
}

pub fn parse_squeue(text: &str) -> HashMap<usize, String> {
    text.lines()
        .filter_map(|l| {
            let (task, state) = l.trim().split_once('|')?;
            Some((task.trim().parse().ok()?, state.trim().to_string()))
        })
        .collect()
}

/// One array task as `scontrol show job` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub state: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

fn scontrol(job_id: &str) -> Result<Option<HashMap<usize, TaskRecord>>> {
    let out = query(Command::new("scontrol").args(["show", "job", "-o", job_id]))?;
    Ok(out.map(|o| parse_scontrol(&o)))
}

/// Array task -> state and exit code, from `scontrol show job -o` (one line per record;
/// records of several pending tasks, `ArrayTaskId=2-5`, are skipped: they have no exit code).
pub fn parse_scontrol(text: &str) -> HashMap<usize, TaskRecord> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let kv: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .collect();
        let Some(task) = kv.get("ArrayTaskId").and_then(|t| t.parse::<usize>().ok()) else {
            continue;
        };
        let Some(state) = kv.get("JobState") else {
            continue;
        };
        let (code, signal) = match kv.get("ExitCode").and_then(|e| e.split_once(':')) {
            Some((c, s)) => (c.parse().ok(), s.parse().ok()),
            None => (None, None),
        };
        m.insert(
            task,
            TaskRecord {
                state: state.to_string(),
                exit_code: code,
                signal,
            },
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_lists_are_compact() {
        assert_eq!(array_spec(&[1, 2, 3]), "1-3");
        assert_eq!(array_spec(&[3, 1, 5, 6, 2]), "1-3,5-6");
        assert_eq!(array_spec(&[4]), "4");
    }

    #[test]
    fn queue_and_job_records_are_read() {
        let q = parse_squeue("2|PENDING\n1|COMPLETED\n3|RUNNING\n");
        assert_eq!(q[&1], "COMPLETED");
        assert_eq!(q[&2], "PENDING");
        assert_eq!(q.len(), 3);
        let text = "JobId=7 ArrayJobId=5 ArrayTaskId=2 JobName=x JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 RunTime=00:00:01\n\
                    JobId=8 ArrayJobId=5 ArrayTaskId=3 JobState=CANCELLED Reason=None ExitCode=0:15\n\
                    JobId=5 ArrayJobId=5 ArrayTaskId=4-6 JobState=PENDING ExitCode=0:0\n";
        let r = parse_scontrol(text);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            r[&2],
            TaskRecord {
                state: "FAILED".into(),
                exit_code: Some(3),
                signal: Some(0)
            }
        );
        assert_eq!(r[&3].state, "CANCELLED");
        assert_eq!(r[&3].signal, Some(15));
    }

    #[test]
    fn the_script_runs_each_task_in_its_own_branch() {
        let dir = BatchDir::new(Path::new("/r"), "final");
        let cfg = LauncherConfig {
            launcher: super::super::LauncherKind::Slurm,
            partition: Some("gpu".into()),
            time: Some("1:00:00".into()),
            gpus_per_task: Some(1),
            cpus_per_task: Some(4),
            mem: Some("8G".into()),
            sbatch_args: vec!["--qos=long".into()],
            ..LauncherConfig::default()
        };
        let tasks = vec![
            (
                1,
                vec!["train".to_string(), "--out".into(), "/r/a b".into()],
            ),
            (
                3,
                vec!["train".to_string(), "--resume".into(), "/r/c".into()],
            ),
        ];
        let s = script_text(
            &cfg,
            &dir,
            &tasks,
            Path::new("/bin/autogan"),
            Path::new("/w"),
        )
        .unwrap();
        for line in [
            "#SBATCH --array=1,3",
            "#SBATCH --output=/r/jobs/final/%a.log",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=1:00:00",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=8G",
            "#SBATCH --qos=long",
            "#SBATCH --chdir=/w",
            "  1) \"$autogan\" --threads 4 train --out '/r/a b' ;;",
            "  3) \"$autogan\" --threads 4 train --resume /r/c ;;",
        ] {
            assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        }
        assert!(!s.contains("  2)"));
    }
}
