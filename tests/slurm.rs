//! `--launcher slurm` against a real single-node Slurm, started for each test by
//! scripts/slurm/start.sh (which apt-get installs Slurm where it is missing) and stopped by
//! scripts/slurm/stop.sh when the test ends, passed or failed. The tests print SKIP and pass
//! only where root or apt-get is not available; under CI=true a Slurm that does not start
//! fails them.
//!
//! Cases: the 3-task top-K retraining of a search ends with best.json (a task cancelled while
//! the search follows is reported and best.json chosen among the others; resumed with
//! --no-wait, only that task is submitted again, and the printed command collects all three);
//! a failed and a cancelled task of a sweep are reported with state, exit code and log while
//! the others are collected, and --resume resubmits only those two; a search killed while its
//! tasks run re-attaches on --resume without resubmitting anything; a tiny `compare` submitted
//! with --no-wait and resumed runs its three phases (searches, trainings, evaluations) as three
//! job arrays, re-attaching to the first, and writes compare.json.
mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One Slurm at a time on this machine (the tests of this file may run in parallel threads).
static SLURM: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

use common::tmp;

/// A running Slurm; stopped by its pid files when dropped, also when the test panics.
struct Slurm {
    dir: PathBuf,
}

impl Slurm {
    /// Start one, or None (after printing SKIP and the reason) where it cannot run here.
    fn start(test: &str) -> Option<Slurm> {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-daemons");
        let out = Command::new("bash")
            .arg(root().join("scripts/slurm/start.sh"))
            .arg(&dir)
            .output()
            .expect("cannot run bash");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        match out.status.code() {
            Some(0) => Some(Slurm { dir }),
            Some(77) if !ci => {
                println!("SKIP {test}: {}", stderr.trim());
                None
            }
            _ => {
                // Stop whatever part of it did start before failing.
                drop(Slurm { dir });
                panic!("scripts/slurm/start.sh failed ({}):\n{stderr}", out.status)
            }
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    fn scancel(&self, what: &str) {
        let o = Command::new("scancel")
            .env("SLURM_CONF", self.conf())
            .arg(what)
            .output()
            .unwrap();
        assert!(o.status.success(), "scancel {what}: {o:?}");
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm/stop.sh"))
            .arg(&self.dir)
            .output();
    }
}

/// A folder with one subfolder per class (3 classes x 40 images of the built-in set, 32x32):
/// the classifier scorer trains on it in seconds.
fn labelled_folder(root: &Path) {
    common::labelled_folder(root, &common::THREE_CLASSES, 40, 11);
}

fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-home")
}

fn cmd(slurm: &Slurm, args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autogan"));
    c.env("AUTOGAN_HOME", home())
        .env("SLURM_CONF", slurm.conf());
    // A resumed comparison runs with its plan's device and threads (and refuses the flags).
    let resumed_compare =
        args.iter().any(|a| a == "compare") && args.iter().any(|a| a == "--resume");
    if !resumed_compare {
        c.args(["--device", "cpu", "--threads", "1"]);
    }
    c.args(args);
    c
}

fn run(slurm: &Slurm, args: &[String]) -> Output {
    cmd(slurm, args).output().unwrap()
}

fn ok(slurm: &Slurm, args: &[String]) -> Output {
    let o = run(slurm, args);
    assert!(
        o.status.success(),
        "autogan {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

use common::TINY;

/// The launcher flags of the tests: one CPU per task, a quick look at the queue.
const SLURM_FLAGS: [&str; 6] = [
    "--launcher",
    "slurm",
    "--cpus-per-task",
    "1",
    "--poll-interval",
    "0.2",
];

/// A three-stage search in seconds with a top-3 retrained for 2 steps, `launcher` saying where.
fn search_args(data: &Path, out: &Path, launcher: &[String]) -> Vec<String> {
    let mut a = strings(&[
        "search",
        "--preset",
        "quick",
        "--dataset",
        data.to_str().unwrap(),
        "--scorer",
        "classifier",
    ]);
    a.extend(strings(&TINY));
    a.extend(strings(&[
        "--final-train-steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]));
    a.extend(common::tiny_search(&[
        ("--max-shared-steps", "2"),
        ("--ctrl-steps", "1"),
        ("--topk", "3"),
    ]));
    a.extend(launcher.iter().cloned());
    a
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{}: {e}", path.display());
    }))
    .unwrap()
}

/// Wait (polling, with a deadline) until `cond` holds.
fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "gave up waiting after {secs} s for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How many attempts a task's log shows (each attempt starts with a `== ... Slurm job` line).
fn attempts(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("== ") && l.contains("Slurm job"))
        .count()
}

/// (rank, state, FID) of the final training rows of a search summary.
fn final_rows(summary: &serde_json::Value) -> Vec<(u64, String, Option<f64>)> {
    summary["final_training"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rank"].as_u64().unwrap(),
                r["state"].as_str().unwrap().to_string(),
                r["fid"].as_f64(),
            )
        })
        .collect()
}

/// best.json holds the architecture of the lowest FID among `rows`.
fn assert_best_is_lowest(out: &Path, rows: &[(u64, String, Option<f64>)]) {
    let (rank, _, _) = rows
        .iter()
        .filter(|r| r.2.is_some())
        .min_by(|a, b| a.2.unwrap().total_cmp(&b.2.unwrap()))
        .unwrap();
    let best = autogan::arch::Arch::load(&out.join("best.json")).unwrap();
    let top = autogan::arch::Arch::load(&out.join(format!("archs/top{rank}.json"))).unwrap();
    assert_eq!(
        best.to_vector(),
        top.to_vector(),
        "best.json is top{rank}: {rows:?}"
    );
}

#[test]
fn top_k_retraining_as_a_job_array_ends_with_best_json() {
    let _one = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(slurm) = Slurm::start("top_k_retraining_as_a_job_array_ends_with_best_json") else {
        return;
    };
    let root = tmp("slurm-topk");
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-data");
    labelled_folder(&data);
    let out = root.join("search");

    // The search follows its three tasks; the third is cancelled as soon as it is submitted.
    let mut a = search_args(&data, &out, &strings(&SLURM_FLAGS));
    a.push("--json".into());
    let child = cmd(&slurm, &a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let record = out.join("jobs/final.json");
    wait_until("the final training's submission", 300, || {
        record.is_file() && json(&record)["submissions"][0]["job_id"].is_string()
    });
    let id = json(&record)["submissions"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    slurm.scancel(&format!("{id}_3"));
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "an unfinished final training is an error"
    );
    assert!(
        stderr.contains("top3: CANCELLED") && stderr.contains(&format!("Slurm job {id}_3")),
        "{stderr}"
    );
    assert!(
        stderr.contains("best.json was chosen among the others"),
        "{stderr}"
    );
    let script = std::fs::read_to_string(out.join("jobs/final.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=1-3"), "{script}");
    assert!(script.contains("#SBATCH --cpus-per-task=1"), "{script}");
    for k in 1..=3 {
        assert!(
            script.contains(&format!("--out {}/final/top{k} ;;", out.display())),
            "{script}"
        );
    }
    // The others are collected: best.json among top1 and top2.
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = final_rows(&summary);
    assert_eq!(rows[2].1, "CANCELLED");
    assert!(rows[2].2.is_none());
    for r in &rows[..2] {
        assert_eq!(r.1, "COMPLETED");
        // The FID is the one the task logged in its own run directory.
        let log =
            std::fs::read_to_string(out.join(format!("final/top{}/train.jsonl", r.0))).unwrap();
        let logged = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "eval")
            .map(|v| v["fid"].as_f64().unwrap())
            .next_back()
            .unwrap();
        let fid = r.2.unwrap();
        assert!((logged - fid).abs() <= 1e-9 * fid.abs(), "{fid} vs {log}");
    }
    assert_best_is_lowest(&out, &rows);

    // Resumed with --no-wait: only the cancelled task is submitted again, and the printed
    // command collects all three.
    let o = ok(
        &slurm,
        &strings(&[
            "search",
            "--resume",
            out.to_str().unwrap(),
            "--no-wait",
            "--json",
        ]),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let collect = v["collect"].as_str().unwrap().to_string();
    assert_eq!(
        collect,
        format!("autogan search --resume {}", out.display())
    );
    let subs = json(&record)["submissions"].as_array().unwrap().clone();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[1]["tasks"], serde_json::json!([3]));
    assert_eq!(v["submitted"].as_array().unwrap().len(), 2);
    let o = ok(
        &slurm,
        &strings(&["search", "--resume", out.to_str().unwrap(), "--json"]),
    );
    let rows = final_rows(&serde_json::from_slice(&o.stdout).unwrap());
    assert!(
        rows.iter().all(|r| r.1 == "COMPLETED" && r.2.is_some()),
        "{rows:?}"
    );
    assert_best_is_lowest(&out, &rows);
    assert_eq!(json(&record)["submissions"].as_array().unwrap().len(), 2);
    assert_eq!(attempts(&out.join("jobs/final/1.log")), 1);
}

#[test]
fn failed_and_cancelled_tasks_are_reported_the_others_collected_and_resume_reruns_them() {
    let _one = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(slurm) = Slurm::start("failed_and_cancelled_tasks") else {
        return;
    };
    let root = tmp("slurm-sweep");
    std::fs::create_dir_all(&root).unwrap();
    // The second job trains on a folder that is not there yet: it fails when it runs.
    let missing = root.join("missing-images");
    let arch = |n: &str| {
        root_path(&format!("configs/arch/autogan_cifar10_{n}.json"))
            .display()
            .to_string()
    };
    let out = root.join("sweep");
    let jobs = root.join("jobs.json");
    let entry = |name: &str, a: &str, extra: &[&Path]| {
        let mut args = vec!["--arch".to_string(), arch(a)];
        for p in extra {
            args.extend(["--dataset".to_string(), p.display().to_string()]);
        }
        serde_json::json!({"name": name, "seed": 0, "args": args})
    };
    std::fs::write(
        &jobs,
        serde_json::json!([
            entry("corrupt-s0", "b", &[missing.as_path()]),
            entry("autogan_cifar10_b-s0", "b", &[]),
            entry("autogan_cifar10_c-s0", "c", &[]),
        ])
        .to_string(),
    )
    .unwrap();
    let mut a = strings(&["sweep", "--arch"]);
    a.extend([arch("a"), "--jobs".into(), jobs.display().to_string()]);
    a.extend(strings(&[
        "--steps",
        "2",
        "--preset",
        "quick",
        "--launcher",
        "slurm",
        "--cpus-per-task",
        "1",
        "--poll-interval",
        "0.2",
        "--out",
    ]));
    a.push(out.display().to_string());
    a.push("--".into());
    a.extend(strings(&TINY));
    let child = cmd(&slurm, &a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Cancel the fourth task as soon as it is submitted (it waits for a free CPU then).
    let record = out.join("jobs/train.json");
    wait_until("the sweep's submission", 120, || {
        record.is_file() && json(&record)["submissions"][0]["job_id"].is_string()
    });
    let id = json(&record)["submissions"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    slurm.scancel(&format!("{id}_4"));
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "a sweep with unfinished jobs exits non-zero"
    );
    let log2 = out.join("jobs/train/2.log");
    assert!(
        stderr.contains(&format!(
            "corrupt-s0: FAILED, exit code 1 (Slurm job {id}_2), log {}",
            log2.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("autogan_cifar10_c-s0: CANCELLED"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&log2)
            .unwrap()
            .contains("missing-images"),
        "the log holds the task's error"
    );
    let sweep = json(&out.join("sweep.json"));
    let states: Vec<&str> = sweep["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["COMPLETED", "FAILED", "COMPLETED", "CANCELLED"]);
    assert_eq!(sweep["finished"], 2);
    for k in [0, 2] {
        assert_eq!(sweep["outcomes"][k]["result"]["steps"], 2, "{sweep}");
    }

    // Fixed, resumed: only the failed and the cancelled task are submitted again.
    labelled_folder(&missing);
    let o = ok(
        &slurm,
        &strings(&["sweep", "--resume", out.to_str().unwrap()]),
    );
    assert!(o.status.success());
    let rec = json(&record);
    let subs = rec["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[1]["tasks"], serde_json::json!([2, 4]));
    assert!(out.join("jobs/train.retry1.sbatch").is_file());
    let sweep = json(&out.join("sweep.json"));
    assert_eq!(sweep["finished"], 4, "{sweep}");
    for (task, n) in [(1, 1), (2, 2), (3, 1)] {
        assert_eq!(
            attempts(&out.join(format!("jobs/train/{task}.log"))),
            n,
            "attempts of task {task}"
        );
    }
}

fn root_path(rel: &str) -> PathBuf {
    root().join(rel)
}

#[test]
fn a_search_killed_while_its_tasks_run_re_attaches_without_resubmitting() {
    let _one = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(slurm) = Slurm::start("a_search_killed_while_its_tasks_run") else {
        return;
    };
    let root = tmp("slurm-kill");
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-data");
    labelled_folder(&data);
    let out = root.join("search");
    // The launcher settings from a file this time.
    std::fs::create_dir_all(&root).unwrap();
    let settings = root.join("launcher.json");
    std::fs::write(
        &settings,
        r#"{"launcher": "slurm", "cpus_per_task": 1, "poll_interval": 0.2}"#,
    )
    .unwrap();
    let launcher = vec![
        "--launcher-config".to_string(),
        settings.display().to_string(),
    ];
    let mut child = cmd(&slurm, &search_args(&data, &out, &launcher))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let record = out.join("jobs/final.json");
    wait_until("the final training's submission", 300, || {
        record.is_file() && json(&record)["submissions"][0]["job_id"].is_string()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let id = json(&record)["submissions"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Resume once a task has finished while the search was gone.
    wait_until("a task to finish", 120, || {
        (1..=3).any(|k| out.join(format!("jobs/final/{k}.exit")).is_file())
    });
    assert!(!out.join("best.json").exists());
    let o = ok(
        &slurm,
        &strings(&["search", "--resume", out.to_str().unwrap()]),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("re-attaching to Slurm job {id}")),
        "{stderr}"
    );
    assert!(out.join("best.json").is_file());
    let rec = json(&record);
    assert_eq!(
        rec["submissions"].as_array().unwrap().len(),
        1,
        "nothing was submitted again"
    );
    let script = std::fs::read_to_string(out.join("jobs/final.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --cpus-per-task=1"), "{script}");
    for k in 1..=3 {
        assert_eq!(attempts(&out.join(format!("jobs/final/{k}.log"))), 1);
        assert!(out
            .join(format!("final/top{k}/generator.safetensors"))
            .is_file());
    }
}

#[test]
fn a_tiny_comparison_runs_its_phases_as_job_arrays() {
    let _one = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(slurm) = Slurm::start("a_tiny_comparison_runs_its_phases_as_job_arrays") else {
        return;
    };
    let root = tmp("slurm-compare");
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-data");
    labelled_folder(&data);
    let out = root.join("cmp");
    let tiny = TINY.join(" ");
    let mut a = strings(&[
        "compare",
        "--dataset",
        data.to_str().unwrap(),
        "--seeds",
        "1",
        "--random",
        "2",
        "--paper",
        "none",
        "--train-steps",
        "2",
        "--eval-images",
        "20",
        "--topk-train",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    a.push("--search-args".into());
    a.push(format!(
        "{tiny} --iterations 3 --stage-changes 1,2 --max-shared-steps 2 --ctrl-steps 1 \
         --ctrl-sample-batch 2 --rl-num-eval-img 20 --num-candidate 2 --topk 1"
    ));
    a.push("--train-args".into());
    a.push(tiny);
    a.extend(strings(&SLURM_FLAGS));
    // --no-wait: the searches are submitted and the command returns at once.
    a.push("--no-wait".into());
    let o = ok(&slurm, &a);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["phase"], "search", "{v}");
    let id = v["submitted"][0].as_str().unwrap().to_string();
    assert_eq!(
        v["collect"].as_str().unwrap(),
        format!("autogan compare --resume {}", out.display())
    );
    assert!(!out.join("jobs/train.json").exists());
    // Resumed (the launcher settings from the record): re-attaches to the search's job, then
    // runs the trainings and the evaluations as one job array each.
    let o = ok(
        &slurm,
        &strings(&["compare", "--resume", out.to_str().unwrap(), "--json"]),
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let subs = json(&out.join("jobs/search.json"))["submissions"].clone();
    assert_eq!(subs.as_array().unwrap().len(), 1, "submitted again: {subs}");
    assert_eq!(subs[0]["job_id"], id.as_str());
    assert_eq!(r, json(&out.join("compare.json")));
    assert_eq!(r["complete"], true, "{r:#}");
    let groups: Vec<(&str, u64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = g["metrics"]["classifier_is"]["n"].as_u64().unwrap();
            (g["group"].as_str().unwrap(), n)
        })
        .collect();
    assert_eq!(groups, [("reinforce", 1), ("random", 2), ("paper", 0)]);
    // Each phase was one job array, its tasks the phase's jobs.
    for (phase, tasks) in [("search", 1), ("train", 3), ("eval", 3)] {
        let rec = json(&out.join(format!("jobs/{phase}.json")));
        assert_eq!(rec["jobs"].as_array().unwrap().len(), tasks, "{rec}");
        assert_eq!(rec["submissions"].as_array().unwrap().len(), 1, "{rec}");
        let script = std::fs::read_to_string(out.join(format!("jobs/{phase}.sbatch"))).unwrap();
        let array = match tasks {
            1 => "#SBATCH --array=1".to_string(),
            n => format!("#SBATCH --array=1-{n}"),
        };
        assert!(script.lines().any(|l| l == array), "{script}");
        assert_eq!(attempts(&out.join(format!("jobs/{phase}/1.log"))), 1);
    }
    let eval = std::fs::read_to_string(out.join("jobs/eval.sbatch")).unwrap();
    assert!(
        eval.contains(" eval ") && eval.contains("--json-out"),
        "{eval}"
    );
}
