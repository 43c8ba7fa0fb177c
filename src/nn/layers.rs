//! Plain layers (conv, transposed conv, linear, batch norm, instance norm) with the
//! initialisation of SPEC section 2 and PyTorch's parameter names (`weight`, `bias`,
//! `running_mean`, `running_var`).
//!
//! Initialisation:
//! - Conv2d weight: xavier-uniform with gain 1, bound `sqrt(6 / (fan_in + fan_out))` with
//!   `fan_in = c_in * k * k`, `fan_out = c_out * k * k` (the reference's `weights_init`);
//!   its bias keeps PyTorch's default `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
//! - Linear and ConvTranspose2d: PyTorch's default, `kaiming_uniform(a = sqrt(5))` for the
//!   weight, which is `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, and the same bound for the bias.
//!   Note: tch's own `nn::linear` default (`DEFAULT_KAIMING_UNIFORM`, ReLU gain) has bound
//!   `sqrt(6 / fan_in)`, and its transposed conv starts the bias at 0, so neither is used.
//!   PyTorch's fan_in of a transposed conv weight `[c_in, c_out, k, k]` is `c_out * k * k`.
//! - BatchNorm2d: weight N(1, 0.02), bias 0, running mean 0, running var 1.
use tch::nn::{Init, Path};
use tch::Tensor;

/// `U(-bound, bound)`.
fn uniform(bound: f64) -> Init {
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// Xavier-uniform (gain 1) for a conv weight `[c_out, c_in, kh, kw]` or linear `[out, in]`.
pub fn xavier_uniform(dims: &[i64]) -> Init {
    let receptive: i64 = dims.iter().skip(2).product();
    let fan_in = dims.get(1).copied().unwrap_or(1) * receptive;
    let fan_out = dims.first().copied().unwrap_or(1) * receptive;
    uniform((6.0 / (fan_in + fan_out).max(1) as f64).sqrt())
}

/// PyTorch's default for a weight whose fan_in is `fan_in`: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`
/// (kaiming_uniform with a = sqrt(5) gives exactly this bound; so does the bias default).
pub fn torch_default(fan_in: i64) -> Init {
    uniform(1.0 / (fan_in.max(1) as f64).sqrt())
}

/// Re-draw `t` in place from `init` (no autograd history).
pub fn reinit(t: &Tensor, init: Init) {
    let mut t = t.shallow_clone();
    tch::no_grad(|| init.set(&mut t));
}

/// Conv2d, stride 1, "same" padding for odd kernels (`pad = k / 2`).
#[derive(Debug)]
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub padding: i64,
}

impl Conv2d {
    pub fn new(p: &Path, c_in: i64, c_out: i64, k: i64) -> Conv2d {
        let dims = [c_out, c_in, k, k];
        let weight = p.var("weight", &dims, xavier_uniform(&dims));
        let bias = p.var("bias", &[c_out], torch_default(c_in * k * k));
        Conv2d {
            weight,
            bias,
            padding: k / 2,
        }
    }

    pub fn reset(&self) {
        let d = self.weight.size();
        reinit(&self.weight, xavier_uniform(&d));
        reinit(&self.bias, torch_default(d[1] * d[2] * d[3]));
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(
            &self.weight,
            Some(&self.bias),
            [1, 1],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }
}

/// ConvTranspose2d with kernel = stride = `factor` (upsampling by `factor`, no overlap).
#[derive(Debug)]
pub struct ConvTranspose2d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub factor: i64,
}

impl ConvTranspose2d {
    pub fn new(p: &Path, c_in: i64, c_out: i64, factor: i64) -> ConvTranspose2d {
        let fan_in = c_out * factor * factor;
        let weight = p.var(
            "weight",
            &[c_in, c_out, factor, factor],
            torch_default(fan_in),
        );
        let bias = p.var("bias", &[c_out], torch_default(fan_in));
        ConvTranspose2d {
            weight,
            bias,
            factor,
        }
    }

    pub fn reset(&self) {
        let d = self.weight.size();
        let fan_in = d[1] * d[2] * d[3];
        reinit(&self.weight, torch_default(fan_in));
        reinit(&self.bias, torch_default(fan_in));
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let f = self.factor;
        x.conv_transpose2d(
            &self.weight,
            Some(&self.bias),
            [f, f],
            [0, 0],
            [0, 0],
            1,
            [1, 1],
        )
    }
}

/// Linear layer `[n, in] -> [n, out]` with PyTorch's default initialisation.
#[derive(Debug)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(p: &Path, d_in: i64, d_out: i64, bias: bool) -> Linear {
        let weight = p.var("weight", &[d_out, d_in], torch_default(d_in));
        let bias = bias.then(|| p.var("bias", &[d_out], torch_default(d_in)));
        Linear { weight, bias }
    }

    pub fn reset(&self) {
        let fan_in = self.weight.size()[1];
        reinit(&self.weight, torch_default(fan_in));
        if let Some(b) = &self.bias {
            reinit(b, torch_default(fan_in));
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, self.bias.as_ref())
    }
}

/// Which statistics a batch norm normalises with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// Batch statistics, and the running statistics updated (training).
    Train,
    /// The running statistics (evaluation).
    Eval,
    /// Batch statistics, the running statistics left as they are: how a supernet scores one
    /// architecture when its running statistics are a mixture over every architecture trained.
    Batch,
}

impl From<bool> for BnMode {
    /// `true`: [`BnMode::Train`], `false`: [`BnMode::Eval`].
    fn from(train: bool) -> BnMode {
        if train {
            BnMode::Train
        } else {
            BnMode::Eval
        }
    }
}

/// BatchNorm2d with PyTorch's defaults (eps 1e-5, momentum 0.1, affine, running stats):
/// batch statistics (and a running-stat update) when training, running stats otherwise.
#[derive(Debug)]
pub struct BatchNorm2d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
}

impl BatchNorm2d {
    pub const EPS: f64 = 1e-5;
    pub const MOMENTUM: f64 = 0.1;

    pub fn new(p: &Path, c: i64) -> BatchNorm2d {
        BatchNorm2d {
            weight: p.var(
                "weight",
                &[c],
                Init::Randn {
                    mean: 1.0,
                    stdev: 0.02,
                },
            ),
            bias: p.var("bias", &[c], Init::Const(0.0)),
            running_mean: p.zeros_no_train("running_mean", &[c]),
            running_var: p.ones_no_train("running_var", &[c]),
        }
    }

    pub fn reset(&self) {
        reinit(
            &self.weight,
            Init::Randn {
                mean: 1.0,
                stdev: 0.02,
            },
        );
        reinit(&self.bias, Init::Const(0.0));
        reinit(&self.running_mean, Init::Const(0.0));
        reinit(&self.running_var, Init::Const(1.0));
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_mode(x, train.into())
    }

    pub fn forward_mode(&self, x: &Tensor, mode: BnMode) -> Tensor {
        // Without running statistics libtorch normalises with the batch's and updates nothing.
        let (mean, var) = match mode {
            BnMode::Batch => (None, None),
            BnMode::Train | BnMode::Eval => (Some(&self.running_mean), Some(&self.running_var)),
        };
        x.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            mean,
            var,
            mode != BnMode::Eval,
            Self::MOMENTUM,
            Self::EPS,
            true,
        )
    }
}

/// InstanceNorm2d(affine = false, track_running_stats = false): always per-instance
/// statistics, in training and in evaluation alike; no parameters.
pub fn instance_norm(x: &Tensor) -> Tensor {
    x.instance_norm(
        None::<&Tensor>,
        None,
        None,
        None,
        true,
        0.1,
        BatchNorm2d::EPS,
        true,
    )
}
