//! Spectral normalisation equal to PyTorch's `torch.nn.utils.spectral_norm` (n_power_iterations
//! 1, dim 0, eps 1e-12), and the spectrally normalised Conv2d and Linear of the discriminator.
//!
//! Variables (names as PyTorch's state dict): `weight_orig` (trainable), `weight_u` `[h]` and
//! `weight_v` `[w]` (not trainable) where the weight is viewed as a matrix `[h, w]`,
//! `h = out channels`. Initially `u = normalize(randn(h))`, `v = normalize(randn(w))`, drawn
//! in that order, as PyTorch's `SpectralNorm.apply` does.
//!
//! Forward in training mode: one power iteration under no-grad that updates u and v in place
//! (`v = normalize(W^T u)`, then `u = normalize(W v)`, `normalize(x) = x / max(|x|, eps)`);
//! then `sigma = u . (W v)` with u, v detached (copies, so a second forward before backward
//! cannot invalidate the first one's graph) and the weight is `W / sigma` (gradient through W
//! and sigma). Evaluation mode uses the stored u, v without iterating.
use tch::nn::Path;
use tch::Tensor;

use super::layers::{reinit, torch_default, xavier_uniform};

pub const EPS: f64 = 1e-12;

fn normalize(x: &Tensor) -> Tensor {
    x / x.norm().clamp_min(EPS)
}

/// A weight under spectral norm: the original weight and the power-iteration vectors.
#[derive(Debug)]
pub struct SpectralWeight {
    pub weight_orig: Tensor,
    pub u: Tensor,
    pub v: Tensor,
}

impl SpectralWeight {
    /// Registers `weight_orig` (initialised with `init`), `weight_u`, `weight_v` under `p`.
    pub fn new(p: &Path, dims: &[i64], init: tch::nn::Init) -> SpectralWeight {
        let weight_orig = p.var("weight_orig", dims, init);
        let h = dims[0];
        let w: i64 = dims[1..].iter().product();
        let u = p.zeros_no_train("weight_u", &[h]);
        let v = p.zeros_no_train("weight_v", &[w]);
        let sw = SpectralWeight { weight_orig, u, v };
        sw.reset_uv();
        sw
    }

    /// Draws fresh `u = normalize(randn(h))`, `v = normalize(randn(w))` in place.
    pub fn reset_uv(&self) {
        tch::no_grad(|| {
            let u = normalize(&self.u.randn_like());
            let v = normalize(&self.v.randn_like());
            self.u.shallow_clone().copy_(&u);
            self.v.shallow_clone().copy_(&v);
        });
    }

    /// The normalised weight `W / sigma` (same shape as `weight_orig`); one power iteration
    /// first when `train`.
    pub fn weight(&self, train: bool) -> Tensor {
        let h = self.weight_orig.size()[0];
        let mat = self.weight_orig.reshape([h, -1]);
        if train {
            tch::no_grad(|| {
                let m = mat.detach();
                let v = normalize(&m.tr().mv(&self.u));
                let u = normalize(&m.mv(&v));
                self.v.shallow_clone().copy_(&v);
                self.u.shallow_clone().copy_(&u);
            });
        }
        let u = self.u.detach().copy();
        let v = self.v.detach().copy();
        let sigma = u.dot(&mat.mv(&v));
        &self.weight_orig / sigma
    }
}

/// Conv2d (stride 1, padding k/2) under spectral norm. Weight init xavier-uniform gain 1 (the
/// reference initialises `weight_orig` so); bias PyTorch's default.
#[derive(Debug)]
pub struct SnConv2d {
    pub sw: SpectralWeight,
    pub bias: Tensor,
    pub padding: i64,
}

impl SnConv2d {
    pub fn new(p: &Path, c_in: i64, c_out: i64, k: i64) -> SnConv2d {
        let dims = [c_out, c_in, k, k];
        let sw = SpectralWeight::new(p, &dims, xavier_uniform(&dims));
        let bias = p.var("bias", &[c_out], torch_default(c_in * k * k));
        SnConv2d {
            sw,
            bias,
            padding: k / 2,
        }
    }

    pub fn reset(&self) {
        let d = self.sw.weight_orig.size();
        reinit(&self.sw.weight_orig, xavier_uniform(&d));
        reinit(&self.bias, torch_default(d[1] * d[2] * d[3]));
        self.sw.reset_uv();
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let w = self.sw.weight(train);
        x.conv2d(
            &w,
            Some(&self.bias),
            [1, 1],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }
}

/// Linear `[n, in] -> [n, out]` without bias under spectral norm, PyTorch's default init
/// (the reference's `weights_init` touches only Conv2d and BatchNorm layers).
#[derive(Debug)]
pub struct SnLinear {
    pub sw: SpectralWeight,
}

impl SnLinear {
    pub fn new(p: &Path, d_in: i64, d_out: i64) -> SnLinear {
        SnLinear {
            sw: SpectralWeight::new(p, &[d_out, d_in], torch_default(d_in)),
        }
    }

    pub fn reset(&self) {
        let fan_in = self.sw.weight_orig.size()[1];
        reinit(&self.sw.weight_orig, torch_default(fan_in));
        self.sw.reset_uv();
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.linear::<&Tensor>(&self.sw.weight(train), None)
    }
}
