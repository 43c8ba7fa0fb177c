//! The search loop (SPEC sections 6 and 9), the same for every strategy: shared-weight GAN
//! training with an architecture from the strategy per D step, the reward phase (the scorer's
//! IS of the strategy's proposals, handed back to it), the ranking at stage changes that keeps
//! the best prefixes (the beam), dynamic reset, top-K at the end. What differs between search
//! methods is behind [`Strategy`]; the GAN part is [`SharedGan`].
//!
//! Order inside one iteration: shared GAN training (stopped early when the reset detector
//! fires; it is checked whenever the losses are read, every `loss_read_every` D steps) ->
//! reward phase -> when the next iteration starts a new stage (or the search ends),
//! candidates are ranked with the G that was trained -> only then is a pending reset applied
//! (the reference can rank a freshly reset G; SPEC section 8).
//!
//! Randomness: libtorch and the strategy's `StdRng` are reseeded from (seed, iteration) at
//! the start of every iteration, so a search resumed from its last completed iteration
//! repeats exactly what the uninterrupted one would have done (on CPU, with the same number
//! of threads). Adam's state records which parameters have a gradient, so a resumed search
//! steps the same ones.
use anyhow::{bail, Context, Result};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::beam::Beam;
use super::shared::LastLosses;
use super::shared::SharedGan;
use super::strategy::{self, Environment, Evaluation, Strategy, Trained};
use crate::arch::Arch;
use crate::config::SearchConfig;
use crate::data::Dataset;
use crate::gan::checkpoint::Meta;
use crate::gan::trainer::mix_seed;
use crate::metrics::stats::{frechet_distance, Stats};
use crate::metrics::{scoring_batch, Accumulator, Scorer, IS_SPLITS};

pub use crate::gan::checkpoint::SEARCH_CHECKPOINT_FORMAT as CHECKPOINT_FORMAT;

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
    /// The last D and G loss of the shared training (NaN when it made no such step).
    pub d_loss: f64,
    pub g_loss: f64,
    pub reset: bool,
    /// Reads of the losses from the device during the shared training (host syncs on a GPU).
    pub loss_reads: u64,
    /// One log line per reward-phase step.
    pub ctrl: Vec<serde_json::Value>,
}

pub struct Search {
    pub cfg: SearchConfig,
    pub seed: u64,
    pub device: Device,
    /// Supernet, D, optimisers, reset detector, step counters; `Search` derefs to it.
    pub gan: SharedGan,
    /// Variables of the strategy's current stage, always on the CPU (REINFORCE's controller;
    /// empty for strategies without parameters). Dynamic reset never touches them.
    pub ctrl_vs: VarStore,
    pub strategy: Box<dyn Strategy>,
    /// The prefixes kept at the last stage change (None at stage 0).
    pub beam: Option<Beam>,
    /// Completed iterations.
    pub iteration: u64,
    /// Latents for the sample grids.
    pub fixed_z: Tensor,
    /// Top-K of the final stage once the search is complete.
    pub final_topk: Vec<Scored>,
    /// Episodic strategies: the fixed evaluation latents and the data's feature statistics
    /// (made when first needed, from the seed and the data: not checkpointed).
    episode_eval: Option<(Tensor, Stats)>,
    /// With `reward_fid`: the scorer's feature statistics of the real data at a stage's size
    /// (made when first needed from the data: not checkpointed).
    reward_ref: Option<(usize, Stats)>,
}

/// What one architecture's reward is made of.
#[derive(Debug, Clone, Copy)]
pub struct RewardParts {
    pub is: f64,
    /// Against the real data at the stage's size; only with `reward_fid` > 0.
    pub fid: Option<f64>,
}

impl RewardParts {
    /// IS - `weight` x FID.
    pub fn reward(&self, weight: f64) -> f64 {
        match self.fid {
            Some(f) if weight > 0.0 => self.is - weight * f,
            _ => self.is,
        }
    }
}

impl std::ops::Deref for Search {
    type Target = SharedGan;
    fn deref(&self) -> &SharedGan {
        &self.gan
    }
}

impl std::ops::DerefMut for Search {
    fn deref_mut(&mut self) -> &mut SharedGan {
        &mut self.gan
    }
}

impl Search {
    pub fn new(cfg: SearchConfig, seed: u64, device: Device) -> Result<Search> {
        cfg.validate()?;
        tch::manual_seed(mix_seed(seed, u64::MAX));
        // Draw order (G, D, the strategy's parameters, the latents) is part of what a seed
        // means: keep it.
        let gan = SharedGan::new(&cfg, device);
        let ctrl_vs = VarStore::new(Device::Cpu);
        let strategy = strategy::build(&cfg, &ctrl_vs)?;
        let fixed_z = Tensor::randn([64, cfg.latent_dim], (Kind::Float, device));
        Ok(Search {
            cfg,
            seed,
            device,
            gan,
            ctrl_vs,
            strategy,
            beam: None,
            iteration: 0,
            fixed_z,
            final_topk: Vec::new(),
            episode_eval: None,
            reward_ref: None,
        })
    }

    pub fn stage(&self) -> usize {
        self.cfg.stage_of(self.iteration)
    }

    pub fn is_done(&self) -> bool {
        self.iteration >= self.cfg.total_iterations()
    }

    /// D steps of shared training in one iteration at a data set of `n` images.
    pub fn shared_steps(&self, n: usize) -> u64 {
        let bpe = (n as u64) / (self.cfg.batch_size as u64);
        let steps = self.cfg.shared_epochs * bpe.max(1);
        self.cfg.max_shared_steps.map_or(steps, |m| steps.min(m))
    }

    /// The scorer's IS of an architecture prefix: `rl_num_eval_img` images from the supernet
    /// at the prefix's stage, its batch norms as `reward_bn` says (nothing is updated).
    pub fn score_arch(&self, arch: &Arch, scorer: &dyn Scorer) -> Result<f64> {
        self.score_arch_with(arch, scorer, self.cfg.rl_num_eval_img)
    }

    /// [`Search::score_arch`] on `n` images.
    pub fn score_arch_with(&self, arch: &Arch, scorer: &dyn Scorer, n: i64) -> Result<f64> {
        Ok(self
            .reward_parts(arch, scorer, n)?
            .reward(self.cfg.reward_fid))
    }

    /// The IS of `n` images of `arch` and, with `reward_fid` > 0, their FID against the real
    /// data at the prefix's stage ([`Search::prepare_reward_ref`] must have run for it).
    pub fn reward_parts(&self, arch: &Arch, scorer: &dyn Scorer, n: i64) -> Result<RewardParts> {
        let stage = arch.cells.len().saturating_sub(1);
        let reference = match self.cfg.reward_fid > 0.0 {
            false => None,
            true => match &self.reward_ref {
                Some((s, stats)) if *s == stage => Some(stats),
                _ => bail!(
                    "the reward's FID needs the real data's statistics at stage {stage}'s size \
                     (prepare_reward_ref was not called for it)"
                ),
            },
        };
        let mode = self.cfg.reward_bn.mode();
        let mut acc = Accumulator::new(true, reference.is_some());
        let gen = |_, b| {
            let z = Tensor::randn([b, self.cfg.latent_dim], (Kind::Float, self.device));
            let imgs = tch::no_grad(|| self.gan.g.forward_mode(&z, arch, mode));
            Ok(crate::data::from_gan(&imgs))
        };
        crate::metrics::score_stream(&mut acc, scorer, n, scoring_batch(self.device), gen, |_| {})?;
        let is = acc.inception_score(IS_SPLITS.min(n))?.mean;
        let fid = match reference {
            Some(r) => Some(frechet_distance(&acc.stats()?, r)?),
            None => None,
        };
        Ok(RewardParts { is, fid })
    }

    /// The real data's statistics the reward's FID compares with, and their stage.
    pub fn reward_ref(&self) -> Option<(usize, &Stats)> {
        self.reward_ref.as_ref().map(|(s, st)| (*s, st))
    }

    /// With `reward_fid` > 0: the scorer's feature statistics of `data` (the real images at
    /// `stage`'s size; at most 10,000 spread over the set), which the reward's FID compares with. Kept
    /// until another stage asks; nothing to do without `reward_fid`.
    pub fn prepare_reward_ref(
        &mut self,
        stage: usize,
        data: &Dataset,
        scorer: &dyn Scorer,
    ) -> Result<()> {
        if self.cfg.reward_fid <= 0.0 || matches!(&self.reward_ref, Some((s, _)) if *s == stage) {
            return Ok(());
        }
        let data = data.spread(10_000);
        let m = data.len() as i64;
        let mut acc = Accumulator::new(false, true);
        let slice = |s, c| Ok(data.images.narrow(0, s, c));
        crate::metrics::score_stream(
            &mut acc,
            scorer,
            m,
            scoring_batch(self.device),
            slice,
            |_| {},
        )?;
        self.reward_ref = Some((stage, acc.stats()?));
        Ok(())
    }

    /// Scores of prefix vectors, in order.
    fn score_all(&self, archs: &[Vec<i64>], scorer: &dyn Scorer) -> Result<Vec<f64>> {
        archs
            .iter()
            .map(|v| self.score_arch(&Arch::from_prefix_vector(v)?, scorer))
            .collect()
    }

    /// Run iteration `iteration` of the schedule next (its stage is the iteration's), skipping
    /// the ones before it: how `autogan bench search` times a slice of a long schedule.
    pub fn run_iteration_at(
        &mut self,
        iteration: u64,
        data: &Dataset,
        scorer: &dyn Scorer,
    ) -> Result<IterationReport> {
        self.iteration = iteration;
        self.run_iteration(data, scorer, &mut |_, _| {})
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
        self.prepare_reward_ref(stage, data, scorer)?;
        tch::manual_seed(mix_seed(self.seed, it));
        let mut rng = StdRng::seed_from_u64(mix_seed(self.seed ^ 0x5EA2C4, it) as u64);
        let cfg = self.cfg.clone();
        let steps = self.shared_steps(data.len());
        let read_every = cfg.loss_read_every.max(1);
        let (mut d_loss, mut g_loss) = (f64::NAN, f64::NAN);
        let (mut d_steps, mut g_steps) = (0, 0);
        let reads_before = self.gan.losses.reads;
        let mut reset_pending = false;
        // Shared training. No host sync here but the loss reads every `read_every` D steps.
        for s in 0..steps {
            // `shared_uniform` 0 (the paper) draws no coin, so such a search's random stream
            // is the same as before the option existed.
            let uniform = cfg.shared_uniform >= 1.0
                || (cfg.shared_uniform > 0.0 && rng.gen::<f64>() < cfg.shared_uniform);
            let arch_v = if uniform {
                strategy::uniform_arch(stage, self.beam.as_ref(), &mut rng)?
            } else {
                self.strategy
                    .propose_for_training(self.beam.as_ref(), &mut rng)?
            };
            let arch = Arch::from_prefix_vector(&arch_v)?;
            if self.gan.train_step(&cfg, data, &arch, stage, self.seed)? {
                g_steps += 1;
            }
            d_steps += 1;
            on_step(s + 1, steps);
            crate::run::interrupt::check()?; // Ctrl-C: stop here, the iteration is repeated
            if (s + 1).is_multiple_of(read_every) || s + 1 == steps {
                let last = self.gan.read_losses(it + 1)?;
                d_loss = last.d;
                if !last.g.is_nan() {
                    g_loss = last.g;
                }
                if cfg.dynamic_reset && self.gan.reset.should_reset() {
                    reset_pending = true;
                    break;
                }
            }
        }
        let loss_reads = self.gan.losses.reads - reads_before;
        // Reward phase: the same number of scored architectures for every strategy.
        let mut ctrl_logs = Vec::new();
        for c in 0..cfg.ctrl_steps {
            crate::run::interrupt::check()?;
            let archs = self.strategy.propose(
                cfg.ctrl_sample_batch as usize,
                self.beam.as_ref(),
                &mut rng,
            )?;
            let scores = self.score_all(&archs, scorer)?;
            let obs = self.strategy.observe(&archs, &scores)?;
            let mut line = serde_json::json!({
                "kind": "controller",
                "strategy": self.strategy.kind().name(),
                "iteration": it + 1,
                "stage": stage,
                "ctrl_step": c + 1,
                "archs": archs,
                "scores": scores,
            });
            if let Some(m) = line.as_object_mut() {
                m.extend(obs);
            }
            ctrl_logs.push(line);
        }
        // Rank before any reset: at a stage change the kept prefixes, at the end the top-K.
        let next = it + 1;
        if next == cfg.total_iterations() {
            self.final_topk = self
                .rank_candidates(scorer, &mut rng)?
                .entries
                .iter()
                .map(|e| Scored {
                    vector: e.prefix.clone(),
                    score: e.score,
                })
                .collect();
        } else if cfg.stage_of(next) > stage {
            self.beam = Some(self.rank_candidates(scorer, &mut rng)?);
            self.ctrl_vs = VarStore::new(Device::Cpu);
            self.strategy.begin_stage(stage + 1, &self.ctrl_vs)?;
        }
        // After the last iteration nothing is trained any more: a reset would only throw away
        // the supernet that ranked the top-K (and that `arch score` reads from the checkpoint).
        let reset_pending = reset_pending && next < cfg.total_iterations();
        if reset_pending {
            self.apply_reset();
        }
        self.iteration = next;
        Ok(IterationReport {
            iteration: next,
            stage,
            d_steps,
            g_steps,
            d_loss,
            g_loss,
            reset: reset_pending,
            loss_reads,
            ctrl: ctrl_logs,
        })
    }

    /// One episode of an episodic strategy ([`SearchConfig::episodic`]) as the next
    /// iteration. `data`: the real images at each stage's size (the last at the output size).
    pub fn run_episode(
        &mut self,
        data: [&Dataset; 3],
        scorer: &dyn Scorer,
        on_step: &mut dyn FnMut(u64, u64),
    ) -> Result<IterationReport> {
        let it = self.iteration;
        let n = self.cfg.rl_num_eval_img;
        if self.episode_eval.is_none() {
            tch::manual_seed(mix_seed(self.seed ^ 0xE26A, u64::MAX));
            let z = Tensor::randn([n, self.cfg.latent_dim], (Kind::Float, self.device));
            let full = data[2].spread(10_000);
            let m = full.len() as i64;
            let mut acc = Accumulator::new(false, true);
            let batch = scoring_batch(self.device);
            let slice = |s, c| Ok(full.images.narrow(0, s, c));
            crate::metrics::score_stream(&mut acc, scorer, m, batch, slice, |_| {})?;
            self.episode_eval = Some((z, acc.stats()?));
        }
        tch::manual_seed(mix_seed(self.seed, it));
        let mut rng = StdRng::seed_from_u64(mix_seed(self.seed ^ 0x5EA2C4, it) as u64);
        let resets_before = self.gan.resets;
        let reads_before = self.gan.losses.reads;
        let Search {
            cfg,
            seed,
            gan,
            strategy,
            episode_eval,
            ..
        } = self;
        let (eval_z, fid_ref) = episode_eval.as_ref().context("evaluation latents")?;
        let mut env = EpisodeEnv {
            cfg,
            seed: *seed,
            iteration: it,
            gan,
            data,
            scorer,
            eval_z,
            fid_ref,
            on_step,
            total: Trained::default(),
            pending_reset: false,
        };
        let lines = strategy.episode(it, &mut env, &mut rng)?;
        let total = env.total;
        let next = it + 1;
        let mut ctrl = Vec::new();
        for (step, obs) in lines.into_iter().enumerate() {
            let mut line = serde_json::json!({
                "kind": "controller",
                "strategy": self.strategy.kind().name(),
                "iteration": next,
                "stage": step,
                "ctrl_step": step + 1,
            });
            if let Some(m) = line.as_object_mut() {
                m.extend(obs);
            }
            ctrl.push(line);
        }
        if next == self.cfg.total_iterations() {
            self.final_topk = self
                .strategy
                .candidates(self.cfg.topk, None, &mut rng)?
                .into_iter()
                .map(|e| Scored {
                    vector: e.prefix,
                    score: e.score,
                })
                .collect();
        }
        self.iteration = next;
        Ok(IterationReport {
            iteration: next,
            stage: 2,
            d_steps: total.d_steps,
            g_steps: total.g_steps,
            d_loss: total.d_loss,
            g_loss: total.g_loss,
            reset: self.gan.resets > resets_before || total.reset,
            loss_reads: self.gan.losses.reads - reads_before,
            ctrl,
        })
    }

    /// The strategy's `num_candidate` candidates, each scored with the current G; the top-K
    /// distinct ones, best first (with their next-stage states).
    fn rank_candidates(&mut self, scorer: &dyn Scorer, rng: &mut StdRng) -> Result<Beam> {
        let mut cands =
            self.strategy
                .candidates(self.cfg.num_candidate, self.beam.as_ref(), rng)?;
        for c in cands.iter_mut() {
            c.score = self.score_arch(&Arch::from_prefix_vector(&c.prefix)?, scorer)?;
        }
        Ok(Beam::select(cands, self.cfg.topk))
    }

    /// Dynamic reset: fresh G and D weights and optimisers; the strategy is kept.
    pub fn apply_reset(&mut self) {
        self.gan.reset_models(&self.cfg);
    }

    /// Images of `arch` (a prefix or complete) for the fixed latents, the batch norms as the
    /// reward sees them (`reward_bn`): the grids.
    pub fn sample_grid(&self, arch: &Arch) -> Tensor {
        tch::no_grad(|| {
            self.gan
                .g
                .forward_mode(&self.fixed_z, arch, self.cfg.reward_bn.mode())
        })
    }

    /// Write everything needed to continue after the last completed iteration.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut t = self.gan.tensors();
        let saved = self.strategy.save(&self.ctrl_vs)?;
        t.extend(saved.tensors);
        if let Some(b) = &self.beam {
            t.extend(b.tensors("beam"));
        }
        t.push(("fixed_z".into(), self.fixed_z.shallow_clone()));
        let (wg, wd) = self.gan.reset.windows();
        let mut m = BTreeMap::new();
        m.insert("format".into(), CHECKPOINT_FORMAT.to_string());
        m.insert("config".into(), serde_json::to_string(&self.cfg)?);
        m.insert("seed".into(), self.seed.to_string());
        m.insert("iteration".into(), self.iteration.to_string());
        m.insert("d_step".into(), self.gan.d_step.to_string());
        m.insert("g_step".into(), self.gan.g_step.to_string());
        m.insert("resets".into(), self.gan.resets.to_string());
        m.insert("has_beam".into(), self.beam.is_some().to_string());
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
        m.insert("strategy_state".into(), saved.state.to_string());
        crate::safetensors::write(path, &t, &m)
    }

    /// Rebuild a search from [`Search::save_checkpoint`]'s file.
    pub fn load_checkpoint(path: &Path, device: Device) -> Result<Search> {
        let meta = Meta::read(path, CHECKPOINT_FORMAT, "search")?;
        let mut recorded: serde_json::Value = meta.json("config")?;
        crate::config::RewardBn::fill_recorded(&mut recorded);
        let cfg: SearchConfig = serde_json::from_value(recorded)
            .with_context(|| format!("{}: the recorded search configuration", path.display()))?;
        let mut s = Search::new(cfg, meta.parse("seed")?, device)?;
        s.iteration = meta.parse("iteration")?;
        s.gan.d_step = meta.parse("d_step")?;
        s.gan.g_step = meta.parse("g_step")?;
        s.gan.resets = meta.parse("resets")?;
        let tensors: HashMap<String, Tensor> =
            crate::safetensors::read(path)?.into_iter().collect();
        s.gan.load_tensors(&tensors, path)?;
        if meta.get("has_beam")? == "true" {
            s.beam = Some(
                Beam::from_tensors(&tensors, "beam").with_context(|| path.display().to_string())?,
            );
        }
        let stage = s.stage();
        s.ctrl_vs = VarStore::new(Device::Cpu);
        s.strategy.begin_stage(stage, &s.ctrl_vs)?;
        // Checkpoints written before there were strategies have no strategy state (REINFORCE
        // keeps its state in tensors).
        let state: serde_json::Value = match meta.get_opt("strategy_state") {
            Some(_) => meta.json("strategy_state")?,
            None => serde_json::Value::Null,
        };
        s.strategy
            .load(&s.ctrl_vs, &tensors, &state)
            .with_context(|| {
                format!(
                    "{}: the {} strategy's state",
                    path.display(),
                    s.cfg.strategy
                )
            })?;
        if let Some(z) = tensors.get("fixed_z") {
            s.fixed_z = z.to_device(device);
        }
        let w: serde_json::Value = meta.json("reset_windows")?;
        for x in w["g"].as_array().into_iter().flatten() {
            s.gan.reset.push_g(x.as_f64().unwrap_or(0.0));
        }
        for x in w["d"].as_array().into_iter().flatten() {
            s.gan.reset.push_d(x.as_f64().unwrap_or(0.0));
        }
        let topk: serde_json::Value = meta.json("final_topk")?;
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

/// The shared GAN as an episodic strategy sees it.
struct EpisodeEnv<'a> {
    cfg: &'a SearchConfig,
    seed: u64,
    iteration: u64,
    gan: &'a mut SharedGan,
    data: [&'a Dataset; 3],
    scorer: &'a dyn Scorer,
    eval_z: &'a Tensor,
    fid_ref: &'a Stats,
    on_step: &'a mut dyn FnMut(u64, u64),
    /// The episode's training so far.
    total: Trained,
    pending_reset: bool,
}

impl Environment for EpisodeEnv<'_> {
    fn gf_dim(&self) -> i64 {
        self.cfg.gf_dim
    }

    fn reinit(&mut self) {
        self.gan.fresh_models(self.cfg);
        self.pending_reset = false;
    }

    fn train(&mut self, arch: &[i64]) -> Result<Trained> {
        let cfg = self.cfg;
        if std::mem::take(&mut self.pending_reset) {
            self.gan.reset_models(cfg);
        }
        let a = Arch::from_prefix_vector(arch)?;
        let stage = a.cells.len() - 1;
        let data = self.data[stage];
        let bpe = ((data.len() as u64) / (cfg.batch_size as u64)).max(1);
        let steps = cfg.sac.sac_step_epochs * bpe;
        let steps = cfg.sac.sac_max_steps.map_or(steps, |m| steps.min(m));
        let read_every = cfg.loss_read_every.max(1);
        let mut t = Trained {
            d_loss: f64::NAN,
            g_loss: f64::NAN,
            ..Trained::default()
        };
        for s in 0..steps {
            if self.gan.train_step(cfg, data, &a, stage, self.seed)? {
                t.g_steps += 1;
            }
            t.d_steps += 1;
            (self.on_step)(s + 1, steps);
            crate::run::interrupt::check()?;
            if (s + 1).is_multiple_of(read_every) || s + 1 == steps {
                let LastLosses { d, g } = self.gan.read_losses(self.iteration + 1)?;
                t.d_loss = d;
                if !g.is_nan() {
                    t.g_loss = g;
                }
                if cfg.dynamic_reset && self.gan.reset.should_reset() {
                    t.reset = true;
                    self.pending_reset = true;
                    break;
                }
            }
        }
        self.total.d_steps += t.d_steps;
        self.total.g_steps += t.g_steps;
        self.total.d_loss = t.d_loss;
        if !t.g_loss.is_nan() {
            self.total.g_loss = t.g_loss;
        }
        self.total.reset |= t.reset;
        Ok(t)
    }

    fn evaluate(&mut self, arch: &[i64]) -> Result<Evaluation> {
        let a = Arch::from_prefix_vector(arch)?;
        let mode = self.cfg.reward_bn.mode();
        let n = self.eval_z.size()[0];
        let batch = scoring_batch(self.gan.device);
        let mut acc = Accumulator::new(true, true);
        let mut pooled = Tensor::zeros([self.cfg.gf_dim], (Kind::Float, self.gan.device));
        let g = &self.gan.g;
        crate::metrics::score_stream(
            &mut acc,
            self.scorer,
            n,
            batch,
            |s, c| {
                let z = self.eval_z.narrow(0, s, c);
                let (imgs, f) = tch::no_grad(|| g.forward_pooled(&z, &a, mode));
                pooled += f.sum_dim_intlist([0i64].as_slice(), false, Kind::Float);
                Ok(crate::data::from_gan(&imgs))
            },
            |_| {},
        )?;
        let is = acc.inception_score(IS_SPLITS.min(n))?.mean;
        let fid = frechet_distance(&acc.stats()?, self.fid_ref)?;
        let features = Vec::<f32>::try_from((pooled / n as f64).to_device(tch::Device::Cpu))?;
        Ok(Evaluation { is, fid, features })
    }
}
