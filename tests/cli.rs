//! End-to-end tests of the `autogan` binary: help, version, doctor, `arch show`, and the
//! error of a subcommand that is not built yet.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn autogan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autogan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
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
    assert!(
        !out.exists(),
        "a refused search must not create its run directory"
    );
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
