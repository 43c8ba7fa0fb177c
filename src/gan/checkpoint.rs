//! What the training and the search checkpoints have in common: the GAN's tensors (`g.*`,
//! `d.*`, `opt_g.*`, `opt_d.*`) and the metadata, read with its format checked and every
//! missing or malformed field named together with the file.
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Tensor;

use super::adam::Adam;
use super::{load_prefixed, named_all};

/// The `format` of a search's checkpoint (`search::run` writes it): known here, below the
/// search, so that loading a generator can tell a search checkpoint from a training one.
pub const SEARCH_CHECKPOINT_FORMAT: &str = "autogan-search-checkpoint/1";

/// Every variable of G and D (`g.{name}`, `d.{name}`) and both optimisers' states
/// (`opt_g.*`, `opt_d.*`).
pub fn gan_tensors(
    g_vs: &VarStore,
    d_vs: &VarStore,
    opt_g: &Adam,
    opt_d: &Adam,
) -> Vec<(String, Tensor)> {
    let mut t: Vec<(String, Tensor)> = Vec::new();
    for (n, x) in named_all(g_vs) {
        t.push((format!("g.{n}"), x));
    }
    for (n, x) in named_all(d_vs) {
        t.push((format!("d.{n}"), x));
    }
    t.extend(opt_g.state("opt_g"));
    t.extend(opt_d.state("opt_d"));
    t
}

/// Restore what [`gan_tensors`] wrote; errors name the checkpoint `path`.
pub fn load_gan_tensors(
    g_vs: &VarStore,
    d_vs: &VarStore,
    opt_g: &mut Adam,
    opt_d: &mut Adam,
    tensors: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<()> {
    load_prefixed(g_vs, "g", tensors, path)?;
    load_prefixed(d_vs, "d", tensors, path)?;
    opt_g
        .load_state(tensors, "opt_g")
        .with_context(|| path.display().to_string())?;
    opt_d
        .load_state(tensors, "opt_d")
        .with_context(|| path.display().to_string())?;
    Ok(())
}

/// The string metadata of a checkpoint whose `format` was checked.
pub struct Meta {
    path: PathBuf,
    map: BTreeMap<String, String>,
}

impl Meta {
    /// Read the metadata of `path` and check that its `format` is `format`; `what` names the
    /// kind of checkpoint in the error ("training", "search").
    pub fn read(path: &Path, format: &str, what: &str) -> Result<Meta> {
        let map = crate::safetensors::read_metadata(path)?;
        if map.get("format").map(String::as_str) != Some(format) {
            bail!(
                "{}: not an autogan {what} checkpoint (format {:?}, expected {format})",
                path.display(),
                map.get("format")
            );
        }
        Ok(Meta {
            path: path.to_path_buf(),
            map,
        })
    }

    /// A field that must be there.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.map
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("{}: checkpoint metadata lacks '{key}'", self.path.display()))
    }

    /// A field that may be missing (older checkpoints).
    pub fn get_opt(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// A field parsed with `FromStr` (counters, seeds).
    pub fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.get(key)?;
        s.parse().map_err(|e| {
            anyhow::anyhow!(
                "{}: checkpoint metadata '{key}' = {s:?} is invalid: {e}",
                self.path.display()
            )
        })
    }

    /// A field holding JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.get(key)?).with_context(|| {
            format!(
                "{}: checkpoint metadata '{key}' is invalid",
                self.path.display()
            )
        })
    }
}
