//! What a finished training run left in its directory: the last loss line and the last
//! evaluation of `train.jsonl`, and its `generator.safetensors`. Fan-out commands collect
//! their jobs' results through this, whichever launcher ran them.
use super::RunFiles;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The last `"kind": "eval"` line of a training log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalResult {
    pub step: u64,
    pub scorer: String,
    pub num_images: Option<i64>,
    pub is_mean: f64,
    pub is_std: f64,
    pub fid: f64,
    /// Every metric value of the line by its key (`is_mean`, `fid`, `kid_mean`, `precision`).
    pub values: std::collections::BTreeMap<String, f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainResult {
    pub run_dir: PathBuf,
    /// G steps of the last loss line.
    pub steps: u64,
    pub d_loss: Option<f64>,
    pub g_loss: Option<f64>,
    pub wall_s: Option<f64>,
    pub eval: Option<EvalResult>,
    pub generator: PathBuf,
}

/// Read the result of the finished training run in `dir`; an unfinished run (no
/// `generator.safetensors`, no log) is an error that says so.
pub fn read_train_result(dir: &Path) -> Result<TrainResult> {
    let generator = RunFiles::of(dir).generator();
    if !generator.is_file() {
        bail!(
            "{}: the training did not finish (no generator.safetensors)",
            dir.display()
        );
    }
    let log = RunFiles::of(dir).train_log();
    let text =
        std::fs::read_to_string(&log).with_context(|| format!("cannot read {}", log.display()))?;
    let mut last = None;
    let mut eval = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // a line cut by a crash
        };
        if v["kind"] == "eval" {
            eval = Some(EvalResult {
                step: v["step"].as_u64().unwrap_or(0),
                scorer: v["scorer"].as_str().unwrap_or("").to_string(),
                num_images: v["num_images"].as_i64(),
                is_mean: v["is_mean"].as_f64().unwrap_or(f64::NAN),
                is_std: v["is_std"].as_f64().unwrap_or(f64::NAN),
                fid: v["fid"].as_f64().unwrap_or(f64::NAN),
                values: v
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| !matches!(k.as_str(), "step" | "num_images"))
                            .filter_map(|(k, x)| Some((k.clone(), x.as_f64()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        } else if v["step"].is_u64() {
            last = Some(v);
        }
    }
    let last = last.with_context(|| format!("{}: no training step logged", log.display()))?;
    Ok(TrainResult {
        run_dir: dir.to_path_buf(),
        steps: last["step"].as_u64().unwrap_or(0),
        d_loss: last["d_loss"].as_f64(),
        g_loss: last["g_loss"].as_f64(),
        wall_s: last["wall_s"].as_f64(),
        eval,
        generator,
    })
}
