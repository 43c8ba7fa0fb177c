//! The search loop (SPEC section 6): shared-weight GAN training with a new architecture per
//! D step, REINFORCE updates of the stage's controller with the scorer's IS as reward,
//! the multi-level beam at stage changes, dynamic reset, top-K at the end.
//!
//! Order inside one iteration: shared GAN training (stopped early when the reset detector
//! fires) -> controller steps -> when the next iteration starts a new stage (or the search
//! ends), candidates are ranked with the G that was trained -> only then is a pending reset
//! applied (the reference can rank a freshly reset G; SPEC section 8).
//!
//! Randomness: libtorch and the beam's `StdRng` are reseeded from (seed, iteration) at the
//! start of every iteration, so a search resumed from its last completed iteration repeats
//! exactly what the uninterrupted one would have done (on CPU, with the same number of
//! threads). The checkpoint also records which parameters have a gradient ([`grads`]): Adam
//! steps those, and a resumed search must step the same ones.
use anyhow::{bail, Context, Result};
use rand::{rngs::StdRng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::beam::Beam;
use super::controller::Controller;
use super::reinforce::Reinforce;
use super::reset::{Mode, Reset};
use crate::arch::Arch;
use crate::config::SearchConfig;
use crate::data::Dataset;
use crate::gan::adam::Adam;
use crate::gan::trainer::mix_seed;
use crate::gan::{d_hinge, g_hinge, grads, named_all};
use crate::metrics::{Accumulator, Scorer, IS_SPLITS};
use crate::nn::{DiscConfig, Discriminator, GenConfig, SuperGenerator};

pub const CHECKPOINT_FORMAT: &str = "autogan-search-checkpoint/1";

/// An architecture (complete or a prefix) with its score.
#[derive(Debug, Clone)]
pub struct Scored {
    pub vector: Vec<i64>,
    pub score: f64,
}

/// What one iteration did, for the log and the progress display.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IterationReport {
    pub iteration: u64,
    pub stage: usize,
    pub d_steps: u64,
    pub g_steps: u64,
    pub d_loss: f64,
    pub g_loss: f64,
    pub reset: bool,
    pub ctrl: Vec<serde_json::Value>,
}

pub struct Search {
    pub cfg: SearchConfig,
    pub seed: u64,
    pub device: Device,
    pub g_vs: VarStore,
    pub g: SuperGenerator,
    pub d_vs: VarStore,
    pub d: Discriminator,
    pub opt_g: Adam,
    pub opt_d: Adam,
    pub ctrl_vs: VarStore,
    pub ctrl: Controller,
    pub reinforce: Reinforce,
    /// The beam of the previous stage (None at stage 0).
    pub beam: Option<Beam>,
    pub reset: Reset,
    /// Completed iterations.
    pub iteration: u64,
    pub d_step: u64,
    pub g_step: u64,
    pub resets: u64,
    /// Latents for the sample grids.
    pub fixed_z: Tensor,
    /// Top-K of the final stage once the search is complete.
    pub final_topk: Vec<Scored>,
}

fn mode(cfg: &SearchConfig) -> Mode {
    if cfg.reset_mode == "std" {
        Mode::Std
    } else {
        Mode::Variance
    }
}

fn new_controller(
    cfg: &SearchConfig,
    stage: usize,
    device: Device,
) -> (VarStore, Controller, Reinforce) {
    let vs = VarStore::new(device);
    let ctrl = Controller::new(&vs.root(), stage, cfg.hid_size);
    let reinforce = Reinforce::with(
        &vs,
        cfg.ctrl_lr,
        (cfg.beta1, cfg.beta2),
        cfg.baseline_decay,
        cfg.entropy_coeff,
    );
    (vs, ctrl, reinforce)
}

impl Search {
    pub fn new(cfg: SearchConfig, seed: u64, device: Device) -> Result<Search> {
        cfg.validate()?;
        tch::manual_seed(mix_seed(seed, u64::MAX));
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
        let (ctrl_vs, ctrl, reinforce) = new_controller(&cfg, 0, device);
        let reset = Reset::new(cfg.reset_window, cfg.reset_threshold, mode(&cfg));
        let fixed_z = Tensor::randn([64, cfg.latent_dim], (Kind::Float, device));
        Ok(Search {
            cfg,
            seed,
            device,
            g_vs,
            g,
            d_vs,
            d,
            opt_g,
            opt_d,
            ctrl_vs,
            ctrl,
            reinforce,
            beam: None,
            reset,
            iteration: 0,
            d_step: 0,
            g_step: 0,
            resets: 0,
            fixed_z,
            final_topk: Vec::new(),
        })
    }

    pub fn stage(&self) -> usize {
        self.cfg.stage_of(self.iteration)
    }

    pub fn is_done(&self) -> bool {
        self.iteration >= self.cfg.iterations
    }

    /// D steps of shared training in one iteration at a data set of `n` images.
    pub fn shared_steps(&self, n: usize) -> u64 {
        let bpe = (n as u64) / (self.cfg.batch_size as u64);
        let steps = self.cfg.shared_epochs * bpe.max(1);
        self.cfg.max_shared_steps.map_or(steps, |m| steps.min(m))
    }

    /// Draw `batch` architectures from the current controller (with the beam).
    fn draw(&self, batch: i64, rng: &mut StdRng) -> Result<super::controller::Draw> {
        self.ctrl.draw(batch, self.beam.as_ref(), rng)
    }

    /// The scorer's IS of an architecture prefix: `rl_num_eval_img` images from the supernet
    /// in eval mode at the prefix's stage.
    pub fn score_arch(&self, arch: &Arch, scorer: &dyn Scorer) -> Result<f64> {
        let n = self.cfg.rl_num_eval_img;
        let bs = 100.min(n);
        let mut acc = Accumulator::new(true, false);
        let mut done = 0;
        while done < n {
            let b = bs.min(n - done);
            let z = Tensor::randn([b, self.cfg.latent_dim], (Kind::Float, self.device));
            let imgs = tch::no_grad(|| self.g.forward_t(&z, arch, false));
            acc.add_images(scorer, &crate::data::from_gan(&imgs))?;
            done += b;
        }
        Ok(acc.inception_score(IS_SPLITS.min(n))?.mean)
    }

    /// One search iteration. `data` holds the real images at this stage's size.
    /// `on_step` is called after every D step (for progress display).
    pub fn run_iteration(
        &mut self,
        data: &Dataset,
        scorer: &dyn Scorer,
        on_step: &mut dyn FnMut(u64, u64),
    ) -> Result<IterationReport> {
        let it = self.iteration;
        let stage = self.stage();
        tch::manual_seed(mix_seed(self.seed, it));
        let mut rng = StdRng::seed_from_u64(mix_seed(self.seed ^ 0x5EA2C4, it) as u64);
        let cfg = self.cfg.clone();
        let steps = self.shared_steps(data.len());
        let (mut d_loss_v, mut g_loss_v) = (f64::NAN, f64::NAN);
        let (mut d_steps, mut g_steps) = (0, 0);
        let mut reset_pending = false;
        for s in 0..steps {
            let arch_v = tch::no_grad(|| self.draw(1, &mut rng))?.archs.remove(0);
            let arch = Arch::from_prefix_vector(&arch_v)?;
            let real = crate::data::to_gan(&data.batch_at(
                self.d_step,
                cfg.batch_size,
                self.seed,
                self.device,
            )?);
            let z = Tensor::randn([cfg.batch_size, cfg.latent_dim], (Kind::Float, self.device));
            let fake = self.g.forward_t(&z, &arch, true).detach();
            let d_loss = d_hinge(
                &self.d.forward_stage(&real, true, stage),
                &self.d.forward_stage(&fake, true, stage),
            );
            self.opt_d.zero_grad();
            d_loss.backward();
            self.opt_d.step();
            self.d_step += 1;
            d_steps += 1;
            d_loss_v = d_loss.double_value(&[]);
            self.reset.push_d(d_loss_v);
            if self.d_step.is_multiple_of(cfg.n_critic) {
                let z = Tensor::randn(
                    [cfg.gen_batch_size, cfg.latent_dim],
                    (Kind::Float, self.device),
                );
                let g_loss = g_hinge(&self.d.forward_stage(
                    &self.g.forward_t(&z, &arch, true),
                    true,
                    stage,
                ));
                self.opt_g.zero_grad();
                g_loss.backward();
                self.opt_g.step();
                self.g_step += 1;
                g_steps += 1;
                g_loss_v = g_loss.double_value(&[]);
                self.reset.push_g(g_loss_v);
            }
            if !d_loss_v.is_finite() || (g_steps > 0 && !g_loss_v.is_finite()) {
                bail!(
                    "the GAN loss became non-finite at iteration {} (D {d_loss_v}, G {g_loss_v}); \
                     the last checkpoint is intact: resume it, or lower the learning rate",
                    it + 1
                );
            }
            on_step(s + 1, steps);
            crate::run::interrupt::check()?; // Ctrl-C: stop here, the iteration is repeated
            if cfg.dynamic_reset && self.reset.should_reset() {
                reset_pending = true;
                break;
            }
        }
        // Controller updates.
        let mut ctrl_logs = Vec::new();
        for c in 0..cfg.ctrl_steps {
            crate::run::interrupt::check()?;
            let draw = self.draw(cfg.ctrl_sample_batch, &mut rng)?;
            let mut scores = Vec::with_capacity(draw.archs.len());
            for v in &draw.archs {
                scores.push(self.score_arch(&Arch::from_prefix_vector(v)?, scorer)?);
            }
            let st = self.reinforce.step(&draw.sample, &scores)?;
            ctrl_logs.push(serde_json::json!({
                "kind": "controller",
                "iteration": it + 1,
                "stage": stage,
                "ctrl_step": c + 1,
                "archs": draw.archs,
                "scores": scores,
                "reward": st.reward,
                "baseline": st.baseline,
                "advantage": st.advantage,
                "entropy": st.entropy,
                "loss": st.loss,
            }));
        }
        // Rank before any reset: at a stage change the beam, at the end the final top-K.
        let next = it + 1;
        if next == cfg.iterations {
            self.final_topk = self.rank_candidates(scorer, &mut rng)?.0;
        } else if cfg.stage_of(next) > stage {
            self.beam = Some(self.rank_candidates(scorer, &mut rng)?.1);
            let (vs, ctrl, reinforce) = new_controller(&cfg, stage + 1, self.device);
            self.ctrl_vs = vs;
            self.ctrl = ctrl;
            self.reinforce = reinforce;
        }
        if reset_pending {
            self.apply_reset();
        }
        self.iteration = next;
        Ok(IterationReport {
            iteration: next,
            stage,
            d_steps,
            g_steps,
            d_loss: d_loss_v,
            g_loss: g_loss_v,
            reset: reset_pending,
            ctrl: ctrl_logs,
        })
    }

    /// Sample `num_candidate` archs from the current controller, score each, keep the top-K
    /// distinct ones (with their LSTM states, for the next stage's beam).
    fn rank_candidates(
        &self,
        scorer: &dyn Scorer,
        rng: &mut StdRng,
    ) -> Result<(Vec<Scored>, Beam)> {
        let n = self.cfg.num_candidate as i64;
        let draw = tch::no_grad(|| self.draw(n, rng))?;
        let mut scores = Vec::with_capacity(draw.archs.len());
        for v in &draw.archs {
            scores.push(self.score_arch(&Arch::from_prefix_vector(v)?, scorer)?);
        }
        let state = (draw.sample.state.0.detach(), draw.sample.state.1.detach());
        let beam = Beam::from_candidates(&draw.archs, &state, &scores, self.cfg.topk)?;
        let ranked = beam
            .entries
            .iter()
            .map(|e| Scored {
                vector: e.prefix.clone(),
                score: e.score,
            })
            .collect();
        Ok((ranked, beam))
    }

    /// Dynamic reset: fresh G and D weights and optimisers; the controller is kept.
    pub fn apply_reset(&mut self) {
        self.g.reset_parameters();
        crate::nn::init_weights(&self.d_vs);
        self.opt_g = Adam::new(&self.g_vs, self.cfg.lr, self.cfg.beta1, self.cfg.beta2);
        self.opt_d = Adam::new(&self.d_vs, self.cfg.lr, self.cfg.beta1, self.cfg.beta2);
        self.reset.clear();
        self.resets += 1;
    }

    /// Images of `arch` (a prefix or complete) for the fixed latents, eval mode: the grids.
    pub fn sample_grid(&self, arch: &Arch) -> Tensor {
        tch::no_grad(|| self.g.forward_t(&self.fixed_z, arch, false))
    }

    /// Write everything needed to continue after the last completed iteration.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut t: Vec<(String, Tensor)> = Vec::new();
        for (n, x) in named_all(&self.g_vs) {
            t.push((format!("g.{n}"), x));
        }
        for (n, x) in named_all(&self.d_vs) {
            t.push((format!("d.{n}"), x));
        }
        t.extend(self.opt_g.state("opt_g"));
        t.extend(self.opt_d.state("opt_d"));
        t.extend(self.reinforce.state(&self.ctrl_vs, "ctrl"));
        if let Some(b) = &self.beam {
            t.extend(b.tensors("beam"));
        }
        t.push(("fixed_z".into(), self.fixed_z.shallow_clone()));
        let (wg, wd) = self.reset.windows();
        let mut m = BTreeMap::new();
        m.insert("format".into(), CHECKPOINT_FORMAT.to_string());
        m.insert("config".into(), serde_json::to_string(&self.cfg)?);
        m.insert("seed".into(), self.seed.to_string());
        m.insert("iteration".into(), self.iteration.to_string());
        m.insert("d_step".into(), self.d_step.to_string());
        m.insert("g_step".into(), self.g_step.to_string());
        m.insert("resets".into(), self.resets.to_string());
        m.insert("has_beam".into(), self.beam.is_some().to_string());
        m.insert(
            "grads_defined".into(),
            serde_json::json!({"g": grads::with_grad(&self.g_vs), "d": grads::with_grad(&self.d_vs)})
                .to_string(),
        );
        m.insert(
            "reset_windows".into(),
            serde_json::json!({"g": wg, "d": wd}).to_string(),
        );
        let topk: Vec<_> = self
            .final_topk
            .iter()
            .map(|s| serde_json::json!({"vector": s.vector, "score": s.score}))
            .collect();
        m.insert(
            "final_topk".into(),
            serde_json::Value::from(topk).to_string(),
        );
        crate::safetensors::write(path, &t, &m)
    }

    /// Rebuild a search from [`Search::save_checkpoint`]'s file.
    pub fn load_checkpoint(path: &Path, device: Device) -> Result<Search> {
        let meta = crate::safetensors::read_metadata(path)?;
        if meta.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            bail!(
                "{}: not an autogan search checkpoint (expected format {CHECKPOINT_FORMAT})",
                path.display()
            );
        }
        let field = |k: &str| -> Result<&String> {
            meta.get(k)
                .with_context(|| format!("{}: checkpoint metadata lacks '{k}'", path.display()))
        };
        let cfg: SearchConfig = serde_json::from_str(field("config")?)
            .with_context(|| format!("{}: invalid config in checkpoint", path.display()))?;
        let seed: u64 = field("seed")?.parse()?;
        let mut s = Search::new(cfg, seed, device)?;
        s.iteration = field("iteration")?.parse()?;
        s.d_step = field("d_step")?.parse()?;
        s.g_step = field("g_step")?.parse()?;
        s.resets = field("resets")?.parse()?;
        let tensors: HashMap<String, Tensor> =
            crate::safetensors::read(path)?.into_iter().collect();
        crate::gan::load_prefixed(&s.g_vs, "g", &tensors, path)?;
        crate::gan::load_prefixed(&s.d_vs, "d", &tensors, path)?;
        s.opt_g
            .load_state(&tensors, "opt_g")
            .with_context(|| path.display().to_string())?;
        s.opt_d
            .load_state(&tensors, "opt_d")
            .with_context(|| path.display().to_string())?;
        if field("has_beam")? == "true" {
            s.beam = Some(
                Beam::from_tensors(&tensors, "beam").with_context(|| path.display().to_string())?,
            );
        }
        let stage = s.stage();
        let (vs, ctrl, mut reinforce) = new_controller(&s.cfg, stage, device);
        reinforce
            .load_state(&vs, &tensors, "ctrl")
            .with_context(|| path.display().to_string())?;
        s.ctrl_vs = vs;
        s.ctrl = ctrl;
        s.reinforce = reinforce;
        if let Some(z) = tensors.get("fixed_z") {
            s.fixed_z = z.to_device(device);
        }
        if let Some(gd) = meta.get("grads_defined") {
            let gd: HashMap<String, Vec<String>> = serde_json::from_str(gd)?;
            grads::define_zero_grads(&s.g_vs, gd.get("g").map_or(&[], |v| v.as_slice()));
            grads::define_zero_grads(&s.d_vs, gd.get("d").map_or(&[], |v| v.as_slice()));
        }
        let w: serde_json::Value = serde_json::from_str(field("reset_windows")?)?;
        for x in w["g"].as_array().into_iter().flatten() {
            s.reset.push_g(x.as_f64().unwrap_or(0.0));
        }
        for x in w["d"].as_array().into_iter().flatten() {
            s.reset.push_d(x.as_f64().unwrap_or(0.0));
        }
        let topk: serde_json::Value = serde_json::from_str(field("final_topk")?)?;
        for e in topk.as_array().into_iter().flatten() {
            let vector: Vec<i64> = serde_json::from_value(e["vector"].clone())?;
            s.final_topk.push(Scored {
                vector,
                score: e["score"].as_f64().unwrap_or(f64::NAN),
            });
        }
        Ok(s)
    }
}
