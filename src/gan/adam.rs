//! Adam with the exact update of `torch.optim.Adam` (no weight decay, no amsgrad) and a state
//! that can be saved and restored (tch's optimiser cannot export its moment estimates).
//! A parameter whose gradient is undefined is skipped, as in PyTorch; each parameter keeps
//! its own step count for the bias corrections.
use anyhow::{bail, Result};
use std::collections::HashMap;
use tch::{Kind, Tensor};

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    steps: Vec<i64>,
}

impl Adam {
    /// Optimise every trainable variable of `vs`.
    pub fn new(vs: &tch::nn::VarStore, lr: f64, beta1: f64, beta2: f64) -> Adam {
        let params = super::named_trainable(vs);
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let steps = vec![0; params.len()];
        Adam {
            lr,
            beta1,
            beta2,
            eps: 1e-8,
            params,
            m,
            v,
            steps,
        }
    }

    /// Zero the gradients of all parameters.
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One Adam step on the current gradients.
    pub fn step(&mut self) {
        tch::no_grad(|| {
            for i in 0..self.params.len() {
                let p = &self.params[i].1;
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                self.steps[i] += 1;
                let t = self.steps[i] as f64;
                let bc1 = 1.0 - self.beta1.powf(t);
                let bc2 = 1.0 - self.beta2.powf(t);
                let _ = self.m[i].lerp_(&g, 1.0 - self.beta1);
                let _ = self.v[i].g_mul_scalar_(self.beta2);
                let _ = self.v[i].addcmul_(&(&g * (1.0 - self.beta2)), &g);
                let denom = self.v[i].sqrt() / bc2.sqrt() + self.eps;
                let mut p = p.shallow_clone();
                let _ = p.addcdiv_(&(&self.m[i] * (-self.lr / bc1)), &denom);
            }
        });
    }

    /// The state as named tensors: `{prefix}.m.{name}`, `{prefix}.v.{name}`,
    /// `{prefix}.step.{name}` (int64 scalar).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(3 * self.params.len());
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("{prefix}.m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("{prefix}.v.{name}"), self.v[i].shallow_clone()));
            out.push((
                format!("{prefix}.step.{name}"),
                Tensor::from(self.steps[i]).to_kind(Kind::Int64),
            ));
        }
        out
    }

    /// Restore a state written by [`Adam::state`].
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            let get = |what: &str| -> Result<&Tensor> {
                let key = format!("{prefix}.{what}.{name}");
                tensors
                    .get(&key)
                    .ok_or_else(|| anyhow::anyhow!("optimiser state {key} is missing"))
            };
            let (m, v) = (get("m")?, get("v")?);
            if m.size() != p.size() || v.size() != p.size() {
                bail!(
                    "optimiser state of {name}: shape {:?}, parameter {:?}",
                    m.size(),
                    p.size()
                );
            }
            tch::no_grad(|| {
                self.m[i].copy_(m);
                self.v[i].copy_(v);
            });
            self.steps[i] = get("step")?.int64_value(&[]);
        }
        Ok(())
    }
}
