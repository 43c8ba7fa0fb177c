//! `autogan train` end to end on tiny settings (CPU, one thread): the run directory's contents,
//! resume after SIGKILL (same losses as an uninterrupted run), resume past the end, NaN stop
//! with the checkpoint intact, corrupt checkpoints, refusal to reuse a run directory, bad arch
//! files; and at the library level, that a few steps lower the D hinge loss on trivial data.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use autogan::arch::Arch;
use autogan::config::{GanConfig, TrainConfig};
use autogan::data::Dataset;
use autogan::gan::trainer::Trainer;
use tch::{Device, Kind, Tensor};

const ARCH_A: &str = "configs/arch/autogan_cifar10_a.json";
/// Tiny models and batches: a G step takes milliseconds.
const TINY: [&str; 12] = [
    "--preset",
    "quick",
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
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, not yet existing path under the target's temp dir.
fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("train-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

/// The binary with `--device cpu --threads 1 -q` and the args, run from the source root.
fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autogan"));
    c.current_dir(root())
        .args(["--device", "cpu", "--threads", "1", "-q"])
        .args(args);
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().expect("running autogan")
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "autogan {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "autogan {args:?} should have failed");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `train --arch a` on TINY settings into `out` with extra flags.
fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["train", "--arch", ARCH_A];
    v.extend_from_slice(&TINY);
    v.extend_from_slice(&["--out", out]);
    v.extend_from_slice(extra);
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// train.jsonl as step -> line.
fn log_lines(dir: &Path) -> BTreeMap<u64, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("train.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            (v["step"].as_u64().expect("step"), v)
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A finished 3-step run with a checkpoint every step, shared by several tests (read only:
/// tests that change a run copy it first).
fn base_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("base");
        ok(&train_args(
            s(&dir),
            &[
                "--steps",
                "3",
                "--checkpoint-every",
                "1",
                "--log-every",
                "1",
                "--sample-every",
                "2",
            ],
        ));
        dir
    })
}

#[test]
fn run_directory_contents() {
    let dir = base_run();
    for f in [
        "config.json",
        "arch.json",
        "train.jsonl",
        "generator.safetensors",
        "checkpoint/last.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in the run directory");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["gf_dim"], 8);
    assert_eq!(config["train"]["steps"], 3);
    let arch = Arch::load(&dir.join("arch.json")).unwrap();
    assert_eq!(
        arch.to_vector(),
        Arch::load(&root().join(ARCH_A)).unwrap().to_vector()
    );

    let lines = log_lines(dir);
    assert_eq!(lines.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    for v in lines.values() {
        for k in ["d_loss", "g_loss", "lr", "images_per_s", "wall_s"] {
            let x = v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
            assert!(x.is_finite(), "{k} = {x}");
        }
        assert_eq!(v["lr"].as_f64(), Some(2e-4));
    }
    assert!(lines[&3]["wall_s"].as_f64() >= lines[&1]["wall_s"].as_f64());

    // grids at step 2 (sample_every) and at the end
    let mut pngs: Vec<String> = std::fs::read_dir(dir.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pngs.sort();
    assert_eq!(pngs, vec!["step_0000002.png", "step_0000003.png"]);
    let png = image::open(dir.join("samples/step_0000003.png")).unwrap();
    assert!(png.width() > 32 * 8 && png.height() > 32 * 8);

    let meta = autogan::safetensors::read_metadata(&dir.join("generator.safetensors")).unwrap();
    let arch_meta = Arch::from_json_str(&meta["arch"], "metadata").unwrap();
    assert_eq!(arch_meta.to_vector(), arch.to_vector());
    assert_eq!(meta["gf_dim"], "8");
    assert_eq!(meta["latent_dim"], "8");
    assert_eq!(meta["bottom_width"], "4");
    let names: Vec<String> = autogan::safetensors::read(&dir.join("generator.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for n in [
        "l1.weight",
        "cell1.c1.weight",
        "cell3.skip_in_ops.1.weight",
        "to_rgb.0.running_var",
        "to_rgb.2.bias",
    ] {
        assert!(
            names.iter().any(|x| x == n),
            "generator.safetensors lacks {n}"
        );
    }
    assert!(!names
        .iter()
        .any(|x| x.starts_with("d.") || x.contains("block")));
}

/// Steps and losses of a log, for comparison.
fn losses(lines: &BTreeMap<u64, serde_json::Value>) -> Vec<(u64, f64, f64, f64)> {
    lines
        .iter()
        .map(|(k, v)| {
            (
                *k,
                v["d_loss"].as_f64().unwrap(),
                v["g_loss"].as_f64().unwrap(),
                v["lr"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn resume_after_sigkill_logs_the_same_losses() {
    const N: u64 = 12;
    const EXTRA: u64 = 4;
    let every = [
        "--log-every",
        "1",
        "--checkpoint-every",
        "3",
        "--sample-every",
        "100",
    ];

    // the uninterrupted run, N + EXTRA steps
    let full = tmp("uninterrupted");
    let total = (N + EXTRA).to_string();
    let mut a = train_args(s(&full), &["--steps", &total]);
    a.extend_from_slice(&every);
    ok(&a);

    // the same run with N steps, killed once its first checkpoint exists
    let cut = tmp("killed");
    let n = N.to_string();
    let mut b = train_args(s(&cut), &["--steps", &n]);
    b.extend_from_slice(&every);
    let mut child = cmd(&b)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning autogan");
    let ckpt = cut.join("checkpoint/last.safetensors");
    let t0 = Instant::now();
    let mut finished_first = false;
    loop {
        if ckpt.is_file() {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run to be killed ended ({status}) before writing a checkpoint");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no checkpoint after 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    if child.try_wait().unwrap().is_some() {
        finished_first = true;
    }
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().unwrap();
    let at_kill = autogan::safetensors::read_metadata(&ckpt).unwrap()["g_step"].clone();
    eprintln!(
        "killed at checkpoint step {at_kill} of {N}{}",
        if finished_first {
            " (the run had already finished: the resume below is a no-op)"
        } else {
            ""
        }
    );

    ok(&["train", "--resume", s(&cut)]);
    assert_eq!(
        losses(&log_lines(&cut)),
        losses(&log_lines(&full))
            .into_iter()
            .filter(|l| l.0 <= N)
            .collect::<Vec<_>>(),
        "the resumed run logged other losses than the uninterrupted one"
    );

    // a finished run continues with a larger --steps, again exactly as the uninterrupted run
    ok(&["train", "--resume", s(&cut), "--steps", &total]);
    let (got, want) = (losses(&log_lines(&cut)), losses(&log_lines(&full)));
    assert_eq!(got.len() as u64, N + EXTRA);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert!(
            (g.1 - w.1).abs() < 1e-6 && (g.2 - w.2).abs() < 1e-6 && g.3 == w.3,
            "step {}: resumed {g:?}, uninterrupted {w:?}",
            g.0
        );
    }
    let meta = autogan::safetensors::read_metadata(&cut.join("generator.safetensors")).unwrap();
    assert_eq!(meta["g_step"], total);

    // resuming a finished run without a larger --steps does nothing and succeeds
    ok(&["train", "--resume", s(&cut)]);
    assert_eq!(log_lines(&cut).len() as u64, N + EXTRA);
}

#[test]
fn nan_loss_stops_and_keeps_the_checkpoint() {
    let dir = tmp("nan");
    copy_dir(base_run(), &dir);
    let ckpt = dir.join("checkpoint/last.safetensors");
    let before = std::fs::read(&ckpt).unwrap();
    // an absurd learning rate makes the first step after the checkpoint overflow
    let err = fails(&[
        "train",
        "--resume",
        s(&dir),
        "--steps",
        "6",
        "--lr",
        "1e20",
        "--checkpoint-every",
        "1",
    ]);
    assert!(
        err.contains("the loss became NaN") || err.contains("the loss became infinite"),
        "{err}"
    );
    assert!(err.contains("at G step 4"), "{err}");
    assert!(err.contains("training diverged"), "{err}");
    assert!(
        err.contains("G step 3) is intact") && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&ckpt).unwrap(),
        before,
        "the checkpoint changed"
    );
    // it still loads and the run goes on from it at a sane learning rate
    assert!(log_lines(&dir).keys().all(|&k| k <= 3));
    ok(&["train", "--resume", s(&dir), "--steps", "4"]);
    assert_eq!(log_lines(&dir).keys().copied().max(), Some(4));

    // losses are read back only at log / checkpoint points (here step 5): the step that
    // diverged first is still the one named, and nothing is written after it
    let late = tmp("nan-late");
    copy_dir(base_run(), &late);
    let ckpt = late.join("checkpoint/last.safetensors");
    let before = std::fs::read(&ckpt).unwrap();
    let err = fails(&[
        "train",
        "--resume",
        s(&late),
        "--steps",
        "8",
        "--lr",
        "1e20",
        "--checkpoint-every",
        "5",
        "--log-every",
        "5",
        "--sample-every",
        "100",
    ]);
    assert!(err.contains("at G step 4"), "{err}");
    assert!(err.contains("G step 3) is intact"), "{err}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), before);
    assert!(log_lines(&late).keys().all(|&k| k <= 3));

    // a divergence before any checkpoint says so
    let fresh = tmp("nan-fresh");
    let err = fails(&train_args(s(&fresh), &["--steps", "2", "--lr", "1e20"]));
    assert!(err.contains("no checkpoint had been written yet"), "{err}");
}

#[test]
fn corrupt_checkpoint_is_refused_with_its_name() {
    for (name, damage) in [("truncated", 0usize), ("garbage", 1), ("empty", 2)] {
        let dir = tmp(&format!("corrupt-{name}"));
        copy_dir(base_run(), &dir);
        let ckpt = dir.join("checkpoint/last.safetensors");
        let bytes = std::fs::read(&ckpt).unwrap();
        match damage {
            0 => std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap(),
            1 => std::fs::write(&ckpt, b"this is not a safetensors file at all").unwrap(),
            _ => std::fs::write(&ckpt, b"").unwrap(),
        }
        let err = fails(&["train", "--resume", s(&dir), "--steps", "5"]);
        assert!(err.contains("last.safetensors"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(log_lines(&dir).len(), 3, "{name}: the log changed");
    }
    // no checkpoint at all
    let empty = tmp("no-checkpoint");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(&["train", "--resume", s(&empty)]);
    assert!(err.contains("no checkpoint to resume from"), "{err}");
    // settings that a resumed run cannot change
    let err = fails(&["train", "--resume", s(base_run()), "--gf-dim", "16"]);
    assert!(err.contains("--gf-dim cannot change"), "{err}");
}

#[test]
fn existing_run_dir_and_bad_arch_are_refused() {
    // a non-empty directory is not touched
    let dir = tmp("existing");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
    let err = fails(&train_args(s(&dir), &["--steps", "1"]));
    assert!(err.contains("already exists"), "{err}");
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"mine");

    // bad arch files: nothing is created
    let bad = tmp("bad-arch");
    std::fs::create_dir_all(&bad).unwrap();
    let cases = [
        ("garbage.json", "{ not json"),
        (
            "range.json",
            r#"{"vector": [1, 0, 9, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]}"#,
        ),
        ("short.json", r#"{"vector": [1, 0, 1]}"#),
    ];
    for (file, text) in cases {
        let arch = bad.join(file);
        std::fs::write(&arch, text).unwrap();
        let out = bad.join(format!("run-{file}"));
        let mut args = vec!["train", "--arch", s(&arch)];
        args.extend_from_slice(&TINY);
        args.extend_from_slice(&["--out", s(&out), "--steps", "1"]);
        let err = fails(&args);
        assert!(err.contains(file), "{file}: {err}");
        assert!(!out.exists(), "{file}: a run directory was created");
    }
    let missing = bad.join("missing.json");
    let out = bad.join("run-missing");
    let mut args = vec!["train", "--arch", s(&missing)];
    args.extend_from_slice(&["--out", s(&out)]);
    let err = fails(&args);
    assert!(err.contains("missing.json"), "{err}");
    assert!(!out.exists());
}

/// A few training steps lower the D hinge loss on a trivial data set (every image one of two
/// flat colours): D quickly tells them from G's first outputs.
#[test]
fn training_lowers_the_d_loss_on_trivial_data() {
    tch::set_num_threads(1);
    let n = 64;
    let red = Tensor::from_slice(&[220u8, 30, 30]).view([1, 3, 1, 1]);
    let blue = Tensor::from_slice(&[20u8, 40, 200]).view([1, 3, 1, 1]);
    let images = Tensor::cat(
        &[
            red.expand([n / 2, 3, 32, 32], false),
            blue.expand([n / 2, 3, 32, 32], false),
        ],
        0,
    )
    .contiguous();
    assert_eq!(images.kind(), Kind::Uint8);
    let data = Dataset::new("two-colours", images, None, None).unwrap();
    let cfg = TrainConfig {
        gan: GanConfig {
            dataset: None,
            gf_dim: 8,
            df_dim: 8,
            latent_dim: 8,
            batch_size: 16,
            gen_batch_size: 16,
            n_critic: 5,
            ..GanConfig::training()
        },
        steps: STEPS,
        ..TrainConfig::default()
    };
    const STEPS: u64 = 12;
    const K: usize = 3;
    let arch = Arch::load(&root().join(ARCH_A)).unwrap();
    let mut tr = Trainer::new(cfg, arch, 7, Device::Cpu).unwrap();
    let d: Vec<f64> = (0..STEPS).map(|_| tr.step(&data).unwrap().d_loss).collect();
    let first = d[..K].iter().sum::<f64>() / K as f64;
    let last = d[d.len() - K..].iter().sum::<f64>() / K as f64;
    eprintln!("D losses: {d:?}");
    assert!(
        last < first - 0.2,
        "mean D loss of the last {K} steps {last:.4} is not below the first {K} {first:.4}: {d:?}"
    );
}

#[test]
fn quiet_prints_the_result_and_resume_never_goes_back() {
    // -q (every command here runs with it) drops log lines, not the result.
    let dir = tmp("quiet");
    let o = ok(&train_args(s(&dir), &["--steps", "1"]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("trained 1 G steps") && out.contains(s(&dir)),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).is_empty());
    // A run at G step 3 cannot be "resumed" to 2 steps: refused, nothing changes.
    let run = tmp("resume-below");
    copy_dir(base_run(), &run);
    let gen = std::fs::read(run.join("generator.safetensors")).unwrap();
    let err = fails(&["train", "--resume", s(&run), "--steps", "2"]);
    assert!(
        err.contains("--steps 2") && err.contains("already at G step 3"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(run.join("generator.safetensors")).unwrap(),
        gen
    );
}
