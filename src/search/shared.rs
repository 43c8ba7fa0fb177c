//! The shared GAN of a search (SPEC sections 3-6), the same for every strategy: the supernet
//! G, the discriminator, their Adam optimisers, the dynamic-reset detector and the counters.
//! One D step per proposed architecture, at the stage's depth of D; a G step on the same
//! architecture after every `n_critic`-th D step.
//!
//! No host sync in the steady state: the D and G losses stay on the device in a [`LossLog`]
//! and the search reads them all at once every `loss_read_every` D steps and at the end of
//! the shared training ([`SharedGan::read_losses`]). Those reads feed the reset windows and
//! the non-finite check, so the dynamic-reset check runs every `loss_read_every` D steps,
//! not after each one.
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::reset::Reset;
use crate::arch::Arch;
use crate::config::SearchConfig;
use crate::data::Dataset;
use crate::gan::adam::Adam;
use crate::gan::checkpoint::{gan_tensors, load_gan_tensors};
use crate::gan::step::{d_update, g_update, LossLog};
use crate::nn::{DiscConfig, Discriminator, GenConfig, SuperGenerator};

pub struct SharedGan {
    pub device: Device,
    pub g_vs: VarStore,
    pub g: SuperGenerator,
    pub d_vs: VarStore,
    pub d: Discriminator,
    pub opt_g: Adam,
    pub opt_d: Adam,
    pub reset: Reset,
    /// Losses not read yet.
    pub losses: LossLog,
    /// D and G steps since the search began (over all iterations).
    pub d_step: u64,
    pub g_step: u64,
    /// Dynamic resets applied.
    pub resets: u64,
}

/// The last D and G loss of a read (NaN where the read held none).
#[derive(Debug, Clone, Copy)]
pub struct LastLosses {
    pub d: f64,
    pub g: f64,
}

impl SharedGan {
    /// Fresh G and D (drawn from libtorch's generator, G first) and optimisers.
    pub fn new(cfg: &SearchConfig, device: Device) -> SharedGan {
        let gcfg = GenConfig {
            latent_dim: cfg.latent_dim,
            gf_dim: cfg.gf_dim,
            bottom_width: cfg.bottom_width,
        };
        let g_vs = VarStore::new(device);
        let g = SuperGenerator::new(&g_vs.root(), &gcfg);
        let d_vs = VarStore::new(device);
        let d = Discriminator::new(&d_vs.root(), &DiscConfig { df_dim: cfg.df_dim });
        crate::nn::init_weights(&d_vs);
        let opt_g = Adam::new(&g_vs, cfg.lr, cfg.beta1, cfg.beta2);
        let opt_d = Adam::new(&d_vs, cfg.lr, cfg.beta1, cfg.beta2);
        SharedGan {
            device,
            g_vs,
            g,
            d_vs,
            d,
            opt_g,
            opt_d,
            reset: Reset::new(cfg.reset_window, cfg.reset_threshold, cfg.reset_mode),
            losses: LossLog::default(),
            d_step: 0,
            g_step: 0,
            resets: 0,
        }
    }

    /// One D step of `arch` at `stage` on the next real batch of `data` (images of the
    /// stage's size), then a G step when one is due. Returns whether a G step ran. The losses
    /// go to [`SharedGan::losses`]; nothing is read back.
    pub fn train_step(
        &mut self,
        cfg: &SearchConfig,
        data: &Dataset,
        arch: &Arch,
        stage: usize,
        seed: u64,
    ) -> Result<bool> {
        let real =
            crate::data::to_gan(&data.batch_at(self.d_step, cfg.batch_size, seed, self.device)?);
        let z = Tensor::randn([cfg.batch_size, cfg.latent_dim], (Kind::Float, self.device));
        let at = (self.device, cfg.precision);
        let (g, d) = (&self.g, &self.d);
        let d_loss = d_update(
            &mut self.opt_d,
            at,
            |x| d.forward_stage(x, true, stage),
            &real,
            || g.forward_t(&z, arch, true),
        );
        self.losses.push_d(d_loss);
        self.d_step += 1;
        if !self.d_step.is_multiple_of(cfg.n_critic) {
            return Ok(false);
        }
        let z = Tensor::randn(
            [cfg.gen_batch_size, cfg.latent_dim],
            (Kind::Float, self.device),
        );
        let g_loss = g_update(
            &mut self.opt_g,
            at,
            |x| d.forward_stage(x, true, stage),
            || g.forward_t(&z, arch, true),
        );
        self.losses.push_g(g_loss);
        self.g_step += 1;
        Ok(true)
    }

    /// Read the pending losses (one host sync), feed them to the reset windows, and fail on a
    /// loss that is not finite. `iteration` (1-based) is for the error message.
    pub fn read_losses(&mut self, iteration: u64) -> Result<LastLosses> {
        let read = self.losses.read()?;
        let last = LastLosses {
            d: read.d.last().copied().unwrap_or(f64::NAN),
            g: read.g.last().copied().unwrap_or(f64::NAN),
        };
        if read.non_finite() {
            bail!(
                "the GAN loss became non-finite at iteration {iteration}, by D step {} (last D \
                 {}, G {}); the last checkpoint is intact: resume it, or lower the learning rate",
                self.d_step,
                last.d,
                last.g
            );
        }
        for &x in &read.d {
            self.reset.push_d(x);
        }
        for &x in &read.g {
            self.reset.push_g(x);
        }
        Ok(last)
    }

    /// Dynamic reset: fresh G and D weights and optimisers, empty loss windows.
    pub fn reset_models(&mut self, cfg: &SearchConfig) {
        self.fresh_models(cfg);
        self.resets += 1;
    }

    /// Fresh G and D weights and optimisers, empty loss windows, not counted as a reset (an
    /// episodic strategy's new episode).
    pub fn fresh_models(&mut self, cfg: &SearchConfig) {
        self.g.reset_parameters();
        crate::nn::init_weights(&self.d_vs);
        self.opt_g = Adam::new(&self.g_vs, cfg.lr, cfg.beta1, cfg.beta2);
        self.opt_d = Adam::new(&self.d_vs, cfg.lr, cfg.beta1, cfg.beta2);
        self.reset.clear();
        self.losses.clear();
    }

    /// G, D and optimiser tensors for the search checkpoint.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        gan_tensors(&self.g_vs, &self.d_vs, &self.opt_g, &self.opt_d)
    }

    /// Restore [`SharedGan::tensors`] from a checkpoint's tensors.
    pub fn load_tensors(&mut self, tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
        load_gan_tensors(
            &self.g_vs,
            &self.d_vs,
            &mut self.opt_g,
            &mut self.opt_d,
            tensors,
            path,
        )
    }
}
