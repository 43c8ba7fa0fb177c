//! `autogan train` end to end on tiny settings (CPU, one thread): the run directory's contents,
//! resume after SIGKILL and after Ctrl-C (same losses as an uninterrupted run), the lock on a
//! run directory, a resume without a checkpoint, resume past the end, NaN stop with the
//! checkpoint intact, corrupt checkpoints, refusal to reuse a run directory, bad arch files and
//! data sets smaller than a batch; and at the library level, that a few steps lower the D
//! hinge loss on trivial data.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use autogan::arch::Arch;
use autogan::config::{GanConfig, TrainConfig};
use autogan::data::Dataset;
use autogan::gan::trainer::Trainer;
use tch::{Device, Kind, Tensor};

const ARCH_A: &str = "configs/arch/autogan_cifar10_a.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, not yet existing path under the target's temp dir.
fn tmp(name: &str) -> PathBuf {
    common::tmp_in("train-test", name)
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

/// `train --arch a` on the tiny settings (`common::quick_tiny`) into `out` with extra flags.
fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["train", "--arch", ARCH_A];
    v.extend(common::quick_tiny());
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

/// How long a test waits for a run to get somewhere.
const LIMIT: Duration = Duration::from_secs(300);

/// The G step of a checkpoint (0 while it cannot be read).
fn ckpt_step(path: &Path) -> u64 {
    autogan::safetensors::read_metadata(path)
        .ok()
        .and_then(|m| m.get("g_step").and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Lines in train.jsonl so far (0 while it does not exist).
fn logged(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("train.jsonl"))
        .map(|t| t.lines().filter(|l| l.ends_with('}')).count())
        .unwrap_or(0)
}

#[test]
fn resume_after_sigkill_logs_the_same_losses() {
    const EXTRA: u64 = 4;
    let every = [
        "--log-every",
        "1",
        "--checkpoint-every",
        "3",
        "--sample-every",
        "100",
    ];

    // A run far too long to end by itself, killed once it has a checkpoint past step 0.
    let cut = tmp("killed");
    let mut b = train_args(s(&cut), &["--steps", "100000"]);
    b.extend_from_slice(&every);
    let mut child = common::Running::new(
        cmd(&b)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning autogan"),
    );
    let ckpt = cut.join("checkpoint/last.safetensors");
    child.wait_until("a checkpoint at G step 3", LIMIT, || ckpt_step(&ckpt) >= 3);
    assert!(child.is_running(), "killed mid-run");
    let status = child.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the run was killed by SIGKILL, not ended"
    );
    let at_kill = ckpt_step(&ckpt);
    let lines_at_kill = log_lines(&cut).len() as u64;
    // N: a few steps past what was logged when it was killed.
    let n = lines_at_kill + 3;
    eprintln!("killed at checkpoint step {at_kill} with {lines_at_kill} steps logged");

    // the uninterrupted run, N + EXTRA steps, with the same threads (1) as the killed one
    let full = tmp("uninterrupted");
    let total = (n + EXTRA).to_string();
    let mut a = train_args(s(&full), &["--steps", &total]);
    a.extend_from_slice(&every);
    ok(&a);

    // the lock of the killed process died with it
    ok(&["train", "--resume", s(&cut), "--steps", &n.to_string()]);
    assert_eq!(
        losses(&log_lines(&cut)),
        losses(&log_lines(&full))
            .into_iter()
            .filter(|l| l.0 <= n)
            .collect::<Vec<_>>(),
        "the resumed run logged other losses than the uninterrupted one"
    );

    // a finished run continues with a larger --steps, again exactly as the uninterrupted run
    ok(&["train", "--resume", s(&cut), "--steps", &total]);
    let (got, want) = (losses(&log_lines(&cut)), losses(&log_lines(&full)));
    assert_eq!(got.len() as u64, n + EXTRA);
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
    assert_eq!(log_lines(&cut).len() as u64, n + EXTRA);
}

/// Ctrl-C: the run finishes its step, writes a checkpoint, prints the command that continues
/// it and exits with 130; while it ran, a second process was refused the run directory; the
/// resumed run logs the losses of an uninterrupted one.
#[test]
fn ctrl_c_checkpoints_and_prints_the_resume_command_and_the_run_is_locked() {
    let dir = tmp("ctrl-c");
    let every = ["--log-every", "1", "--checkpoint-every", "100000"];
    let mut a = train_args(s(&dir), &["--steps", "100000"]);
    a.extend_from_slice(&every);
    let mut child = common::Running::new(
        cmd(&a)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning autogan"),
    );
    child.wait_until("2 steps were logged", LIMIT, || logged(&dir) >= 2);

    // A second process on the same run is refused at once, naming the holder.
    let o = run(&["train", "--resume", s(&dir), "--steps", "5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "run {} is in use by process {}",
            s(&dir),
            child.id()
        )),
        "{err}"
    );

    assert!(child.is_running(), "interrupted mid-run");
    let out = child.signal_and_wait(libc::SIGINT);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{err}");
    let ckpt = dir.join("checkpoint/last.safetensors");
    let step = ckpt_step(&ckpt);
    assert!(step >= 2, "{err}");
    assert_eq!(
        log_lines(&dir).keys().copied().max(),
        Some(step),
        "the checkpoint is at the last completed step"
    );
    assert!(
        err.contains(&format!("stopped after G step {step} of 100000")),
        "{err}"
    );
    let resume = format!(
        "{} --device cpu --threads 1 train --resume {}",
        env!("CARGO_BIN_EXE_autogan"),
        s(&dir)
    );
    assert!(err.contains(&resume), "no resume command in:\n{err}");

    // Continue it (the lock was released) and compare with an uninterrupted run.
    let until = (step + 2).to_string();
    ok(&["train", "--resume", s(&dir), "--steps", &until]);
    let full = tmp("ctrl-c-full");
    let mut b = train_args(s(&full), &["--steps", &until]);
    b.extend_from_slice(&every);
    ok(&b);
    assert_eq!(losses(&log_lines(&dir)), losses(&log_lines(&full)));
}

/// The first Ctrl-C only asks to stop; a second one ends the process at once with 130. Run in
/// a child copy of this test binary, which signals itself.
#[test]
fn a_second_ctrl_c_exits_at_once() {
    if std::env::var_os("AUTOGAN_TEST_CTRL_C_CHILD").is_some() {
        autogan::run::interrupt::catch_ctrl_c().unwrap();
        assert!(!autogan::run::interrupt::requested());
        // SAFETY: raise(3) sends the signal to this thread before it returns.
        unsafe { libc::raise(libc::SIGINT) };
        assert!(autogan::run::interrupt::requested());
        println!("after the first Ctrl-C");
        unsafe { libc::raise(libc::SIGINT) };
        println!("after the second Ctrl-C");
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_second_ctrl_c_exits_at_once", "--nocapture"])
        .env("AUTOGAN_TEST_CTRL_C_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(text.contains("after the first Ctrl-C"), "{text}");
    assert!(!text.contains("after the second Ctrl-C"), "{text}");
}

/// A run whose first checkpoint is missing (stopped while it was set up) resumes from step 0
/// with the configuration recorded in config.json: the same losses as a run never stopped.
#[test]
fn a_run_without_a_checkpoint_resumes_from_step_0() {
    let dir = tmp("no-ckpt");
    copy_dir(base_run(), &dir);
    std::fs::remove_file(dir.join("checkpoint/last.safetensors")).unwrap();
    std::fs::remove_file(dir.join("generator.safetensors")).unwrap();
    std::fs::remove_file(dir.join("train.jsonl")).unwrap();
    ok(&["train", "--resume", s(&dir)]);
    assert_eq!(losses(&log_lines(&dir)), losses(&log_lines(base_run())));
    assert!(dir.join("generator.safetensors").is_file());
}

/// A data set smaller than one batch is refused before anything is written, for train and
/// search, with both sizes named (and no advice about the learning rate).
#[test]
fn a_data_set_smaller_than_a_batch_leaves_no_run_directory() {
    let data = tmp("one-image");
    std::fs::create_dir_all(&data).unwrap();
    image::RgbImage::from_pixel(1, 1, image::Rgb([200, 100, 50]))
        .save(data.join("a.png"))
        .unwrap();
    let out = tmp("one-image-run");
    let train = [
        "train",
        "--arch",
        ARCH_A,
        "--dataset",
        s(&data),
        "--steps",
        "2",
        "--out",
        s(&out),
    ];
    let search = ["search", "--dataset", s(&data), "--out", s(&out)];
    for args in [&train[..], &search[..]] {
        let err = fails(args);
        assert!(err.contains("smaller than a batch"), "{args:?}: {err}");
        assert!(err.contains("1 image(s), batch size"), "{args:?}: {err}");
        assert!(!err.contains("--lr"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}: a run directory was left behind");
    }
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

    // a divergence at the first step keeps the checkpoint written before it (step 0), and
    // the run goes on from there with a sane learning rate exactly as a fresh one
    let fresh = tmp("nan-fresh");
    let err = fails(&train_args(s(&fresh), &["--steps", "3", "--lr", "1e20"]));
    assert!(
        err.contains("G step 0) is intact") && err.contains("--lr <lower>"),
        "{err}"
    );
    ok(&[
        "train",
        "--resume",
        s(&fresh),
        "--lr",
        "2e-4",
        "--log-every",
        "1",
    ]);
    assert_eq!(losses(&log_lines(&fresh)), losses(&log_lines(base_run())));
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
        args.extend(common::quick_tiny());
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

/// The training run as a library loop: driven without the command line, it reports every step
/// and its lines to the observer, writes the run directory as `autogan train` does, and a
/// second run to more steps from its checkpoint continues where it stopped.
#[test]
fn the_training_loop_runs_as_a_library_call_with_an_observer() {
    use autogan::gan::run::{train, TrainEnd, TrainObserver, TrainStart};
    #[derive(Default)]
    struct Seen {
        start: Option<(u64, u64)>,
        steps: Vec<u64>,
        losses: usize,
        lines: Vec<String>,
        stopped: Option<bool>,
    }
    impl TrainObserver for Seen {
        fn start(&mut self, step: u64, steps: u64) {
            self.start = Some((step, steps));
        }
        fn step(&mut self, step: u64, losses: Option<&autogan::gan::trainer::StepStats>) {
            self.steps.push(step);
            self.losses += losses.is_some() as usize;
        }
        fn line(&mut self, text: &str) {
            self.lines.push(text.to_string());
        }
        fn stop(&mut self, finished: bool) {
            self.stopped = Some(finished);
        }
    }
    tch::set_num_threads(1);
    let images = Tensor::randint(256, [16, 3, 32, 32], (Kind::Uint8, Device::Cpu));
    let data = Dataset::new("noise", images, None, None).unwrap();
    let cfg = |steps| TrainConfig {
        gan: GanConfig {
            dataset: None,
            gf_dim: 8,
            df_dim: 8,
            latent_dim: 8,
            batch_size: 4,
            gen_batch_size: 4,
            tensorboard: false,
            ..GanConfig::training()
        },
        steps,
        log_every: 1,
        checkpoint_every: 2,
        sample_every: 2,
        eval_every: 0,
        ..TrainConfig::default()
    };
    let dir = tmp("library-loop");
    let arch = Arch::load(&root().join(ARCH_A)).unwrap();
    let mut tr = Trainer::new(cfg(3), arch, 5, Device::Cpu).unwrap();
    let new_dir = autogan::run::NewRunDir::create(&dir).unwrap();
    let start = TrainStart {
        dir: dir.clone(),
        data_dir: None,
        wall0: 0.0,
        best_score: None,
    };
    let mut seen = Seen::default();
    let end = train(
        &mut tr,
        start,
        data.take(16),
        autogan::run::RunDir::New(new_dir),
        &mut seen,
    )
    .unwrap();
    let TrainEnd::Finished(summary) = end else {
        panic!("the loop did not finish: {end:?}")
    };
    assert_eq!(summary.steps, 3);
    assert_eq!(seen.start, Some((0, 3)));
    assert_eq!(seen.steps, [1, 2, 3]);
    assert_eq!(
        seen.losses, 3,
        "log_every 1: the losses of every step were read"
    );
    assert_eq!(seen.lines.len(), 3, "{:?}", seen.lines);
    assert!(seen.lines[0].starts_with("step 1/3"), "{:?}", seen.lines);
    assert_eq!(seen.stopped, Some(true));
    let files = autogan::run::RunFiles::of(&dir);
    assert!(files.generator().is_file() && files.last_checkpoint().is_file());
    assert_eq!(log_lines(&dir).len(), 3);
    // Continued from its checkpoint to step 5 by a second call.
    let (mut tr, _) = Trainer::load_checkpoint(&files.last_checkpoint(), Device::Cpu).unwrap();
    tr.cfg.steps = 5;
    let lock = autogan::run::lock::lock_run_dir(&dir).unwrap();
    let start = TrainStart {
        dir: dir.clone(),
        data_dir: None,
        wall0: summary.wall_s,
        best_score: None,
    };
    let mut seen = Seen::default();
    let end = train(
        &mut tr,
        start,
        data,
        autogan::run::RunDir::Resumed(lock),
        &mut seen,
    )
    .unwrap();
    assert!(
        matches!(end, TrainEnd::Finished(ref s) if s.steps == 5),
        "{end:?}"
    );
    assert_eq!(seen.start, Some((3, 5)));
    assert_eq!(seen.steps, [4, 5]);
    assert_eq!(
        log_lines(&dir).keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}
