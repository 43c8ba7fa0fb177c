//! REINFORCE for the controller (SPEC section 6, with the fix of section 8): reward
//! R = score + entropy_coeff * entropy per sample; a moving-average baseline that persists
//! across calls, b <- decay * b + (1 - decay) * mean(R), initialised to the first mean(R);
//! advantage R - b; loss = -mean over the batch of (sum of log-probs) * advantage; one Adam
//! step. The reward and the baseline are constants for the gradient (the entropy enters only
//! through the reward, as in the reference).
//!
//! The optimiser is the project's [`Adam`] (so its moments can be checkpointed) with the
//! reference controller's settings: lr 3.5e-4 and betas (0.0, 0.9) (the reference builds the
//! controller's Adam with the same `(beta1, beta2)` flags as G and D).
//!
//! With `adv_norm` (not the paper's; `ctrl_adv_norm` in a preset) the advantages are normalised
//! within the batch instead: (R_i - mean R) / sd R, the sample standard deviation (all zero
//! when every R is equal). The moving baseline is still kept, for the logs.
//!
//! Checkpoint state: the controller's variables, the Adam state and the baseline, as named
//! tensors ([`Reinforce::state`]) or one safetensors file ([`Reinforce::save`]).
use super::controller::Sample;
use crate::gan::adam::Adam;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

pub const DEFAULT_LR: f64 = 3.5e-4;
pub const DEFAULT_BETAS: (f64, f64) = (0.0, 0.9);
pub const DEFAULT_DECAY: f64 = 0.9;
pub const DEFAULT_ENTROPY_COEFF: f64 = 1e-3;

pub struct Reinforce {
    /// Moving-average baseline; `None` until the first update.
    pub baseline: Option<f64>,
    pub decay: f64,
    pub entropy_coeff: f64,
    /// Normalise the advantages within each batch (see the module text).
    pub adv_norm: bool,
    pub opt: Adam,
}

/// What one controller update did.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Mean of R = score + entropy_coeff * entropy over the batch.
    pub reward: f64,
    /// Mean of the raw scores.
    pub score: f64,
    /// Baseline after this update (the one the advantages used).
    pub baseline: f64,
    /// Mean advantage R - b.
    pub advantage: f64,
    /// Mean summed entropy.
    pub entropy: f64,
    /// The policy loss that was minimised.
    pub loss: f64,
}

impl Reinforce {
    /// REINFORCE over every trainable variable of `vs` (the controller's own var store) with
    /// the default lr, betas, baseline decay and entropy coefficient.
    pub fn new(vs: &VarStore) -> Reinforce {
        Reinforce::with(
            vs,
            DEFAULT_LR,
            DEFAULT_BETAS,
            DEFAULT_DECAY,
            DEFAULT_ENTROPY_COEFF,
        )
    }

    pub fn with(
        vs: &VarStore,
        lr: f64,
        betas: (f64, f64),
        decay: f64,
        entropy_coeff: f64,
    ) -> Reinforce {
        Reinforce {
            baseline: None,
            decay,
            entropy_coeff,
            adv_norm: false,
            opt: Adam::new(vs, lr, betas.0, betas.1),
        }
    }

    /// Rewards R_i = scores[i] + entropy_coeff * entropy_i for a sample (no gradient).
    pub fn rewards(&self, sample: &Sample, scores: &[f64]) -> Result<Vec<f64>> {
        let ent: Vec<f64> = Vec::<f64>::try_from(
            sample
                .entropy
                .detach()
                .to_kind(Kind::Double)
                .to(tch::Device::Cpu),
        )?;
        if ent.len() != scores.len() {
            bail!(
                "REINFORCE: {} scores for a sample of {}",
                scores.len(),
                ent.len()
            );
        }
        Ok(scores
            .iter()
            .zip(&ent)
            .map(|(s, e)| s + self.entropy_coeff * e)
            .collect())
    }

    /// One policy-gradient step on `sample` (drawn from the controller whose variables this
    /// optimiser owns, graph intact) with one score per sample.
    pub fn step(&mut self, sample: &Sample, scores: &[f64]) -> Result<Stats> {
        let r = self.rewards(sample, scores)?;
        if r.is_empty() {
            bail!("REINFORCE: empty sample");
        }
        if let Some(i) = r.iter().position(|x| !x.is_finite()) {
            bail!(
                "REINFORCE: reward {i} is not finite ({}); the score may have failed",
                r[i]
            );
        }
        let n = r.len() as f64;
        let mean_r = r.iter().sum::<f64>() / n;
        let b = match self.baseline {
            None => mean_r,
            Some(b) => self.decay * b + (1.0 - self.decay) * mean_r,
        };
        self.baseline = Some(b);
        let adv: Vec<f32> = if self.adv_norm {
            let var = if r.len() > 1 {
                r.iter().map(|x| (x - mean_r).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            let sd = var.sqrt();
            r.iter()
                .map(|x| {
                    if sd > 0.0 {
                        ((x - mean_r) / sd) as f32
                    } else {
                        0.0
                    }
                })
                .collect()
        } else {
            r.iter().map(|x| (x - b) as f32).collect()
        };
        let device = sample.log_prob.device();
        let adv_t = Tensor::from_slice(&adv).to_device(device);
        let loss = -(&sample.log_prob * &adv_t).mean(Kind::Float);
        self.opt.zero_grad();
        loss.backward();
        self.opt.step();
        let entropy = sample.entropy.detach().mean(Kind::Float).double_value(&[]);
        Ok(Stats {
            reward: mean_r,
            score: scores.iter().sum::<f64>() / n,
            baseline: b,
            advantage: adv.iter().map(|&a| a as f64).sum::<f64>() / n,
            entropy,
            loss: loss.double_value(&[]),
        })
    }

    /// Named tensors for a checkpoint: `{prefix}.weights.{name}` (every variable of `vs`),
    /// `{prefix}.adam.*` (see [`Adam::state`]) and `{prefix}.baseline` (float64 scalar,
    /// absent while there is no baseline).
    pub fn state(&self, vs: &VarStore, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = crate::gan::named_all(vs)
            .into_iter()
            .map(|(name, t)| (format!("{prefix}.weights.{name}"), t.detach()))
            .collect();
        out.extend(self.opt.state(&format!("{prefix}.adam")));
        if let Some(b) = self.baseline {
            out.push((
                format!("{prefix}.baseline"),
                Tensor::from(b).to_kind(Kind::Double),
            ));
        }
        out
    }

    /// Restore a state written by [`Reinforce::state`] into `vs` and this optimiser. Every
    /// tensor is checked before anything is changed.
    pub fn load_state(
        &mut self,
        vs: &VarStore,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
    ) -> Result<()> {
        let vars = crate::gan::named_all(vs);
        let mut wanted: Vec<(String, Vec<i64>)> = vars
            .iter()
            .map(|(name, v)| (format!("{prefix}.weights.{name}"), v.size()))
            .collect();
        // `adam.active.*` may be absent (states written before the flat Adam): Adam derives it.
        let optional = format!("{prefix}.adam.active.");
        wanted.extend(
            self.opt
                .state(&format!("{prefix}.adam"))
                .into_iter()
                .filter(|(k, _)| !k.starts_with(&optional))
                .map(|(k, t)| (k, t.size())),
        );
        for (key, size) in &wanted {
            let t = tensors
                .get(key)
                .with_context(|| format!("controller state {key} is missing"))?;
            if &t.size() != size {
                bail!(
                    "controller state {key}: shape {:?} in the checkpoint, {:?} in the model",
                    t.size(),
                    size
                );
            }
        }
        for (name, var) in vars {
            let t = &tensors[&format!("{prefix}.weights.{name}")];
            tch::no_grad(|| var.shallow_clone().copy_(t));
        }
        self.opt.load_state(tensors, &format!("{prefix}.adam"))?;
        self.baseline = tensors
            .get(&format!("{prefix}.baseline"))
            .map(|t| t.double_value(&[]));
        Ok(())
    }

    /// Settings and baseline in readable form (for logs and run directories).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "baseline": self.baseline,
            "decay": self.decay,
            "entropy_coeff": self.entropy_coeff,
            "adv_norm": self.adv_norm,
            "lr": self.opt.lr,
            "betas": [self.opt.beta1, self.opt.beta2],
        })
    }

    /// Write [`Reinforce::state`] (prefix `controller`) to a safetensors file, atomically,
    /// with [`Reinforce::to_json`] as metadata `reinforce`.
    pub fn save(&self, vs: &VarStore, path: &Path) -> Result<()> {
        let mut meta = BTreeMap::new();
        meta.insert("reinforce".to_string(), self.to_json().to_string());
        crate::safetensors::write(path, &self.state(vs, "controller"), &meta)
    }

    /// Read a file written by [`Reinforce::save`] into `vs` and this optimiser.
    pub fn load(&mut self, vs: &VarStore, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> =
            crate::safetensors::read(path)?.into_iter().collect();
        self.load_state(vs, &tensors, "controller")
            .with_context(|| {
                format!(
                    "{}: not a controller checkpoint of this stage",
                    path.display()
                )
            })
    }
}
