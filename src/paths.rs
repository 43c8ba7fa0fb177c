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
