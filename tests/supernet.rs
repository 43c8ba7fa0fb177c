//! The shared-weight supernet (`autogan::nn::SuperGenerator`, SPEC section 3): output shapes
//! per stage, gradients only on the chosen path, exact equality with the fixed generator after
//! `extract_fixed`, shared batch-norm running statistics, reset, and the parameter count.
use autogan::arch::{Arch, ConvBlock, Norm, Up};
use autogan::nn::{self, GenConfig, Generator, SuperGenerator};
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

const ARCH_A: [i64; 14] = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];
const ARCH_B: [i64; 14] = [1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 3];
const ARCH_C: [i64; 14] = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3];

fn cfg(bottom_width: i64) -> GenConfig {
    GenConfig {
        latent_dim: 8,
        gf_dim: 8,
        bottom_width,
    }
}

fn build(c: &GenConfig) -> (VarStore, SuperGenerator) {
    let vs = VarStore::new(Device::Cpu);
    let g = SuperGenerator::new(&vs.root(), c);
    (vs, g)
}

fn z(c: &GenConfig) -> Tensor {
    Tensor::randn([2, c.latent_dim], (Kind::Float, Device::Cpu))
}

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

/// The published archs, ~50 random ones and fixed corners; the test asserts the coverage.
fn sample_archs() -> Vec<Arch> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3_125_635);
    let mut vs: Vec<Vec<i64>> = vec![ARCH_A.to_vec(), ARCH_B.to_vec(), ARCH_C.to_vec()];
    vs.extend((0..50).map(|_| random_vector(&mut rng)));
    // a mix with no skips at all; instance norm + deconv skips; last, all post-activation +
    // batch norm + deconv + shortcut + every skip.
    vs.push(vec![1, 2, 0, 0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 0]);
    vs.push(vec![0, 2, 2, 1, 1, 2, 2, 0, 1, 0, 2, 2, 1, 2]);
    vs.push(vec![0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]);
    vs.iter()
        .map(|v| Arch::from_vector(v).expect("valid vector"))
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn output_shapes_per_stage_and_gradients_only_on_the_path() {
    tch::manual_seed(11);
    let archs = sample_archs();
    let mut seen = (false, false, false, false, HashSet::new(), HashSet::new());
    for a in &archs {
        for (i, c) in a.cells.iter().enumerate() {
            seen.0 |= c.conv == ConvBlock::Post;
            seen.1 |= c.norm == Norm::Batch;
            seen.2 |= c.norm == Norm::Instance;
            seen.3 |= c.up == Up::Deconv;
            match i {
                1 => seen.4.insert(c.skip_from.clone()),
                2 => seen.5.insert(c.skip_from.clone()),
                _ => false,
            };
        }
    }
    assert!(
        seen.0 && seen.1 && seen.2 && seen.3,
        "coverage of the sample"
    );
    assert_eq!((seen.4.len(), seen.5.len()), (2, 4), "every skip pattern");

    // bottom width 4 here (every arch, with gradients); 6 in `stl_sizes_per_stage`
    for bw in [4] {
        let c = cfg(bw);
        for a in &archs {
            for stage in 0..3 {
                let p = a.prefix(stage + 1);
                // a fresh store per run, so a variable off the path has no gradient at all
                let (vs, g) = build(&c);
                let zz = z(&c);
                let side = bw << (stage + 1);
                let out = g.forward_t(&zz, &p, true);
                assert_eq!(out.size(), vec![2, 3, side, side], "{}", p.vector_string());
                assert_eq!(g.img_size(stage + 1), side);
                let target = Tensor::randn([2, 3, side, side], (Kind::Float, Device::Cpu));
                (&out * &target).sum(Kind::Float).backward();
                let on_path: HashSet<String> = g
                    .chosen_variables(&p)
                    .into_iter()
                    .map(|v| v.super_name)
                    .collect();
                for (name, t) in vs.variables() {
                    if !t.requires_grad() {
                        continue; // running statistics
                    }
                    let gr = t.grad();
                    if on_path.contains(&name) {
                        assert!(gr.defined(), "{}: no grad on {name}", p.vector_string());
                        assert!(
                            gr.isfinite().all().int64_value(&[]) == 1,
                            "{}: non-finite grad on {name}",
                            p.vector_string()
                        );
                    } else {
                        assert!(
                            !gr.defined() || gr.abs().sum(Kind::Float).double_value(&[]) == 0.0,
                            "{}: grad on {name}, which is off the path",
                            p.vector_string()
                        );
                    }
                }
                let ev = tch::no_grad(|| g.forward_t(&zz, &p, false));
                assert_eq!(ev.size(), vec![2, 3, side, side]);
                assert!(ev.isfinite().all().int64_value(&[]) == 1);
            }
        }
    }
}

#[test]
fn stl_sizes_per_stage() {
    tch::manual_seed(16);
    let c = cfg(6);
    let (_vs, g) = build(&c);
    for a in sample_archs() {
        for (stage, side) in [12, 24, 48].into_iter().enumerate() {
            let p = a.prefix(stage + 1);
            let zz = z(&c);
            let out = g.forward_t(&zz, &p, true);
            assert_eq!(out.size(), vec![2, 3, side, side], "{}", p.vector_string());
            let ev = tch::no_grad(|| g.forward_t(&zz, &p, false));
            assert_eq!(ev.size(), vec![2, 3, side, side]);
            assert!(ev.isfinite().all().int64_value(&[]) == 1);
        }
    }
    // backward through a 48x48 complete arch with every skip and deconvs
    let a = Arch::from_vector(&[0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]).unwrap();
    g.forward_t(&z(&c), &a, true).sum(Kind::Float).backward();
}

#[test]
fn post_activation_arch_leaves_pre_activation_convs_without_grad() {
    tch::manual_seed(12);
    let c = cfg(4);
    let (vs, g) = build(&c);
    let a = Arch::from_vector(&[0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]).unwrap();
    g.forward_t(&z(&c), &a, true).sum(Kind::Float).backward();
    let vars = vs.variables();
    for k in 1..=3 {
        for l in ["c1", "c2", "n1", "n2", "up1"] {
            assert!(!vars[&format!("cell{k}.pre.{l}.weight")].grad().defined());
            assert!(vars[&format!("cell{k}.post.{l}.weight")].grad().defined());
        }
    }
}

/// Builds the fixed generator of `a`, copies the supernet's path into it and compares both
/// outputs in eval mode, then in train mode (twice, so the updated running stats match too).
fn check_equal_to_fixed(g: &SuperGenerator, a: &Arch, c: &GenConfig) {
    let fvs = VarStore::new(Device::Cpu);
    let fixed = Generator::new(&fvs.root(), a, c);
    g.extract_fixed(a, &fvs).expect("extract");
    assert_eq!(
        nn::trainable_params(&fvs),
        nn::gen_params(a, c),
        "fixed count"
    );
    let zz = z(c);
    let name = a.vector_string();
    let d = max_abs_diff(
        &tch::no_grad(|| g.forward_t(&zz, a, false)),
        &tch::no_grad(|| fixed.forward_t(&zz, false)),
    );
    assert!(d < 1e-5, "{name}: eval diff {d}");
    for _ in 0..2 {
        let zz = z(c);
        let d = max_abs_diff(&g.forward_t(&zz, a, true), &fixed.forward_t(&zz, true));
        assert!(d < 1e-5, "{name}: train diff {d}");
    }
    let d = max_abs_diff(
        &tch::no_grad(|| g.forward_t(&zz, a, false)),
        &tch::no_grad(|| fixed.forward_t(&zz, false)),
    );
    assert!(d < 1e-5, "{name}: eval diff after train steps {d}");
}

#[test]
fn extract_fixed_gives_the_same_outputs_as_the_supernet() {
    tch::manual_seed(13);
    let archs = sample_archs();
    for bw in [4, 6] {
        let c = cfg(bw);
        let (_vs, g) = build(&c);
        // wake the batch norms' running statistics so eval mode uses non-trivial ones
        for a in archs.iter().take(10) {
            let _ = g.forward_t(&z(&c), a, true);
        }
        // bottom width 4: a, b, c and their prefixes, 6 random archs, the 3 corners;
        // bottom width 6: a and the all-post-activation deconv corner
        let (published, random, corners) = if bw == 4 { (3, 6, 3) } else { (1, 0, 1) };
        let random = archs.iter().skip(3).step_by(8).take(random);
        for a in archs.iter().take(published).chain(random) {
            check_equal_to_fixed(&g, a, &c);
            check_equal_to_fixed(&g, &a.prefix(1), &c);
            check_equal_to_fixed(&g, &a.prefix(2), &c);
        }
        for a in archs.iter().rev().take(corners) {
            check_equal_to_fixed(&g, a, &c);
        }
    }
}

#[test]
fn extract_fixed_rejects_a_generator_of_another_arch() {
    let c = cfg(4);
    let (_vs, g) = build(&c);
    let a = Arch::from_vector(&ARCH_A).unwrap();
    let b = Arch::from_vector(&[0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]).unwrap();
    let fvs = VarStore::new(Device::Cpu);
    let _fixed = Generator::new(&fvs.root(), &a, &c);
    let before = fvs.variables()["l1.weight"].copy();
    let err = g.extract_fixed(&b, &fvs).unwrap_err().to_string();
    assert!(err.contains("has no variable"), "{err}");
    assert!(
        fvs.variables()["l1.weight"].equal(&before),
        "nothing copied on error"
    );
    let err = g.extract_fixed(&a.prefix(2), &fvs).unwrap_err().to_string();
    assert!(err.contains("not on the path"), "{err}");
    let big = GenConfig { gf_dim: 16, ..c };
    let bvs = VarStore::new(Device::Cpu);
    let _fixed = Generator::new(&bvs.root(), &a, &big);
    let err = g.extract_fixed(&a, &bvs).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
}

#[test]
fn batch_norm_running_stats_are_shared_by_archs() {
    tch::manual_seed(14);
    let c = cfg(4);
    let (vs, g) = build(&c);
    let n_vars = vs.variables().len();
    let vars = vs.variables();
    let rm = vars["cell1.pre.n1.running_mean"].shallow_clone();
    let post_rm = vars["cell1.post.n1.running_mean"].shallow_clone();
    // two different archs, both pre-activation + batch norm in cell 1
    let a1 = Arch::from_prefix_vector(&[1, 1, 0, 1]).unwrap();
    let a2 = Arch::from_vector(&[1, 1, 2, 0, 0, 2, 1, 1, 1, 1, 1, 0, 0, 2]).unwrap();
    // pre-activation n1 of cell 1 normalises l1(z) as [n, gf, bw, bw]: its running mean
    // follows r <- 0.9 r + 0.1 * batch mean per channel
    let l1_mean = |zz: &Tensor| {
        let v = vs.variables();
        tch::no_grad(|| {
            zz.linear(&v["l1.weight"], Some(&v["l1.bias"]))
                .view([2, c.gf_dim, 4, 4])
                .mean_dim(&[0i64, 2, 3][..], false, Kind::Float)
        })
    };
    let z1 = z(&c);
    let z2 = z(&c);
    let _ = g.forward_t(&z1, &a1, true);
    let r1 = rm.copy();
    assert!(max_abs_diff(&r1, &(l1_mean(&z1) * 0.1)) < 1e-6);
    let _ = g.forward_t(&z2, &a2, true);
    let r2 = rm.copy();
    let expect = &r1 * 0.9 + l1_mean(&z2) * 0.1;
    assert!(
        max_abs_diff(&r2, &expect) < 1e-6,
        "a2 updated the same stats"
    );
    // the post-activation batch norm of cell 1 was never on a path
    assert_eq!(post_rm.abs().sum(Kind::Float).double_value(&[]), 0.0);
    // eval mode reads the shared stats and changes nothing; no variable was added
    let _ = tch::no_grad(|| g.forward_t(&z1, &a2, false));
    assert!(rm.equal(&r2));
    assert_eq!(vs.variables().len(), n_vars);
}

/// Scoring mode: every batch norm on the path normalises with the batch's statistics (the
/// same output as training mode) and no variable changes; eval mode gives other images once
/// the shared running statistics hold another architecture's batches.
#[test]
fn batch_statistics_mode_scores_an_arch_without_touching_the_shared_stats() {
    use autogan::nn::layers::BnMode;
    tch::manual_seed(15);
    let c = cfg(4);
    let (vs, g) = build(&c);
    let a = Arch::from_vector(&ARCH_A).unwrap();
    let other = Arch::from_vector(&[1, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2]).unwrap();
    for _ in 0..3 {
        let _ = tch::no_grad(|| g.forward_t(&z(&c), &other, true));
    }
    let before: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.copy()))
        .collect();
    let zz = Tensor::randn([6, c.latent_dim], (Kind::Float, Device::Cpu));
    let batch = tch::no_grad(|| g.forward_mode(&zz, &a, BnMode::Batch));
    for (k, v) in &before {
        assert!(
            vs.variables()[k].equal(v),
            "{k} changed in batch-statistics mode"
        );
    }
    let eval = tch::no_grad(|| g.forward_mode(&zz, &a, BnMode::Eval));
    let train = tch::no_grad(|| g.forward_t(&zz, &a, true));
    assert!(max_abs_diff(&batch, &train) < 1e-6);
    assert!(
        max_abs_diff(&batch, &eval) > 1e-3,
        "eval mode reads the running statistics"
    );
    // training mode did update them (the stats the reward no longer reads)
    let vars = vs.variables();
    let changed = before
        .iter()
        .any(|(k, v)| k.ends_with("running_mean") && !vars[k].equal(v));
    assert!(changed);
}

#[test]
fn reset_parameters_redraws_weights_and_keeps_shapes() {
    tch::manual_seed(15);
    let c = cfg(4);
    let (vs, g) = build(&c);
    let a = Arch::from_vector(&[0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]).unwrap();
    let _ = g.forward_t(&z(&c), &a, true);
    let before: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    g.reset_parameters();
    let after = vs.variables();
    for (name, old) in &before {
        let new = &after[name];
        assert_eq!(new.size(), old.size(), "{name}");
        if name.ends_with("running_mean") {
            assert_eq!(new.abs().sum(Kind::Float).double_value(&[]), 0.0, "{name}");
        } else if name.ends_with("running_var") {
            assert!(new.equal(&new.ones_like()), "{name}");
        } else if name.contains(".n1.bias") || name.contains(".n2.bias") || name == "to_rgb.0.bias"
        {
            assert_eq!(new.abs().sum(Kind::Float).double_value(&[]), 0.0, "{name}");
        } else {
            assert!(!new.equal(old), "{name} was not re-drawn");
        }
    }
    // the conv init bound: xavier-uniform for a 3x3 gf -> gf conv
    let w = &after["cell2.post.c1.weight"];
    let bound = (6.0 / (2.0 * 9.0 * c.gf_dim as f64)).sqrt();
    assert!(w.abs().max().double_value(&[]) <= bound);
    let out = g.forward_t(&z(&c), &a, false);
    assert_eq!(out.size(), vec![2, 3, 32, 32]);
}

#[test]
fn parameter_count_matches_the_closed_form() {
    for c in [cfg(4), cfg(6)] {
        let (vs, _g) = build(&c);
        assert_eq!(nn::trainable_params(&vs), nn::super_params(&c));
    }
    let search = GenConfig {
        latent_dim: 128,
        gf_dim: 128,
        bottom_width: 4,
    };
    let n = nn::super_params(&search);
    println!("supernet parameters at latent 128, gf 128, bottom width 4: {n}");
    assert_eq!(n, 3_125_635);
    for v in [ARCH_A, ARCH_B, ARCH_C] {
        let a = Arch::from_vector(&v).unwrap();
        assert!(n > nn::gen_params(&a, &search));
    }
}

#[test]
fn names_follow_the_module_comment() {
    let c = cfg(4);
    let (vs, _g) = build(&c);
    let vars = vs.variables();
    for name in [
        "l1.weight",
        "cell1.pre.c1.weight",
        "cell1.post.c2.bias",
        "cell2.pre.n1.running_var",
        "cell3.post.up1.weight",
        "cell1.c_sc.weight",
        "cell1.up_sc.bias",
        "cell2.skip_in_ops.0.weight",
        "cell3.skip_in_ops.1.weight",
        "to_rgb.0.running_mean",
        "to_rgb.2.weight",
    ] {
        assert!(vars.contains_key(name), "{name}");
    }
    assert!(!vars.contains_key("cell1.skip_in_ops.0.weight"));
    // skip transposed convs: kernel = stride = 2^(K-1-j)
    assert_eq!(vars["cell2.skip_up.0.weight"].size(), vec![8, 8, 2, 2]);
    assert_eq!(vars["cell3.skip_up.0.weight"].size(), vec![8, 8, 4, 4]);
    assert_eq!(vars["cell3.skip_up.1.weight"].size(), vec![8, 8, 2, 2]);
}

#[test]
fn init_weights_redraws_a_supernet_store_with_the_right_rules() {
    tch::manual_seed(17);
    let c = cfg(4);
    let (vs, _g) = build(&c);
    nn::init_weights(&vs);
    let vars = vs.variables();
    let max = |n: &str| vars[n].abs().max().double_value(&[]);
    let gf = c.gf_dim as f64;
    // transposed conv (PyTorch default, fan_in = c_out * k * k): a wider bound than xavier
    assert!(max("cell3.skip_up.0.weight") <= 1.0 / (gf * 16.0).sqrt());
    assert!(max("cell1.pre.up1.weight") <= 1.0 / (gf * 4.0).sqrt());
    assert!(max("cell1.c_sc.weight") <= (6.0 / (2.0 * gf)).sqrt());
    assert_eq!(
        vars["cell2.post.n2.bias"]
            .abs()
            .sum(Kind::Float)
            .double_value(&[]),
        0.0
    );
}

/// Informational timing (`cargo test --release --test supernet -- --ignored --nocapture`):
/// one D-step-sized batch of 64 at the search sizes (latent 128, gf 128, 32x32) on CPU.
#[test]
#[ignore]
fn timing_of_a_d_step_batch_on_cpu() {
    tch::manual_seed(18);
    let c = GenConfig {
        latent_dim: 128,
        gf_dim: 128,
        bottom_width: 4,
    };
    let (vs, g) = build(&c);
    let archs = [
        Arch::from_vector(&ARCH_A).unwrap(),
        Arch::from_vector(&[0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 1, 2, 1, 3]).unwrap(),
    ];
    for a in &archs {
        let zz = Tensor::randn([64, 128], (Kind::Float, Device::Cpu));
        let _ = g.forward_t(&zz, a, true); // warm-up
        let reps = 3;
        let t = std::time::Instant::now();
        for _ in 0..reps {
            let _ = tch::no_grad(|| g.forward_t(&zz, a, true));
        }
        let fwd = t.elapsed().as_secs_f64() / reps as f64;
        let t = std::time::Instant::now();
        for _ in 0..reps {
            vs.trainable_variables()
                .iter_mut()
                .for_each(|v| v.zero_grad());
            g.forward_t(&zz, a, true).mean(Kind::Float).backward();
        }
        let fb = t.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{}: forward {:.1} ms, forward+backward {:.1} ms (batch 64, gf 128, 32x32, {} threads)",
            a.vector_string(),
            fwd * 1e3,
            fb * 1e3,
            tch::get_num_threads()
        );
    }
}
