//! End-to-end tests of the `autogan` binary: help, version, doctor, `arch show`, and hostile
//! input (issue 11): numbers out of range, files where folders belong, references, caches and
//! outputs checked before the long work, --data-dir reaching every reader, images of mixed
//! sizes. Scoring uses a classifier scorer trained in seconds on a tiny labelled folder.
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// `autogan ARGS` from the source root exactly as given (no global flags added: these tests
/// check the global flags themselves).
fn autogan(args: &[&str]) -> Output {
    common::autogan_cmd(None)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the autogan binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh file under cargo's per-test temporary folder.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = common::tmp_in("cli", name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_lists_the_subcommands() {
    let o = autogan(&["--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for sub in [
        "search", "train", "eval", "sample", "arch", "data", "doctor", "bench",
    ] {
        assert!(out.contains(sub), "--help should list `{sub}`:\n{out}");
    }
}

#[test]
fn version() {
    let o = autogan(&["--version"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
}

#[test]
fn doctor_reports_libtorch() {
    let o = autogan(&["--device", "cpu", "doctor"]);
    assert!(o.status.success(), "doctor failed: {}", stderr(&o));
    assert!(
        stdout(&o).to_lowercase().contains("libtorch"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn arch_show_prints_words() {
    let o = autogan(&[
        "--device",
        "cpu",
        "arch",
        "show",
        "configs/arch/autogan_cifar10_a.json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("pre-activation"), "{out}");
    assert!(out.contains("cell 3 (16x16 -> 32x32)"), "{out}");
    assert!(out.contains("skip inputs from cells 1 and 2"), "{out}");
    assert!(out.contains("1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3"), "{out}");
}

#[test]
fn arch_show_json_is_canonical() {
    let path = temp_file(
        "vector_only.json",
        r#"{"vector": [1,1,1,1,1,0,0,1,1,1,0,1,0,3]}"#,
    );
    let o = autogan(&[
        "--device",
        "cpu",
        "arch",
        "show",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(v["cells"][0]["norm"], "batch");
    assert_eq!(
        v["vector"],
        serde_json::json!([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3])
    );
    let c_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/arch/autogan_cifar10_c.json");
    let c = std::fs::read_to_string(c_path).unwrap();
    // the same arch as the shipped file, which carries a name besides
    let shipped: serde_json::Value = serde_json::from_str(&c).unwrap();
    assert_eq!(shipped["cells"], v["cells"]);
}

#[test]
fn arch_show_broken_file_fails_naming_it() {
    let path = temp_file(
        "broken_arch.json",
        r#"{"cells": [{"conv": "pre", "norm": "batchnorm", "up": "nearest", "shortcut": true}]}"#,
    );
    let o = autogan(&["--device", "cpu", "arch", "show", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("broken_arch.json"), "{err}");

    let path = temp_file("not_json.json", "{ this is not json");
    let o = autogan(&["--device", "cpu", "arch", "show", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("not_json.json") && err.contains("line 1"),
        "{err}"
    );

    let o = autogan(&["--device", "cpu", "arch", "show", "no/such/arch.json"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no/such/arch.json"), "{}", stderr(&o));
}

#[test]
fn search_rejects_bad_settings_before_creating_a_run() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-bad-search");
    let _ = std::fs::remove_dir_all(&out);
    let o = autogan(&[
        "--device",
        "cpu",
        "search",
        "--preset",
        "no_such_preset",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no_such_preset"), "{}", stderr(&o));
    let o = autogan(&[
        "--device",
        "cpu",
        "search",
        "--stage-changes",
        "5,3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stage_changes"), "{}", stderr(&o));
    // Flags the chosen strategy would ignore, and sizes no search can hold.
    for (args, says) in [
        (
            vec!["--population", "8"],
            "--population applies to --strategy evolution only",
        ),
        (
            vec!["--strategy", "random", "--tournament", "2"],
            "--tournament applies to --strategy evolution only",
        ),
        (
            vec![
                "--strategy",
                "evolution",
                "--population",
                "18446744073709551615",
            ],
            "at most 100000",
        ),
        (vec!["--rl-num-eval-img", "10"], "at least 20 images"),
        (
            vec!["--strategy", "evolution", "--ctrl-lr", "0.01"],
            "--ctrl-lr sets the REINFORCE controller",
        ),
        (
            vec!["--ctrl-adv-norm", "true", "--ctrl-sample-batch", "1"],
            "ctrl_adv_norm needs at least 2",
        ),
        (vec!["--ctrl-lr", "0"], "ctrl_lr = 0"),
        (vec!["--baseline-decay", "1"], "baseline_decay = 1"),
        (
            vec!["--shared-uniform", "1.5"],
            "shared_uniform = 1.5: must be in [0, 1]",
        ),
        (vec!["--shared-uniform", "-0.1"], "shared_uniform = -0.1"),
        (
            vec!["--strategy", "sac", "--shared-uniform", "1"],
            "drop --shared-uniform",
        ),
        (
            vec!["--reward-fid", "-1"],
            "reward_fid = -1: must be 0 or more",
        ),
        (
            vec!["--strategy", "sac", "--reward-fid", "0.01"],
            "drop --reward-fid",
        ),
        (
            vec!["--strategy", "random", "--distinct-candidates", "true"],
            "--distinct-candidates sets the REINFORCE controller",
        ),
    ] {
        let mut a = vec!["--device", "cpu", "search"];
        a.extend(&args);
        a.extend(["--out", out.to_str().unwrap()]);
        let o = autogan(&a);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(
        !out.exists(),
        "a refused search must not create its run directory"
    );
}

/// `--device cuda` on a machine without a usable GPU says whether this build has CUDA at all.
#[test]
fn cuda_without_a_gpu_says_what_is_missing() {
    let doctor = autogan(&["doctor", "--json"]);
    let d: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    if d["cuda_available"] == true {
        println!("SKIP cuda_without_a_gpu_says_what_is_missing: a GPU is available");
        return;
    }
    let o = autogan(&[
        "--device",
        "cuda",
        "arch",
        "show",
        "configs/arch/autogan_cifar10_a.json",
    ]);
    let err = stderr(&o);
    assert!(!o.status.success());
    if d["cuda_linked"] == true {
        assert!(
            err.contains("links CUDA") && err.contains("no GPU was found"),
            "{err}"
        );
    } else {
        assert!(err.contains("has no CUDA"), "{err}");
    }
    assert!(!err.contains("not available to this build"), "{err}");
}

/// Configurations keep their JSON shape: a search config.json written before the shared GAN
/// section and the typed enums existed (every field at the top level, enums as strings) reads
/// back with the same values and writes back flat; a field a file lacks takes that
/// configuration's own default (the search's G is narrower than training's); an unknown field
/// or value is refused, naming it; the shipped presets read and validate.
#[test]
fn config_json_is_flat_typed_and_strict() {
    use autogan::config::{load_preset, SearchConfig, TrainConfig};
    use autogan::metrics::ScorerKind;
    use autogan::search::reset::Mode;
    use autogan::search::strategy::StrategyKind;
    let old = r#"{"baseline_decay": 0.9, "batch_size": 4, "beta1": 0.0, "beta2": 0.9,
        "bottom_width": 4, "ctrl_lr": 0.00035, "ctrl_sample_batch": 2, "ctrl_steps": 2,
        "dataset": "shapes", "df_dim": 8, "dynamic_reset": true, "entropy_coeff": 0.001,
        "final_eval_images": 1000, "final_train_steps": 0, "gen_batch_size": 4, "gf_dim": 8,
        "hid_size": 100, "img_size": 32, "iterations": 4, "latent_dim": 8, "lr": 0.0002,
        "max_shared_steps": 30, "n_critic": 5, "num_candidate": 4, "reset_mode": "std",
        "reset_threshold": 0.001, "reset_window": 4, "rl_num_eval_img": 20,
        "scorer": "classifier", "shapes_count": 300, "shared_epochs": 1,
        "stage_changes": [1, 2], "topk": 2}"#;
    let c: SearchConfig = serde_json::from_str(old).unwrap();
    assert_eq!((c.gf_dim, c.df_dim, c.shapes_count), (8, 8, 300));
    assert_eq!(c.gan.batch_size, 4);
    assert_eq!(c.reset_mode, Mode::Std);
    assert_eq!(c.scorer, ScorerKind::Classifier);
    assert_eq!(c.strategy, StrategyKind::Reinforce);
    c.validate().unwrap();
    let back = serde_json::to_value(&c).unwrap();
    assert!(
        back.get("gan").is_none(),
        "the GAN section is flattened: {back}"
    );
    let old_v: serde_json::Value = serde_json::from_str(old).unwrap();
    for (k, v) in old_v.as_object().unwrap() {
        assert_eq!(&back[k], v, "{k}");
    }
    assert_eq!(back["strategy"], "reinforce");
    assert_eq!(serde_json::from_value::<SearchConfig>(back).unwrap(), c);

    let partial: SearchConfig = serde_json::from_str(r#"{"iterations": 9}"#).unwrap();
    assert_eq!(
        (partial.gf_dim, partial.df_dim, partial.iterations),
        (128, 64, 9)
    );
    let t: TrainConfig = serde_json::from_str(r#"{"steps": 3}"#).unwrap();
    assert_eq!((t.gf_dim, t.df_dim, t.steps), (256, 128, 3));

    let err = serde_json::from_str::<SearchConfig>(r#"{"gf_dimm": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `gf_dimm`"), "{err}");
    let err = serde_json::from_str::<TrainConfig>(r#"{"iterations": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `iterations`"), "{err}");
    let err = serde_json::from_str::<SearchConfig>(r#"{"strategy": "evolve"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("evolve"), "{err}");
    let e: SearchConfig = serde_json::from_str(r#"{"strategy": "evolution"}"#).unwrap();
    assert_eq!(e.strategy, StrategyKind::Evolution);

    for name in ["quick", "cifar10", "stl10"] {
        let (_, p) = load_preset(name).unwrap();
        p.train.unwrap().validate().unwrap();
        p.search.unwrap().validate().unwrap();
    }
}

/// `autogan args` with `envs` set, run in `dir`.
fn autogan_at(dir: &Path, envs: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = common::autogan_cmd(None);
    c.args(["--device", "cpu", "--threads", "1"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("the autogan binary runs")
}

/// The error of a command that must fail (and not by a panic).
fn fails(o: &Output) -> String {
    let err = stderr(o);
    assert!(!o.status.success(), "should have failed:\n{}", stdout(o));
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A fresh, empty folder under cargo's per-test temporary folder.
fn tmp_dir(tag: &str) -> PathBuf {
    let dir = common::tmp_in("cli", tag);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const ARCH_A: &str = "configs/arch/autogan_cifar10_a.json";

fn png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

/// A labelled folder of 20 small images in two classes (red and blue squares with noise).
fn tiny_labelled() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp_dir("tinylab");
        for (c, base) in [("red", [220u8, 30, 30]), ("blue", [30, 30, 220])] {
            for i in 0..10u32 {
                png(&dir.join(c).join(format!("{i}.png")), 8, 8, |x, y| {
                    let n = ((x * 7 + y * 13 + i * 31) % 40) as u8;
                    [base[0] - n / 2, base[1] + n, base[2] - n / 2]
                });
            }
        }
        dir
    })
}

/// An $AUTOGAN_HOME holding the classifier scorer of `tiny_labelled()` (trained once).
fn scorer_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tmp_dir("home-tinylab");
        let o = autogan_at(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            &[("AUTOGAN_HOME", &home)],
            &["scorer", "train", "--dataset", s(tiny_labelled())],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        home
    })
}

/// The one scorer file in `scorer_home()`.
fn scorer_file() -> PathBuf {
    let dir = scorer_home().join("scorers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn numbers_out_of_range_say_what_is_allowed() {
    for (steps, want) in [
        ("-1", "not a whole number of at least 1"),
        ("0", "at least 1"),
    ] {
        let o = autogan_at(root(), &[], &["train", "--arch", ARCH_A, "--steps", steps]);
        let err = fails(&o);
        assert!(err.contains("--steps") && err.contains(want), "{err}");
    }
    let o = autogan_at(root(), &[], &["search", "--iterations", "-3"]);
    let err = fails(&o);
    assert!(err.contains("--iterations") && err.contains("-3"), "{err}");
    let out = tmp_dir("img7").join("run");
    let o = autogan_at(
        root(),
        &[],
        &[
            "train",
            "--arch",
            ARCH_A,
            "--img-size",
            "7",
            "--out",
            s(&out),
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("img_size 7") && err.contains("multiple of 8"),
        "{err}"
    );
    assert!(!out.exists());
    // More threads than cores: capped, with a warning, and doctor reports the cap.
    let cores = std::thread::available_parallelism().unwrap().get();
    let o = common::autogan_cmd(None)
        .args(["--device", "cpu", "--threads", "1000", "doctor", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--threads 1000"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["threads"].as_u64(), Some(cores as u64), "{v}");
}

#[test]
fn arch_file_with_a_byte_order_mark_is_read() {
    let text = std::fs::read_to_string(root().join(ARCH_A)).unwrap();
    let path = temp_file("bom.json", &format!("\u{feff}{text}"));
    let o = autogan(&["--device", "cpu", "arch", "show", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 0 1 1 | 1 0 0 1 1 | 1 0 1 0 3"));
}

#[test]
fn output_locations_are_checked_before_the_work() {
    let dir = tmp_dir("outputs");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    // train --out FILE
    let o = autogan_at(
        root(),
        &[],
        &["train", "--arch", ARCH_A, "--steps", "1", "--out", s(&file)],
    );
    let err = fails(&o);
    assert!(
        err.contains("a-file") && err.contains("not a folder"),
        "{err}"
    );
    // search --out below a file: refused before a scorer is trained for it
    let home = dir.join("home");
    let o = autogan_at(
        root(),
        &[("AUTOGAN_HOME", &home)],
        &[
            "search",
            "--dataset",
            s(tiny_labelled()),
            "--scorer",
            "classifier",
            "--out",
            s(&file.join("run")),
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("--out") && err.contains("not a folder"),
        "{err}"
    );
    assert!(!err.contains("training"), "{err}");
    assert!(!home.join("scorers").exists());
    // an unwritable scorer cache: refused before the classifier is trained
    let o = autogan_at(
        root(),
        &[("AUTOGAN_HOME", &file.join("home"))],
        &[
            "eval",
            "--images",
            s(tiny_labelled()),
            "--metric",
            "is",
            "--scorer",
            "classifier",
            "--dataset",
            s(tiny_labelled()),
        ],
    );
    let err = fails(&o);
    assert!(err.contains("AUTOGAN_HOME"), "{err}");
    assert!(!err.contains("training"), "{err}");
    // eval --json-out onto a FIFO or through a dangling link: refused before any scoring, the
    // FIFO left as it is; through a link to a regular file: written there, the link kept.
    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let dangling = dir.join("dangling.json");
    std::os::unix::fs::symlink(dir.join("nowhere/x.json"), &dangling).unwrap();
    let eval_to = |out: &Path| {
        autogan_at(
            root(),
            &[("AUTOGAN_HOME", scorer_home())],
            &[
                "eval",
                "--images",
                s(tiny_labelled()),
                "--metric",
                "is",
                "--scorer",
                "classifier",
                "--dataset",
                s(tiny_labelled()),
                "--json-out",
                s(out),
            ],
        )
    };
    for (out, says) in [(&fifo, "FIFO"), (&dangling, "symbolic link")] {
        let err = fails(&eval_to(out));
        assert!(err.contains("--json-out") && err.contains(says), "{err}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let target = dir.join("target.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = eval_to(&link);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert!(v["is_mean"].is_number(), "{v}");
    // data stats --out below a file
    let o = autogan_at(
        root(),
        &[],
        &["data", "stats", "shapes", "--out", s(&file.join("x.npz"))],
    );
    let err = fails(&o);
    assert!(
        err.contains("--out") && err.contains("not a folder"),
        "{err}"
    );
}

#[test]
fn resume_refuses_flags_it_cannot_honour() {
    let dir = tmp_dir("resume-flags");
    let o = autogan_at(
        root(),
        &[],
        &[
            "search",
            "--resume",
            s(&dir),
            "--iterations",
            "50",
            "--scorer",
            "inception",
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("--iterations, --scorer cannot change"),
        "{err}"
    );
    let o = autogan_at(
        root(),
        &[],
        &["train", "--resume", s(&dir), "--eval-every", "5"],
    );
    let err = fails(&o);
    assert!(err.contains("--eval-every cannot change"), "{err}");
    // Flags a resumed search used to ignore without a word: its strategy and precisions.
    let o = autogan_at(
        root(),
        &[],
        &[
            "search",
            "--resume",
            s(&dir),
            "--strategy",
            "evolution",
            "--precision",
            "bf16",
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("--strategy, --precision cannot change"),
        "{err}"
    );
    let o = autogan_at(
        root(),
        &[],
        &["train", "--resume", s(&dir), "--scorer-precision", "bf16"],
    );
    let err = fails(&o);
    assert!(err.contains("--scorer-precision cannot change"), "{err}");
}

#[test]
fn fid_reference_is_found_before_scoring() {
    let missing = tmp_dir("no-inception").join("w.safetensors");
    let empty = tmp_dir("empty-data");
    let base = [
        "eval",
        "--images",
        s(tiny_labelled()),
        "--metric",
        "fid",
        "--inception",
        s(&missing),
    ];
    // an unknown name: the known ones are listed (and nothing else was tried first)
    let mut args = base.to_vec();
    args.extend(["--fid-ref", "cifar100"]);
    let err = fails(&autogan_at(root(), &[], &args));
    assert!(
        err.contains("cifar100") && err.contains("shapes, cifar10, stl10"),
        "{err}"
    );
    // a data set name is looked for in --data-dir
    let mut args = base.to_vec();
    args.extend(["--fid-ref", "cifar10", "--data-dir", s(&empty)]);
    let err = fails(&autogan_at(root(), &[], &args));
    let want = empty.join("cifar-10-batches-bin").join("data_batch_1.bin");
    assert!(err.contains(s(&want)), "{err}");
    // statistics of another width: refused before any image is scored
    let npz = tmp_dir("npz").join("d10.npz");
    autogan::metrics::Stats::new(
        tch::Tensor::zeros([10], (tch::Kind::Double, tch::Device::Cpu)),
        tch::Tensor::eye(10, (tch::Kind::Double, tch::Device::Cpu)),
        100,
    )
    .unwrap()
    .write_npz(&npz)
    .unwrap();
    let o = autogan_at(
        root(),
        &[("AUTOGAN_HOME", scorer_home())],
        &[
            "eval",
            "--images",
            s(tiny_labelled()),
            "--metric",
            "fid",
            "--fid-ref",
            s(&npz),
            "--scorer",
            "classifier",
            "--dataset",
            s(tiny_labelled()),
        ],
    );
    let err = fails(&o);
    assert!(
        err.contains("d10.npz") && err.contains("10-dimensional") && err.contains("256"),
        "{err}"
    );
    assert!(!err.contains("scoring"), "refused after scoring: {err}");
}

/// uint8 `[1, 3, H, W]` of one image file, whole.
fn image_tensor(p: &Path) -> tch::Tensor {
    let img = image::open(p).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    tch::Tensor::from_slice(img.as_raw())
        .view([h as i64, w as i64, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
}

#[test]
fn eval_scores_each_image_at_its_own_size() {
    use autogan::metrics::{Accumulator, ClassifierScorer};
    // A 1x1 first image must not shrink the other eleven (checkerboards of 16x16).
    let dir = tmp_dir("mixed");
    png(&dir.join("000.png"), 1, 1, |_, _| [0, 0, 0]);
    for i in 1..12u32 {
        let c = if i % 2 == 1 {
            [30, 30, 220]
        } else {
            [220, 30, 30]
        };
        png(&dir.join(format!("{i:03}.png")), 16, 16, |x, y| {
            if (x / 4 + y / 4 + i) % 2 == 0 {
                [250, 250, 250]
            } else {
                c
            }
        });
    }
    let o = autogan_at(
        root(),
        &[("AUTOGAN_HOME", scorer_home())],
        &[
            "eval",
            "--images",
            s(&dir),
            "--metric",
            "is",
            "--scorer",
            "classifier",
            "--dataset",
            s(tiny_labelled()),
            "--batch-size",
            "5",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The library, fed one image at a time at its own size, in file order.
    let sc = ClassifierScorer::load(&scorer_file(), tch::Device::Cpu).unwrap();
    let mut acc = Accumulator::new(true, false);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        acc.add_images(&sc, &image_tensor(f)).unwrap();
    }
    let want = acc.inception_score(10).unwrap();
    let got = v["is_mean"].as_f64().unwrap();
    assert!(
        (got - want.mean).abs() < 1e-5 * want.mean,
        "CLI IS {got}, per-image library IS {}",
        want.mean
    );
}

#[test]
fn fid_of_few_images_warns_and_a_zero_distance_prints_unsigned() {
    let red = tiny_labelled().join("red");
    let o = autogan_at(
        root(),
        &[("AUTOGAN_HOME", scorer_home())],
        &[
            "eval",
            "--images",
            s(&red),
            "--metric",
            "fid",
            "--fid-ref",
            s(&red),
            "--scorer",
            "classifier",
            "--dataset",
            s(tiny_labelled()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning") && err.contains("10 evaluated") && err.contains("256"),
        "{err}"
    );
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("FID")).unwrap();
    assert!(line.contains(" 0.000 "), "{line}");
    assert!(!line.contains("-0.000"), "{line}");
}

#[test]
fn train_eval_scorer_reads_the_data_dir() {
    // A CIFAR-10 folder of the official sizes (sparse files: all zero, so every label is 0).
    // The classifier scorer of --eval-every must look for it in --data-dir, as the training
    // does; here it then refuses the single class, which proves it read that folder.
    let data = tmp_dir("zero-cifar");
    let folder = data.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    for f in (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .chain(["test_batch.bin".to_string()])
    {
        let file = std::fs::File::create(folder.join(f)).unwrap();
        file.set_len(10_000 * 3073).unwrap();
    }
    let cwd = tmp_dir("cwd-without-data");
    let home = tmp_dir("home-zero-cifar");
    let out = cwd.join("run");
    let o = autogan_at(
        &cwd,
        &[("AUTOGAN_HOME", &home)],
        &[
            "train",
            "--arch",
            s(&root().join(ARCH_A)),
            "--preset",
            s(&root().join("configs/quick.json")),
            "--gf-dim",
            "8",
            "--df-dim",
            "8",
            "--latent-dim",
            "8",
            "--batch-size",
            "4",
            "--gen-batch-size",
            "4",
            "--dataset",
            "cifar10",
            "--data-dir",
            s(&data),
            "--eval-every",
            "1",
            "--eval-images",
            "10",
            "--scorer",
            "classifier",
            "--steps",
            "1",
            "--out",
            s(&out),
        ],
    );
    let err = fails(&o);
    assert!(
        !err.contains("cifar-10-batches-bin/data_batch_1.bin is missing"),
        "{err}"
    );
    assert!(err.contains("only 1 class"), "{err}");
}
