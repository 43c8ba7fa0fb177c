//! The on-disk cache of reference features: the features (float32 `[n, d]`) and their
//! statistics (float64 `mu` `[d]`, `sigma` `[d, d]`) of the real images a `--fid-ref` names,
//! kept in `$AUTOGAN_HOME/refs/` so that a data set or folder is scored once per scorer,
//! protocol, precision and image count, not on every run.
//!
//! A cache file is a safetensors file whose metadata holds its full key: what the images are
//! (a data set's name, folder and size; a folder's listing with sizes and modification
//! times), how many, and which scorer made the features (its weights file, size and time,
//! the protocol, the precision). A file whose key, shapes or contents do not match is
//! reported and rebuilt; files are written atomically (`run::atomic_write_with`).
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

use crate::metrics::Stats;

/// Bump when the file layout changes: older files then no longer match their key.
const VERSION: &str = "autogan-ref-v1";

/// The identity of one reference: its full key and the file it is cached in.
#[derive(Debug, Clone)]
pub struct RefKey {
    pub key: String,
    pub path: PathBuf,
}

/// What a cache lookup found.
pub enum Lookup {
    /// A valid file: the reference's statistics and features.
    Hit(Stats, Tensor),
    /// No file yet.
    Missing,
    /// A file that cannot be used (truncated, another key, wrong shapes): why.
    Invalid(String),
}

/// `path`'s identity for a key: the absolute path, the size and the modification time
/// (`-` when it cannot be read).
pub fn file_identity(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match std::fs::metadata(path) {
        Ok(m) => {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{}:{t}", abs.display(), m.len())
        }
        Err(_) => format!("{}:-", abs.display()),
    }
}

/// The key of the reference `source` (a description that changes whenever the images
/// do), `n` images, features of `scorer` (a description that changes whenever the features
/// would). `label` (the data set's or folder's short name) starts the file name.
pub fn key(label: &str, source: &str, n: usize, scorer: &str) -> RefKey {
    use md5::{Digest, Md5};
    let key = format!("{VERSION}\nsource {source}\nimages {n}\nscorer {scorer}");
    let digest = Md5::digest(key.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let safe: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    RefKey {
        key,
        path: crate::paths::home()
            .join("refs")
            .join(format!("{safe}-{n}-{hex}.safetensors")),
    }
}

/// Read and check the cache file of `k` for features `dim` wide.
pub fn lookup(k: &RefKey, n: usize, dim: i64) -> Lookup {
    if !k.path.exists() {
        return Lookup::Missing;
    }
    match read(k, n, dim) {
        Ok((s, f)) => Lookup::Hit(s, f),
        Err(e) => Lookup::Invalid(format!("{e:#}")),
    }
}

fn read(k: &RefKey, n: usize, dim: i64) -> Result<(Stats, Tensor)> {
    let meta = crate::safetensors::read_metadata(&k.path)?;
    if meta.get("key") != Some(&k.key) {
        bail!("it was written for another reference or scorer");
    }
    let mut t: BTreeMap<String, Tensor> = crate::safetensors::read(&k.path)?.into_iter().collect();
    let (Some(f), Some(mu), Some(sigma)) =
        (t.remove("features"), t.remove("mu"), t.remove("sigma"))
    else {
        bail!("it lacks one of the tensors features, mu, sigma");
    };
    let n = n as i64;
    if f.size() != [n, dim] || f.kind() != Kind::Float {
        bail!(
            "its features are {:?} {:?}, not float32 [{n}, {dim}]",
            f.kind(),
            f.size()
        );
    }
    if mu.size() != [dim] || sigma.size() != [dim, dim] {
        bail!("its statistics are not {dim}-dimensional");
    }
    let finite = f.isfinite().all().int64_value(&[]) == 1
        && mu.isfinite().all().int64_value(&[]) == 1
        && sigma.isfinite().all().int64_value(&[]) == 1;
    if !finite {
        bail!("it holds values that are not finite");
    }
    Ok((Stats::new(mu, sigma, n as u64)?, f))
}

/// Write the cache file of `k` atomically (creating `$AUTOGAN_HOME/refs`).
pub fn store(k: &RefKey, stats: &Stats, features: &Tensor) -> Result<()> {
    if let Some(dir) = k.path.parent() {
        crate::paths::ensure_writable_dir(
            dir,
            "the reference feature cache",
            "set AUTOGAN_HOME to a folder you can write",
        )?;
    }
    let meta = BTreeMap::from([("key".to_string(), k.key.clone())]);
    // Written whole under a name of this process, then renamed: runs that cache the same
    // reference at once (the jobs of `compare`) each put a whole file in place.
    let mut own = k.path.clone().into_os_string();
    own.push(format!(".{}", std::process::id()));
    let own = PathBuf::from(own);
    crate::safetensors::write(
        &own,
        &[
            ("features".into(), features.to_kind(Kind::Float)),
            ("mu".into(), stats.mu.shallow_clone()),
            ("sigma".into(), stats.sigma.shallow_clone()),
        ],
        &meta,
    )?;
    std::fs::rename(&own, &k.path).map_err(|e| {
        let _ = std::fs::remove_file(&own);
        anyhow::anyhow!(
            "cannot rename {} to {}: {e}",
            own.display(),
            k.path.display()
        )
    })
}

/// The identity of `scorer`'s features for the reference cache key: its name, protocol and
/// precision, and the file of its weights (Inception's from `inception` or the cache, or the
/// cached classifier's of `spec`).
pub fn scorer_identity(
    scorer: &dyn crate::metrics::Scorer,
    inception: Option<&Path>,
    protocol: crate::metrics::Protocol,
    precision: impl std::fmt::Debug,
    spec: &crate::data::DataSpec,
) -> String {
    let weights = match scorer.name() {
        "inception" => crate::paths::inception_weights(inception),
        _ => crate::metrics::classifier::cache_path(spec).unwrap_or_default(),
    };
    format!(
        "{} protocol {} precision {:?} weights {}",
        scorer.name(),
        protocol.name(),
        precision,
        file_identity(&weights)
    )
}
