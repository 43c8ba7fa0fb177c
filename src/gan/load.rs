//! Loading a trained generator from a run directory, a training checkpoint, or a weight file
//! (`--generator W.safetensors`, with `--arch` or the file's own metadata), for `eval` and
//! `sample`.
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Tensor};

use crate::arch::Arch;
use crate::config::TrainConfig;
use crate::gan::checked;
use crate::gan::checkpoint::Meta;
use crate::gan::checkpoint::SEARCH_CHECKPOINT_FORMAT as SEARCH_FORMAT;
use crate::gan::trainer::{gen_config, CHECKPOINT_FORMAT};
use crate::nn::{GenConfig, Generator};
use crate::run::RunFiles;

/// The generator sizes a bare weight file needs (`--latent-dim`, `--gf-dim`,
/// `--bottom-width`); None: the file's metadata, else the paper's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    pub latent_dim: Option<i64>,
    pub gf_dim: Option<i64>,
    pub bottom_width: Option<i64>,
}

/// A generator ready to run in eval mode.
pub struct LoadedGenerator {
    pub arch: Arch,
    pub cfg: GenConfig,
    pub vs: VarStore,
    pub g: Generator,
    /// What it was loaded from, for messages and result files.
    pub source: String,
}

impl LoadedGenerator {
    /// Images in [-1, 1], [n, 3, H, W], for latents z [n, latent_dim]; eval mode, no grad.
    pub fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.g.forward_t(z, false))
    }
}

/// Resolve `--checkpoint` / `--generator` + `--arch` into a generator.
pub fn load(
    checkpoint: Option<&Path>,
    generator: Option<&Path>,
    arch: Option<&Path>,
    size: &Sizes,
    device: Device,
) -> Result<LoadedGenerator> {
    match (checkpoint, generator) {
        (Some(_), Some(_)) => bail!("give either --checkpoint or --generator, not both"),
        (None, None) => bail!(
            "no generator given: use --checkpoint RUN_DIR (a training run) or --generator W.safetensors --arch FILE"
        ),
        (Some(c), None) => {
            let file = checkpoint_file(c)?;
            let meta = crate::safetensors::read_metadata(&file)?;
            if meta.get("format").map(String::as_str) == Some(CHECKPOINT_FORMAT) {
                from_training_checkpoint(&file, arch, device)
            } else {
                from_weight_file(&file, arch, size, device)
            }
        }
        (None, Some(w)) => from_weight_file(w, arch, size, device),
    }
}

/// What to say when a search run (or its checkpoint) is given where a trained generator is
/// expected: the search trains a supernet; its result is an architecture to train.
fn search_run_note(p: &Path) -> String {
    let run = if p.is_dir() {
        p.to_path_buf()
    } else {
        // RUN/checkpoint/last.safetensors -> RUN
        p.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let best = RunFiles::of(&run).best_arch();
    let trained = PathBuf::from(format!("{}-best", run.display()));
    let unfinished = if best.is_file() {
        String::new()
    } else {
        format!(
            " (best.json is written when the search ends: continue it first with `autogan search \
             --resume {}`)",
            run.display()
        )
    };
    format!(
        "{} is from an architecture search: it holds a shared-weight supernet, not a trained \
         generator, so it cannot be sampled or scored. Train the architecture the search found, \
         then use that run: `autogan train --arch {} --out {}`, then `autogan eval {}`{unfinished}",
        p.display(),
        best.display(),
        trained.display(),
        trained.display()
    )
}

/// A run directory -> its `generator.safetensors`, else its last checkpoint; a file -> itself.
fn checkpoint_file(p: &Path) -> Result<PathBuf> {
    if p.is_dir() && RunFiles::of(p).search_log().is_file() {
        bail!(search_run_note(p));
    }
    if p.is_dir() {
        let g = RunFiles::of(p).generator();
        if g.is_file() {
            return Ok(g);
        }
        let c = RunFiles::of(p).last_checkpoint();
        if c.is_file() {
            return Ok(c);
        }
        bail!(
            "{}: neither generator.safetensors nor checkpoint/last.safetensors found: is it a training run directory?",
            p.display()
        );
    }
    if !p.is_file() {
        bail!("{}: no such file or directory", p.display());
    }
    Ok(p.to_path_buf())
}

/// The architecture of a weight file: its own (metadata) and `--arch` must agree when both
/// are there; either alone is used.
fn resolve_arch(w: &Path, own: Option<Arch>, flag: Option<&Path>) -> Result<Arch> {
    match (own, flag) {
        (Some(own), Some(f)) => {
            let given = Arch::load(f)?;
            if given != own {
                bail!(
                    "{} holds a generator of architecture {} but --arch {} is {}: leave --arch out \
                     (the file names its own architecture), or give the weights trained for {}",
                    w.display(),
                    own.vector_string(),
                    f.display(),
                    given.vector_string(),
                    f.display()
                );
            }
            Ok(own)
        }
        (Some(own), None) => Ok(own),
        (None, Some(f)) => Arch::load(f),
        (None, None) => bail!(
            "{}: the file does not say its architecture: pass --arch FILE (and --gf-dim/--latent-dim/--bottom-width if not the defaults 256/128/4)",
            w.display()
        ),
    }
}

fn from_weight_file(
    w: &Path,
    arch: Option<&Path>,
    size: &Sizes,
    device: Device,
) -> Result<LoadedGenerator> {
    if w.is_dir() {
        bail!(
            "--generator {}: this is a folder; --generator takes a weight file (.safetensors). \
             For a training run directory pass it as RUN_DIR (eval) or --checkpoint RUN_DIR (sample)",
            w.display()
        );
    }
    let meta = crate::safetensors::read_metadata(w)?;
    if meta.get("format").map(String::as_str) == Some(SEARCH_FORMAT) {
        bail!(search_run_note(w));
    }
    let own = match meta.get("arch") {
        Some(s) => Some(Arch::from_json_str(
            s,
            &format!("{} (metadata)", w.display()),
        )?),
        None => None,
    };
    let arch = resolve_arch(w, own, arch)?;
    let num = |flag: Option<i64>, key: &str, default: i64| -> Result<i64> {
        if let Some(v) = flag {
            return Ok(v);
        }
        match meta.get(key) {
            Some(s) => s.parse().with_context(|| {
                format!("{}: metadata {key} = '{s}' is not a number", w.display())
            }),
            None => Ok(default),
        }
    };
    let cfg = GenConfig {
        latent_dim: num(size.latent_dim, "latent_dim", 128)?,
        gf_dim: num(size.gf_dim, "gf_dim", 256)?,
        bottom_width: num(size.bottom_width, "bottom_width", 4)?,
    };
    let vs = VarStore::new(device);
    let g = Generator::new(&vs.root(), &arch, &cfg);
    crate::nn::load_weights(&vs, w)?;
    Ok(LoadedGenerator {
        arch,
        cfg,
        vs,
        g,
        source: w.display().to_string(),
    })
}

/// The EMA generator of a training checkpoint, read without building the rest of the
/// training state (discriminator, Adam moments): its trainable weights from the `ema.*`
/// tensors, its buffers from the generator's `g.*`, as the trainer exports them.
fn from_training_checkpoint(
    file: &Path,
    arch: Option<&Path>,
    device: Device,
) -> Result<LoadedGenerator> {
    let meta = Meta::read(file, CHECKPOINT_FORMAT, "training")?;
    let train: TrainConfig = meta.json("config")?;
    let own = Arch::from_json_str(meta.get("arch")?, &file.display().to_string())?;
    let arch = resolve_arch(file, Some(own), arch)?;
    let cfg = gen_config(&train);
    let tensors: HashMap<String, Tensor> = crate::safetensors::read(file)?.into_iter().collect();
    let vs = VarStore::new(device);
    let g = Generator::new(&vs.root(), &arch, &cfg);
    tch::no_grad(|| -> Result<()> {
        for (n, v) in vs.variables() {
            let key = match v.requires_grad() {
                true => format!("ema.{n}"),
                false => format!("g.{n}"),
            };
            v.shallow_clone().copy_(checked(&tensors, file, &key, &v)?);
        }
        Ok(())
    })?;
    Ok(LoadedGenerator {
        arch,
        cfg,
        vs,
        g,
        source: file.display().to_string(),
    })
}

/// `n` images drawn from a generator (z ~ N(0, I) from libtorch's seeded generator), as an
/// image source for the scorers.
pub struct Generated {
    pub gen: LoadedGenerator,
    pub n: usize,
    pub what: String,
}

impl Generated {
    pub fn new(gen: LoadedGenerator, n: usize) -> Generated {
        let what = format!("{} ({n} generated images)", gen.source);
        Generated { gen, n, what }
    }
}

impl crate::metrics::source::ImageSource for Generated {
    fn len(&self) -> usize {
        self.n
    }
    fn describe(&self) -> &str {
        &self.what
    }
    fn batch(&self, lo: usize, hi: usize) -> Result<Vec<Tensor>> {
        let z = Tensor::randn(
            [(hi - lo) as i64, self.gen.cfg.latent_dim],
            (tch::Kind::Float, self.gen.vs.device()),
        );
        Ok(vec![crate::data::from_gan(&self.gen.generate(&z))])
    }
}
