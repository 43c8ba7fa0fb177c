//! The paper's strategy (SPEC section 6): per stage an LSTM [`Controller`] trained with
//! [`Reinforce`] on the scorer's IS, and the multi-level beam: the next stage's controller
//! starts each sample from a kept prefix's LSTM state.
//!
//! Shared training and the ranking at stage changes draw from the controller without a
//! graph; the reward phase keeps the graph of its batch for the policy-gradient step. The
//! controller lives on the CPU whatever the search's device (its few small ops would cost a
//! device round trip per sampled architecture there).
use anyhow::{Context, Result};
use rand::rngs::StdRng;
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::Tensor;

use super::{Observation, Saved, Strategy, StrategyKind};
use crate::config::SearchConfig;
use crate::search::beam::{Beam, BeamEntry};
use crate::search::controller::{Controller, Sample};
use crate::search::reinforce::Reinforce;

pub struct ReinforceBeam {
    hid: i64,
    lr: f64,
    betas: (f64, f64),
    decay: f64,
    entropy_coeff: f64,
    adv_norm: bool,
    /// Draw distinct end-of-stage candidates (`distinct_candidates`).
    distinct: bool,
    /// The current stage's controller and its optimiser.
    pub ctrl: Controller,
    pub reinforce: Reinforce,
    /// The last reward-phase sample, graph intact, until its scores arrive.
    pending: Option<Sample>,
}

impl ReinforceBeam {
    /// A fresh stage-0 controller, its variables created in `vars`.
    pub fn new(cfg: &SearchConfig, vars: &VarStore) -> ReinforceBeam {
        let ctrl = Controller::new(&vars.root(), 0, cfg.hid_size);
        let betas = (cfg.beta1, cfg.beta2);
        let mut reinforce = Reinforce::with(
            vars,
            cfg.ctrl_lr,
            betas,
            cfg.baseline_decay,
            cfg.entropy_coeff,
        );
        reinforce.adv_norm = cfg.ctrl_adv_norm;
        ReinforceBeam {
            hid: cfg.hid_size,
            lr: cfg.ctrl_lr,
            betas,
            decay: cfg.baseline_decay,
            entropy_coeff: cfg.entropy_coeff,
            adv_norm: cfg.ctrl_adv_norm,
            distinct: cfg.distinct_candidates,
            ctrl,
            reinforce,
            pending: None,
        }
    }

    fn optimiser(&self, vars: &VarStore) -> Reinforce {
        let mut r = Reinforce::with(vars, self.lr, self.betas, self.decay, self.entropy_coeff);
        r.adv_norm = self.adv_norm;
        r
    }
}

impl Strategy for ReinforceBeam {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Reinforce
    }

    fn begin_stage(&mut self, stage: usize, vars: &VarStore) -> Result<()> {
        self.ctrl = Controller::new(&vars.root(), stage, self.hid);
        self.reinforce = self.optimiser(vars);
        self.pending = None;
        Ok(())
    }

    fn propose_for_training(&mut self, kept: Option<&Beam>, rng: &mut StdRng) -> Result<Vec<i64>> {
        let mut draw = tch::no_grad(|| self.ctrl.draw(1, kept, rng))?;
        Ok(draw.archs.remove(0))
    }

    fn propose(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> Result<Vec<Vec<i64>>> {
        let draw = self.ctrl.draw(n as i64, kept, rng)?;
        self.pending = Some(draw.sample);
        Ok(draw.archs)
    }

    fn observe(&mut self, _archs: &[Vec<i64>], scores: &[f64]) -> Result<Observation> {
        let sample = self
            .pending
            .take()
            .context("REINFORCE: scores without a proposed batch")?;
        let st = self.reinforce.step(&sample, scores)?;
        // The policy's distribution over each decision: the batch mean of the per-sample
        // distributions (they differ by the kept prefix the sample extends).
        let probs: Vec<Vec<f64>> = sample
            .probs
            .iter()
            .map(|p| Vec::<f64>::try_from(p.mean_dim(0, false, tch::Kind::Double)))
            .collect::<Result<_, _>>()?;
        let mut m = Observation::new();
        m.insert("reward".into(), st.reward.into());
        m.insert("baseline".into(), st.baseline.into());
        m.insert("advantage".into(), st.advantage.into());
        m.insert("entropy".into(), st.entropy.into());
        m.insert("loss".into(), st.loss.into());
        m.insert("probs".into(), serde_json::json!(probs));
        Ok(m)
    }

    fn candidates(
        &mut self,
        n: usize,
        kept: Option<&Beam>,
        rng: &mut StdRng,
    ) -> Result<Vec<BeamEntry>> {
        let mut out: Vec<BeamEntry> = Vec::with_capacity(n);
        // Without `distinct`, one draw of n (the paper). With it, draws of n until n distinct
        // architectures are found or 20 n have been drawn (a policy sure of fewer than n
        // architectures then gives fewer candidates).
        let mut drawn = 0;
        while out.len() < n && (drawn == 0 || (self.distinct && drawn < 20 * n)) {
            let draw = tch::no_grad(|| self.ctrl.draw(n as i64, kept, rng))?;
            drawn += n;
            let (h, c) = (draw.sample.state.0.detach(), draw.sample.state.1.detach());
            for (i, a) in draw.archs.into_iter().enumerate() {
                if out.len() == n || (self.distinct && out.iter().any(|e| e.prefix == a)) {
                    continue;
                }
                out.push(BeamEntry::new(
                    a,
                    &h.get(i as i64),
                    &c.get(i as i64),
                    f64::NAN,
                ));
            }
        }
        Ok(out)
    }

    fn save(&self, vars: &VarStore) -> Result<Saved> {
        Ok(Saved {
            tensors: self.reinforce.state(vars, "ctrl"),
            state: serde_json::Value::Null,
        })
    }

    fn load(
        &mut self,
        vars: &VarStore,
        tensors: &HashMap<String, Tensor>,
        _state: &serde_json::Value,
    ) -> Result<()> {
        self.reinforce.load_state(vars, tensors, "ctrl")
    }
}
