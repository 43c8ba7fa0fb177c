//! `autogan sweep` with the local launcher (the jobs run one after another as child processes
//! of the same binary), and the launcher settings refused before anything is written. The
//! Slurm launcher is tested against a real Slurm in tests/slurm.rs.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::tmp_dir as tmp;

fn autogan(args: &[String]) -> Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    common::autogan_output(None, &a)
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn arch(n: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("configs/arch/autogan_cifar10_{n}.json"))
        .display()
        .to_string()
}

const TINY: [&str; 11] = [
    "--",
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

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// How many attempts a job's log shows (each begins with a `== <time> autogan ...` line).
fn attempts(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("== ") && l.contains(" autogan "))
        .count()
}

#[test]
fn local_sweep_runs_every_arch_seed_and_listed_job_and_collects_them() {
    let root = tmp("sweep-local");
    let jobs = root.join("jobs.json");
    std::fs::write(
        &jobs,
        serde_json::json!([{"name": "a-low-lr", "seed": 7, "args": ["--arch", arch("a"), "--lr", "0.0001"]}])
            .to_string(),
    )
    .unwrap();
    let out = root.join("run");
    let mut a = strings(&["sweep", "--arch"]);
    a.push(arch("a"));
    a.extend(strings(&[
        "--seeds", "0,1", "--steps", "2", "--preset", "quick", "--json", "--jobs",
    ]));
    a.push(jobs.display().to_string());
    a.push("--out".into());
    a.push(out.display().to_string());
    a.extend(strings(&TINY));
    let o = autogan(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary, json(&out.join("sweep.json")));
    let rows = summary["outcomes"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["autogan_cifar10_a-s0", "autogan_cifar10_a-s1", "a-low-lr"]
    );
    for (r, (seed, lr)) in rows.iter().zip([(0, 2e-4), (1, 2e-4), (7, 1e-4)]) {
        assert_eq!(r["state"], "COMPLETED");
        assert_eq!(r["result"]["steps"], 2);
        // Each job is its own `autogan train` run with its seed and flags.
        let cfg = json(&Path::new(r["run_dir"].as_str().unwrap()).join("config.json"));
        assert_eq!(cfg["seed"], seed, "{cfg}");
        assert_eq!(cfg["train"]["lr"], lr);
        assert_eq!(cfg["train"]["gf_dim"], 8);
        assert_eq!(attempts(Path::new(r["log"].as_str().unwrap())), 1);
    }
    assert_ne!(
        rows[0]["result"]["d_loss"], rows[1]["result"]["d_loss"],
        "different seeds, different runs"
    );
}

#[test]
fn local_sweep_reports_a_failed_job_collects_the_others_and_resume_reruns_only_it() {
    let root = tmp("sweep-local-fail");
    // The second job trains on a folder that is not there yet: it fails when it runs.
    let missing = root.join("missing-images");
    let jobs = root.join("jobs.json");
    std::fs::write(
        &jobs,
        serde_json::json!([{"name": "corrupt-s0", "seed": 0,
                            "args": ["--arch", arch("b"), "--dataset", missing]}])
        .to_string(),
    )
    .unwrap();
    let out = root.join("run");
    let mut a = strings(&["sweep", "--arch"]);
    a.extend([arch("a"), "--jobs".into(), jobs.display().to_string()]);
    a.extend(strings(&["--steps", "2", "--preset", "quick", "--out"]));
    a.push(out.display().to_string());
    a.extend(strings(&TINY));
    let o = autogan(&a);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    let log = out.join("jobs/train/2.log");
    assert!(
        stderr.contains(&format!(
            "corrupt-s0: FAILED, exit code 1, log {}",
            log.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("autogan sweep --resume {}", out.display())));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("missing-images"));
    let s = json(&out.join("sweep.json"));
    assert_eq!(s["finished"], 1);
    assert_eq!(s["outcomes"][0]["result"]["steps"], 2);
    assert_eq!(s["outcomes"][1]["exit_code"], 1);

    common::labelled_folder(&missing, &common::THREE_CLASSES, 8, 1);
    let o = autogan(&strings(&["sweep", "--resume", out.to_str().unwrap()]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&out.join("sweep.json"))["finished"], 2);
    assert_eq!(attempts(&out.join("jobs/train/1.log")), 1, "not run again");
    assert_eq!(attempts(&log), 2);
}

#[test]
fn launcher_settings_that_do_not_fit_are_refused_before_anything_is_written() {
    let root = tmp("sweep-refused");
    let out = root.join("run");
    let jobs = root.join("jobs.json");
    std::fs::write(&jobs, r#"[["--arch", "x.json", "--stepz", "3"]]"#).unwrap();
    let base = |extra: &[&str]| {
        let mut a = strings(&["sweep", "--arch"]);
        a.push(arch("a"));
        a.extend(strings(extra));
        a.push("--out".into());
        a.push(out.display().to_string());
        a
    };
    let settings = root.join("launcher.json");
    std::fs::write(&settings, r#"{"launcher": "local", "partition": "gpu"}"#).unwrap();
    let unknown = root.join("unknown.json");
    std::fs::write(&unknown, r#"{"launcher": "slurm", "nodes": 2}"#).unwrap();
    let entry = |name: &str, spec: serde_json::Value| {
        let f = root.join(name);
        std::fs::write(&f, spec.to_string()).unwrap();
        f.display().to_string()
    };
    let not_a_list = entry(
        "not-a-list.json",
        serde_json::json!([{"args": "not a list"}]),
    );
    let negative = entry(
        "negative.json",
        serde_json::json!([["--arch", arch("a")], {"seed": -3, "args": ["--arch", arch("a")]}]),
    );
    let unknown_field = entry("field.json", serde_json::json!([{"argz": []}]));
    let number_flag = entry("number.json", serde_json::json!([["--steps", 3]]));
    let broken = root.join("broken.json");
    std::fs::write(&broken, "{\"cells\": [").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            base(&["--jobs", &not_a_list]),
            "entry 1: \"args\" must be a list of strings (the flags), not the string \"not a list\"",
        ),
        (
            base(&["--jobs", &negative]),
            "entry 2: \"seed\" must be a whole number of 0 or more, not the number -3",
        ),
        (
            base(&["--jobs", &unknown_field]),
            "entry 1: unknown field \"argz\"",
        ),
        (
            base(&["--jobs", &number_flag]),
            "entry 1: the entry[1] must be a string (write numbers as \"3\")",
        ),
        (base(&[broken.to_str().unwrap()]), "broken.json"),
        (base(&[&arch("a")]), "are the same architecture"),
        (base(&["--seeds", "0,0"]), "names seed 0 twice"),
        (
            base(&["--launcher-config", settings.to_str().unwrap()]),
            "--partition only apply to --launcher slurm",
        ),
        (
            base(&["--launcher-config", unknown.to_str().unwrap()]),
            "unknown field `nodes`",
        ),
        (
            base(&["--partition", "gpu"]),
            "--partition only apply to --launcher slurm",
        ),
        (base(&["--no-wait"]), "--no-wait needs --launcher slurm"),
        (
            base(&["--launcher", "slurm", "--gpus", "0"]),
            "--gpus is for --launcher local",
        ),
        (base(&["--gpus", "0,0"]), "names GPU 0 twice"),
        (
            base(&["--launcher", "slurm", "--sbatch-arg", "qos=long"]),
            "--sbatch-arg 'qos=long'",
        ),
        (
            base(&["--jobs", jobs.to_str().unwrap()]),
            "job job1: `autogan train",
        ),
        (base(&["--", "--out", "x"]), "--out is not allowed"),
    ];
    for (args, msg) in cases {
        let o = autogan(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(
            stderr.contains(msg),
            "{args:?}: expected '{msg}' in\n{stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // Slurm's commands missing: said before anything is submitted or written.
    let o = Command::new(env!("CARGO_BIN_EXE_autogan"))
        .env("PATH", "/nonexistent")
        .args(base(&["--launcher", "slurm"]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("needs sbatch, squeue and scontrol"),
        "{stderr}"
    );
    assert!(!out.exists());
    // The search checks its launcher before it starts searching.
    let o = autogan(&strings(&[
        "search",
        "--gpus",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("only matter with --final-train-steps"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn local_gpus_give_each_job_its_own_cuda_visible_devices() {
    let root = tmp("sweep-gpus");
    let out = root.join("run");
    let mut a = strings(&["sweep", "--arch"]);
    a.extend([arch("a"), arch("b")]);
    a.extend(strings(&[
        "--steps", "1", "--preset", "quick", "--gpus", "0,1", "--out",
    ]));
    a.push(out.display().to_string());
    a.extend(strings(&TINY));
    // Without GPUs the jobs fail (CUDA is not available); either way each ran on its own GPU.
    let o = autogan(&a);
    let mut seen: Vec<String> = (1..=2)
        .map(|t| {
            let log = std::fs::read_to_string(out.join(format!("jobs/train/{t}.log"))).unwrap();
            let head = log.lines().next().unwrap().to_string();
            assert!(head.contains(" --device cuda "), "{head}");
            head.rsplit("CUDA_VISIBLE_DEVICES=")
                .next()
                .unwrap()
                .trim_end_matches(')')
                .to_string()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["0", "1"], "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn local_parallel_runs_jobs_side_by_side() {
    let root = tmp("sweep-parallel");
    let out = root.join("run");
    let mut a = strings(&["--threads", "1", "--quiet", "sweep", "--arch"]);
    a.extend([arch("a"), arch("b")]);
    a.extend(strings(&[
        "--steps",
        "3",
        "--preset",
        "quick",
        "--parallel",
        "2",
        "--out",
    ]));
    a.push(out.display().to_string());
    a.extend(strings(&TINY));
    let mut child = Command::new(env!("CARGO_BIN_EXE_autogan"))
        .args(&a)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Each job has a pid file while it runs: one after another, never two at once.
    let pids = [1, 2].map(|t| out.join(format!("jobs/train/{t}.pid")));
    let mut side_by_side = false;
    let status = loop {
        if pids.iter().all(|p| p.exists()) {
            side_by_side = true;
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(side_by_side, "the two jobs never ran at the same time");
    let sweep = json(&out.join("sweep.json"));
    assert_eq!(sweep["finished"], 2, "{sweep}");
    for t in 1..=2 {
        assert_eq!(attempts(&out.join(format!("jobs/train/{t}.log"))), 1);
    }
}
