//! Loading and saving the variables of a `VarStore` by name as safetensors (the format of the
//! reference checkpoints once converted, and of our own). The file format itself (metadata
//! included) lives in `crate::safetensors`; this module matches names and shapes.
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::nn::VarStore;

/// How many missing / misshapen names an error message lists.
const LIST_AT_MOST: usize = 10;

/// Copies every variable of `vs` (trainable or not: weights, batch-norm running statistics,
/// spectral-norm u / v) from the safetensors file at `path`, converting dtype and device.
///
/// The names must match exactly: if any variable of `vs` is missing from the file or has
/// another shape, or the file holds a tensor `vs` lacks (weights of another architecture),
/// nothing is copied and the error lists the first few such names (with both shapes). The one
/// exception is PyTorch's batch-norm counter `*.num_batches_tracked`, which changes no output
/// and is ignored.
pub fn load_weights(vs: &VarStore, path: &Path) -> Result<()> {
    let file: HashMap<String, tch::Tensor> = crate::safetensors::read(path)?.into_iter().collect();
    let mut ours: Vec<(String, tch::Tensor)> = vs.variables().into_iter().collect();
    ours.sort_by(|a, b| a.0.cmp(&b.0));

    let mut missing = Vec::new();
    let mut misshapen = Vec::new();
    let known: std::collections::HashSet<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
    let mut extra: Vec<String> = file
        .iter()
        .filter(|(n, _)| !known.contains(n.as_str()) && !n.ends_with(".num_batches_tracked"))
        .map(|(n, t)| format!("{n} (file {:?})", t.size()))
        .collect();
    extra.sort();
    for (name, var) in &ours {
        match file.get(name) {
            None => missing.push(format!("{name} (ours {:?})", var.size())),
            Some(t) if t.size() != var.size() => misshapen.push(format!(
                "{name}: file {:?}, ours {:?}",
                t.size(),
                var.size()
            )),
            Some(_) => {}
        }
    }
    if !missing.is_empty() || !misshapen.is_empty() || !extra.is_empty() {
        let mut msg = format!(
            "{} does not fit this model: {} of its {} variables are missing, {} have another \
             shape, and the file holds {} tensor(s) the model does not have",
            path.display(),
            missing.len(),
            ours.len(),
            misshapen.len(),
            extra.len()
        );
        for (what, list) in [
            ("missing", &missing),
            ("shape differs", &misshapen),
            ("not in this model", &extra),
        ] {
            if !list.is_empty() {
                msg.push_str(&format!("\n  {what}:"));
                for item in list.iter().take(LIST_AT_MOST) {
                    msg.push_str(&format!("\n    {item}"));
                }
                if list.len() > LIST_AT_MOST {
                    msg.push_str(&format!("\n    ... and {} more", list.len() - LIST_AT_MOST));
                }
            }
        }
        msg.push_str(
            "\nThe weights were probably made for another architecture or other sizes: pass the \
             --arch file they were trained with and the same --gf-dim / --df-dim / --latent-dim / \
             --bottom-width.",
        );
        bail!(msg);
    }
    tch::no_grad(|| -> Result<()> {
        for (name, var) in &ours {
            let src = &file[name];
            var.shallow_clone()
                .f_copy_(&src.to_kind(var.kind()).to_device(var.device()))
                .with_context(|| format!("{}: copying {name}", path.display()))?;
        }
        Ok(())
    })
}

/// Writes every variable of `vs` (sorted by name) with string `metadata` (e.g. the arch JSON
/// and the sizes) to `path` as safetensors, through a temporary file and a rename.
pub fn save_weights(vs: &VarStore, path: &Path, metadata: &[(String, String)]) -> Result<()> {
    let mut tensors: Vec<(String, tch::Tensor)> = vs.variables().into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let meta: BTreeMap<String, String> = metadata.iter().cloned().collect();
    crate::safetensors::write(path, &tensors, &meta)
}
