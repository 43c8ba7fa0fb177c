//! Where things live: the data folder, the cache ($AUTOGAN_HOME), the Inception weights.
use std::path::{Path, PathBuf};

/// `--data-dir`, else `$AUTOGAN_DATA`, else `./data`.
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("AUTOGAN_DATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("data"),
    }
}

/// `$AUTOGAN_HOME`, else `~/.cache/autogan`.
pub fn home() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTOGAN_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(".cache").join("autogan")
}

/// The FID-Inception weights: `--inception FILE` when given, else the cache's converted file.
pub fn inception_weights(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => home().join("pt_inception-2015-12-05-6726825d.safetensors"),
    }
}

/// Make sure files can be written into `dir` before any long work that ends by writing there:
/// create it (and its parents) when missing, then create and remove a probe file. `what`
/// names what is to be written (e.g. `the classifier scorer cache`, `--out x.npz`), `fix`
/// says what to do.
pub fn ensure_writable_dir(dir: &Path, what: &str, fix: &str) -> anyhow::Result<()> {
    let fail =
        |why: String| anyhow::anyhow!("{what}: cannot write into {} ({why}); {fix}", dir.display());
    if dir.exists() && !dir.is_dir() {
        return Err(fail("it is a file, not a folder".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(format!(".autogan-write-test-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| fail(e.to_string()))?;
    std::fs::remove_file(&probe).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Check, without creating anything, that a folder could be created at `path`: its nearest
/// existing ancestor must be a folder we can write into. `flag` names the option in errors.
pub fn check_can_create(path: &Path, flag: &str) -> anyhow::Result<()> {
    let mut anc = path.parent();
    while let Some(a) = anc {
        let a = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => {
                let probe = a.join(format!(".autogan-write-test-{}", std::process::id()));
                return match std::fs::File::create(&probe) {
                    Ok(_) => {
                        let _ = std::fs::remove_file(&probe);
                        Ok(())
                    }
                    Err(e) => anyhow::bail!(
                        "{flag} {}: cannot create it, {} is not writable ({e}); choose another {flag}",
                        path.display(),
                        a.display()
                    ),
                };
            }
            Ok(_) => anyhow::bail!(
                "{flag} {}: cannot create it, {} is a file, not a folder; choose another {flag}",
                path.display(),
                a.display()
            ),
            Err(_) => anc = a.parent(),
        }
    }
    Ok(())
}
