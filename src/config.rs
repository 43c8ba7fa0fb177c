//! Typed configuration: presets from `configs/<name>.json`, overridden by command-line flags,
//! then validated. A preset file holds a `train` section (and, for the search, `search`).
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything a training run depends on. Stored in the run directory as `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Data set name or folder; None = the built-in `shapes` set.
    pub dataset: Option<String>,
    /// Output image size (32 for CIFAR-10, 48 for STL-10); bottom_width * 8 must equal it.
    pub img_size: i64,
    pub gf_dim: i64,
    pub df_dim: i64,
    pub latent_dim: i64,
    pub bottom_width: i64,
    /// D batch size.
    pub batch_size: i64,
    /// G batch size.
    pub gen_batch_size: i64,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// D steps per G step.
    pub n_critic: u64,
    /// Number of G steps.
    pub steps: u64,
    /// Linear decay of both learning rates to 0 over `steps`.
    pub lr_decay: bool,
    /// EMA decay of G's parameters after every G step.
    pub ema: f64,
    /// Checkpoint every N G steps (and at the end).
    pub checkpoint_every: u64,
    /// Sample grid every N G steps (and at the end).
    pub sample_every: u64,
    /// A `train.jsonl` line every N G steps.
    pub log_every: u64,
    /// Number of images of the built-in set (ignored by other data sets).
    pub shapes_count: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        // The paper's CIFAR-10 training setting (SPEC section 5).
        TrainConfig {
            dataset: Some("cifar10".into()),
            img_size: 32,
            gf_dim: 256,
            df_dim: 128,
            latent_dim: 128,
            bottom_width: 4,
            batch_size: 64,
            gen_batch_size: 128,
            lr: 2e-4,
            beta1: 0.0,
            beta2: 0.9,
            n_critic: 5,
            steps: 50_000,
            lr_decay: false,
            ema: 0.999,
            checkpoint_every: 1000,
            sample_every: 1000,
            log_every: 50,
            shapes_count: 20_000,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let pos = |v: i64, name: &str| -> Result<()> {
            if v < 1 {
                bail!("{name} = {v}: must be at least 1");
            }
            Ok(())
        };
        pos(self.gf_dim, "gf_dim")?;
        pos(self.df_dim, "df_dim")?;
        pos(self.latent_dim, "latent_dim")?;
        pos(self.bottom_width, "bottom_width")?;
        pos(self.batch_size, "batch_size")?;
        pos(self.gen_batch_size, "gen_batch_size")?;
        if self.bottom_width * 8 != self.img_size {
            bail!(
                "img_size {} does not match bottom_width {}: three cells each double the size, so \
                 img_size must be 8 x bottom_width (--bottom-width {} for {}x{} images)",
                self.img_size,
                self.bottom_width,
                self.img_size / 8,
                self.img_size,
                self.img_size
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("lr = {}: must be a positive number", self.lr);
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            bail!(
                "beta1 {} / beta2 {}: must be in [0, 1)",
                self.beta1,
                self.beta2
            );
        }
        if !(0.0..1.0).contains(&self.ema) {
            bail!("ema = {}: must be in [0, 1)", self.ema);
        }
        if self.n_critic < 1 {
            bail!("n_critic = 0: must be at least 1");
        }
        if self.checkpoint_every < 1 || self.sample_every < 1 || self.log_every < 1 {
            bail!("checkpoint_every, sample_every and log_every must be at least 1");
        }
        Ok(())
    }
}

/// A preset file: `configs/<name>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub train: Option<TrainConfig>,
    #[serde(default)]
    pub search: Option<serde_json::Value>,
}

/// Folder of the preset files: `$AUTOGAN_CONFIGS`, else `configs/` beside the working
/// directory, else the `configs/` of the source tree this binary was built from.
pub fn configs_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTOGAN_CONFIGS").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("configs");
    if local.join("quick.json").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// Read a preset by name (`quick`, `cifar10`, `stl10`) or by path to a JSON file.
pub fn load_preset(name: &str) -> Result<(PathBuf, Preset)> {
    let path = if name.ends_with(".json") || name.contains('/') {
        PathBuf::from(name)
    } else {
        configs_dir().join(format!("{name}.json"))
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "preset '{name}': cannot read {} (known presets: quick, cifar10, stl10 in {})",
            path.display(),
            configs_dir().display()
        )
    })?;
    let preset: Preset = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid preset file", path.display()))?;
    Ok((path, preset))
}

/// Read a JSON file into T, naming the file in any error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}
