//! Parity of `autogan::nn` with an independent plain-PyTorch definition of the same networks
//! (`tests/reference/gen_reference.py`, written from SPEC): the script saves random weights,
//! inputs and outputs; we load the weights with `nn::load_weights` and compare.
//! Skipped (with a message) when `.venv/bin/python` or its torch / safetensors is missing.
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use autogan::arch::Arch;
use autogan::nn::{self, DiscConfig, Discriminator, GenConfig, Generator};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

const TOL: f64 = 1e-5;

/// The generator cases of the script, with their vectors.
const G_CASES: [(&str, [i64; 14]); 3] = [
    ("a", [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]),
    ("post", [0, 1, 2, 1, 0, 2, 1, 1, 1, 0, 1, 2, 1, 3]),
    ("pre_norms", [1, 2, 0, 1, 1, 1, 2, 0, 1, 1, 2, 1, 1, 2]),
];

/// The reference directory, generated once per test process; None when skipped.
fn reference() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = common::venv_python("parity", "torch, safetensors", "scripts/setup.sh")?;
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("parity-reference-{}", std::process::id()));
        let script = root.join("tests/reference/gen_reference.py");
        let run = Command::new(&python)
            .arg(&script)
            .arg(&out)
            .output()
            .expect("running python");
        assert!(
            run.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        Some(out)
    })
    .as_deref()
}

fn read(path: &Path) -> HashMap<String, Tensor> {
    autogan::safetensors::read(path)
        .expect("reading reference tensors")
        .into_iter()
        .collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

fn check(what: &str, ours: &Tensor, want: &Tensor) {
    let d = max_diff(ours, want);
    println!("{what}: max |diff| = {d:.3e}");
    assert!(d < TOL, "{what}: max |diff| {d:e} >= {TOL:e}");
}

/// Gradients are sums over the batch and every pixel, so large: compare relative to the
/// largest magnitude (float32 accumulation order differs between the two runs).
fn check_relative(what: &str, ours: &Tensor, want: &Tensor) {
    let d = max_diff(ours, want);
    let scale = want.abs().max().double_value(&[]).max(1.0);
    println!("{what}: max |diff| = {d:.3e} (max |want| {scale:.3e})");
    assert!(
        d < TOL * scale,
        "{what}: max |diff| {d:e} >= {TOL:e} x {scale:e}"
    );
}

fn generator_case(name: &str, vector: &[i64; 14]) {
    let Some(dir) = reference() else { return };
    let arch = Arch::from_vector(vector).unwrap();
    let cfg = GenConfig {
        latent_dim: 16,
        gf_dim: 32,
        bottom_width: 4,
    };
    let vs = VarStore::new(Device::Cpu);
    let g = Generator::new(&vs.root(), &arch, &cfg);
    nn::load_weights(&vs, &dir.join(format!("g_{name}.safetensors"))).unwrap();
    let io = read(&dir.join(format!("g_{name}_io.safetensors")));
    let z = &io["z"];
    let out_eval = tch::no_grad(|| g.forward_t(z, false));
    assert_eq!(out_eval.size(), vec![4, 3, 32, 32]);
    check(&format!("G {name} eval"), &out_eval, &io["out_eval"]);
    let out_train = tch::no_grad(|| g.forward_t(z, true));
    check(&format!("G {name} train"), &out_train, &io["out_train"]);
    let vars = vs.variables();
    for (k, want) in io
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("after.").map(|k| (k, v)))
    {
        check(
            &format!("G {name} {k} after a training forward"),
            &vars[k],
            want,
        );
    }
}

#[test]
fn generator_arch_a_matches_pytorch() {
    generator_case(G_CASES[0].0, &G_CASES[0].1);
}

#[test]
fn generator_post_activation_norms_deconv_matches_pytorch() {
    generator_case(G_CASES[1].0, &G_CASES[1].1);
}

#[test]
fn generator_pre_activation_norms_matches_pytorch() {
    generator_case(G_CASES[2].0, &G_CASES[2].1);
}

#[test]
fn discriminator_matches_pytorch_spectral_norm() {
    let Some(dir) = reference() else { return };
    let vs = VarStore::new(Device::Cpu);
    let d = Discriminator::new(&vs.root(), &DiscConfig { df_dim: 16 });
    nn::load_weights(&vs, &dir.join("d.safetensors")).unwrap();
    let io = read(&dir.join("d_io.safetensors"));
    let x = &io["x"];
    let y_train = d.forward_t(x, true);
    check("D train output", &y_train, &io["y_train"]);
    let vars = vs.variables();
    let mut n_uv = 0;
    for (k, want) in io
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("uv.").map(|k| (k, v)))
    {
        check(&format!("D {k} after one power iteration"), &vars[k], want);
        n_uv += 1;
    }
    assert_eq!(n_uv, 22);
    y_train.sum(Kind::Float).backward();
    let mut n_grad = 0;
    for (k, want) in io
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("grad.").map(|k| (k, v)))
    {
        check_relative(&format!("D grad {k}"), &vars[k].grad(), want);
        n_grad += 1;
    }
    assert_eq!(n_grad, 21);
    let y_eval = tch::no_grad(|| d.forward_t(x, false));
    check("D eval output", &y_eval, &io["y_eval"]);
}
