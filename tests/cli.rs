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
