//! Metrics: unit checks of IS, statistics, the Fréchet distance, the npz format and the
//! resizes, and parity with torch-fidelity, pytorch-fid and scipy on random-initialised
//! FID-Inception weights (tests/reference/make_reference.py writes the reference numbers;
//! they are cached in the target folder until the script changes). The parity tests print
//! "SKIP: ..." and pass when .venv/bin/python or its metric packages are missing
//! (`bash scripts/setup.sh --with-metrics` installs them), except under `CI=true`, where they
//! fail.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use autogan::metrics::resize::{preprocess, resize_tf1, resize_torch_bilinear};
use autogan::metrics::{
    frechet_distance, inception_score, Accumulator, Inception, InceptionScorer, Protocol, Scorer,
    Stats,
};
use tch::{Device, Kind, Tensor};

const N_A: i64 = 40;
const N_B: i64 = 30;
const BATCH: i64 = 50;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// max |a - b| / max |b| over all elements.
fn tensor_rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    assert_eq!(a.size(), b.size());
    let d = (&a - &b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[]).max(1e-300)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

// ---------------------------------------------------------------- unit checks

#[test]
fn is_of_uniform_logits_is_one() {
    let logits = Tensor::zeros([100, 1008], (Kind::Float, Device::Cpu));
    let r = inception_score(&logits, 10).unwrap();
    assert!((r.mean - 1.0).abs() < 1e-12, "{r:?}");
    assert!(r.std < 1e-12);
}

#[test]
fn is_of_balanced_one_hot_is_k() {
    for k in [2i64, 5, 10] {
        // 20 images per split, classes 0..k cycling, so each split is balanced.
        let n = 10 * 20 * k;
        let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(k);
        let logits = labels.one_hot(1008).to_kind(Kind::Double) * 100.0;
        let r = inception_score(&logits, 10).unwrap();
        assert!((r.mean - k as f64).abs() < 1e-9, "k={k}: {r:?}");
        assert!(r.std < 1e-9);
    }
}

#[test]
fn is_needs_enough_images() {
    let logits = Tensor::zeros([5, 1008], (Kind::Float, Device::Cpu));
    let e = inception_score(&logits, 10).unwrap_err().to_string();
    assert!(e.contains("at least 10"), "{e}");
}

fn random_features(n: i64, d: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let base = Tensor::randn([n, d], (Kind::Double, Device::Cpu));
    let mix = Tensor::randn([d, d], (Kind::Double, Device::Cpu)) / (d as f64).sqrt();
    base.mm(&mix) + 3.0
}

#[test]
fn streaming_stats_equal_direct_formula() {
    let f = random_features(300, 16, 1);
    let mut acc = autogan::metrics::StatsAccumulator::new();
    for chunk in f.split(70, 0) {
        acc.add(&chunk).unwrap();
    }
    let s = acc.finish().unwrap();
    assert_eq!(s.n, 300);
    let mu = f.mean_dim(0, false, Kind::Double);
    let c = &f - &mu;
    let sigma = c.tr().mm(&c) / 299.0;
    assert!(tensor_rel_err(&s.mu, &mu) < 1e-12);
    assert!(tensor_rel_err(&s.sigma, &sigma) < 1e-12);
}

#[test]
fn fid_of_identical_stats_is_zero_and_positive_otherwise() {
    let a = Stats::from_features(&random_features(500, 32, 2)).unwrap();
    let fid = frechet_distance(&a, &a.clone()).unwrap();
    let tr = a.sigma.trace().double_value(&[]);
    assert!(fid.abs() < 1e-9 * tr, "FID(a, a) = {fid}");
    let b = Stats::from_features(&(random_features(500, 32, 3) * 1.5)).unwrap();
    let ab = frechet_distance(&a, &b).unwrap();
    let ba = frechet_distance(&b, &a).unwrap();
    assert!(ab > 1.0);
    assert!(rel_err(ab, ba) < 1e-9, "{ab} vs {ba}");
}

#[test]
fn fid_of_different_widths_is_an_error() {
    let a = Stats::from_features(&random_features(50, 8, 4)).unwrap();
    let b = Stats::from_features(&random_features(50, 9, 5)).unwrap();
    assert!(frechet_distance(&a, &b).is_err());
}

#[test]
fn npz_round_trip() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("metrics-npz");
    std::fs::create_dir_all(&dir).unwrap();
    let s = Stats::from_features(&random_features(40, 12, 6)).unwrap();
    let p = dir.join("stats.npz");
    s.write_npz(&p).unwrap();
    let r = Stats::read_npz(&p).unwrap();
    assert_eq!(r.n, 40);
    assert_eq!(r.mu.kind(), Kind::Double);
    assert_eq!(max_abs_diff(&r.mu, &s.mu), 0.0);
    assert_eq!(max_abs_diff(&r.sigma, &s.sigma), 0.0);
    // A file without mu / sigma is refused with a message.
    let bad = dir.join("bad.npz");
    Tensor::write_npz(
        &[("x", Tensor::zeros([3], (Kind::Double, Device::Cpu)))],
        &bad,
    )
    .unwrap();
    let e = Stats::read_npz(&bad).unwrap_err().to_string();
    assert!(e.contains("mu") && e.contains("sigma"), "{e}");
    assert!(Stats::read_npz(&dir.join("missing.npz")).is_err());
}

#[test]
fn tf1_resize_by_hand() {
    // 2 -> 4 samples: src = 0, 0.5, 1, 1.5 -> lo 0,0,1,1 hi 1,1,1,1.
    let x = Tensor::from_slice(&[0f32, 10., 20., 30.]).view([1, 1, 2, 2]);
    let y = resize_tf1(&x, 4, 4).unwrap();
    let row0: Vec<f32> = Vec::try_from(y.get(0).get(0).get(0)).unwrap();
    assert_eq!(row0, vec![0., 5., 10., 10.]);
    let col0: Vec<f32> = Vec::try_from(y.get(0).get(0).select(1, 0)).unwrap();
    assert_eq!(col0, vec![0., 10., 20., 20.]);
    // Same size: identity.
    let z = Tensor::rand([2, 3, 9, 9], (Kind::Float, Device::Cpu));
    assert_eq!(max_abs_diff(&resize_tf1(&z, 9, 9).unwrap(), &z), 0.0);
}

#[test]
fn protocol_parsing_and_preprocess_ranges() {
    assert_eq!("tf".parse::<Protocol>().unwrap(), Protocol::Tf);
    assert_eq!(
        "pytorch-fid".parse::<Protocol>().unwrap(),
        Protocol::PytorchFid
    );
    assert!("fid".parse::<Protocol>().is_err());
    let imgs = Tensor::from_slice(&[0u8, 255, 128, 7])
        .view([1, 1, 2, 2])
        .repeat([2, 3, 1, 1]);
    let tf = preprocess(&imgs, Protocol::Tf).unwrap();
    assert_eq!(tf.size(), [2, 3, 299, 299]);
    assert_eq!(tf.min().double_value(&[]), -1.0);
    assert_eq!(tf.max().double_value(&[]), 127.0 / 128.0);
    let pf = preprocess(&imgs, Protocol::PytorchFid).unwrap();
    assert!(pf.min().double_value(&[]) >= -1.0 && pf.max().double_value(&[]) <= 1.0);
    assert!(preprocess(&imgs.to_kind(Kind::Float), Protocol::Tf).is_err());
}

#[test]
fn inception_weights_missing_tensors_are_listed() {
    let e = match Inception::from_tensors(vec![], Device::Cpu) {
        Ok(_) => panic!("empty weights accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("Conv2d_1a_3x3.conv.weight") && e.contains("missing"),
        "{e}"
    );
    let bad = vec![(
        "fc.weight".to_string(),
        Tensor::zeros([10, 10], (Kind::Float, Device::Cpu)),
    )];
    let e = match Inception::from_tensors(bad, Device::Cpu) {
        Ok(_) => panic!("misshapen weights accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("fc.weight: shape [10, 10]"), "{e}");
}

#[test]
fn kid_from_the_whole_kernel_equals_kid_from_kernels_per_subset() {
    use autogan::metrics::kid::{kid_on_subsets_with, poly_mmd2_unbiased};
    let a = random_features(50, 16, 8).to_kind(Kind::Float);
    let b = (random_features(40, 16, 9) * 1.2).to_kind(Kind::Float);
    tch::manual_seed(10);
    let subsets: Vec<(Tensor, Tensor)> = (0..7)
        .map(|_| {
            let pick = |n: i64| Tensor::randperm(n, (Kind::Int64, Device::Cpu)).narrow(0, 0, 30);
            (pick(50), pick(40))
        })
        .collect();
    let whole = kid_on_subsets_with(&a, &b, &subsets, true).unwrap();
    let each = kid_on_subsets_with(&a, &b, &subsets, false).unwrap();
    assert_eq!(whole.subset_size, 30);
    assert!(
        rel_err(whole.mean, each.mean) < 1e-9,
        "{whole:?} vs {each:?}"
    );
    assert!(rel_err(whole.std, each.std) < 1e-6, "{whole:?} vs {each:?}");
    // The estimator by hand for one subset (float64, the unbiased MMD² formula).
    let x = a.index_select(0, &subsets[0].0).to_kind(Kind::Double);
    let y = b.index_select(0, &subsets[0].1).to_kind(Kind::Double);
    let k = |p: &Tensor, q: &Tensor| (p.mm(&q.tr()) / 16.0 + 1.0).pow_tensor_scalar(3);
    let (kxx, kyy, kxy) = (k(&x, &x), k(&y, &y), k(&x, &y));
    let off = |t: &Tensor| t.sum(Kind::Double).double_value(&[]) - t.trace().double_value(&[]);
    let want = (off(&kxx) + off(&kyy)) / (30.0 * 29.0)
        - 2.0 * kxy.sum(Kind::Double).double_value(&[]) / 900.0;
    let got = poly_mmd2_unbiased(&x, &y);
    assert!(rel_err(got, want) < 1e-9, "{got} vs {want}");
}

// ---------------------------------------------------------------- parity with the Python tools

/// The folder of reference outputs, computed once per script version; None (after printing
/// SKIP) when the Python side is not available.
fn reference() -> Option<&'static Path> {
    static REF: OnceLock<Option<PathBuf>> = OnceLock::new();
    REF.get_or_init(|| {
        let py = common::venv_python(
            "metrics parity",
            "torch, torch_fidelity, pytorch_fid, scipy, safetensors, PIL",
            "bash scripts/setup.sh --with-metrics",
        )?;
        let script = root().join("tests/reference/make_reference.py");
        // The cache is valid for this script and these sizes only.
        let mut text = std::fs::read(&script).expect("reading make_reference.py");
        text.extend(format!("\n# n_a {N_A} n_b {N_B} batch {BATCH}\n").bytes());
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("metrics-ref");
        let stamp = out.join("script.stamp");
        let done = out.join("reference.json");
        if std::fs::read(&stamp).ok().as_deref() == Some(&text[..]) && done.is_file() {
            return Some(out);
        }
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        eprintln!(
            "running {} (a few minutes on 2 CPU cores)",
            script.display()
        );
        let o = Command::new(&py)
            .arg(&script)
            .arg(&out)
            .args([
                "--n-a",
                &N_A.to_string(),
                "--n-b",
                &N_B.to_string(),
                "--batch",
                &BATCH.to_string(),
            ])
            .output()
            .expect("running make_reference.py");
        assert!(
            o.status.success(),
            "make_reference.py failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::write(&stamp, &text).unwrap();
        Some(out)
    })
    .as_deref()
}

fn ref_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap()
}

fn named(path: &Path) -> std::collections::HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

/// Our IS and statistics of image sets A and B under `protocol`, computed once.
struct Ours {
    is_a: autogan::metrics::IsResult,
    stats_a: Stats,
    stats_b: Stats,
    /// float32 `[N_A, 2048]`, `[N_B, 2048]`: the features themselves (KID, precision/recall).
    feat_a: Tensor,
    feat_b: Tensor,
}

/// Run `f` on our results for `protocol`, computing them on first use (tensors are not
/// `Sync`, hence a mutex rather than a `OnceLock`).
fn with_ours<R>(dir: &Path, protocol: Protocol, f: impl FnOnce(&Ours) -> R) -> R {
    static TF: Mutex<Option<Ours>> = Mutex::new(None);
    static PF: Mutex<Option<Ours>> = Mutex::new(None);
    let cell = match protocol {
        Protocol::Tf => &TF,
        Protocol::PytorchFid => &PF,
    };
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    let ours = guard.get_or_insert_with(|| {
        let scorer =
            InceptionScorer::load(&dir.join("weights.safetensors"), Device::Cpu, protocol).unwrap();
        assert_eq!(scorer.name(), "inception");
        let imgs = named(&dir.join("images.safetensors"));
        let run = |x: &Tensor, want_is: bool| {
            let mut acc = Accumulator::for_needs(autogan::metrics::Needs {
                logits: want_is,
                stats: true,
                features: true,
                ..Default::default()
            });
            for b in x.split(BATCH, 0) {
                acc.add_images(&scorer, &b).unwrap();
            }
            acc
        };
        let a = run(&imgs["images_a"], true);
        let b = run(&imgs["images_b"], false);
        assert_eq!(a.count(), N_A as u64);
        Ours {
            is_a: a.inception_score(10).unwrap(),
            stats_a: a.stats().unwrap(),
            stats_b: b.stats().unwrap(),
            feat_a: a.features().unwrap(),
            feat_b: b.features().unwrap(),
        }
    });
    f(ours)
}

#[test]
fn parity_tf1_resize_with_torch_fidelity() {
    let Some(dir) = reference() else { return };
    let r = named(&dir.join("resize.safetensors"));
    for k in ["in32", "in48", "in75"] {
        let ours = resize_tf1(&r[k], 299, 299).unwrap();
        let d = max_abs_diff(&ours, &r[&format!("tf_{k}")]);
        println!("TF1 resize {k}: max |ours - torch-fidelity| = {d:e} (values 0..255)");
        assert!(d <= 1e-5 * 255.0, "{k}: {d}");
        let ours = resize_torch_bilinear(&(&r[k] / 255.0), 299, 299).unwrap();
        let d = max_abs_diff(&ours, &r[&format!("torch_{k}")]);
        println!("torch bilinear resize {k}: max |ours - F.interpolate| = {d:e} (values 0..1)");
        assert!(d <= 1e-6, "{k}: {d}");
    }
}

#[test]
fn parity_frechet_distance_with_scipy_sqrtm() {
    let Some(dir) = reference() else { return };
    let f: std::collections::HashMap<String, Tensor> = Tensor::read_npz(dir.join("frechet.npz"))
        .unwrap()
        .into_iter()
        .collect();
    let a = Stats::new(f["mu1"].shallow_clone(), f["sigma1"].shallow_clone(), 0).unwrap();
    let b = Stats::new(f["mu2"].shallow_clone(), f["sigma2"].shallow_clone(), 0).unwrap();
    let want = f["fid"].double_value(&[0]);
    let got = frechet_distance(&a, &b).unwrap();
    println!(
        "Fréchet distance d=64: ours {got:.12} scipy {want:.12} rel {:e}",
        rel_err(got, want)
    );
    assert!(rel_err(got, want) < 1e-6);
}

#[test]
fn parity_tf_protocol_with_torch_fidelity() {
    let Some(dir) = reference() else { return };
    let r = ref_json(dir);
    with_ours(dir, Protocol::Tf, |o| check_tf(&r, o));
}

fn check_tf(r: &serde_json::Value, o: &Ours) {
    let (is_mean, is_std, fid) = (
        r["tf_is_mean"].as_f64().unwrap(),
        r["tf_is_std"].as_f64().unwrap(),
        r["tf_fid"].as_f64().unwrap(),
    );
    let our_fid = frechet_distance(&o.stats_a, &o.stats_b).unwrap();
    println!(
        "TF protocol: IS ours {:.9} +- {:.9}, torch-fidelity {is_mean:.9} +- {is_std:.9} (rel {:e}); \
         FID ours {our_fid:.9}, torch-fidelity {fid:.9} (rel {:e})",
        o.is_a.mean,
        o.is_a.std,
        rel_err(o.is_a.mean, is_mean),
        rel_err(our_fid, fid)
    );
    assert!(rel_err(o.is_a.mean, is_mean) < 1e-3);
    assert!((o.is_a.std - is_std).abs() < 1e-3 * is_mean);
    assert!(rel_err(our_fid, fid) < 1e-4);
}

#[test]
fn parity_pytorch_fid_protocol_statistics() {
    let Some(dir) = reference() else { return };
    let r = ref_json(dir);
    with_ours(dir, Protocol::PytorchFid, |o| check_pytorch_fid(dir, &r, o));
}

fn check_pytorch_fid(dir: &Path, r: &serde_json::Value, o: &Ours) {
    for (name, ours) in [("a", &o.stats_a), ("b", &o.stats_b)] {
        let theirs = Stats::read_npz(&dir.join(format!("pfid_stats_{name}.npz"))).unwrap();
        let dmu = tensor_rel_err(&ours.mu, &theirs.mu);
        let ds = tensor_rel_err(&ours.sigma, &theirs.sigma);
        println!(
            "pytorch-fid stats {name}: mu max abs diff {:e} (rel {dmu:e}), sigma max abs diff {:e} (rel {ds:e})",
            max_abs_diff(&ours.mu, &theirs.mu),
            max_abs_diff(&ours.sigma, &theirs.sigma)
        );
        assert!(dmu < 1e-4 && ds < 1e-4);
    }
    let fid = r["pfid_fid"].as_f64().unwrap();
    let ours_fid = frechet_distance(&o.stats_a, &o.stats_b).unwrap();
    println!(
        "pytorch-fid protocol FID: ours {ours_fid:.9}, pytorch-fid {fid:.9} (rel {:e})",
        rel_err(ours_fid, fid)
    );
    assert!(rel_err(ours_fid, fid) < 1e-4);
}

#[test]
fn eval_command_on_a_folder_matches_the_library() {
    let Some(dir) = reference() else { return };
    let exe = env!("CARGO_BIN_EXE_autogan");
    let weights = dir.join("weights.safetensors");
    // 20 PNGs of set A: the CLI must give the library's IS of the same 20 images.
    let folder = dir.join("png_a20");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..20 {
        let name = format!("{i:05}.png");
        std::fs::copy(dir.join("png_a").join(&name), folder.join(&name)).unwrap();
    }
    let o = Command::new(exe)
        .args(["--device", "cpu", "--quiet", "eval", "--images"])
        .arg(&folder)
        .args([
            "--metric",
            "is",
            "--batch-size",
            "10",
            "--json",
            "--inception",
        ])
        .arg(&weights)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["num_images"], 20);
    assert_eq!(v["protocol"], "tf");
    assert_eq!(v["scorer"], "inception");
    let scorer = InceptionScorer::load(&weights, Device::Cpu, Protocol::Tf).unwrap();
    let imgs = named(&dir.join("images.safetensors"))["images_a"].narrow(0, 0, 20);
    let mut acc = Accumulator::new(true, false);
    acc.add_images(&scorer, &imgs).unwrap();
    let want = acc.inception_score(10).unwrap();
    let got = v["is_mean"].as_f64().unwrap();
    assert!(
        rel_err(got, want.mean) < 1e-6,
        "CLI {got} vs library {}",
        want.mean
    );

    // `data stats` on the same folder: an npz equal to the library's statistics (the weights
    // where `data stats` looks for them: in $AUTOGAN_HOME).
    let home = dir.join("stats-home");
    std::fs::create_dir_all(&home).unwrap();
    let cached = home.join("pt_inception-2015-12-05-6726825d.safetensors");
    let _ = std::fs::remove_file(&cached);
    std::os::unix::fs::symlink(&weights, &cached).unwrap();
    let out = dir.join("a20-stats.npz");
    let o = Command::new(exe)
        .env("AUTOGAN_HOME", &home)
        .args(["--device", "cpu", "--quiet", "data", "stats"])
        .arg(&folder)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written = Stats::read_npz(&out).unwrap();
    let mut acc = Accumulator::new(false, true);
    acc.add_images(&scorer, &imgs).unwrap();
    let want = acc.stats().unwrap();
    assert_eq!(written.n, 20);
    assert!(tensor_rel_err(&written.mu, &want.mu) < 1e-9);
    assert!(tensor_rel_err(&written.sigma, &want.sigma) < 1e-9);

    // Missing weights: a non-zero exit that names the command to get them.
    let o = Command::new(exe)
        .args(["--device", "cpu", "eval", "--images"])
        .arg(&folder)
        .args([
            "--metric",
            "is",
            "--inception",
            "/nonexistent/w.safetensors",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fetch_inception.sh"), "{err}");
}

/// torch-fidelity's KID and precision/recall, and the independent numpy precision/recall, of
/// our TF-protocol features of sets A and B (tests/reference/kid_pr_reference.py).
fn kid_pr_reference(dir: &Path, o: &Ours) -> PathBuf {
    let py = root().join(".venv/bin/python");
    let out = dir.join("kid-pr");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let feats = out.join("features.safetensors");
    Tensor::write_safetensors(
        &[
            ("feat_a", o.feat_a.shallow_clone()),
            ("feat_b", o.feat_b.shallow_clone()),
        ],
        &feats,
    )
    .unwrap();
    let o = Command::new(py)
        .arg(root().join("tests/reference/kid_pr_reference.py"))
        .arg(&feats)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kid_pr_reference.py failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn parity_kid_and_precision_recall_with_torch_fidelity() {
    use autogan::metrics::kid::{kid, kid_on_subsets, KID_SEED, KID_SUBSETS, KID_SUBSET_SIZE};
    use autogan::metrics::prc::{precision_recall, PR_K};
    let Some(dir) = reference() else { return };
    with_ours(dir, Protocol::Tf, |o| {
        let out = kid_pr_reference(dir, o);
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("kid_pr.json")).unwrap()).unwrap();
        let f = |k: &str| r[k].as_f64().unwrap();

        // Every subset the whole set (N_B images each side, the default subset size clipped
        // to it): the value does not depend on the draws, so it must be torch-fidelity's.
        let a30 = o.feat_a.narrow(0, 0, N_B);
        let full = kid(&a30, &o.feat_b, KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED).unwrap();
        assert_eq!(full.subset_size, N_B);
        println!(
            "KID, whole sets: ours {:.12e} ± {:.3e}, torch-fidelity {:.12e} ± {:.3e} (rel {:e})",
            full.mean,
            full.std,
            f("kid_full_mean"),
            f("kid_full_std"),
            rel_err(full.mean, f("kid_full_mean"))
        );
        assert!(rel_err(full.mean, f("kid_full_mean")) < 1e-5);
        assert!(full.std <= 1e-9 * full.mean.abs());

        // Subsets of N_B of N_A: torch-fidelity's own draws (numpy RandomState(2020)).
        let idx: std::collections::HashMap<String, Tensor> =
            named(&out.join("kid_subsets.safetensors"));
        let subsets: Vec<(Tensor, Tensor)> = (0..KID_SUBSETS as i64)
            .map(|i| (idx["idx_a"].get(i), idx["idx_b"].get(i)))
            .collect();
        let sub = kid_on_subsets(&o.feat_a, &o.feat_b, &subsets).unwrap();
        println!(
            "KID, 100 subsets of {N_B} of {N_A}: ours {:.12e} ± {:.6e}, torch-fidelity {:.12e} ± {:.6e} (rel {:e}, {:e})",
            sub.mean,
            sub.std,
            f("kid_sub_mean"),
            f("kid_sub_std"),
            rel_err(sub.mean, f("kid_sub_mean")),
            rel_err(sub.std, f("kid_sub_std"))
        );
        assert!(rel_err(sub.mean, f("kid_sub_mean")) < 1e-5);
        assert!(rel_err(sub.std, f("kid_sub_std")) < 1e-3);
        // Our own draws: another sample of the same estimator, near theirs.
        let ours = kid(&o.feat_a, &o.feat_b, KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED).unwrap();
        println!("KID, our own draws: {:.6e} ± {:.3e}", ours.mean, ours.std);
        assert!((ours.mean - sub.mean).abs() < 4.0 * sub.std.max(1e-12));

        // Precision / recall: exact fractions, the same for all three implementations.
        let (p, rc) = precision_recall(&o.feat_a, &o.feat_b, PR_K).unwrap();
        println!(
            "precision/recall: ours {p} {rc}, torch-fidelity {} {}, numpy {} {}",
            f("tf_precision"),
            f("tf_recall"),
            f("np_precision"),
            f("np_recall")
        );
        assert_eq!((p, rc), (f("np_precision"), f("np_recall")));
        // torch-fidelity averages in float32: compare the counts.
        let count = |x: f64, n: i64| (x * n as f64).round() as i64;
        assert_eq!(count(p, N_A), count(f("tf_precision"), N_A));
        assert_eq!(count(rc, N_B), count(f("tf_recall"), N_B));
    });
}
