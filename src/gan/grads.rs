//! Which parameters have a gradient: state that a checkpoint must carry for a supernet.
//!
//! [`super::adam::Adam`] skips a parameter whose gradient is undefined (never used) and steps
//! one whose gradient is defined, even when it is zero (an op used before but not by the
//! current path: its step count and second moment move on). A gradient, once defined, stays
//! defined (zeroed) for the life of the process. A resumed search starts with no gradient
//! defined, so without this record its first iteration would skip parameters that the
//! uninterrupted search steps, and the two runs would part.
use tch::nn::VarStore;

/// Names of the trainable variables of `vs` whose gradient is defined, sorted.
pub fn with_grad(vs: &VarStore) -> Vec<String> {
    super::named_trainable(vs)
        .into_iter()
        .filter(|(_, t)| t.grad().defined())
        .map(|(n, _)| n)
        .collect()
}

/// Give every variable of `vs` named in `names` a defined, zero gradient (as it had when
/// [`with_grad`] listed it). Unknown names are ignored.
pub fn define_zero_grads(vs: &VarStore, names: &[String]) {
    let vars = vs.variables();
    let zero = names
        .iter()
        .filter_map(|n| vars.get(n))
        .filter(|t| t.requires_grad())
        .map(|t| t.sum(t.kind()) * 0.0)
        .reduce(|a, b| a + b);
    if let Some(z) = zero {
        z.backward();
    }
}
