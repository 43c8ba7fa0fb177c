//! GAN training pieces: hinge losses, Adam with saveable state, EMA of G, the D/G updates and
//! checkpoint parts shared with the search, the training loop.
pub mod adam;
pub mod checkpoint;
pub mod flat;
pub mod load;
pub mod run;
pub mod step;
pub mod trainer;

use tch::Tensor;

pub use crate::device::Precision;

/// Run the forward passes of `f` at `precision` on `device` (autocast for bf16; see
/// [`crate::device::autocast`]). Call `backward` outside.
pub fn with_precision<T>(device: tch::Device, precision: Precision, f: impl FnOnce() -> T) -> T {
    crate::device::autocast(device, precision, f)
}

/// Hinge loss of D: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))). Inputs: D outputs [n, 1].
pub fn d_hinge(real: &Tensor, fake: &Tensor) -> Tensor {
    (real.neg() + 1.0).relu().mean(tch::Kind::Float) + (fake + 1.0).relu().mean(tch::Kind::Float)
}

/// Hinge loss of G: -mean(D(G(z))).
pub fn g_hinge(fake: &Tensor) -> Tensor {
    -fake.mean(tch::Kind::Float)
}

/// Named trainable variables of a var store, sorted by name (a stable order for optimisers,
/// EMA and checkpoints).
pub fn named_trainable(vs: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// All variables (trainable and buffers) of a var store, sorted by name.
pub fn named_all(vs: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// EMA of a model's trainable variables: `ema <- decay * ema + (1 - decay) * p` for every
/// trainable variable `p` of `src` into the variable of the same name of `ema` (both stores
/// built from the same model). Both sides are flat buffers in the same (name) order, so an
/// update is one `lerp_` kernel, bit-for-bit the per-tensor `lerp_` it replaces.
pub struct Ema {
    src: Tensor,
    dst: Tensor,
}

impl Ema {
    /// Lays out `src`'s trainable variables and their `ema` counterparts in flat buffers
    /// (sharing `src`'s buffer with its optimiser). Panics when `ema` lacks one of them.
    pub fn new(ema: &tch::nn::VarStore, src: &tch::nn::VarStore) -> Ema {
        let src = flat::Flat::new(named_trainable(src));
        let e = ema.variables();
        let dst = flat::Flat::new(
            src.names
                .iter()
                .map(|n| {
                    let t = e.get(n).unwrap_or_else(|| panic!("EMA store lacks {n}"));
                    (n.clone(), t.shallow_clone())
                })
                .collect(),
        );
        Ema {
            src: src.buffer,
            dst: dst.buffer,
        }
    }

    pub fn update(&mut self, decay: f64) {
        tch::no_grad(|| {
            let _ = self.dst.lerp_(&self.src, 1.0 - decay);
        });
    }
}

/// Copy the non-trainable variables (batch-norm running statistics, spectral-norm vectors)
/// of `src` into `dst`.
pub fn copy_buffers(dst: &tch::nn::VarStore, src: &tch::nn::VarStore) {
    let d = dst.variables();
    tch::no_grad(|| {
        for (name, t) in src.variables() {
            if !t.requires_grad() {
                if let Some(x) = d.get(&name) {
                    x.shallow_clone().copy_(&t);
                }
            }
        }
    });
}

/// `tensors[key]`, checked to have the shape of `like`; errors name the checkpoint `path`.
pub fn checked<'a>(
    tensors: &'a std::collections::HashMap<String, Tensor>,
    path: &std::path::Path,
    key: &str,
    like: &Tensor,
) -> anyhow::Result<&'a Tensor> {
    let src = tensors.get(key).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: tensor {key} is missing: the checkpoint is incomplete",
            path.display()
        )
    })?;
    if src.size() != like.size() {
        anyhow::bail!(
            "{}: tensor {key} has shape {:?}, expected {:?}",
            path.display(),
            src.size(),
            like.size()
        );
    }
    Ok(src)
}

/// Copy `{prefix}.{name}` of a checkpoint's `tensors` into every variable of `vs`.
pub fn load_prefixed(
    vs: &tch::nn::VarStore,
    prefix: &str,
    tensors: &std::collections::HashMap<String, Tensor>,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    tch::no_grad(|| {
        for (n, t) in vs.variables() {
            let src = checked(tensors, path, &format!("{prefix}.{n}"), &t)?;
            t.shallow_clone().copy_(src);
        }
        Ok(())
    })
}
