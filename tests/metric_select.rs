//! The metric registry end to end on tiny settings (classifier scorer on a small labelled
//! folder, private $AUTOGAN_HOME): `eval --metric is,fid,kid,pr` in one pass, the reference
//! feature cache (written, reused, a damaged file rebuilt), clear errors, and `train
//! --eval-every --metric ... --select-by kid` with its record in config.json and the refusal
//! to change it on --resume.
mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tmp;

/// One subfolder per class: 3 shape classes x 16 images, 32x32 PNGs.
fn labelled_folder(root: &Path) {
    common::labelled_folder(root, &common::THREE_CLASSES, 16, 5);
}

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autogan"))
        .env("AUTOGAN_HOME", home)
        .args(["--device", "cpu", "--threads", "1"])
        .args(args)
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let o = run(home, args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "autogan {args:?} failed:\n{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap_or("");
    (serde_json::from_str(last).unwrap_or_default(), err)
}

fn fail(home: &Path, args: &[&str]) -> String {
    let o = run(home, args);
    assert!(!o.status.success(), "autogan {args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).to_string()
}

const KEYS: [&str; 7] = [
    "is_mean",
    "is_std",
    "fid",
    "kid_mean",
    "kid_std",
    "precision",
    "recall",
];

#[test]
fn eval_all_metrics_in_one_pass_with_a_cached_reference() {
    let root = tmp("metric-select-eval");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    let circles = data.join("circle");
    let eval = |metric: &str| {
        vec![
            "eval".to_string(),
            "--images".into(),
            circles.to_str().unwrap().into(),
            "--scorer".into(),
            "classifier".into(),
            "--dataset".into(),
            d.into(),
            "--fid-ref".into(),
            d.into(),
            "--metric".into(),
            metric.into(),
            "--batch-size".into(),
            "10".into(),
            "--json".into(),
        ]
    };
    let args = eval("pr,kid,fid,is");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (first, err) = ok(&home, &args);
    assert!(err.contains("cached the reference features in"), "{err}");
    for k in KEYS {
        assert!(first[k].as_f64().unwrap().is_finite(), "{k} in {first}");
    }
    assert_eq!(first["num_images"], 16);
    assert_eq!(
        first["metrics"],
        serde_json::json!(["is", "fid", "kid", "pr"])
    );
    // Circles only, a subset of the reference: all inside the real manifold.
    assert_eq!(first["precision"].as_f64().unwrap(), 1.0);
    // Not the whole reference: FID above 0. (KID of 16 against 48 images is too noisy to
    // have a sign: std 0.017 against a mean of 1e-4 either way, depending on the order the
    // reference's subsets are drawn from.)
    assert!(first["fid"].as_f64().unwrap() > 1.0, "{first}");
    assert!(first["kid_std"].as_f64().unwrap() > 0.0, "{first}");
    let refs: Vec<PathBuf> = std::fs::read_dir(home.join("refs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(refs.len(), 1, "{refs:?}");
    // Roles swapped (all images evaluated against the circles): precision is the fraction of
    // all images inside the circles' manifold, which is the first run's recall, and recall
    // is 1.
    let mut swapped = eval("pr");
    swapped[2] = d.into();
    swapped[8] = circles.to_str().unwrap().into();
    let swapped: Vec<&str> = swapped.iter().map(String::as_str).collect();
    let (sw, _) = ok(&home, &swapped);
    assert_eq!(sw["precision"], first["recall"], "{sw} vs {first}");
    assert_eq!(sw["recall"].as_f64().unwrap(), 1.0);

    // Again: the reference comes from the cache, with the same values.
    let (second, err) = ok(&home, &args);
    assert!(err.contains("using the cached reference features"), "{err}");
    assert!(!err.contains("cached the reference features in"), "{err}");
    for k in KEYS {
        assert_eq!(first[k], second[k], "{k}");
    }
    // The same folder by another path (a link to it): the same cache file.
    let link = root.join("link");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    let mut linked = eval("kid");
    linked[8] = link.to_str().unwrap().into();
    let linked: Vec<&str> = linked.iter().map(String::as_str).collect();
    let (_, err) = ok(&home, &linked);
    assert!(err.contains("using the cached reference features"), "{err}");
    // One metric alone gives the value it gave among the others.
    let one = eval("kid");
    let one: Vec<&str> = one.iter().map(String::as_str).collect();
    let (kid, _) = ok(&home, &one);
    assert_eq!(kid["kid_mean"], first["kid_mean"]);
    assert!(kid["is_mean"].is_null() && kid["fid"].is_null());
    // The labelled folder itself is read in a fixed shuffled order (tests/data.rs checks the
    // order): said on the table, and the same IS every time.
    let mut real = eval("is");
    real[2] = d.into();
    let real: Vec<&str> = real.iter().map(String::as_str).collect();
    let (r, err) = ok(&home, &real);
    assert_eq!(r["num_images"], 48);
    assert!(
        err.contains("from 3 class subfolders, in a fixed shuffled order"),
        "{err}"
    );
    let (again, _) = ok(&home, &real);
    assert_eq!(again["is_mean"], r["is_mean"], "the order is fixed");

    // A truncated cache file is found out and rebuilt, to the same values.
    let bytes = std::fs::read(&refs[0]).unwrap();
    std::fs::write(&refs[0], &bytes[..bytes.len() / 2]).unwrap();
    let (third, err) = ok(&home, &args);
    assert!(
        err.contains("cannot be used") && err.contains("rebuilding"),
        "{err}"
    );
    for k in KEYS {
        assert_eq!(first[k], third[k], "{k}");
    }
    assert_eq!(std::fs::read(&refs[0]).unwrap(), bytes);
    let (_, err) = ok(&home, &args);
    assert!(err.contains("using the cached reference features"), "{err}");

    // Unknown metric; KID with a statistics file as reference.
    let bad = eval("is,fd");
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let e = fail(&home, &bad);
    assert!(e.contains("'fd'") && e.contains("is, fid, kid, pr"), "{e}");
    let npz = root.join("stats.npz");
    tch::Tensor::write_npz(
        &[
            ("mu", tch::Tensor::zeros([4], tch::kind::FLOAT_CPU)),
            ("sigma", tch::Tensor::eye(4, tch::kind::FLOAT_CPU)),
        ],
        &npz,
    )
    .unwrap();
    let mut bad = eval("fid,kid");
    bad[8] = npz.to_str().unwrap().into();
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let e = fail(&home, &bad);
    assert!(e.contains("holds no features") && e.contains("kid"), "{e}");
}

use common::TINY;

#[test]
fn train_selects_its_best_checkpoint_by_kid() {
    let root = tmp("metric-select-train");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    let out = root.join("run");
    let mut args = vec![
        "--quiet",
        "train",
        "--arch",
        "configs/arch/autogan_cifar10_a.json",
        "--preset",
        "quick",
        "--dataset",
        d,
        "--steps",
        "3",
        "--eval-every",
        "1",
        "--eval-images",
        "12",
        "--scorer",
        "classifier",
        "--metric",
        "fid,kid,pr",
        "--select-by",
        "kid",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(TINY);
    ok(&home, &args);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["metrics"], "fid,kid,pr");
    assert_eq!(cfg["train"]["select_by"], "kid");
    let evals: Vec<serde_json::Value> = std::fs::read_to_string(out.join("train.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "eval")
        .collect();
    assert_eq!(evals.len(), 3);
    for e in &evals {
        for k in ["fid", "kid_mean", "kid_std", "precision", "recall"] {
            assert!(e[k].as_f64().unwrap().is_finite(), "{k} in {e}");
        }
        assert!(e.get("is_mean").is_none(), "IS was not asked for: {e}");
    }
    let best_eval = evals
        .iter()
        .min_by(|a, b| {
            let k = |v: &serde_json::Value| v["kid_mean"].as_f64().unwrap();
            k(a).total_cmp(&k(b))
        })
        .unwrap();
    let best: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("checkpoint/best.json")).unwrap()).unwrap();
    assert_eq!(best["select_by"], "kid");
    assert_eq!(best["step"], best_eval["step"]);
    assert_eq!(best["kid_mean"], best_eval["kid_mean"]);

    // The selection is fixed for the run: --resume refuses to change it.
    let e = fail(
        &home,
        &[
            "train",
            "--resume",
            out.to_str().unwrap(),
            "--select-by",
            "fid",
        ],
    );
    assert!(
        e.contains("--select-by") && e.contains("cannot change"),
        "{e}"
    );
    // A selection whose metric is not computed.
    let mut bad = args.clone();
    let i = bad.iter().position(|a| *a == "kid").unwrap();
    bad[i] = "is";
    let o = bad.iter().position(|a| *a == "--out").unwrap();
    let other = root.join("run2");
    bad[o + 1] = other.to_str().unwrap();
    let e = fail(&home, &bad);
    assert!(e.contains("select_by = is") && e.contains("add it"), "{e}");
    assert!(
        !other.exists(),
        "no run directory for a refused configuration"
    );
}

#[test]
fn search_final_training_picks_best_json_by_the_selected_metric() {
    let root = tmp("metric-select-search");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    let out = root.join("search");
    let mut args = vec![
        "--quiet",
        "search",
        "--preset",
        "quick",
        "--dataset",
        d,
        "--scorer",
        "classifier",
        "--final-train-steps",
        "1",
        "--metric",
        "is",
        "--select-by",
        "is",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    let tiny_search = common::tiny_search(&[
        ("--max-shared-steps", "2"),
        ("--ctrl-steps", "1"),
        ("--num-candidate", "2"),
    ]);
    args.extend(tiny_search.iter().map(String::as_str));
    args.extend(TINY);
    let (summary, _) = ok(&home, &args);
    assert_eq!(summary["selected_by"], "classifier IS after final training");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["search"]["final_select_by"], "is", "{cfg}");
    // best.json is the top-K arch with the highest IS after its final training.
    let key = "classifier_is_after_1_steps";
    let topk = summary["topk"].as_array().unwrap();
    let best = topk
        .iter()
        .max_by(|a, b| {
            let v = |x: &serde_json::Value| x["scores"][key].as_f64().unwrap();
            v(a).total_cmp(&v(b))
        })
        .unwrap();
    assert_eq!(summary["best"], best["vector"], "{summary}");
    for r in summary["final_training"].as_array().unwrap() {
        assert!(r["is_mean"].as_f64().unwrap().is_finite(), "{r}");
    }
}
