//! The models of `autogan::nn`: parameter counts against SPEC, forward shapes and backward
//! passes over the search space, spectral-norm state handling, initialisation, and weight
//! loading / saving. Parity with PyTorch is in `tests/parity.rs`.
use autogan::arch::{Arch, ConvBlock, Norm, Up};
use autogan::nn::{self, DiscConfig, Discriminator, GenConfig, Generator};
use rand::{Rng, SeedableRng};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

const ARCH_A: [i64; 14] = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];
const ARCH_B: [i64; 14] = [1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 3];
const ARCH_C: [i64; 14] = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];

fn arch(v: &[i64]) -> Arch {
    Arch::from_vector(v).expect("valid arch vector")
}

/// A uniformly random 14-integer vector of the space.
fn random_vector(rng: &mut impl Rng) -> Vec<i64> {
    let mut v = Vec::with_capacity(14);
    for k in 1..=3 {
        v.extend([
            rng.gen_range(0..2),
            rng.gen_range(0..3),
            rng.gen_range(0..3),
            rng.gen_range(0..2),
        ]);
        if k > 1 {
            v.push(rng.gen_range(0..(1 << (k - 1))));
        }
    }
    v
}

fn tiny() -> GenConfig {
    GenConfig {
        latent_dim: 16,
        gf_dim: 16,
        bottom_width: 4,
    }
}

fn build_g(a: &Arch, cfg: &GenConfig) -> (VarStore, Generator) {
    let vs = VarStore::new(Device::Cpu);
    let g = Generator::new(&vs.root(), a, cfg);
    (vs, g)
}

fn tmp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("autogan-nn-test-{}-{name}", std::process::id()))
}

#[test]
fn generator_parameter_counts_match_spec() {
    let d = GenConfig::default();
    let cases = [
        (ARCH_A, d, 4_405_251i64),
        (ARCH_B, d, 4_471_043),
        (ARCH_C, d, 4_406_275),
        (
            ARCH_A,
            GenConfig {
                bottom_width: 6,
                ..d
            },
            5_065_731,
        ),
    ];
    for (v, cfg, want) in cases {
        let a = arch(&v);
        let (vs, _g) = build_g(&a, &cfg);
        assert_eq!(nn::trainable_params(&vs), want, "built model {v:?} {cfg:?}");
        assert_eq!(nn::gen_params(&a, &cfg), want, "closed form {v:?} {cfg:?}");
    }
}

#[test]
fn discriminator_parameter_count_matches_spec() {
    let vs = VarStore::new(Device::Cpu);
    let _d = Discriminator::new(&vs.root(), &DiscConfig { df_dim: 128 });
    assert_eq!(nn::trainable_params(&vs), 1_053_824);
    assert_eq!(nn::disc_params(&DiscConfig { df_dim: 128 }), 1_053_824);
    let (g, d) = nn::arch_info(
        &arch(&ARCH_A),
        &GenConfig::default(),
        &DiscConfig::default(),
    );
    assert_eq!((g, d), (4_405_251, 1_053_824));
    // u and v are stored but not trainable.
    let vars = vs.variables();
    for name in [
        "block1.c1.weight_orig",
        "block1.c1.weight_u",
        "block1.c1.weight_v",
        "block1.c1.bias",
    ] {
        assert!(vars.contains_key(name), "{name} missing");
    }
    assert_eq!(vars["block1.c1.weight_u"].size(), vec![128]);
    assert_eq!(vars["block1.c1.weight_v"].size(), vec![27]);
    assert_eq!(vars["l5.weight_orig"].size(), vec![1, 128]);
    assert!(!vars.contains_key("l5.bias"));
    assert!(!vars.contains_key("block3.c_sc.weight_orig"));
    assert!(vars.contains_key("block2.c_sc.weight_orig"));
    assert!(!vars["block1.c1.weight_u"].requires_grad());
}

#[test]
fn generator_names_follow_reference_state_dict() {
    let (vs, _g) = build_g(&arch(&ARCH_C), &tiny());
    let vars = vs.variables();
    for name in [
        "l1.weight",
        "l1.bias",
        "cell1.c1.weight",
        "cell1.c2.bias",
        "cell1.c_sc.weight",
        "cell1.n1.weight",
        "cell1.n1.running_mean",
        "cell1.n2.running_var",
        "cell2.skip_in_ops.0.weight",
        "cell3.skip_in_ops.0.weight",
        "cell3.skip_in_ops.1.bias",
        "to_rgb.0.weight",
        "to_rgb.0.running_var",
        "to_rgb.2.weight",
        "to_rgb.2.bias",
    ] {
        assert!(
            vars.contains_key(name),
            "{name} missing; have {:?}",
            vars.keys().collect::<Vec<_>>()
        );
    }
    assert!(!vars.contains_key("cell3.c_sc.weight"));
    assert!(!vars.contains_key("cell2.skip_in_ops.1.weight"));
}

/// Forward (train and eval) and backward on a tiny generator; checks shapes, range and grads.
fn check_forward_backward(v: &[i64]) {
    let a = arch(v);
    let cfg = tiny();
    let (vs, g) = build_g(&a, &cfg);
    assert_eq!(
        nn::trainable_params(&vs),
        nn::gen_params(&a, &cfg),
        "count of {v:?}"
    );
    assert_eq!(g.img_size(), 32);
    let z = Tensor::randn([2, cfg.latent_dim], (Kind::Float, Device::Cpu));
    let out = g.forward_t(&z, true);
    assert_eq!(out.size(), vec![2, 3, 32, 32], "arch {v:?}");
    let max = out.abs().max().double_value(&[]);
    assert!(max <= 1.0 && max.is_finite(), "arch {v:?}: max |x| {max}");
    let target = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    (&out * &target).sum(Kind::Float).backward();
    let vars = vs.variables();
    let grad = vars["l1.weight"].grad();
    assert!(grad.defined(), "arch {v:?}: no grad on l1.weight");
    let gsum = grad.abs().sum(Kind::Float).double_value(&[]);
    assert!(
        gsum.is_finite() && gsum > 0.0,
        "arch {v:?}: l1 grad sum {gsum}"
    );
    for t in vs.trainable_variables() {
        let gr = t.grad();
        assert!(
            gr.defined(),
            "arch {v:?}: a trainable variable got no gradient"
        );
        assert!(
            gr.isfinite().all().int64_value(&[]) == 1,
            "arch {v:?}: non-finite grad"
        );
    }
    let out_eval = tch::no_grad(|| g.forward_t(&z, false));
    assert_eq!(out_eval.size(), vec![2, 3, 32, 32]);
    assert!(out_eval.isfinite().all().int64_value(&[]) == 1);
}

#[test]
fn published_archs_forward_and_backward() {
    tch::manual_seed(1);
    for v in [ARCH_A, ARCH_B, ARCH_C] {
        check_forward_backward(&v);
    }
}

#[test]
fn random_archs_forward_and_backward() {
    tch::manual_seed(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20190801);
    let mut vectors: Vec<Vec<i64>> = (0..40).map(|_| random_vector(&mut rng)).collect();
    // Corners the sample must contain whatever the draw: all post-activation with batch norm,
    // transposed convs, shortcuts and every skip; and instance norm with deconv skips.
    vectors.push(vec![0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]);
    vectors.push(vec![0, 2, 2, 1, 1, 2, 2, 0, 1, 0, 2, 2, 1, 3]);
    vectors.push(vec![1, 2, 0, 0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 2]);
    let mut seen = (false, false, false, false);
    for v in &vectors {
        let a = arch(v);
        for c in &a.cells {
            seen.0 |= c.conv == ConvBlock::Post;
            seen.1 |= c.norm == Norm::Batch;
            seen.2 |= c.norm == Norm::Instance;
            seen.3 |= c.up == Up::Deconv;
        }
        check_forward_backward(v);
    }
    assert_eq!(seen, (true, true, true, true));
}

#[test]
fn broad_sample_of_the_space_builds_with_the_closed_form_count() {
    // Every cell choice at every position, others random, plus a stride through the space.
    let cfg = GenConfig {
        latent_dim: 2,
        gf_dim: 2,
        bottom_width: 1,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut vectors = Vec::new();
    for pos in 0..3usize {
        let start = [0, 4, 9][pos];
        let skips = [1i64, 2, 4][pos];
        for tokens in 0..(36 * skips) {
            let mut v = random_vector(&mut rng);
            let mut t = tokens;
            for (j, n) in [2i64, 3, 3, 2].iter().enumerate() {
                v[start + j] = t % n;
                t /= n;
            }
            if pos > 0 {
                v[start + 4] = t % skips;
            }
            vectors.push(v);
        }
    }
    for _ in 0..1500 {
        vectors.push(random_vector(&mut rng));
    }
    for v in &vectors {
        let a = arch(v);
        let (vs, g) = build_g(&a, &cfg);
        assert_eq!(
            nn::trainable_params(&vs),
            nn::gen_params(&a, &cfg),
            "arch {v:?}"
        );
        assert_eq!(g.img_size(), 8);
    }
}

#[test]
fn transposed_conv_skip_layers_upsample_by_the_needed_factor() {
    let v = [1, 0, 2, 1, 1, 0, 2, 1, 1, 1, 0, 2, 1, 3];
    let (vs, g) = build_g(&arch(&v), &tiny());
    let vars = vs.variables();
    assert_eq!(vars["cell1.up1.weight"].size(), vec![16, 16, 2, 2]);
    assert_eq!(vars["cell1.up_sc.weight"].size(), vec![16, 16, 2, 2]);
    assert_eq!(vars["cell2.skip_up.0.weight"].size(), vec![16, 16, 2, 2]);
    // cell 3: skip 0 comes from cell 1 (x4), skip 1 from cell 2 (x2)
    assert_eq!(vars["cell3.skip_up.0.weight"].size(), vec![16, 16, 4, 4]);
    assert_eq!(vars["cell3.skip_up.1.weight"].size(), vec![16, 16, 2, 2]);
    let z = Tensor::randn([2, 16], (Kind::Float, Device::Cpu));
    assert_eq!(g.forward_t(&z, false).size(), vec![2, 3, 32, 32]);
}

#[test]
fn instance_norm_is_per_instance_in_eval_too() {
    // With instance norm (and no batch norm in cells), an image must not depend on the
    // other images of its batch in eval mode.
    let v = [1, 2, 1, 1, 0, 2, 0, 1, 1, 1, 2, 1, 0, 3];
    let (_vs, g) = build_g(&arch(&v), &tiny());
    let z = Tensor::randn([3, 16], (Kind::Float, Device::Cpu));
    let all = tch::no_grad(|| g.forward_t(&z, false));
    let one = tch::no_grad(|| g.forward_t(&z.narrow(0, 0, 1), false));
    let diff = (all.narrow(0, 0, 1) - one).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "diff {diff}");
}

fn uv(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut out: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(n, _)| n.ends_with("weight_u") || n.ends_with("weight_v"))
        .map(|(n, t)| (n, t.copy()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn discriminator_shapes_and_spectral_state() {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let d = Discriminator::new(&vs.root(), &DiscConfig { df_dim: 16 });
    let before = uv(&vs);
    assert_eq!(before.len(), 2 * 11, "11 spectrally normalised layers");
    for (_, t) in &before {
        let n = t.norm().double_value(&[]);
        assert!(
            (n - 1.0).abs() < 1e-5,
            "initial u/v have unit norm, got {n}"
        );
    }
    let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| d.forward_t(&x, false));
    assert_eq!(y.size(), vec![2, 1]);
    for ((n, a), (_, b)) in before.iter().zip(uv(&vs).iter()) {
        assert_eq!(a.size(), b.size());
        assert!(a.equal(b), "{n} changed in eval mode");
    }
    // Training mode: one power iteration per forward, u and v updated in place. Two forwards
    // before one backward (as in the hinge loss on real and fake) must work.
    let y1 = d.forward_t(&x, true);
    let y2 = d.forward_t(&(&x * 0.5), true);
    (y1.mean(Kind::Float) - y2.mean(Kind::Float)).backward();
    let after = uv(&vs);
    let mut changed = 0;
    for ((_, a), (_, b)) in before.iter().zip(after.iter()) {
        if !a.allclose(b, 1e-7, 1e-7, false) {
            changed += 1;
        }
    }
    assert!(
        changed >= 11,
        "only {changed} of 22 u/v changed in training mode"
    );
    for t in vs.trainable_variables() {
        assert!(t.grad().defined());
    }
    // Search stages: 8x8 at stage 0, 16x16 at stage 1, 32x32 at stage 2.
    for (stage, size) in [(0usize, 8i64), (1, 16), (2, 32)] {
        let x = Tensor::randn([2, 3, size, size], (Kind::Float, Device::Cpu));
        assert_eq!(d.forward_stage(&x, true, stage).size(), vec![2, 1]);
    }
}

#[test]
fn init_weights_follows_the_spec() {
    tch::manual_seed(4);
    let v = [0, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 3];
    let cfg = GenConfig {
        latent_dim: 16,
        gf_dim: 32,
        bottom_width: 4,
    };
    let (vs, _g) = build_g(&arch(&v), &cfg);
    let dvs = VarStore::new(Device::Cpu);
    let _d = Discriminator::new(&dvs.root(), &DiscConfig { df_dim: 32 });
    for round in 0..2 {
        if round == 1 {
            // Perturb, then re-draw.
            tch::no_grad(|| {
                for (_, t) in vs.variables().iter().chain(dvs.variables().iter()) {
                    let _ = t.shallow_clone().fill_(7.0);
                }
            });
            nn::init_weights(&vs);
            nn::init_weights(&dvs);
        }
        let g = vs.variables();
        let d = dvs.variables();
        let max = |t: &Tensor| t.abs().max().double_value(&[]);
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        // xavier-uniform conv: bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (2 * 32 * 9))
        let xb = (6.0f64 / (2.0 * 32.0 * 9.0)).sqrt();
        let w = &g["cell1.c1.weight"];
        assert!(
            max(w) <= xb && max(w) > 0.8 * xb,
            "round {round}: conv bound"
        );
        let w = &d["block2.c1.weight_orig"];
        assert!(
            max(w) <= xb && max(w) > 0.8 * xb,
            "round {round}: sn conv bound"
        );
        // conv bias: PyTorch default 1/sqrt(fan_in)
        assert!(max(&g["cell1.c1.bias"]) <= 1.0 / (32.0f64 * 9.0).sqrt());
        // linear: 1/sqrt(in) for weight and bias
        assert!(max(&g["l1.weight"]) <= 0.25 && max(&g["l1.weight"]) > 0.2);
        assert!(max(&g["l1.bias"]) <= 0.25);
        assert!(max(&d["l5.weight_orig"]) <= 1.0 / 32f64.sqrt());
        // transposed conv: fan_in = c_out * k * k
        let b = 1.0 / (32.0f64 * 4.0).sqrt();
        assert!(max(&g["cell1.up1.weight"]) <= b && max(&g["cell1.up1.weight"]) > 0.8 * b);
        assert!(max(&g["cell3.skip_up.0.weight"]) <= 1.0 / (32.0f64 * 16.0).sqrt());
        // batch norm: weight N(1, 0.02), bias 0, running stats 0 / 1
        let bn = &g["cell2.n1.weight"];
        assert!(
            (mean(bn) - 1.0).abs() < 0.02 && max(&(bn - 1.0)) < 0.2,
            "round {round}: bn weight"
        );
        assert_eq!(max(&g["cell2.n1.bias"]), 0.0);
        assert_eq!(max(&g["to_rgb.0.running_mean"]), 0.0);
        assert_eq!(mean(&g["to_rgb.0.running_var"]), 1.0);
        let u = &d["block1.c1.weight_u"];
        assert!((u.norm().double_value(&[]) - 1.0).abs() < 1e-5);
    }
}

#[test]
fn weights_round_trip_with_metadata_and_mismatch_errors() {
    tch::manual_seed(5);
    let a = arch(&ARCH_C);
    let cfg = tiny();
    let (vs, g) = build_g(&a, &cfg);
    // non-trivial running statistics
    let z = Tensor::randn([4, 16], (Kind::Float, Device::Cpu));
    let _ = g.forward_t(&z, true);
    let path = tmp_path("roundtrip.safetensors");
    let meta = vec![
        ("arch".to_string(), "[1,1,1,1]".to_string()),
        ("gf_dim".to_string(), "16".to_string()),
    ];
    nn::save_weights(&vs, &path, &meta).unwrap();
    let read = autogan::safetensors::read_metadata(&path).unwrap();
    assert_eq!(read.get("gf_dim").map(String::as_str), Some("16"));
    assert_eq!(read.get("arch").map(String::as_str), Some("[1,1,1,1]"));

    let (vs2, g2) = build_g(&a, &cfg);
    nn::load_weights(&vs2, &path).unwrap();
    let o1 = tch::no_grad(|| g.forward_t(&z, false));
    let o2 = tch::no_grad(|| g2.forward_t(&z, false));
    assert!(o1.equal(&o2), "loaded generator differs");

    // another width: every variable misshapen
    let (vs3, _g3) = build_g(&a, &GenConfig { gf_dim: 8, ..cfg });
    let err = format!("{:#}", nn::load_weights(&vs3, &path).unwrap_err());
    assert!(err.contains("roundtrip.safetensors"), "{err}");
    assert!(err.contains("--gf-dim"), "{err}");
    assert!(
        err.contains("[16, 16, 3, 3]") && err.contains("[8, 8, 3, 3]"),
        "{err}"
    );
    assert!(err.contains("more"), "lists at most 10: {err}");
    // another arch: missing names (arch b has cell3.c_sc)
    let (vs4, _g4) = build_g(&arch(&ARCH_B), &cfg);
    let err = format!("{:#}", nn::load_weights(&vs4, &path).unwrap_err());
    assert!(err.contains("cell3.c_sc.weight"), "{err}");
    assert!(err.contains("--arch"), "{err}");
    // extra tensors in the file are an error: arch a's model lacks the batch norms of c's cell 1
    let (vs5, _g5) = build_g(&arch(&ARCH_A), &cfg);
    let err = format!("{:#}", nn::load_weights(&vs5, &path).unwrap_err());
    assert!(
        err.contains("cell1.n1.weight") && err.contains("not in this model"),
        "{err}"
    );
    // not a safetensors file
    std::fs::write(&path, b"not a model").unwrap();
    assert!(nn::load_weights(&vs2, &path).is_err());
    let _ = std::fs::remove_file(&path);
}
