//! The local launcher: each job runs as a child process of this one (the same `autogan`
//! binary), one at a time, `parallel` at a time, or with `gpus` one per GPU at a time,
//! `CUDA_VISIBLE_DEVICES` set to that GPU. Logs and exit statuses go where the Slurm launcher
//! puts them, so a batch is collected and resumed the same way.
use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};

use super::{shell_quote, BatchDir, Job, Options, Outcome, Record};
use crate::progress;

/// Run the jobs of `rec` that have not ended successfully (all of them unless resuming) and
/// return one outcome per job, in job order.
pub fn run(dir: &BatchDir, rec: &Record, opts: &Options) -> Result<Vec<Outcome>> {
    let exe = std::env::current_exe().context("cannot find the path of this autogan binary")?;
    let n = rec.jobs.len();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let mut todo = VecDeque::new();
    for (i, job) in rec.jobs.iter().enumerate() {
        let task = i + 1;
        if let Some(pid) = running_pid(dir, task, job) {
            bail!(
                "job {} still runs as process {pid}, started by an earlier autogan that has \
                 ended: let it finish or end it (kill {pid}), then resume",
                job.name
            );
        }
        if opts.resume && dir.succeeded(task, job) {
            outcomes[i] = Some(outcome(dir, job, task, "COMPLETED", Some(0), None));
            continue;
        }
        todo.push_back(i);
    }
    let done0 = n - todo.len();
    let pb = progress::bar(n as u64, &format!("jobs {}", dir.name), opts.quiet);
    pb.set_position(done0 as u64);
    if done0 > 0 {
        progress::log(
            &pb,
            opts.quiet,
            &format!("{done0} of {n} jobs had already ended successfully: not run again"),
        );
    }
    let slots: Vec<Option<u32>> = match rec.launcher.gpus.is_empty() {
        true => vec![None; rec.launcher.parallel.max(1) as usize],
        false => rec.launcher.gpus.iter().map(|g| Some(*g)).collect(),
    };
    let queue = Mutex::new(todo);
    let mut first_err = None;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for gpu in slots {
            let (tx, queue, exe) = (tx.clone(), &queue, &exe);
            s.spawn(move || loop {
                // After a Ctrl-C no job starts; the running ones stop at their checkpoints.
                if crate::run::interrupt::requested() {
                    break;
                }
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(i) = next else { break };
                let r = run_one(exe, dir, &rec.jobs[i], i + 1, gpu, opts);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            pb.inc(1);
            match r {
                Ok(o) => {
                    let line = match o.ok() {
                        true => format!("job {} finished", o.name),
                        false => format!("job {}", o.describe()),
                    };
                    progress::log(&pb, opts.quiet, &line);
                    outcomes[i] = Some(o);
                }
                Err(e) => {
                    progress::log(&pb, opts.quiet, &format!("job {}: {e:#}", rec.jobs[i].name));
                    first_err.get_or_insert(e);
                }
            }
        }
    });
    pb.finish_and_clear();
    if crate::run::interrupt::requested() {
        let ended = outcomes.iter().flatten().filter(|o| o.ok()).count();
        return Err(crate::run::interrupt::Interrupted::new(format!(
            "interrupted by Ctrl-C: {ended} of {n} {} jobs have ended; the ones that were \
             running stopped at their last checkpoint",
            dir.name
        ))
        .into());
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.with_context(|| format!("job {} did not run", rec.jobs[i].name)))
        .collect()
}

fn outcome(
    dir: &BatchDir,
    job: &Job,
    task: usize,
    state: &str,
    code: Option<i32>,
    signal: Option<i32>,
) -> Outcome {
    Outcome {
        name: job.name.clone(),
        task,
        run_dir: job.run_dir.clone(),
        state: state.to_string(),
        exit_code: code,
        signal,
        log: dir.log(task),
        slurm_job: None,
    }
}

/// `--device` (`cuda` for a job on a GPU of `--gpus`, else the parent's) and the parent's
/// `--threads`, before the job's own flags.
pub(crate) fn flags(gpu: Option<u32>, opts: &Options) -> Vec<String> {
    let mut flags: Vec<String> = vec!["--device".into()];
    flags.push(match gpu {
        Some(_) => "cuda".into(),
        None => opts.device.clone(),
    });
    if let Some(t) = opts.threads {
        flags.extend(["--threads".into(), t.to_string()]);
    }
    flags
}

/// One attempt of one job: its output appended to its log, its exit status written.
fn run_one(
    exe: &Path,
    dir: &BatchDir,
    job: &Job,
    task: usize,
    gpu: Option<u32>,
    opts: &Options,
) -> Result<Outcome> {
    let argv = job.prepare()?;
    let flags = flags(gpu, opts);
    let log_path = dir.log(task);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let line: Vec<String> = flags.iter().chain(&argv).map(|a| shell_quote(a)).collect();
    writeln!(
        log,
        "== {} autogan {}{}",
        crate::run::timestamp(super::now_unix()),
        line.join(" "),
        gpu.map(|g| format!("  (CUDA_VISIBLE_DEVICES={g})"))
            .unwrap_or_default()
    )?;
    let _ = std::fs::remove_file(dir.exit_file(task));
    let mut cmd = Command::new(exe);
    cmd.args(&flags)
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some(g) = gpu {
        cmd.env("CUDA_VISIBLE_DEVICES", g.to_string());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("job {}: cannot start {}", job.name, exe.display()))?;
    crate::run::atomic_write(&dir.pid_file(task), child.id().to_string().as_bytes())?;
    let status = child.wait()?;
    let _ = std::fs::remove_file(dir.pid_file(task));
    let (code, signal) = (status.code(), status.signal());
    dir.write_exit(task, code.unwrap_or(128 + signal.unwrap_or(0)))?;
    let state = if status.success() {
        "COMPLETED"
    } else {
        "FAILED"
    };
    Ok(outcome(dir, job, task, state, code, signal))
}

/// The pid of a job left running by an earlier (killed) parent: its pid file names a live
/// process whose command line holds the job's run directory.
pub(crate) fn running_pid(dir: &BatchDir, task: usize, job: &Job) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(dir.pid_file(task))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let run_dir = job.run_dir.display().to_string();
    let alive = String::from_utf8_lossy(&cmdline)
        .split('\0')
        .any(|a| a == run_dir);
    if alive {
        Some(pid)
    } else {
        let _ = std::fs::remove_file(dir.pid_file(task));
        None
    }
}
