//! `init_weights`: re-draws every variable of a VarStore with the initialisation of SPEC
//! section 2, deciding the kind of layer from the variable's name and shape (the models'
//! constructors already draw the same way; this serves re-initialisation, e.g. the search's
//! dynamic reset, without rebuilding the models or their optimisers).
//!
//! Rules, by name:
//! - `*.running_mean` 0, `*.running_var` 1; `*.weight_u` / `*.weight_v` `normalize(randn)`.
//! - a 1-D `*.weight` whose sibling `running_mean` exists, or with no sibling weight of rank
//!   2+ (batch norm): N(1, 0.02); its `*.bias`: 0.
//! - a 4-D `*.weight` / `*.weight_orig` of a transposed conv (the layer's name starts with
//!   `up` or its parent is `skip_up`, see `generator.rs`): PyTorch default with
//!   `fan_in = dims[1] * k * k`; other 4-D weights (Conv2d, spectral or not): xavier-uniform.
//! - a 2-D `*.weight` / `*.weight_orig` (Linear): PyTorch default `U(+-1/sqrt(in))`.
//! - `*.bias` of a conv / linear: `U(+-1/sqrt(fan_in))` with the fan_in of its weight.
use std::collections::HashMap;
use tch::nn::{Init, VarStore};
use tch::Tensor;

use super::layers::{reinit, torch_default, xavier_uniform};

/// The layer prefix and the last name component: `a.b.weight` -> (`a.b`, `weight`).
fn split(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => ("", name),
    }
}

fn is_deconv(layer: &str) -> bool {
    let mut parts = layer.rsplit('.');
    let last = parts.next().unwrap_or("");
    let parent = parts.next().unwrap_or("");
    last.starts_with("up") || parent == "skip_up"
}

/// PyTorch's fan_in of a weight: `dims[1] * receptive field` (also for a transposed conv,
/// whose weight is `[c_in, c_out, k, k]`).
fn fan_in(dims: &[i64]) -> i64 {
    dims.get(1).copied().unwrap_or(1) * dims.iter().skip(2).product::<i64>()
}

/// Re-draws every variable of `vs` in place (see the module comment for the rules).
pub fn init_weights(vs: &VarStore) {
    let vars: HashMap<String, Tensor> = vs.variables();
    let weight_of = |layer: &str| -> Option<Vec<i64>> {
        ["weight", "weight_orig"]
            .iter()
            .filter_map(|w| vars.get(&format!("{layer}.{w}")))
            .map(|t| t.size())
            .find(|d| d.len() >= 2)
    };
    // Sorted by name: the draws from libtorch's generator must happen in the same order in
    // every process (a HashMap's order is random), or a seed would not fix the weights.
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let t = &vars[name];
        let (layer, leaf) = split(name);
        let dims = t.size();
        let batch_norm = vars.contains_key(&format!("{layer}.running_mean"))
            || (dims.len() == 1 && weight_of(layer).is_none());
        match leaf {
            "running_mean" => reinit(t, Init::Const(0.0)),
            "running_var" => reinit(t, Init::Const(1.0)),
            "weight_u" | "weight_v" => tch::no_grad(|| {
                let r = t.randn_like();
                let n = &r / r.norm().clamp_min(super::spectral::EPS);
                t.shallow_clone().copy_(&n);
            }),
            "weight" | "weight_orig" if dims.len() >= 2 => {
                if dims.len() == 4 && !is_deconv(layer) {
                    reinit(t, xavier_uniform(&dims))
                } else {
                    reinit(t, torch_default(fan_in(&dims)))
                }
            }
            "weight" if batch_norm => reinit(
                t,
                Init::Randn {
                    mean: 1.0,
                    stdev: 0.02,
                },
            ),
            "bias" if batch_norm => reinit(t, Init::Const(0.0)),
            "bias" => {
                if let Some(w) = weight_of(layer) {
                    reinit(t, torch_default(fan_in(&w)))
                }
            }
            _ => {}
        }
    }
}
