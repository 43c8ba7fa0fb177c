//! The local launcher: each job runs as a child process of this one (the same `autogan`
//! binary), one at a time, `parallel` at a time, or with `gpus` one per GPU at a time,
//! `CUDA_VISIBLE_DEVICES` set to that GPU. Logs and exit statuses go where the Slurm launcher
//! puts them, so a batch is collected and resumed the same way.
//!
//! Signals: each job runs in a process group of its own, so a Ctrl-C in the terminal reaches
//! only this process, which passes one SIGINT on to each running job (which then stops at its
//! checkpoint). A SIGINT sent to this process alone (`kill -INT PID`) therefore does the same.
//! When this process ends any other way (a second Ctrl-C, SIGTERM, a hang-up, SIGKILL), the
//! kernel sends each running job a SIGINT (Linux's parent-death signal), so no job is left
//! running without its parent: it stops at its checkpoint, or at once if it had already been
//! sent one.
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
    own_group_ended_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("job {}: cannot start {}", job.name, exe.display()))?;
    let status = crate::run::atomic_write(&dir.pid_file(task), child.id().to_string().as_bytes())
        .and_then(|_| wait_passing_ctrl_c(&mut child));
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            // Never left running unwatched.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
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

/// Waits for `child`, sending it one SIGINT once this process has had a Ctrl-C (the job is in
/// a process group of its own, so the terminal's did not reach it; a second would stop it at
/// once, without its checkpoint).
fn wait_passing_ctrl_c(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    let mut sent = false;
    loop {
        // Checked before the signal: once `try_wait` has returned a status the pid may be reused.
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if !sent && crate::run::interrupt::requested() {
            // SAFETY: kill(2) on our own child, which `try_wait` has just found not ended (a
            // child that is not waited for keeps its pid, even as a zombie).
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            sent = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The job in a process group of its own (the terminal's Ctrl-C reaches only this process,
/// which passes it on once), sent SIGINT by the kernel when this process ends.
fn own_group_ended_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have ended before the prctl: then no signal would come.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the launching autogan has ended"));
                }
                Ok(())
            });
        }
    }
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
