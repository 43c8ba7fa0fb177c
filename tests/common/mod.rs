//! Helpers shared by the integration tests: the project's `.venv` Python, probed once per
//! test binary for the modules a parity test needs; a child run that a test stops.
#![allow(dead_code)] // each test binary uses a part
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// A fresh path under cargo's temporary folder for integration tests: whatever a previous
/// run left there is removed, nothing is created.
pub fn tmp(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// A path `name` in this test process's own folder `group-<pid>` under cargo's temporary
/// folder (created; so files of earlier runs are never there): a folder of that name left by
/// this process is removed, a file is kept (a test may ask for its path again).
pub fn tmp_in(group: &str, name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{group}-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

/// [`tmp`], created as an empty folder.
pub fn tmp_dir(name: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// The `autogan` binary under test, run from the source root, with `AUTOGAN_HOME` set to
/// `home` where given (the scorer and reference caches of a test stay in its own folder).
pub fn autogan_cmd(home: Option<&Path>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autogan"));
    c.current_dir(root());
    if let Some(h) = home {
        c.env("AUTOGAN_HOME", h);
    }
    c
}

/// `autogan ARGS` from the source root on the CPU with one thread (`--device cpu --threads 1`
/// first, except for `compare --resume`, which runs its jobs with its plan's and refuses both
/// flags), `NO_COLOR`, and `home` as `AUTOGAN_HOME` where given. Its output, whatever the exit
/// status.
pub fn autogan_output(home: Option<&Path>, args: &[&str]) -> Output {
    let mut c = autogan_cmd(home);
    c.env("NO_COLOR", "1");
    if !(args.contains(&"--resume") && args.contains(&"compare")) {
        c.args(["--device", "cpu", "--threads", "1"]);
    }
    c.args(args).output().expect("the autogan binary runs")
}

/// [`autogan_output`] with `--quiet` (unless `args` has it), which must succeed: a failure
/// shows the command line and its stderr.
pub fn autogan(home: &Path, args: &[&str]) -> Output {
    let mut a = Vec::with_capacity(args.len() + 1);
    if !args.contains(&"--quiet") && !args.contains(&"-q") {
        a.push("--quiet");
    }
    a.extend_from_slice(args);
    let o = autogan_output(Some(home), &a);
    assert!(
        o.status.success(),
        "autogan {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `.venv/bin/python` when it exists and imports every module of `modules` (comma-separated,
/// as in a Python import statement); otherwise prints `SKIP <what>: <reason and fix>` and
/// gives None, so the calling test passes without its Python side. Under `CI=true` a missing
/// Python side is a failure instead: CI never passes without the parity checks.
pub fn venv_python(what: &str, modules: &str, setup: &str) -> Option<PathBuf> {
    let py = root().join(".venv/bin/python");
    let missing = if !py.is_file() {
        format!("{} not found (run {setup})", py.display())
    } else {
        let ok = Command::new(&py)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(py);
        }
        format!("{} cannot import {modules} (run {setup})", py.display())
    };
    assert!(
        !in_ci(),
        "{what}: {missing}; under CI=true the parity tests must run, not be skipped"
    );
    println!("SKIP {what}: {missing}");
    None
}

/// Whether the environment says this is CI (`CI=true`, as CI services set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A child process (an autogan run) that a test stops or waits for. Dropped before that (a
/// failed assertion), it is killed, so a failing test never leaves a run going.
pub struct Running(Option<Child>);

impl Running {
    pub fn new(child: Child) -> Running {
        Running(Some(child))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("a running child")
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("a running child").id()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child().try_wait().unwrap().is_none()
    }

    /// Polls until `ready()` holds while the child runs; panics if the child ends first (so
    /// a test that stops a run can never pass on one that had already finished) or after
    /// `limit`.
    pub fn wait_until(&mut self, what: &str, limit: Duration, ready: impl Fn() -> bool) {
        let t0 = Instant::now();
        while !ready() {
            if let Some(status) = self.child().try_wait().unwrap() {
                panic!("the run ended ({status}) before {what}");
            }
            assert!(t0.elapsed() < limit, "not {what} after {limit:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// SIGKILL, then its exit status.
    pub fn kill(mut self) -> ExitStatus {
        let mut c = self.0.take().expect("a running child");
        c.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        c.wait().unwrap()
    }

    /// Send `signal` and wait at most `limit` for its exit (then it is killed and the test
    /// fails), collecting piped output.
    pub fn signal_and_wait_within(mut self, signal: i32, limit: Duration) -> Output {
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(self.id() as i32, signal) }, 0);
        let t0 = Instant::now();
        while self.is_running() {
            assert!(
                t0.elapsed() < limit,
                "still running {limit:?} after signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    /// Send `signal` (e.g. `libc::SIGINT`) and wait for its exit, collecting piped output.
    pub fn signal_and_wait(mut self, signal: i32) -> Output {
        let c = self.0.take().expect("a running child");
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(c.id() as i32, signal) }, 0);
        c.wait_with_output().unwrap()
    }
}

impl Running {
    /// Send `signal` to the child's whole process group (a child spawned with
    /// `process_group(0)` and the runs it started, as Ctrl-C in a terminal does), then wait
    /// for the child's exit, collecting piped output.
    pub fn signal_group_and_wait(mut self, signal: i32) -> Output {
        let c = self.0.take().expect("a running child");
        // SAFETY: kill(2) on the process group our own child leads.
        assert_eq!(unsafe { libc::kill(-(c.id() as i32), signal) }, 0);
        c.wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            // The runs a group leader started go too (ESRCH, harmless, for any other child).
            // SAFETY: kill(2) on a process group id that is our child's pid.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The built-in set's classes the labelled test folders draw from.
pub const THREE_CLASSES: [(usize, &str); 3] = [(0, "circle"), (2, "triangle"), (4, "cross")];

/// A folder of 32x32 PNGs of the built-in shapes, one subfolder per class of `classes`,
/// `per_class` images each drawn with `seed`: a small labelled data set for end-to-end tests.
/// A folder that already holds its last image is left as it is.
pub fn labelled_folder(root: &Path, classes: &[(usize, &str)], per_class: u64, seed: u64) {
    let last = |name: &str| root.join(name).join(format!("{:03}.png", per_class - 1));
    if classes.iter().all(|(_, name)| last(name).is_file()) {
        return;
    }
    for &(class, name) in classes {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut px = vec![0u8; 3 * 32 * 32];
        for i in 0..per_class {
            autogan::data::shapes::render(i, seed, class, &mut px);
            let img = image::RgbImage::from_fn(32, 32, |x, y| {
                let p = |c: usize| px[c * 1024 + y as usize * 32 + x as usize];
                image::Rgb([p(0), p(1), p(2)])
            });
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// The smallest model and batches the end-to-end tests train: seconds per run on a CPU.
pub const TINY: [&str; 10] = [
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

/// `--preset quick` then [`TINY`]: the tiny model on the quick preset's other settings.
pub fn quick_tiny() -> Vec<&'static str> {
    let mut v = vec!["--preset", "quick"];
    v.extend(TINY);
    v
}

/// A small deterministic stand-in scorer for search tests (no trained classifier): logits are
/// a fixed pseudo-random projection of the image pooled to 8x8, features the image pooled to
/// 4x4. `salt` picks the matrix (independent of libtorch's generator), so two test files can
/// keep the different scorers their expectations were written with.
pub struct ProjectionScorer {
    w: tch::Tensor,
}

impl ProjectionScorer {
    pub fn new(salt: f64) -> ProjectionScorer {
        use tch::{Device, Kind, Tensor};
        let g = Tensor::arange(3 * 64 * 10, (Kind::Float, Device::Cpu));
        let w = ((g * salt).sin() * 43758.5453).frac().view([3 * 64, 10]) * 4.0 - 2.0;
        ProjectionScorer { w }
    }
}

impl autogan::metrics::Scorer for ProjectionScorer {
    fn name(&self) -> &str {
        "projection"
    }
    fn feature_dim(&self) -> i64 {
        48
    }
    fn num_classes(&self) -> i64 {
        10
    }
    fn features_and_logits(
        &self,
        imgs: &tch::Tensor,
    ) -> anyhow::Result<(tch::Tensor, tch::Tensor)> {
        let x = imgs.to_kind(tch::Kind::Float) / 255.0;
        let x8 = x.adaptive_avg_pool2d([8, 8]).flatten(1, -1);
        let x4 = x.adaptive_avg_pool2d([4, 4]).flatten(1, -1);
        Ok((x4, x8.mm(&self.w)))
    }
}

/// The smallest search the end-to-end tests run (with [`TINY`]'s model): 3 iterations over
/// the 3 stages, a few shared steps, one or two controller steps, 3 candidates, top 2.
pub const TINY_SEARCH: [(&str, &str); 8] = [
    ("--iterations", "3"),
    ("--stage-changes", "1,2"),
    ("--max-shared-steps", "3"),
    ("--ctrl-steps", "2"),
    ("--ctrl-sample-batch", "2"),
    ("--rl-num-eval-img", "20"),
    ("--num-candidate", "3"),
    ("--topk", "2"),
];

/// [`TINY_SEARCH`] as command-line words, with the values of `changed` (flag, value) in place
/// of its own; a flag of `changed` that it does not hold is an error of the test.
pub fn tiny_search(changed: &[(&str, &str)]) -> Vec<String> {
    for (flag, _) in changed {
        assert!(
            TINY_SEARCH.iter().any(|(f, _)| f == flag),
            "{flag} is not one of TINY_SEARCH's flags"
        );
    }
    TINY_SEARCH
        .iter()
        .flat_map(|(flag, value)| {
            let v = changed
                .iter()
                .find(|(f, _)| f == flag)
                .map_or(*value, |(_, v)| *v);
            [flag.to_string(), v.to_string()]
        })
        .collect()
}
