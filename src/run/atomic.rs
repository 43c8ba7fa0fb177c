//! The one way this program writes a file that must never be seen half-written (checkpoints,
//! weights, logs rewritten on resume, statistics, images, downloads): write to `NAME.tmp` beside
//! it, flush it to disk, rename it over `NAME`, flush the directory. A crash leaves either the
//! old file or the new one; a failed write removes its temporary file.
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// `path` with `.tmp` appended to its file name.
pub fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Write `bytes` to `path` atomically.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))
    })
}

/// Write `path` atomically with `fill`, which creates and writes the temporary file whose path
/// it is given (so writers that take a path, as image and npz encoders do, fit too). Errors of
/// `fill` are returned as they are: `fill` names what it writes.
pub fn atomic_write_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_name(path);
    let res = fill(&tmp).and_then(|()| {
        // The data must be on disk before the rename makes it the file's content.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot flush {} to disk", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| {
            format!(
                "cannot rename {} to {}{}",
                tmp.display(),
                path.display(),
                if path.is_dir() {
                    " (a directory of that name exists)"
                } else {
                    ""
                }
            )
        })
    });
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable (best effort: not every file system allows it).
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
