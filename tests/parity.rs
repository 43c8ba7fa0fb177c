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

// ---- Adam over flat buffers against torch.optim.Adam ----

/// Shapes of the parameters of the Adam case (sorted names p0..p3 keep this order).
const ADAM_SHAPES: [&[i64]; 4] = [&[3, 4], &[5], &[2, 3, 3, 3], &[7]];
const ADAM_STEPS: usize = 6;

/// Whether parameter `i` is on the path (gets a gradient) at step `t` (1-based): p0 always;
/// p1 only from step 3 (first reached late: its step count lags p0's); p2 at 1, 2, 5, 6 (off
/// the path at 3 and 4, where its gradient is defined but zero); p3 never (skipped).
fn on_path(i: usize, t: usize) -> bool {
    match i {
        0 => true,
        1 => t >= 3,
        2 => !(3..=4).contains(&t),
        _ => false,
    }
}

fn adam_inputs() -> (Vec<Tensor>, Vec<Vec<Option<Tensor>>>) {
    tch::manual_seed(11);
    let params: Vec<Tensor> = ADAM_SHAPES
        .iter()
        .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
        .collect();
    // a negative zero in the parameter no step may touch, to see that it is left bit-for-bit
    let _ = params[3].get(2).fill_(-0.0);
    let grads = (1..=ADAM_STEPS)
        .map(|t| {
            (0..ADAM_SHAPES.len())
                .map(|i| {
                    on_path(i, t).then(|| {
                        // magnitudes over several decades, some exact zeros
                        let g = Tensor::randn(ADAM_SHAPES[i], (Kind::Float, Device::Cpu))
                            * (10f64).powi(t as i32 - 3);
                        let _ = g.view([-1]).get(0).fill_(0.0);
                        g
                    })
                })
                .collect()
        })
        .collect();
    (params, grads)
}

/// One training-like step of ours: zero_grad, backward of sum(p * g) over the path, step.
fn our_adam_step(opt: &mut autogan::gan::adam::Adam, vars: &[Tensor], grads: &[Option<Tensor>]) {
    opt.zero_grad();
    let terms: Vec<Tensor> = vars
        .iter()
        .zip(grads)
        .filter_map(|(p, g)| g.as_ref().map(|g| (p * g).sum(Kind::Float)))
        .collect();
    if !terms.is_empty() {
        Tensor::stack(&terms, 0).sum(Kind::Float).backward();
    }
    opt.step();
}

fn adam_store(params: &[Tensor]) -> (VarStore, Vec<Tensor>) {
    let vs = VarStore::new(Device::Cpu);
    let vars = params
        .iter()
        .enumerate()
        .map(|(i, p)| vs.root().var_copy(&format!("p{i}"), p))
        .collect();
    (vs, vars)
}

fn bits(t: &Tensor) -> Vec<i32> {
    Vec::<i32>::try_from(t.detach().contiguous().view([-1]).view_dtype(Kind::Int)).unwrap()
}

#[test]
fn adam_matches_torch_optim_adam_bit_for_bit() {
    let Some(python) = common::venv_python("adam parity", "torch, safetensors", "scripts/setup.sh")
    else {
        return;
    };
    let (params, grads) = adam_inputs();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("adam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lr = 2e-4;
    // (beta1, beta2, PyTorch's foreach implementation)
    let cases = [(0.0, 0.9, false), (0.0, 0.9, true), (0.5, 0.999, false)];
    let mut args = Vec::new();
    for (k, (b1, b2, foreach)) in cases.iter().enumerate() {
        let mut named: Vec<(String, Tensor)> = params
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("p.{i}"), p.shallow_clone()))
            .collect();
        for (t, gs) in grads.iter().enumerate() {
            for (i, g) in gs.iter().enumerate() {
                if let Some(g) = g {
                    named.push((format!("g.{}.{i}", t + 1), g.shallow_clone()));
                }
            }
        }
        let meta = [
            ("lr", lr.to_string()),
            ("beta1", b1.to_string()),
            ("beta2", b2.to_string()),
            ("steps", ADAM_STEPS.to_string()),
            ("foreach", (*foreach as u8).to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let (inp, out) = (
            dir.join(format!("in{k}.safetensors")),
            dir.join(format!("out{k}.safetensors")),
        );
        autogan::safetensors::write(&inp, &named, &meta).unwrap();
        args.push(inp);
        args.push(out);
    }
    let run = Command::new(&python)
        .arg(common::root().join("tests/reference/adam_reference.py"))
        .args(&args)
        .output()
        .expect("running python");
    assert!(
        run.status.success(),
        "adam_reference.py failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    for (k, (b1, b2, foreach)) in cases.iter().enumerate() {
        let want = read(&args[2 * k + 1]);
        let (vs, vars) = adam_store(&params);
        let mut opt = autogan::gan::adam::Adam::new(&vs, lr, *b1, *b2);
        let mut saved = None;
        for t in 1..=ADAM_STEPS {
            our_adam_step(&mut opt, &vars, &grads[t - 1]);
            for (i, v) in vars.iter().enumerate() {
                let w = &want[&format!("p.{t}.{i}")];
                assert_eq!(
                    bits(v),
                    bits(w),
                    "betas ({b1}, {b2}), foreach {foreach}: p{i} after step {t} differs from \
                     PyTorch (max |diff| {:e})",
                    max_diff(v, w)
                );
            }
            if t == 3 {
                let values: Vec<Tensor> = vars.iter().map(|v| v.detach().copy()).collect();
                let state: Vec<(String, Tensor)> = opt
                    .state("opt")
                    .into_iter()
                    .map(|(n, t)| (n, t.copy()))
                    .collect();
                saved = Some((values, state));
            }
        }
        assert_eq!(
            bits(&vars[3]),
            bits(&params[3]),
            "a never reached parameter moved"
        );

        // A fresh model and optimiser restored after step 3 (its gradients all undefined, as
        // in a resumed process) go on exactly as the uninterrupted run.
        let (values, state) = saved.unwrap();
        let (vs2, vars2) = adam_store(&values);
        let mut opt2 = autogan::gan::adam::Adam::new(&vs2, lr, *b1, *b2);
        opt2.load_state(&state.into_iter().collect(), "opt")
            .unwrap();
        for t in 4..=ADAM_STEPS {
            our_adam_step(&mut opt2, &vars2, &grads[t - 1]);
        }
        for (i, v) in vars2.iter().enumerate() {
            assert_eq!(
                bits(v),
                bits(&want[&format!("p.{ADAM_STEPS}.{i}")]),
                "betas ({b1}, {b2}): p{i} after a restore at step 3 differs"
            );
        }
        println!("adam betas ({b1}, {b2}) foreach {foreach}: {ADAM_STEPS} steps bit-for-bit, restore included");
    }
    std::fs::remove_dir_all(&dir).ok();
}
