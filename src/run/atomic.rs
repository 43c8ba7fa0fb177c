//! The one way this program writes a file that must never be seen half-written (checkpoints,
//! weights, logs rewritten on resume, statistics, images, downloads): write to `NAME.tmp` beside
//! it, flush it to disk, rename it over `NAME`, flush the directory. A crash leaves either the
//! old file or the new one; a failed write removes its temporary file.
//!
//! The destination must be a regular file or nothing: a symbolic link is written through (its
//! final target is replaced, the link stays), and a FIFO, a device, a socket or a folder is
//! refused, never replaced.
use anyhow::{bail, Context, Result};
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

/// Where an atomic write of `path` puts its file: `path` itself when it is missing or a
/// regular file, the final target of a symbolic link (a dangling link is refused: its target's
/// folder may not be the one the user meant), and an error naming the file for anything else.
pub fn destination(path: &Path) -> Result<PathBuf> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        Ok(m) => m,
    };
    let (real, meta) = if meta.file_type().is_symlink() {
        let real = std::fs::canonicalize(path).with_context(|| {
            format!(
                "{} is a symbolic link whose target does not exist (or loops): write to a plain                  file name instead, or fix the link",
                path.display()
            )
        })?;
        let m =
            std::fs::metadata(&real).with_context(|| format!("cannot read {}", real.display()))?;
        (real, m)
    } else {
        (path.to_path_buf(), meta)
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(real);
    }
    let what = if ft.is_dir() {
        "a folder"
    } else {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            "a FIFO (named pipe)"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }
    };
    let via = match real.as_path() == path {
        true => String::new(),
        false => format!(" (the target of the link {})", path.display()),
    };
    bail!(
        "{}{via} is {what}: autogan writes its files whole and replaces only regular files; \
         give the name of a new or regular file",
        real.display()
    )
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
    let target = destination(path)?;
    let path = target.as_path();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("autogan-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn new_and_regular_files_are_written_whole() {
        let d = tmp_dir("plain");
        let f = d.join("x.json");
        atomic_write(&f, b"1").unwrap();
        atomic_write(&f, b"22").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"22");
        assert!(!tmp_name(&f).exists());
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let d = tmp_dir("link");
        let target = d.join("real.json");
        std::fs::write(&target, b"old").unwrap();
        let link = d.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        atomic_write(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A dangling link is refused, and nothing is created.
        let dangling = d.join("dangling.json");
        std::os::unix::fs::symlink(d.join("missing/x.json"), &dangling).unwrap();
        let e = atomic_write(&dangling, b"x").unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn fifos_and_folders_are_refused_never_replaced() {
        let d = tmp_dir("special");
        let fifo = d.join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = atomic_write(&fifo, b"x").unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        // Through a link to it, too.
        let link = d.join("to-pipe");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let e = atomic_write(&link, b"x").unwrap_err().to_string();
        assert!(
            e.contains("FIFO") && e.contains("target of the link"),
            "{e}"
        );
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = atomic_write(&sub, b"x").unwrap_err().to_string();
        assert!(e.contains("a folder"), "{e}");
        assert!(sub.is_dir());
        assert!(!tmp_name(&fifo).exists() && !tmp_name(&sub).exists());
    }
}
