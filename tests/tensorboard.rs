//! TensorBoard event files of `train` and `search`, read back with the `tensorboard` Python
//! package's own reader (EventAccumulator, in .venv): tags, steps and values against
//! train.jsonl / search.jsonl, the sample grids as PNG images, the stages' best architectures
//! as text summaries of the text plugin; a resumed training drops the events written after
//! its checkpoint, and a resumed search keeps each of its two step axes up to its checkpoint;
//! `--no-tensorboard` writes none and says so in config.json.
//! Without .venv's tensorboard the checks print SKIP (and fail under CI=true).
mod common;

use common::{autogan, tmp};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// 2 shape classes x 12 images, 32x32 PNGs, made once per test binary: small data (the
/// built-in set would first draw 10,000 images) that the classifier scorer can learn.
fn data() -> &'static str {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tmp("data");
        labelled_folder(&d);
        d
    })
    .to_str()
    .unwrap()
}

fn labelled_folder(root: &Path) {
    common::labelled_folder(root, &common::THREE_CLASSES[..2], 12, 5);
}

/// Everything TensorBoard's EventAccumulator finds in a folder of event files, as JSON:
/// scalars {tag: [[step, value]]}, images {tag: [[step, width, height, is_png]]}, texts
/// {tag: [[step, text, plugin]]}, and the number of event files.
const READER: &str = r#"
import glob, json, os, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util
d = sys.argv[1]
a = EventAccumulator(d, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
a.Reload()
tags = a.Tags()
out = {"files": len(glob.glob(os.path.join(d, "*tfevents*"))), "scalars": {}, "images": {}, "texts": {}}
for t in tags["scalars"]:
    out["scalars"][t] = [[e.step, e.value] for e in a.Scalars(t)]
for t in tags["images"]:
    out["images"][t] = [[e.step, e.width, e.height, e.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"]
                        for e in a.Images(t)]
for t in tags["tensors"]:
    plugin = a.SummaryMetadata(t).plugin_data.plugin_name
    out["texts"][t] = [[e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode(), plugin]
                       for e in a.Tensors(t)]
print(json.dumps(out))
"#;

fn read_tb(py: &Path, dir: &Path) -> Value {
    let o = Command::new(py)
        .args(["-c", READER, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "reading {} with tensorboard failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A scalar series as step -> value.
fn series(tb: &Value, tag: &str) -> BTreeMap<u64, f64> {
    let pts = tb["scalars"][tag]
        .as_array()
        .unwrap_or_else(|| panic!("no scalar {tag} in {}", tb["scalars"]));
    let mut m = BTreeMap::new();
    for p in pts {
        let step = p[0].as_u64().unwrap();
        assert!(
            m.insert(step, p[1].as_f64().unwrap()).is_none(),
            "{tag}: step {step} twice"
        );
    }
    m
}

/// TensorBoard stores scalars as float32.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// The series `tag` equals `field` of `lines`, numbered by `step(line)`.
fn same_as_log(tb: &Value, tag: &str, lines: &[&Value], field: &str, step: impl Fn(&Value) -> u64) {
    let s = series(tb, tag);
    let want: BTreeMap<u64, f64> = lines
        .iter()
        .filter_map(|l| {
            let x = match &l[field] {
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                v => v.as_f64(),
            };
            x.map(|x| (step(l), x))
        })
        .collect();
    assert!(!want.is_empty(), "no {field} in the log");
    assert_eq!(
        s.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{tag}: steps"
    );
    for (k, v) in &want {
        assert!(
            close(s[k], *v),
            "{tag} at step {k}: {} vs the log's {v}",
            s[k]
        );
    }
}

fn python() -> Option<PathBuf> {
    common::venv_python(
        "tensorboard event files",
        "tensorboard",
        "scripts/setup.sh --with-metrics",
    )
}

#[test]
fn train_and_search_event_files_hold_the_logs_grids_and_best_architectures() {
    let Some(py) = python() else { return };
    let root = tmp("runs");
    let home = root.join("home");
    let d = data();

    // Training with evaluations, so the metric values are logged too.
    let run = root.join("train");
    let mut args = vec!["train", "--arch", "configs/arch/autogan_cifar10_a.json"];
    args.extend(common::quick_tiny());
    args.extend([
        "--dataset",
        d,
        "--scorer",
        "classifier",
        "--steps",
        "4",
        "--log-every",
        "1",
        "--sample-every",
        "2",
        "--eval-every",
        "2",
        "--eval-images",
        "10",
        "--out",
        run.to_str().unwrap(),
    ]);
    autogan(&home, &args);
    let tb = read_tb(&py, &run.join("tb"));
    let log = jsonl(&run.join("train.jsonl"));
    let steps: Vec<&Value> = log.iter().filter(|l| l["kind"].is_null()).collect();
    let evals: Vec<&Value> = log.iter().filter(|l| l["kind"] == "eval").collect();
    let step = |l: &Value| l["step"].as_u64().unwrap();
    for f in ["d_loss", "g_loss", "lr", "images_per_s"] {
        same_as_log(&tb, &format!("train/{f}"), &steps, f, step);
    }
    assert_eq!(evals.len(), 2);
    for f in ["is_mean", "is_std", "fid"] {
        same_as_log(&tb, &format!("eval/{f}"), &evals, f, step);
    }
    // 64 images of 32x32 in 8 rows with 2 px gaps, as samples/step_*.png.
    assert_eq!(
        tb["images"]["samples"],
        serde_json::json!([[2, 274, 274, true], [4, 274, 274, true]])
    );

    // A three-stage search: each stage ends with a best architecture.
    let out = root.join("search");
    let mut args = vec!["search"];
    args.extend(common::quick_tiny());
    args.extend([
        "--dataset",
        d,
        "--scorer",
        "classifier",
        "--out",
        out.to_str().unwrap(),
    ]);
    let tiny_search = common::tiny_search(&[]);
    args.extend(tiny_search.iter().map(String::as_str));
    autogan(&home, &args);
    let tb = read_tb(&py, &out.join("tb"));
    let log = jsonl(&out.join("search.jsonl"));
    let iters: Vec<&Value> = log.iter().filter(|l| l["kind"] == "iteration").collect();
    let ctrl: Vec<&Value> = log.iter().filter(|l| l["kind"] == "controller").collect();
    assert_eq!((iters.len(), ctrl.len()), (3, 6));
    let it = |l: &Value| l["iteration"].as_u64().unwrap();
    for f in [
        "d_loss",
        "g_loss",
        "reset",
        "resets",
        "images_per_s",
        "d_steps",
    ] {
        same_as_log(&tb, &format!("search/{f}"), &iters, f, it);
    }
    let ctrl_step = |l: &Value| (it(l) - 1) * 2 + l["ctrl_step"].as_u64().unwrap();
    for f in ["reward", "baseline", "entropy", "advantage", "loss"] {
        same_as_log(&tb, &format!("controller/{f}"), &ctrl, f, ctrl_step);
    }
    // The controller's distributions: one series per value of each decision of the stage's
    // cell, summing to 1 per decision, equal to the log's.
    for l in &ctrl {
        let cell = l["stage"].as_u64().unwrap() + 1;
        let probs = l["probs"].as_array().expect("REINFORCE logs probs");
        assert_eq!(probs.len(), if cell == 1 { 4 } else { 5 });
        for (dec, dist) in probs.iter().enumerate() {
            let dist = dist.as_array().unwrap();
            let sum: f64 = dist.iter().map(|p| p.as_f64().unwrap()).sum();
            assert!(close(sum, 1.0), "decision {dec} sums to {sum}");
            for (v, p) in dist.iter().enumerate() {
                let tag = format!(
                    "controller/prob/cell{cell}/{}",
                    autogan::tb::mirror::decision_value(dec, v as i64)
                );
                let s = series(&tb, &tag);
                assert!(close(s[&ctrl_step(l)], p.as_f64().unwrap()), "{tag}");
            }
        }
    }
    assert_eq!(
        series(&tb, "controller/prob/cell1/norm/batch").len(),
        2,
        "cell 1 is decided in iteration 1 only"
    );
    let imgs = tb["images"]["samples"].as_array().unwrap();
    assert_eq!(
        imgs.iter()
            .map(|i| i[0].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(imgs.iter().all(|i| i[3] == true));
    // The best of each stage: the first kept prefix (logged with the iteration that ended
    // the stage), and the top-1 at the end, which is best.json when nothing retrains.
    let texts = &tb["texts"];
    for (cell, iteration) in [(1, 1), (2, 2), (3, 3)] {
        let t = &texts[format!("best_arch/cell{cell}")];
        assert_eq!(t.as_array().map(Vec::len), Some(1), "{texts}");
        assert_eq!(t[0][0], iteration);
        assert_eq!(t[0][2], "text", "the text plugin's metadata");
    }
    let beam_best = |i: usize| iters[i]["beam"]["entries"][0]["prefix"].clone();
    let best: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    let best_vector = autogan::arch::Arch::load(&out.join("best.json"))
        .unwrap()
        .to_vector();
    assert!(best["cells"].is_array());
    for (cell, vector) in [
        (1, serde_json::from_value::<Vec<i64>>(beam_best(0)).unwrap()),
        (2, serde_json::from_value::<Vec<i64>>(beam_best(1)).unwrap()),
        (3, best_vector),
    ] {
        let text = texts[format!("best_arch/cell{cell}")][0][1]
            .as_str()
            .unwrap();
        assert!(
            text.contains(&format!("{vector:?}")),
            "cell {cell}: {text} lacks {vector:?}"
        );
        assert!(text.contains(&format!("cell {cell}")), "{text}");
    }
}

#[test]
fn a_resumed_training_drops_the_events_after_its_checkpoint() {
    let Some(py) = python() else { return };
    let root = tmp("resume");
    let home = root.join("home");
    let run = root.join("run");
    let r = run.to_str().unwrap();
    let ckpt = run.join("checkpoint/last.safetensors");
    let mut args = vec!["train", "--arch", "configs/arch/autogan_cifar10_a.json"];
    args.extend(common::quick_tiny());
    args.extend([
        "--dataset",
        data(),
        "--steps",
        "2",
        "--log-every",
        "1",
        "--sample-every",
        "1",
        "--out",
        r,
    ]);
    autogan(&home, &args);
    let at_2 = std::fs::read(&ckpt).unwrap();
    let every = ["--log-every", "1", "--sample-every", "1"];
    let resume = |steps: &str| {
        let mut a = vec!["train", "--resume", r, "--steps", steps];
        a.extend(every);
        autogan(&home, &a);
    };
    resume("4");
    // As if the run had died after logging steps 3 and 4 but before their checkpoint.
    std::fs::write(&ckpt, at_2).unwrap();
    resume("5");
    let tb = read_tb(&py, &run.join("tb"));
    assert_eq!(tb["files"], 3, "one event file per process");
    let log = jsonl(&run.join("train.jsonl"));
    let lines: Vec<&Value> = log.iter().collect();
    let step = |l: &Value| l["step"].as_u64().unwrap();
    assert_eq!(
        lines.iter().map(|l| step(l)).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    // Each step once, with the values of the run that went on (its train.jsonl).
    for f in ["d_loss", "g_loss"] {
        same_as_log(&tb, &format!("train/{f}"), &lines, f, step);
    }
    let imgs = tb["images"]["samples"].as_array().unwrap();
    assert_eq!(
        imgs.iter()
            .map(|i| i[0].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn no_tensorboard_writes_no_event_files_and_is_recorded() {
    let root = tmp("off");
    let run = root.join("run");
    let mut args = vec!["train", "--arch", "configs/arch/autogan_cifar10_a.json"];
    args.extend(common::quick_tiny());
    args.extend([
        "--dataset",
        data(),
        "--steps",
        "1",
        "--no-tensorboard",
        "--out",
        run.to_str().unwrap(),
    ]);
    autogan(&root.join("home"), &args);
    assert!(run.join("train.jsonl").is_file());
    assert!(
        !run.join("tb").exists(),
        "tb/ written despite --no-tensorboard"
    );
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["tensorboard"], false);
    // and it stays off when the run is resumed
    autogan(
        &root.join("home"),
        &["train", "--resume", run.to_str().unwrap(), "--steps", "2"],
    );
    assert!(!run.join("tb").exists(), "tb/ written on resume");
}

/// The search numbers its controller events per reward-phase step and the rest per
/// iteration: resuming after iteration 2 (2 reward steps per iteration) keeps controller steps
/// up to 4 and iteration steps up to 2, in every earlier file, and drops a torn last record.
#[test]
fn resume_keeps_each_search_axis_up_to_the_checkpoint() {
    use autogan::tb::mirror::LogKind;
    use autogan::tb::EventWriter;
    let Some(py) = python() else { return };
    let dir = tmp("axes");
    let kind = LogKind::Search { ctrl_steps: 2 };
    let mut w = EventWriter::create(&dir).unwrap();
    for it in 1..=3u64 {
        w.scalar("search/d_loss", it, it as f64).unwrap();
        for c in 1..=2 {
            let step = (it - 1) * 2 + c;
            w.scalar("controller/reward", step, 10.0 * step as f64)
                .unwrap();
        }
    }
    w.text("best_arch/cell1", 3, "late").unwrap();
    let first = w.path().to_path_buf();
    drop(w);
    // a record cut short by a crash
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&first)
        .unwrap();
    std::io::Write::write_all(&mut f, &[7, 0, 0, 0, 0, 0, 0]).unwrap();
    drop(f);
    let mut w = EventWriter::resume(&dir, &|tag, step| kind.keep(2, tag, step)).unwrap();
    assert_ne!(w.path(), first);
    w.scalar("search/d_loss", 3, 30.0).unwrap();
    drop(w);
    let tb = read_tb(&py, &dir);
    assert_eq!(tb["files"], 2);
    let d = series(&tb, "search/d_loss");
    assert_eq!(
        d.into_iter().collect::<Vec<_>>(),
        [(1, 1.0), (2, 2.0), (3, 30.0)]
    );
    let r = series(&tb, "controller/reward");
    assert_eq!(r.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(
        tb["texts"].get("best_arch/cell1").is_none(),
        "{}",
        tb["texts"]
    );
    let bytes = std::fs::read(&first).unwrap();
    let n = autogan::tb::record::records(&bytes)
        .iter()
        .map(|r| r.len() + 16)
        .sum::<usize>();
    assert_eq!(n, bytes.len(), "the torn record is gone");
}
