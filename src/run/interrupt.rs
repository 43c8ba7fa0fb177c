//! Ctrl-C (SIGINT) for the long commands. Once [`catch_ctrl_c`] has run, the first Ctrl-C
//! only sets a flag: `train` finishes its step, writes a checkpoint and stops, `search` stops
//! after the current D step and keeps its last completed iteration. A second Ctrl-C ends the
//! process at once. Either way the exit status is [`EXIT_CODE`] (130, the shell's code for
//! SIGINT). Before `catch_ctrl_c`, and in the other commands, Ctrl-C ends the process as usual.
use anyhow::Result;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The exit status of an interrupted run.
pub const EXIT_CODE: i32 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// From now on, the first SIGINT sets the flag that [`requested`] reads, and a second one
/// exits with status 130 without further work. Calling it again does nothing.
pub fn catch_ctrl_c() -> Result<()> {
    if FLAG.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    // The order matters: the conditional exit is checked before the flag is set, so it fires
    // only from the second signal on.
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        EXIT_CODE,
        Arc::clone(&flag),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag))?;
    let _ = FLAG.set(flag);
    Ok(())
}

/// Whether a Ctrl-C has arrived since [`catch_ctrl_c`].
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// `Err(Interrupted)` once a Ctrl-C has arrived: for loops that stop where they are.
pub fn check() -> Result<()> {
    if requested() {
        return Err(Interrupted::new("interrupted by Ctrl-C").into());
    }
    Ok(())
}

/// A run stopped by Ctrl-C; the message says what was kept and how to continue.
/// `main` prints it and exits with [`EXIT_CODE`].
#[derive(Debug)]
pub struct Interrupted {
    pub message: String,
}

impl Interrupted {
    pub fn new(message: impl Into<String>) -> Interrupted {
        Interrupted {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Interrupted {}

/// Whether `e` (or an error it wraps) is an [`Interrupted`].
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Interrupted>())
}

/// The command line that continues the run in `dir`: this program as it was started, the
/// device and thread count of this process (a resumed run on CPU is exact only with the same
/// number of threads), `COMMAND --resume DIR`, and `--data-dir` when one was given.
pub fn resume_command(
    command: &str,
    dir: &Path,
    device: tch::Device,
    data_dir: Option<&Path>,
) -> String {
    let program = std::env::args().next().unwrap_or_else(|| "autogan".into());
    let device = match device {
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        tch::Device::Mps => "mps".into(),
        tch::Device::Vulkan => "vulkan".into(),
        _ => "cpu".into(),
    };
    let mut cmd = format!(
        "{} --device {device} --threads {} {command} --resume {}",
        shell_quote(&program),
        tch::get_num_threads(),
        shell_quote(&dir.display().to_string())
    );
    if let Some(d) = data_dir {
        cmd.push_str(&format!(
            " --data-dir {}",
            shell_quote(&d.display().to_string())
        ));
    }
    cmd
}

/// `s` as one word for a POSIX shell.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
