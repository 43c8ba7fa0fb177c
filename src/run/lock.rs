//! One process at a time in a run directory: `train`, `search` and their `--resume` hold an
//! exclusive lock (`flock`) on `RUN/.lock` for as long as they run. The operating system
//! releases it when the process ends, however it ends (SIGKILL, a crash), so a stale lock
//! never blocks a resume. The holder writes its process id into the file, so a refused
//! second process can say who holds the run.
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a run directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    // Kept open: closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of the cache file `file` (a scorer, a reference's features): in
/// `$AUTOGAN_HOME/locks/`, named after the file's folder and name, so that the cache folders
/// hold their files alone. The folder is created.
pub fn cache_lock(file: &Path) -> Result<PathBuf> {
    let part = |p: Option<&std::ffi::OsStr>| p.map(|n| n.to_string_lossy().into_owned());
    let folder = part(file.parent().and_then(Path::file_name)).unwrap_or_default();
    let name = part(file.file_name()).unwrap_or_default();
    let dir = crate::paths::home().join("locks");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.join(format!("{folder}-{name}.lock")))
}

/// An exclusive lock on the file `path` (created when missing), held until dropped: taken at
/// once when free, else `waiting` is called and the lock is waited for (for work that one
/// process does while the others wait for its result, such as training a cached scorer).
pub fn lock_file_waiting(path: &Path, waiting: &mut dyn FnMut()) -> Result<RunLock> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            waiting();
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(RunLock {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// Take the lock of the run directory `dir` (which must exist), or fail at once, naming the
/// run and the process that holds it.
pub fn lock_run_dir(dir: &Path) -> Result<RunLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}"),
                Err(_) => "another process".to_string(),
            };
            bail!(
                "run {} is in use by {holder} (an autogan command holds {}): wait for it to \
                 end or stop it, then run the command again",
                dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // Ours now: say who holds it.
    (|| -> std::io::Result<()> {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()
    })()
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(RunLock { _file: file, path })
}
