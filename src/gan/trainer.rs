//! Training a fixed architecture: hinge-loss GAN, n_critic D steps per G step, Adam, EMA of G,
//! checkpoints that resume bit-for-bit on CPU.
//!
//! Randomness: before G step k, libtorch is seeded from (seed, k), and the data order of epoch
//! e comes from (seed, e). The state of a run is therefore its weights, optimiser moments and
//! two counters, all of which a checkpoint holds: a resumed run repeats exactly what an
//! uninterrupted one would have done.
use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use super::adam::Adam;
use super::checkpoint::{gan_tensors, load_gan_tensors, Meta};
use super::{named_all, named_trainable, step, Ema};
use crate::arch::Arch;
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::nn::{DiscConfig, Discriminator, GenConfig, Generator};

pub const CHECKPOINT_FORMAT: &str = "autogan-train-checkpoint/1";

/// Losses of one G step (the last D step's loss and the G loss).
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    /// The G step these losses are of (1 for the first).
    pub step: u64,
    pub d_loss: f64,
    pub g_loss: f64,
    pub lr: f64,
}

/// The training loop reads the losses back (one host sync) at least every this many G steps,
/// besides its log, sample, evaluation and checkpoint points.
pub const READ_EVERY: u64 = 20;

/// Losses of a G step not yet read back: float32 scalars on the device.
struct Pending {
    step: u64,
    lr: f64,
    d_loss: Tensor,
    g_loss: Tensor,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub arch: Arch,
    pub seed: u64,
    pub device: Device,
    pub g_vs: VarStore,
    pub g: Generator,
    pub d_vs: VarStore,
    pub d: Discriminator,
    pub ema_vs: VarStore,
    pub g_ema: Generator,
    pub opt_g: Adam,
    pub opt_d: Adam,
    ema: Ema,
    pending: Vec<Pending>,
    /// Completed G steps.
    pub g_step: u64,
    /// Completed D steps.
    pub d_step: u64,
    /// Latents for the sample grids, fixed for the whole run.
    pub fixed_z: Tensor,
}

/// A seed for libtorch from the run seed and a counter (splitmix64 of both).
pub fn mix_seed(seed: u64, counter: u64) -> i64 {
    let mut z = seed.wrapping_add(counter.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

pub fn gen_config(cfg: &TrainConfig) -> GenConfig {
    GenConfig {
        latent_dim: cfg.latent_dim,
        gf_dim: cfg.gf_dim,
        bottom_width: cfg.bottom_width,
    }
}

impl Trainer {
    /// Fresh models with the SPEC's initialisation, from `seed`.
    pub fn new(cfg: TrainConfig, arch: Arch, seed: u64, device: Device) -> Result<Trainer> {
        cfg.validate()?;
        tch::manual_seed(mix_seed(seed, u64::MAX));
        let gcfg = gen_config(&cfg);
        let g_vs = VarStore::new(device);
        // The constructors draw SPEC section 2's initialisation, in construction order, from
        // the seeded libtorch generator, so the same seed gives the same weights in every
        // process. (`nn::init_weights` draws the same distributions, in name order; it is for
        // re-initialising models that exist, as the search's dynamic reset does.)
        let g = Generator::new(&g_vs.root(), &arch, &gcfg);
        let d_vs = VarStore::new(device);
        let d = Discriminator::new(&d_vs.root(), &DiscConfig { df_dim: cfg.df_dim });
        let mut ema_vs = VarStore::new(device);
        let g_ema = Generator::new(&ema_vs.root(), &arch, &gcfg);
        ema_vs.copy(&g_vs)?;
        ema_vs.freeze();
        let fixed_z = Tensor::randn([64, cfg.latent_dim], (Kind::Float, device));
        let opt_g = Adam::new(&g_vs, cfg.lr, cfg.beta1, cfg.beta2);
        let opt_d = Adam::new(&d_vs, cfg.lr, cfg.beta1, cfg.beta2);
        let ema = Ema::new(&ema_vs, &g_vs);
        Ok(Trainer {
            cfg,
            arch,
            seed,
            device,
            g_vs,
            g,
            d_vs,
            d,
            ema_vs,
            g_ema,
            opt_g,
            opt_d,
            ema,
            pending: Vec::new(),
            g_step: 0,
            d_step: 0,
            fixed_z,
        })
    }

    /// Learning rate at the current G step (linear decay to 0 when enabled).
    pub fn current_lr(&self) -> f64 {
        if self.cfg.lr_decay && self.cfg.steps > 0 {
            self.cfg.lr * (1.0 - self.g_step as f64 / self.cfg.steps as f64).max(0.0)
        } else {
            self.cfg.lr
        }
    }

    /// One G step: n_critic D steps on real batches, then the G step and the EMA update, and
    /// the losses read back (a host sync: see [`Trainer::step_deferred`] for the loop's way).
    /// `data` must hold images of size `cfg.img_size`, on `self.device` or the CPU.
    pub fn step(&mut self, data: &Dataset) -> Result<StepStats> {
        self.step_deferred(data)?;
        Ok(self.read_losses()?.expect("a step was just taken"))
    }

    /// One G step whose losses stay on the device until [`Trainer::read_losses`]: nothing in
    /// it waits for the device.
    pub fn step_deferred(&mut self, data: &Dataset) -> Result<()> {
        tch::manual_seed(mix_seed(self.seed, self.g_step));
        let lr = self.current_lr();
        self.opt_g.lr = lr;
        self.opt_d.lr = lr;
        let bs = self.cfg.batch_size;
        let (dev, prec) = (self.device, self.cfg.precision);
        let mut d_loss = None;
        for _ in 0..self.cfg.n_critic {
            let real = data.batch_at(self.d_step, bs, self.seed, self.device)?;
            let real = crate::data::to_gan(&real);
            let z = Tensor::randn([bs, self.cfg.latent_dim], (Kind::Float, self.device));
            let (g, d) = (&self.g, &self.d);
            let loss = step::d_update(
                &mut self.opt_d,
                (dev, prec),
                |x| d.forward_t(x, true),
                &real,
                || g.forward_t(&z, true),
            );
            self.d_step += 1;
            d_loss = Some(loss);
        }
        let z = Tensor::randn(
            [self.cfg.gen_batch_size, self.cfg.latent_dim],
            (Kind::Float, self.device),
        );
        let (g, d) = (&self.g, &self.d);
        let g_loss = step::g_update(
            &mut self.opt_g,
            (dev, prec),
            |x| d.forward_t(x, true),
            || g.forward_t(&z, true),
        );
        self.ema.update(self.cfg.ema);
        self.g_step += 1;
        self.pending.push(Pending {
            step: self.g_step,
            lr,
            d_loss: d_loss.expect("n_critic >= 1"),
            g_loss,
        });
        Ok(())
    }

    /// Read back the losses of the steps taken since the last read, in one host sync. Returns
    /// the last step's (None when no step is pending); an error naming the first step whose
    /// loss is not finite.
    pub fn read_losses(&mut self) -> Result<Option<StepStats>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let pending = std::mem::take(&mut self.pending);
        let all: Vec<Tensor> = pending
            .iter()
            .flat_map(|p| [p.d_loss.to_kind(Kind::Float), p.g_loss.to_kind(Kind::Float)])
            .collect();
        crate::device::note_host_sync();
        let values = Vec::<f32>::try_from(Tensor::stack(&all, 0).to_device(Device::Cpu))?;
        let mut last = None;
        for (p, v) in pending.iter().zip(values.chunks(2)) {
            let stats = StepStats {
                step: p.step,
                d_loss: v[0] as f64,
                g_loss: v[1] as f64,
                lr: p.lr,
            };
            if !stats.d_loss.is_finite() || !stats.g_loss.is_finite() {
                bail!(
                    "the loss became {} at G step {} (D loss {}, G loss {}): training diverged",
                    if stats.d_loss.is_nan() || stats.g_loss.is_nan() {
                        "NaN"
                    } else {
                        "infinite"
                    },
                    stats.step,
                    stats.d_loss,
                    stats.g_loss
                );
            }
            last = Some(stats);
        }
        Ok(last)
    }

    /// The EMA generator's output (eval mode, batch-norm statistics of the trained G) for `z`.
    pub fn sample_ema(&self, z: &Tensor) -> Tensor {
        super::copy_buffers(&self.ema_vs, &self.g_vs);
        tch::no_grad(|| self.g_ema.forward_t(z, false))
    }

    /// Generator weights for export: EMA parameters + the trained G's buffers, reference names.
    pub fn ema_generator_tensors(&self) -> Vec<(String, Tensor)> {
        super::copy_buffers(&self.ema_vs, &self.g_vs);
        named_all(&self.ema_vs)
    }

    /// Metadata describing the generator (arch and sizes), stored in weight files.
    pub fn generator_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("arch".into(), self.arch.to_json().to_string());
        m.insert("latent_dim".into(), self.cfg.latent_dim.to_string());
        m.insert("gf_dim".into(), self.cfg.gf_dim.to_string());
        m.insert("bottom_width".into(), self.cfg.bottom_width.to_string());
        m.insert("img_size".into(), self.cfg.img_size.to_string());
        m.insert("g_step".into(), self.g_step.to_string());
        m
    }

    /// Write the full training state to `path` (atomically).
    pub fn save_checkpoint(&self, path: &Path, extra: &serde_json::Value) -> Result<()> {
        let mut tensors = gan_tensors(&self.g_vs, &self.d_vs, &self.opt_g, &self.opt_d);
        let ema = self.ema_vs.variables();
        for (n, _) in named_trainable(&self.g_vs) {
            if let Some(e) = ema.get(&n) {
                tensors.push((format!("ema.{n}"), e.shallow_clone()));
            }
        }
        tensors.push(("fixed_z".into(), self.fixed_z.shallow_clone()));
        let mut meta = BTreeMap::new();
        meta.insert("format".into(), CHECKPOINT_FORMAT.to_string());
        meta.insert("g_step".into(), self.g_step.to_string());
        meta.insert("d_step".into(), self.d_step.to_string());
        meta.insert("seed".into(), self.seed.to_string());
        meta.insert("config".into(), serde_json::to_string(&self.cfg)?);
        meta.insert("arch".into(), self.arch.to_json().to_string());
        meta.insert("extra".into(), extra.to_string());
        crate::safetensors::write(path, &tensors, &meta)
    }

    /// Rebuild a trainer from a checkpoint written by [`Trainer::save_checkpoint`].
    /// Returns the trainer and the checkpoint's `extra` value.
    pub fn load_checkpoint(path: &Path, device: Device) -> Result<(Trainer, serde_json::Value)> {
        let meta = Meta::read(path, CHECKPOINT_FORMAT, "training")?;
        let cfg: TrainConfig = meta.json("config")?;
        let arch = Arch::from_json_str(meta.get("arch")?, &path.display().to_string())?;
        let seed: u64 = meta.parse("seed")?;
        let mut tr = Trainer::new(cfg, arch, seed, device)?;
        let tensors: HashMap<String, Tensor> =
            crate::safetensors::read(path)?.into_iter().collect();
        load_gan_tensors(
            &tr.g_vs,
            &tr.d_vs,
            &mut tr.opt_g,
            &mut tr.opt_d,
            &tensors,
            path,
        )?;
        let ema = tr.ema_vs.variables();
        tch::no_grad(|| -> Result<()> {
            for (n, _) in named_trainable(&tr.g_vs) {
                let t = &ema[&n];
                t.shallow_clone()
                    .copy_(super::checked(&tensors, path, &format!("ema.{n}"), t)?);
            }
            Ok(())
        })?;
        if let Some(z) = tensors.get("fixed_z") {
            tr.fixed_z = z.to_device(device);
        }
        tr.g_step = meta.parse("g_step")?;
        tr.d_step = meta.parse("d_step")?;
        let extra = meta
            .get_opt("extra")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        Ok((tr, extra))
    }
}
