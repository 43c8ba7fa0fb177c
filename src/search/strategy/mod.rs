//! How a search proposes architectures (SPEC sections 6 and 9): the one part that differs
//! between search methods. Everything else is shared and lives in the search loop
//! (`search::run`) and the shared GAN (`search::shared`): the supernet and D, the shared
//! training, the reward (the scorer's IS), the ranking at stage changes and dynamic reset.
//!
//! A [`Strategy`] is asked, stage by stage:
//! - during shared training, one architecture per D step ([`Strategy::propose_for_training`]);
//! - in the reward phase, `ctrl_steps` batches of `ctrl_sample_batch` architectures
//!   ([`Strategy::propose`]), which the search scores and hands back
//!   ([`Strategy::observe`]): every strategy gets the same reward budget per iteration;
//! - at the end of a stage, `num_candidate` candidates ([`Strategy::candidates`]), which the
//!   search scores with the stage's final G; the `topk` best distinct prefixes are kept (the
//!   beam) and every proposal of the next stage extends one of them;
//! - its state, for the checkpoint ([`Strategy::save`], [`Strategy::load`]).
//!
//! Architectures are prefix vectors: a kept prefix (none at stage 0) followed by the tokens
//! of the stage's cell (`decision_sizes(stage)`).
//!
//! A strategy may instead run whole episodes ([`Strategy::episode`]; E2GAN's SAC): one search
//! iteration is one episode, in which the strategy builds an architecture one cell per stage
//! and drives the shared GAN through an [`Environment`] (re-initialise, train a prefix, score
//! it); [`SearchConfig::episodic`] says which kind a search runs.
//!
//! Adding a method: one file in this folder implementing [`Strategy`], one variant of
//! [`StrategyKind`] and its arm in [`build`].
pub mod evolution;
pub mod random;
pub mod reinforce;
pub mod sac;

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::beam::{Beam, BeamEntry};
use crate::arch::prefix_len;
use crate::config::SearchConfig;

pub use crate::config::StrategyKind;

/// A strategy's state for the search checkpoint: named tensors (their names must not clash
/// with the search's own: `g.*`, `d.*`, `opt_g.*`, `opt_d.*`, `beam.*`, `fixed_z`) and a JSON
/// value stored in the metadata.
#[derive(Default)]
pub struct Saved {
    pub tensors: Vec<(String, Tensor)>,
    pub state: serde_json::Value,
}

/// Log fields of one [`Strategy::observe`]; at least `reward` (a number).
pub type Observation = serde_json::Map<String, serde_json::Value>;

/// A search method. Every random choice goes through the `rng` it is given (reseeded by the
/// search at each iteration) or libtorch's generator (likewise), and everything else it
/// depends on is in [`Strategy::save`], so a resumed search repeats an uninterrupted one.
pub trait Strategy {
    fn kind(&self) -> StrategyKind;

    /// Start `stage` (1 or 2) afresh. `vars` is a new, empty var store on the CPU for any
    /// learnable parameters; the search owns it and dynamic reset never touches it.
    fn begin_stage(&mut self, stage: usize, vars: &VarStore) -> Result<()>;

    /// The architecture of one D step of shared training. `kept`: the previous stage's kept
    /// prefixes (None at stage 0).
    fn propose_for_training(&mut self, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>>;

    /// `n` architectures for the search to score in the reward phase.
    fn propose(&mut self, n: usize, kept: Option<&Beam>, rng: &mut StdRng)
        -> Result<Vec<Vec<i64>>>;

    /// The scores of the batch [`Strategy::propose`] returned last, in its order.
    fn observe(&mut self, archs: &[Vec<i64>], scores: &[f64]) -> Result<Observation>;

    /// Up to `n` candidates for the end-of-stage ranking; the search scores them (the score
    /// given here is ignored) and keeps the best distinct ones. Each carries the state a next
    /// stage starts from (the LSTM state for REINFORCE, empty tensors otherwise).
    fn candidates(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> Result<Vec<BeamEntry>>;

    /// Everything the strategy needs to continue after the current iteration. `vars`: the
    /// var store given to the current stage.
    fn save(&self, vars: &VarStore) -> Result<Saved>;

    /// Restore [`Strategy::save`]'s output, after [`Strategy::begin_stage`] for the stage
    /// it was saved in.
    fn load(
        &mut self,
        vars: &VarStore,
        tensors: &HashMap<String, Tensor>,
        state: &serde_json::Value,
    ) -> Result<()>;

    /// Episodic strategies only: run episode `episode` (0-based) through `env` and return one
    /// log line per step (each with `archs`, `scores` and `reward`). The progressive methods
    /// above are then not called but [`Strategy::candidates`], for the final top-K with the
    /// scores the episodes measured.
    fn episode(
        &mut self,
        _episode: u64,
        _env: &mut dyn Environment,
        _rng: &mut StdRng,
    ) -> Result<Vec<Observation>> {
        bail!("the {} strategy does not run episodes", self.kind())
    }
}

/// What an episodic strategy acts on: the search's shared GAN, its data at each stage's size
/// and its scorer.
pub trait Environment {
    /// Channels of the supernet's cells (the length of [`Evaluation::features`]).
    fn gf_dim(&self) -> i64;
    /// A fresh shared GAN: new G and D weights and optimisers, empty reset windows (not a
    /// dynamic reset).
    fn reinit(&mut self);
    /// Shared training of the prefix `arch` at the stage of its last cell (a pending dynamic
    /// reset is applied first).
    fn train(&mut self, arch: &[i64]) -> Result<Trained>;
    /// The scorer's IS and FID (against the data) of `arch`'s images for the fixed evaluation
    /// latents, and its last cell's output averaged over them and their pixels.
    fn evaluate(&mut self, arch: &[i64]) -> Result<Evaluation>;
}

/// One step's shared training.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trained {
    pub d_steps: u64,
    pub g_steps: u64,
    /// The last D and G loss (NaN where none).
    pub d_loss: f64,
    pub g_loss: f64,
    /// The dynamic-reset detector fired (the reset is applied before the next training).
    pub reset: bool,
}

/// See [`Environment::evaluate`].
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub is: f64,
    pub fid: f64,
    pub features: Vec<f32>,
}

/// The strategy `cfg.strategy`, at stage 0 (its parameters, if any, created in `vars`).
pub fn build(cfg: &SearchConfig, vars: &VarStore) -> Result<Box<dyn Strategy>> {
    Ok(match cfg.strategy {
        StrategyKind::Reinforce => Box::new(reinforce::ReinforceBeam::new(cfg, vars)),
        StrategyKind::Random => Box::new(random::RandomSearch::new()),
        StrategyKind::Evolution => {
            Box::new(evolution::Evolution::new(cfg.population, cfg.tournament)?)
        }
        StrategyKind::Sac => Box::new(sac::Sac::new(cfg)),
    })
}

/// A kept prefix for a new proposal of `stage`: none at stage 0, else one of `kept` chosen
/// uniformly with `rng` (the beam's own rule).
pub fn kept_prefix(stage: usize, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>> {
    if stage == 0 {
        if kept.is_some_and(|b| !b.is_empty()) {
            bail!("stage 0 has no previous stage: no kept prefixes expected");
        }
        return Ok(Vec::new());
    }
    let Some(beam) = kept.filter(|b| !b.is_empty()) else {
        bail!(
            "stage {stage} needs the kept prefixes of stage {}",
            stage - 1
        );
    };
    let want = prefix_len(stage);
    if let Some(e) = beam.entries.iter().find(|e| e.prefix.len() != want) {
        bail!(
            "stage {stage}: kept prefixes must have {want} integers, got {:?}",
            e.prefix
        );
    }
    Ok(beam.entries[beam.choose(1, rng)[0]].prefix.clone())
}

/// A uniformly random architecture of `stage`: [`kept_prefix`], then every decision of the
/// stage uniform in its range.
pub fn uniform_arch(stage: usize, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>> {
    let mut v = kept_prefix(stage, kept, rng)?;
    for n in decision_sizes(stage) {
        v.push(rng.gen_range(0..n));
    }
    Ok(v)
}

/// A candidate without a next-stage state (for strategies that have none).
pub fn stateless_entry(arch: Vec<i64>) -> BeamEntry {
    let empty = Tensor::zeros([0], (Kind::Float, tch::Device::Cpu));
    BeamEntry::new(arch, &empty, &empty, f64::NAN)
}

/// An architecture with the reward it was observed with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observed {
    pub arch: Vec<i64>,
    pub score: f64,
}

/// Rewards must be numbers: a NaN would make every comparison meaningless.
pub fn check_scores(archs: &[Vec<i64>], scores: &[f64]) -> Result<()> {
    if archs.len() != scores.len() {
        bail!("{} scores for {} architectures", scores.len(), archs.len());
    }
    if let Some(i) = scores.iter().position(|x| !x.is_finite()) {
        bail!(
            "the score of {:?} is not finite ({}); the generator may have diverged",
            archs[i],
            scores[i]
        );
    }
    Ok(())
}

/// The `n` best distinct architectures of `seen`, best first; equal scores keep the one seen
/// first.
pub fn best_distinct(seen: &[Observed], n: usize) -> Vec<Vec<i64>> {
    let mut order: Vec<usize> = (0..seen.len()).collect();
    order.sort_by(|&a, &b| seen[b].score.total_cmp(&seen[a].score));
    let mut out: Vec<Vec<i64>> = Vec::new();
    for i in order {
        if out.len() == n {
            break;
        }
        if !out.contains(&seen[i].arch) {
            out.push(seen[i].arch.clone());
        }
    }
    out
}

/// The `n` best distinct architectures of `seen` as candidates without a next-stage state;
/// an error naming `strategy` when nothing was scored in the stage.
pub fn best_seen_candidates(seen: &[Observed], n: usize, strategy: &str) -> Result<Vec<BeamEntry>> {
    if seen.is_empty() {
        bail!("{strategy}: no architecture was scored in this stage");
    }
    Ok(best_distinct(seen, n)
        .into_iter()
        .map(stateless_entry)
        .collect())
}

/// Mean of the scores (the `reward` log field of strategies without a baseline).
pub fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}

pub use crate::arch::stage_decision_sizes as decision_sizes;
