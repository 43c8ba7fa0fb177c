//! Adam with the exact update of `torch.optim.Adam` (no weight decay, no amsgrad) and a state
//! that can be saved and restored (tch's optimiser cannot export its moment estimates), run
//! over flat buffers: the parameters, their gradients and both moments are each one contiguous
//! tensor (see `flat`), so a step is about ten kernels whatever the number of parameters.
//!
//! Which parameters are updated, exactly as the per-tensor loop it replaces and as PyTorch
//! with `zero_grad(set_to_none=False)` (the reference's PyTorch 1.1 `zero_grad`):
//! - a parameter whose gradient is undefined (never reached by a backward pass since the
//!   process started; in a supernet, every op not yet on a sampled path) is skipped: its
//!   moments, value and step count do not change;
//! - once a backward pass has reached it, its gradient stays defined (zero_grad zeroes it), so
//!   it is updated at every step from then on, with a zero gradient when its path was not
//!   taken; each parameter counts its own steps for the bias corrections.
//!
//! Such a parameter is "active". Its gradient is moved into the flat gradient buffer when it
//! first appears (and stays a view of it, so later backward passes accumulate into the buffer
//! and zero_grad is one kernel). Inactive parameters have zero gradient and moments in the
//! buffers, and are given a step size for which the update is exactly -0.0, which leaves any
//! value bit-for-bit unchanged. When every active parameter has the same step count (always,
//! for a fixed architecture) the bias corrections are scalars; otherwise they are per-element
//! vectors gathered from a per-parameter table.
//!
//! Bit-exactness (CPU): the update is the same sequence of float32 kernels with the same
//! scalars as PyTorch's single-tensor and foreach Adam (`lerp_`, `mul_`, `addcmul_`, `sqrt`,
//! a division by `sqrt(1 - beta2^t)`, `+ eps`, `addcdiv_` with value `-lr / (1 - beta1^t)`),
//! with the scalars computed in float64 as Python does (`tests/parity.rs` checks this against
//! PyTorch). On CUDA, libtorch turns a division by a scalar into a multiplication by its
//! inverse, so the scalar and the per-element paths can differ in the last bit there.
use anyhow::{bail, Result};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

use super::flat::Flat;

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    params: Flat,
    /// Gradients of the active parameters, laid out as `params`.
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    steps: Vec<i64>,
    active: Vec<bool>,
    n_active: usize,
    /// Parameter index of every element (int32, on the device), built when first needed.
    owner: Option<Tensor>,
}

/// `x^y` through libm's `pow`, as Python's float `**` computes it (the optimiser must not turn
/// `x^0.5` into `sqrt(x)`, which can differ in the last bit).
fn pow(x: f64, y: f64) -> f64 {
    x.powf(std::hint::black_box(y))
}

impl Adam {
    /// Optimise every trainable variable of `vs` (sorted by name). The variables become views
    /// into one buffer (shared with any other `Flat` over the same list).
    pub fn new(vs: &tch::nn::VarStore, lr: f64, beta1: f64, beta2: f64) -> Adam {
        let params = Flat::new(super::named_trainable(vs));
        let zeros = || params.buffer.zeros_like();
        let (grad, m, v) = (zeros(), zeros(), zeros());
        let n = params.tensors.len();
        let mut adam = Adam {
            lr,
            beta1,
            beta2,
            eps: 1e-8,
            params,
            grad,
            m,
            v,
            steps: vec![0; n],
            active: vec![false; n],
            n_active: 0,
            owner: None,
        };
        adam.adopt_new_grads();
        adam
    }

    /// Names of the optimised parameters, in buffer order.
    pub fn names(&self) -> &[String] {
        &self.params.names
    }

    /// The parameters' flat buffer (1-d): writing to it writes the parameters.
    pub fn flat_params(&self) -> &Tensor {
        &self.params.buffer
    }

    /// Move every newly defined gradient into the flat gradient buffer.
    fn adopt_new_grads(&mut self) {
        if self.n_active == self.active.len() {
            return;
        }
        tch::no_grad(|| {
            for i in 0..self.active.len() {
                if self.active[i] {
                    continue;
                }
                let mut g = self.params.tensors[i].grad();
                if g.defined() {
                    let slot = self.params.slot(&self.grad, i);
                    slot.shallow_clone().copy_(&g);
                    g.set_data(&slot);
                    self.active[i] = true;
                    self.n_active += 1;
                }
            }
        });
    }

    /// Give the parameters marked in `want` a (zero) gradient, as if a backward pass had
    /// reached them: restores the active set of a saved state.
    fn activate(&mut self, want: &[bool]) {
        self.adopt_new_grads();
        let missing: Vec<&Tensor> = (0..want.len())
            .filter(|&i| want[i] && !self.active[i])
            .map(|i| &self.params.tensors[i])
            .collect();
        if missing.is_empty() {
            return;
        }
        tch::with_grad(|| {
            let zero: Tensor = missing
                .iter()
                .map(|p| p.sum(p.kind()) * 0.0)
                .reduce(|a, b| a + b)
                .expect("non-empty");
            zero.backward();
        });
        self.adopt_new_grads();
    }

    /// Zero the gradients of all parameters (defined gradients stay defined).
    pub fn zero_grad(&mut self) {
        self.adopt_new_grads();
        tch::no_grad(|| {
            let _ = self.grad.zero_();
        });
    }

    /// One Adam step on the current gradients.
    pub fn step(&mut self) {
        self.adopt_new_grads();
        if self.n_active == 0 {
            return;
        }
        let mut t_common = None;
        let mut uniform = true;
        for i in 0..self.steps.len() {
            if self.active[i] {
                self.steps[i] += 1;
                match t_common {
                    None => t_common = Some(self.steps[i]),
                    Some(t) if t != self.steps[i] => uniform = false,
                    _ => {}
                }
            }
        }
        let (b1, b2, lr, eps) = (self.beta1, self.beta2, self.lr, self.eps);
        let per_element = if uniform {
            None
        } else {
            let (step_size, bc2_root) = self.tables();
            let owner = self.owner();
            Some((step_size, bc2_root, owner))
        };
        tch::no_grad(|| {
            let g = &self.grad;
            let _ = self.m.lerp_(g, 1.0 - b1);
            let _ = self.v.g_mul_scalar_(b2);
            let _ = self.v.addcmul_(&(g * (1.0 - b2)), g);
            let root = self.v.sqrt();
            let (denom, scaled) = match &per_element {
                None => {
                    let t = t_common.unwrap_or(1) as f64;
                    let bc1 = 1.0 - pow(b1, t);
                    let bc2 = 1.0 - pow(b2, t);
                    (root / pow(bc2, 0.5) + eps, &self.m * (-lr / bc1))
                }
                Some((step_size, bc2_root, owner)) => {
                    let s = step_size.index_select(0, owner);
                    let c = bc2_root.index_select(0, owner);
                    (root / c + eps, &self.m * s)
                }
            };
            let _ = self.params.buffer.addcdiv_(&scaled, &denom);
        });
    }

    /// Per-parameter float32 `-lr / (1 - beta1^t)` and `sqrt(1 - beta2^t)` on the device;
    /// inactive parameters get `-lr` and 1 (their update is -0.0 whatever these are, as long as
    /// the step size is negative and finite).
    fn tables(&self) -> (Tensor, Tensor) {
        let n = self.steps.len();
        let mut step_size = Vec::with_capacity(n);
        let mut bc2_root = Vec::with_capacity(n);
        for i in 0..n {
            if self.active[i] {
                let t = self.steps[i] as f64;
                step_size.push((-self.lr / (1.0 - pow(self.beta1, t))) as f32);
                bc2_root.push(pow(1.0 - pow(self.beta2, t), 0.5) as f32);
            } else {
                step_size.push(-self.lr as f32);
                bc2_root.push(1.0);
            }
        }
        let device = self.params.buffer.device();
        (upload(&step_size, device), upload(&bc2_root, device))
    }

    /// The parameter index of every element, built once.
    fn owner(&mut self) -> Tensor {
        if let Some(o) = &self.owner {
            return o.shallow_clone();
        }
        let mut idx = Vec::with_capacity(self.params.total() as usize);
        for (i, n) in self.params.numels.iter().enumerate() {
            idx.extend(std::iter::repeat_n(i as i32, *n as usize));
        }
        let o = Tensor::from_slice(&idx).to_device(self.params.buffer.device());
        self.owner = Some(o.shallow_clone());
        o
    }

    /// The state as named tensors: `{prefix}.m.{name}`, `{prefix}.v.{name}`,
    /// `{prefix}.step.{name}` (int64 scalar) and `{prefix}.active.{name}` (uint8 scalar: 1 when
    /// the parameter's gradient is defined, see the module notes).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(4 * self.steps.len());
        for (i, name) in self.params.names.iter().enumerate() {
            out.push((format!("{prefix}.m.{name}"), self.params.slot(&self.m, i)));
            out.push((format!("{prefix}.v.{name}"), self.params.slot(&self.v, i)));
            out.push((
                format!("{prefix}.step.{name}"),
                Tensor::from(self.steps[i]).to_kind(Kind::Int64),
            ));
            out.push((
                format!("{prefix}.active.{name}"),
                Tensor::from(self.active[i] as u8 as i64).to_kind(Kind::Uint8),
            ));
        }
        out
    }

    /// Restore a state written by [`Adam::state`]. States written before `active` was saved
    /// count a parameter active when its step count is positive.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<()> {
        let mut want = vec![false; self.steps.len()];
        for (i, name) in self.params.names.iter().enumerate() {
            let get = |what: &str| -> Result<&Tensor> {
                let key = format!("{prefix}.{what}.{name}");
                tensors
                    .get(&key)
                    .ok_or_else(|| anyhow::anyhow!("optimiser state {key} is missing"))
            };
            let (m, v) = (get("m")?, get("v")?);
            let size = self.params.tensors[i].size();
            if m.size() != size || v.size() != size {
                bail!(
                    "optimiser state of {name}: shape {:?}, parameter {:?}",
                    m.size(),
                    size
                );
            }
            tch::no_grad(|| {
                self.params.slot(&self.m, i).copy_(m);
                self.params.slot(&self.v, i).copy_(v);
            });
            self.steps[i] = get("step")?.int64_value(&[]);
            want[i] = match tensors.get(&format!("{prefix}.active.{name}")) {
                Some(a) => a.int64_value(&[]) != 0,
                None => self.steps[i] > 0,
            };
        }
        self.activate(&want);
        Ok(())
    }
}

/// A small host vector on `device`; on CUDA through pinned memory without blocking the host
/// (the caching host allocator keeps the pinned block until the copy has run).
fn upload(v: &[f32], device: Device) -> Tensor {
    let t = Tensor::from_slice(v);
    match device {
        Device::Cpu => t,
        _ => match t.f_pin_memory(device) {
            Ok(p) => p.to_device_(device, Kind::Float, true, false),
            Err(_) => t.to_device(device),
        },
    }
}
