//! GAN training pieces: hinge losses, Adam with saveable state, EMA of G, the training loop.
pub mod adam;
pub mod grads;
pub mod trainer;

use tch::Tensor;

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

/// EMA update `ema <- decay * ema + (1 - decay) * p` for every trainable variable of `src`
/// into the variable of the same name in `ema` (both stores built from the same model).
pub fn ema_update(ema: &tch::nn::VarStore, src: &tch::nn::VarStore, decay: f64) {
    let e = ema.variables();
    tch::no_grad(|| {
        for (name, p) in named_trainable(src) {
            if let Some(t) = e.get(&name) {
                let mut t = t.shallow_clone();
                let _ = t.lerp_(&p, 1.0 - decay);
            }
        }
    });
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
