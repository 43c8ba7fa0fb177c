//! E2GAN's off-policy agent (Tian et al., ECCV 2020) as a search strategy: soft actor-critic
//! over episodes. An episode builds one architecture, one cell per step (8 -> 16 -> 32 on the
//! quick and CIFAR-10 sizes), on a shared GAN that is re-initialised at the start of every
//! episode and trained after each step; every transition goes to a replay buffer that the
//! agent learns from for the rest of the search.
//!
//! - State: `[step, IS, 0.01 FID, the last cell's output averaged over the evaluation images
//!   and its pixels (gf_dim numbers)]` of the current partial architecture. An episode starts
//!   from `[0, 1, 0, 0...]` (E2GAN scores its untrained stem instead; with a GAN re-drawn for
//!   every episode that state is a constant too).
//! - Action: one vector from a tanh-squashed Gaussian policy, one head per decision (conv,
//!   norm, upsample, shortcut, and one on/off head per earlier cell a skip can come from); each
//!   head's argmax is the token (the two skip bits of cell 3 read as one integer, bit 0 = cell
//!   1, as in arch files).
//! - Reward of a step: `(IS_t - IS_{t-1}) + 0.01 (FID_{t-1} - FID_t)` (the scorer's IS, and its
//!   FID against the data, both on fixed latents).
//! - Learning: twin Q networks with soft-updated targets, fixed temperature; after each step
//!   `sac_updates` updates (`sac_exploit_updates` in the deterministic last
//!   `sac_exploit_episodes`) once the buffer holds `sac_start` transitions, each on a batch of
//!   up to `sac_batch` drawn without replacement; one more on the whole buffer after each
//!   episode. One update: the critics on `r + mask gamma (min target Q(s', a') - alpha log
//!   pi(a'|s'))`, then the policy on `alpha log pi(a|s) - min Q(s, a)` with the updated
//!   critics (E2GAN steps the critics after computing the policy's loss, which PyTorch now
//!   refuses), then the targets.
//! - Result: the complete architectures of the exploitation episodes, ranked by the best IS an
//!   episode measured for them, then (when they are fewer than `topk` distinct ones) the
//!   exploring episodes' best.
//!
//! Everything it depends on is in its checkpoint state: the networks, both optimisers, the
//! buffer and what it has seen.
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use std::collections::HashMap;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::{
    best_distinct, stateless_entry, Environment, Observation, Observed, Saved, Strategy,
    StrategyKind,
};
use crate::arch::{CELL_CHOICES, NUM_CELLS};
use crate::config::{SacConfig, SearchConfig};
use crate::gan::adam::Adam;
use crate::search::beam::{Beam, BeamEntry};

const LOG_STD_MIN: f64 = -20.0;
const LOG_STD_MAX: f64 = 2.0;
const SQUASH_EPS: f64 = 1e-6;

/// Sizes of the action heads: the cell's four decisions, then one on/off head per earlier cell
/// a skip can come from.
pub fn head_sizes() -> Vec<i64> {
    let mut v: Vec<i64> = CELL_CHOICES.iter().map(|&n| n as i64).collect();
    v.extend(std::iter::repeat_n(2, NUM_CELLS - 1));
    v
}

/// Length of the action vector (14).
pub fn action_dim() -> i64 {
    head_sizes().iter().sum()
}

/// Length of the state vector: step, IS, 0.01 FID and `gf_dim` pooled features.
pub fn state_dim(gf_dim: i64) -> i64 {
    3 + gf_dim
}

/// The tokens of the cell of `step` (0-based) from an action vector.
pub fn tokens(action: &[f32], step: usize) -> Vec<i64> {
    let mut heads = Vec::new();
    let mut at = 0usize;
    for n in head_sizes() {
        let h = &action[at..at + n as usize];
        let best = (0..h.len()).fold(0, |b, i| if h[i] > h[b] { i } else { b });
        heads.push(best as i64);
        at += n as usize;
    }
    let mut t = heads[..CELL_CHOICES.len()].to_vec();
    if step > 0 {
        let bits = &heads[CELL_CHOICES.len()..CELL_CHOICES.len() + step];
        t.push(bits.iter().enumerate().map(|(j, b)| b << j).sum());
    }
    t
}

/// A linear layer initialised as E2GAN's (Xavier-uniform weights, zero bias).
fn linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    let b = (6.0 / (i + o) as f64).sqrt();
    nn::linear(
        p,
        i,
        o,
        nn::LinearConfig {
            ws_init: nn::Init::Uniform { lo: -b, up: b },
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

/// The tanh-squashed Gaussian policy: two hidden layers, then per head a mean and a log
/// standard deviation (clamped to [-20, 2]).
pub struct Policy {
    l1: nn::Linear,
    l2: nn::Linear,
    mean: Vec<nn::Linear>,
    log_std: Vec<nn::Linear>,
}

impl Policy {
    pub fn new(p: &nn::Path, state: i64, hidden: i64) -> Policy {
        let heads = head_sizes();
        Policy {
            l1: linear(p / "l1", state, hidden),
            l2: linear(p / "l2", hidden, hidden),
            mean: (0..heads.len())
                .map(|k| linear(p / format!("mean{k}"), hidden, heads[k]))
                .collect(),
            log_std: (0..heads.len())
                .map(|k| linear(p / format!("log_std{k}"), hidden, heads[k]))
                .collect(),
        }
    }

    /// Means and log standard deviations `[B, A]`.
    pub fn forward(&self, state: &Tensor) -> (Tensor, Tensor) {
        let x = self.l2.forward(&self.l1.forward(state).relu()).relu();
        let mean = Tensor::cat(
            &self.mean.iter().map(|l| l.forward(&x)).collect::<Vec<_>>(),
            1,
        );
        let log_std = Tensor::cat(
            &self
                .log_std
                .iter()
                .map(|l| l.forward(&x))
                .collect::<Vec<_>>(),
            1,
        )
        .clamp(LOG_STD_MIN, LOG_STD_MAX);
        (mean, log_std)
    }

    /// A reparameterised sample for the standard normal noise `eps` `[B, A]`: the squashed
    /// action `[B, A]` and its log-probability `[B, 1]` (summed over every head).
    pub fn sample(&self, state: &Tensor, eps: &Tensor) -> (Tensor, Tensor) {
        let (mean, log_std) = self.forward(state);
        let std = log_std.exp();
        let x = &mean + &std * eps;
        let a = x.tanh();
        let normal = -(&x - &mean).square() / (std.square() * 2.0)
            - &log_std
            - (2.0 * std::f64::consts::PI).sqrt().ln();
        let logp = normal - (-a.square() + 1.0 + SQUASH_EPS).log();
        (
            a,
            logp.sum_dim_intlist([1i64].as_slice(), true, Kind::Float),
        )
    }

    /// The deterministic action: the squashed mean.
    pub fn mean_action(&self, state: &Tensor) -> Tensor {
        self.forward(state).0.tanh()
    }
}

/// Twin Q networks over `[state, action]`.
pub struct Critic {
    q1: [nn::Linear; 3],
    q2: [nn::Linear; 3],
}

impl Critic {
    pub fn new(p: &nn::Path, input: i64, hidden: i64) -> Critic {
        let net = |name: &str| {
            let p = p / name;
            [
                linear(&p / "l1", input, hidden),
                linear(&p / "l2", hidden, hidden),
                linear(&p / "l3", hidden, 1),
            ]
        };
        Critic {
            q1: net("q1"),
            q2: net("q2"),
        }
    }

    /// Both Q values `[B, 1]`.
    pub fn forward(&self, state: &Tensor, action: &Tensor) -> (Tensor, Tensor) {
        let x = Tensor::cat(&[state, action], 1);
        let run =
            |q: &[nn::Linear; 3]| q[2].forward(&q[1].forward(&q[0].forward(&x).relu()).relu());
        (run(&self.q1), run(&self.q2))
    }
}

/// A batch of transitions (float32 on the CPU): states `[B, S]`, actions `[B, A]`, rewards
/// and masks `[B, 1]`, next states `[B, S]`.
pub struct Batch {
    pub state: Tensor,
    pub action: Tensor,
    pub reward: Tensor,
    pub next_state: Tensor,
    pub mask: Tensor,
}

/// What one update did.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct UpdateLog {
    pub q1_loss: f64,
    pub q2_loss: f64,
    pub policy_loss: f64,
    /// Mean log-probability of the policy's actions on the batch (minus the entropy).
    pub log_pi: f64,
    /// Mean of the smaller Q of the batch's actions.
    pub q: f64,
}

/// The networks and optimisers of SAC.
pub struct Agent {
    pub cfg: SacConfig,
    pub policy_vs: VarStore,
    pub critic_vs: VarStore,
    pub target_vs: VarStore,
    pub policy: Policy,
    pub critic: Critic,
    pub target: Critic,
    pub opt_policy: Adam,
    pub opt_critic: Adam,
}

impl Agent {
    /// Fresh networks (drawn from libtorch's generator: policy, critics; the targets copy the
    /// critics) on the CPU.
    pub fn new(cfg: &SacConfig, state: i64) -> Agent {
        let a = action_dim();
        let policy_vs = VarStore::new(Device::Cpu);
        let policy = Policy::new(&policy_vs.root(), state, cfg.sac_hidden);
        let critic_vs = VarStore::new(Device::Cpu);
        let critic = Critic::new(&critic_vs.root(), state + a, cfg.sac_hidden);
        let mut target_vs = VarStore::new(Device::Cpu);
        let target = Critic::new(&target_vs.root(), state + a, cfg.sac_hidden);
        target_vs.freeze();
        tch::no_grad(|| {
            let src = critic_vs.variables();
            for (name, mut t) in target_vs.variables() {
                t.copy_(&src[&name]);
            }
        });
        let opt_policy = Adam::new(&policy_vs, cfg.sac_lr, 0.9, 0.999);
        let opt_critic = Adam::new(&critic_vs, cfg.sac_lr, 0.9, 0.999);
        Agent {
            cfg: cfg.clone(),
            policy_vs,
            critic_vs,
            target_vs,
            policy,
            critic,
            target,
            opt_policy,
            opt_critic,
        }
    }

    /// The action for one state: sampled with the noise `eps` `[1, A]`, or the mean when
    /// `eps` is None.
    pub fn act(&self, state: &[f32], eps: Option<&Tensor>) -> Result<Vec<f32>> {
        let s = Tensor::from_slice(state).view([1, -1]);
        let a = tch::no_grad(|| match eps {
            Some(e) => self.policy.sample(&s, e).0,
            None => self.policy.mean_action(&s),
        });
        Ok(Vec::<f32>::try_from(a.view([-1]))?)
    }

    /// One SAC update on `b` with the noises of the next actions (`eps_next`) and of the
    /// policy's actions (`eps_pi`), both `[B, A]`.
    pub fn update(&mut self, b: &Batch, eps_next: &Tensor, eps_pi: &Tensor) -> UpdateLog {
        let c = &self.cfg;
        let y = tch::no_grad(|| {
            let (a2, logp2) = self.policy.sample(&b.next_state, eps_next);
            let (t1, t2) = self.target.forward(&b.next_state, &a2);
            &b.reward + &b.mask * c.sac_gamma * (t1.minimum(&t2) - logp2 * c.sac_alpha)
        });
        let (q1, q2) = self.critic.forward(&b.state, &b.action);
        let l1 = q1.mse_loss(&y, tch::Reduction::Mean);
        let l2 = q2.mse_loss(&y, tch::Reduction::Mean);
        self.opt_critic.zero_grad();
        (&l1 + &l2).backward();
        self.opt_critic.step();
        let (a, logp) = self.policy.sample(&b.state, eps_pi);
        let (p1, p2) = self.critic.forward(&b.state, &a);
        let qmin = p1.minimum(&p2);
        let lp = (&logp * c.sac_alpha - &qmin).mean(Kind::Float);
        self.opt_policy.zero_grad();
        lp.backward();
        self.opt_policy.step();
        tch::no_grad(|| {
            let src = self.critic_vs.variables();
            for (name, mut t) in self.target_vs.variables() {
                let v = &t * (1.0 - c.sac_tau) + &src[&name] * c.sac_tau;
                t.copy_(&v);
            }
        });
        let f = |t: &Tensor| t.double_value(&[]);
        UpdateLog {
            q1_loss: f(&l1),
            q2_loss: f(&l2),
            policy_loss: f(&lp),
            log_pi: f(&logp.mean(Kind::Float)),
            q: f(&qmin.mean(Kind::Float)),
        }
    }

    /// Every tensor of the agent (networks and optimisers) under `prefix`.
    pub fn tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (what, vs) in [
            ("policy", &self.policy_vs),
            ("critic", &self.critic_vs),
            ("target", &self.target_vs),
        ] {
            for (name, t) in vs.variables() {
                out.push((format!("{prefix}.{what}.{name}"), t.detach().copy()));
            }
        }
        out.extend(self.opt_policy.state(&format!("{prefix}.opt_policy")));
        out.extend(self.opt_critic.state(&format!("{prefix}.opt_critic")));
        out
    }

    /// Restore [`Agent::tensors`].
    pub fn load(&mut self, tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<()> {
        for (what, vs) in [
            ("policy", &self.policy_vs),
            ("critic", &self.critic_vs),
            ("target", &self.target_vs),
        ] {
            for (name, mut t) in vs.variables() {
                let key = format!("{prefix}.{what}.{name}");
                let src = tensors
                    .get(&key)
                    .with_context(|| format!("{key} is missing"))?;
                if src.size() != t.size() {
                    bail!("{key}: shape {:?}, expected {:?}", src.size(), t.size());
                }
                tch::no_grad(|| t.copy_(src));
            }
        }
        self.opt_policy
            .load_state(tensors, &format!("{prefix}.opt_policy"))?;
        self.opt_critic
            .load_state(tensors, &format!("{prefix}.opt_critic"))?;
        Ok(())
    }
}

/// Every transition of the search, in order (E2GAN's buffer holds 2.56 million: never full).
#[derive(Default)]
pub struct Replay {
    pub state: Vec<Vec<f32>>,
    pub action: Vec<Vec<f32>>,
    pub reward: Vec<f32>,
    pub next_state: Vec<Vec<f32>>,
    pub mask: Vec<f32>,
}

impl Replay {
    pub fn len(&self) -> usize {
        self.reward.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reward.is_empty()
    }

    /// The transitions at `idx`, in that order.
    pub fn batch(&self, idx: &[usize]) -> Batch {
        let rows = |v: &Vec<Vec<f32>>| {
            let flat: Vec<f32> = idx.iter().flat_map(|&i| v[i].iter().copied()).collect();
            Tensor::from_slice(&flat).view([idx.len() as i64, -1])
        };
        let col = |v: &Vec<f32>| {
            let x: Vec<f32> = idx.iter().map(|&i| v[i]).collect();
            Tensor::from_slice(&x).view([-1, 1])
        };
        Batch {
            state: rows(&self.state),
            action: rows(&self.action),
            reward: col(&self.reward),
            next_state: rows(&self.next_state),
            mask: col(&self.mask),
        }
    }

    fn tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let all: Vec<usize> = (0..self.len()).collect();
        let b = self.batch(&all);
        vec![
            (format!("{prefix}.state"), b.state),
            (format!("{prefix}.action"), b.action),
            (format!("{prefix}.reward"), b.reward),
            (format!("{prefix}.next_state"), b.next_state),
            (format!("{prefix}.mask"), b.mask),
        ]
    }

    fn load(tensors: &HashMap<String, Tensor>, prefix: &str, n: usize) -> Result<Replay> {
        let mut r = Replay::default();
        if n == 0 {
            return Ok(r);
        }
        let get = |what: &str| -> Result<Tensor> {
            let key = format!("{prefix}.{what}");
            let t = tensors
                .get(&key)
                .with_context(|| format!("{key} is missing"))?;
            if t.size().first().copied() != Some(n as i64) {
                bail!("{key}: shape {:?}, expected {n} rows", t.size());
            }
            Ok(t.to_kind(Kind::Float).contiguous())
        };
        let rows = |t: Tensor| -> Result<Vec<Vec<f32>>> {
            let w = t.size()[1] as usize;
            let flat = Vec::<f32>::try_from(t.view([-1]))?;
            Ok(flat.chunks(w).map(<[f32]>::to_vec).collect())
        };
        r.state = rows(get("state")?)?;
        r.action = rows(get("action")?)?;
        r.reward = Vec::<f32>::try_from(get("reward")?.view([-1]))?;
        r.next_state = rows(get("next_state")?)?;
        r.mask = Vec::<f32>::try_from(get("mask")?.view([-1]))?;
        Ok(r)
    }
}

/// One episode's result.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpisodeRecord {
    pub arch: Vec<i64>,
    pub is: f64,
    pub fid: f64,
    pub exploit: bool,
}

pub struct Sac {
    pub cfg: SacConfig,
    pub agent: Agent,
    pub replay: Replay,
    /// Updates so far.
    pub updates: u64,
    /// Every episode's complete architecture and scores.
    pub episodes: Vec<EpisodeRecord>,
}

impl Sac {
    pub fn new(cfg: &SearchConfig) -> Sac {
        Sac {
            cfg: cfg.sac.clone(),
            agent: Agent::new(&cfg.sac, state_dim(cfg.gf_dim)),
            replay: Replay::default(),
            updates: 0,
            episodes: Vec::new(),
        }
    }

    /// `n` updates on batches of up to `batch` transitions drawn without replacement; the
    /// last one's log.
    fn learn(&mut self, n: u64, batch: usize, rng: &mut StdRng) -> Option<UpdateLog> {
        let mut last = None;
        for _ in 0..n {
            let len = self.replay.len();
            let k = batch.min(len);
            let idx = rand::seq::index::sample(rng, len, k).into_vec();
            let b = self.replay.batch(&idx);
            let shape = [k as i64, action_dim()];
            let eps_next = Tensor::randn(shape, (Kind::Float, Device::Cpu));
            let eps_pi = Tensor::randn(shape, (Kind::Float, Device::Cpu));
            last = Some(self.agent.update(&b, &eps_next, &eps_pi));
            self.updates += 1;
        }
        last
    }

    fn not_progressive(&self) -> anyhow::Error {
        anyhow::anyhow!("the sac strategy runs episodes: the search calls Strategy::episode")
    }
}

fn log_fields(m: &mut Observation, u: &Option<UpdateLog>, alpha: f64) {
    if let Some(u) = u {
        if let Ok(serde_json::Value::Object(v)) = serde_json::to_value(u) {
            m.extend(v);
        }
        m.insert("alpha".into(), alpha.into());
    }
}

impl Strategy for Sac {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Sac
    }

    fn begin_stage(&mut self, _stage: usize, _vars: &VarStore) -> Result<()> {
        Ok(())
    }

    fn propose_for_training(&mut self, _: Option<&Beam>, _: &mut StdRng) -> Result<Vec<i64>> {
        Err(self.not_progressive())
    }

    fn propose(&mut self, _: usize, _: Option<&Beam>, _: &mut StdRng) -> Result<Vec<Vec<i64>>> {
        Err(self.not_progressive())
    }

    fn observe(&mut self, _: &[Vec<i64>], _: &[f64]) -> Result<Observation> {
        Err(self.not_progressive())
    }

    fn episode(
        &mut self,
        episode: u64,
        env: &mut dyn Environment,
        rng: &mut StdRng,
    ) -> Result<Vec<Observation>> {
        let c = self.cfg.clone();
        let exploit = episode >= c.sac_episodes.saturating_sub(c.sac_exploit_episodes);
        let updates = if exploit {
            c.sac_exploit_updates
        } else {
            c.sac_updates
        };
        env.reinit();
        let feat = env.gf_dim() as usize;
        let (mut is, mut fid) = (1.0, 0.0);
        let mut state: Vec<f32> = [0.0, 1.0, 0.0].into_iter().chain(vec![0.0; feat]).collect();
        let mut arch = Vec::new();
        let mut lines = Vec::new();
        for step in 0..NUM_CELLS {
            let eps =
                (!exploit).then(|| Tensor::randn([1, action_dim()], (Kind::Float, Device::Cpu)));
            let action = self.agent.act(&state, eps.as_ref())?;
            let cell = tokens(&action, step);
            arch.extend(cell.iter().copied());
            let trained = env.train(&arch)?;
            let ev = env.evaluate(&arch)?;
            if !(ev.is.is_finite() && ev.fid.is_finite()) {
                bail!(
                    "the IS / FID of {arch:?} are not finite ({} / {}); the generator may have \
                     diverged",
                    ev.is,
                    ev.fid
                );
            }
            let reward = (ev.is - is) + 0.01 * (fid - ev.fid);
            let next: Vec<f32> = [(step + 1) as f32, ev.is as f32, (0.01 * ev.fid) as f32]
                .into_iter()
                .chain(ev.features.iter().copied())
                .collect();
            self.replay.state.push(state);
            self.replay.action.push(action);
            self.replay.reward.push(reward as f32);
            self.replay.next_state.push(next.clone());
            self.replay
                .mask
                .push(if step + 1 == NUM_CELLS { 0.0 } else { 1.0 });
            let u = match self.replay.len() >= c.sac_start {
                true => self.learn(updates, c.sac_batch, rng),
                false => None,
            };
            let mut m = Observation::new();
            m.insert("archs".into(), serde_json::json!([arch]));
            m.insert("scores".into(), serde_json::json!([ev.is]));
            m.insert("reward".into(), reward.into());
            m.insert("is".into(), ev.is.into());
            m.insert("fid".into(), ev.fid.into());
            m.insert("exploit".into(), exploit.into());
            m.insert("d_steps".into(), trained.d_steps.into());
            m.insert("d_loss".into(), trained.d_loss.into());
            m.insert("g_loss".into(), trained.g_loss.into());
            m.insert("reset".into(), trained.reset.into());
            m.insert("buffer".into(), (self.replay.len() as u64).into());
            m.insert("updates".into(), self.updates.into());
            log_fields(&mut m, &u, c.sac_alpha);
            lines.push(m);
            state = next;
            (is, fid) = (ev.is, ev.fid);
        }
        // One more update on the whole buffer after each episode, as E2GAN.
        let n = self.replay.len();
        let u = self.learn(1, n, rng);
        if let Some(m) = lines.last_mut() {
            let mut end = Observation::new();
            log_fields(&mut end, &u, c.sac_alpha);
            m.insert("episode_update".into(), end.into());
            m.insert("updates".into(), self.updates.into());
        }
        self.episodes.push(EpisodeRecord {
            arch,
            is,
            fid,
            exploit,
        });
        Ok(lines)
    }

    fn candidates(&mut self, n: usize, _: Option<&Beam>, _: &mut StdRng) -> Result<Vec<BeamEntry>> {
        if self.episodes.is_empty() {
            bail!("sac: no episode has run");
        }
        // The exploitation episodes' architectures first (they repeat the policy's mean, so
        // often one architecture), then the exploring episodes' best, up to n distinct.
        let pick = |exploit: bool| -> Vec<Observed> {
            self.episodes
                .iter()
                .filter(|e| e.exploit == exploit)
                .map(|e| Observed {
                    arch: e.arch.clone(),
                    score: e.is,
                })
                .collect()
        };
        let mut out: Vec<BeamEntry> = Vec::new();
        for group in [pick(true), pick(false)] {
            for arch in best_distinct(&group, n) {
                if out.len() == n || out.iter().any(|e| e.prefix == arch) {
                    continue;
                }
                let score = group
                    .iter()
                    .filter(|o| o.arch == arch)
                    .map(|o| o.score)
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut e = stateless_entry(arch);
                e.score = score;
                out.push(e);
            }
        }
        Ok(out)
    }

    fn save(&self, _vars: &VarStore) -> Result<Saved> {
        let mut tensors = self.agent.tensors("sac");
        if !self.replay.is_empty() {
            tensors.extend(self.replay.tensors("sac.replay"));
        }
        Ok(Saved {
            tensors,
            state: serde_json::json!({
                "updates": self.updates,
                "transitions": self.replay.len(),
                "episodes": self.episodes,
            }),
        })
    }

    fn load(
        &mut self,
        _vars: &VarStore,
        tensors: &HashMap<String, Tensor>,
        state: &serde_json::Value,
    ) -> Result<()> {
        self.agent.load(tensors, "sac")?;
        let n = state["transitions"]
            .as_u64()
            .context("sac: no transition count")? as usize;
        self.replay = Replay::load(tensors, "sac.replay", n)?;
        self.updates = state["updates"].as_u64().context("sac: no update count")?;
        self.episodes = serde_json::from_value(state["episodes"].clone())
            .context("sac: the episodes' records")?;
        Ok(())
    }
}
