//! End-to-end runs of the binary on a small labelled image folder, with the classifier scorer
//! trained on demand into a private $AUTOGAN_HOME: training with evaluation (IS/FID lines in
//! train.jsonl, checkpoint/best.*), `eval` of a run directory, and a complete tiny search with
//! the final training that picks best.json.
mod common;

use std::path::Path;

use common::{autogan, tmp};

/// A folder with one subfolder per class: 3 shape classes x 40 images, 32x32 PNGs.
fn labelled_folder(root: &Path) {
    common::labelled_folder(root, &common::THREE_CLASSES, 40, 11);
}

use common::TINY;

#[test]
fn train_with_evaluation_then_eval_and_search_with_final_training() {
    let root = tmp("e2e");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();

    // Training with evaluation every 2 steps, scored by the classifier.
    let run = root.join("run");
    let mut args = vec![
        "train",
        "--arch",
        "configs/arch/autogan_cifar10_a.json",
        "--preset",
        "quick",
    ];
    args.extend(TINY);
    args.extend([
        "--dataset",
        d,
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-images",
        "20",
        "--scorer",
        "classifier",
        "--out",
        run.to_str().unwrap(),
    ]);
    autogan(&home, &args);
    let log = std::fs::read_to_string(run.join("train.jsonl")).unwrap();
    let evals: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "eval")
        .collect();
    assert_eq!(evals.len(), 2, "evaluations at steps 2 and 4:\n{log}");
    for e in &evals {
        assert_eq!(e["scorer"], "classifier");
        assert_eq!(
            e["scorer_dataset"], d,
            "the log names the scorer's data set"
        );
        assert!(
            e["fid"].as_f64().unwrap().is_finite() && e["is_mean"].as_f64().unwrap() >= 1.0 - 1e-9
        );
    }
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint/best.json")).unwrap())
            .unwrap();
    let best_fid = evals
        .iter()
        .map(|e| e["fid"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        best["fid"].as_f64().unwrap(),
        best_fid,
        "best.json keeps the lowest FID"
    );
    assert!(run.join("checkpoint/best.safetensors").is_file());
    assert!(
        home.join("scorers").is_dir(),
        "the classifier is cached in $AUTOGAN_HOME"
    );

    // eval of the run directory with the same (cached) classifier.
    let o = autogan(
        &home,
        &[
            "eval",
            run.to_str().unwrap(),
            "--scorer",
            "classifier",
            "--dataset",
            d,
            "--fid-ref",
            d,
            "--num-images",
            "30",
            "--batch-size",
            "10",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scorer"], "classifier");
    assert_eq!(v["scorer_dataset"], d);
    assert_eq!(v["num_images"], 30);
    assert!(v["fid"].as_f64().unwrap().is_finite() && v["is_mean"].as_f64().unwrap().is_finite());
    // Without --dataset and --fid-ref the run's own data set is the classifier's and the
    // reference (not the built-in shapes): the same numbers, and every result says so.
    let eval_out = root.join("eval-default.json");
    let o = common::autogan_cmd(Some(&home))
        .args([
            "--device",
            "cpu",
            "--threads",
            "1",
            "eval",
            run.to_str().unwrap(),
            "--scorer",
            "classifier",
        ])
        .args(["--num-images", "30", "--batch-size", "10", "--json-out"])
        .arg(&eval_out)
        .output()
        .unwrap();
    let (out_text, err_text) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err_text}");
    assert!(
        out_text.contains(&format!("trained on {d}")),
        "the table names the scorer's data set:\n{out_text}"
    );
    assert!(err_text.contains(&format!("--fid-ref {d}")), "{err_text}");
    let w: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&eval_out).unwrap()).unwrap();
    for k in ["is_mean", "fid", "scorer_dataset", "fid_ref"] {
        assert_eq!(w[k], v[k], "{k}: {w} vs {v}");
    }
    assert!(
        !home
            .join("scorers")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("shapes")),
        "a classifier of the built-in set was trained"
    );

    // A complete three-stage search with the paper's final selection by FID.
    let out = root.join("search");
    let mut args = vec![
        "search",
        "--preset",
        "quick",
        "--dataset",
        d,
        "--scorer",
        "classifier",
    ];
    args.extend(TINY);
    args.extend([
        "--final-train-steps",
        "2",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let tiny_search = common::tiny_search(&[("--ctrl-steps", "1")]);
    args.extend(tiny_search.iter().map(String::as_str));
    let o = autogan(&home, &args);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["scorer"], "classifier");
    assert!(summary["selected_by"].as_str().unwrap().contains("FID"));
    let best =
        autogan::arch::Arch::load(&out.join("best.json")).expect("best.json is a usable arch file");
    assert!(best.is_complete());
    let top: Vec<_> = (1..=2)
        .filter(|k| out.join(format!("archs/top{k}.json")).is_file())
        .collect();
    assert!(!top.is_empty());
    let log = std::fs::read_to_string(out.join("search.jsonl")).unwrap();
    let iters = log
        .lines()
        .filter(|l| l.contains("\"kind\":\"iteration\""))
        .count();
    let ctrl = log
        .lines()
        .filter(|l| l.contains("\"kind\":\"controller\""))
        .count();
    assert_eq!((iters, ctrl), (3, 3), "{log}");
    assert!(out.join("samples/iter_003.png").is_file());

    // `arch score`: the found arch and the paper's a on the finished supernet. The same latents
    // for every call, so the same numbers twice; the running batch-norm statistics give other
    // numbers (every arch has the batch norm of to_rgb, which every arch shares).
    let top1 = out.join("archs/top1.json");
    let paper_a = "configs/arch/autogan_cifar10_a.json";
    let score = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "arch",
            "score",
            out.to_str().unwrap(),
            top1.to_str().unwrap(),
            paper_a,
            "--images",
            "20",
            "--json",
        ];
        args.extend(extra);
        serde_json::from_slice(&autogan(&home, &args).stdout).unwrap()
    };
    let (s1, s2) = (score(&[]), score(&[]));
    assert_eq!(s1["archs"], s2["archs"]);
    assert_eq!(
        (&s1["reward_bn"], &s1["iteration"], &s1["images"]),
        (&"batch".into(), &3.into(), &20.into()),
        "{s1}"
    );
    assert_eq!(s1["archs"][0]["vector"], best_vector_of(&top1));
    for a in s1["archs"].as_array().unwrap() {
        let x = a["score"].as_f64().unwrap();
        assert!(x.is_finite() && x >= 1.0 - 1e-9, "{s1}");
    }
    let running = score(&["--reward-bn", "running"]);
    assert_eq!(running["reward_bn"], "running");
    assert_ne!(
        running["archs"][1]["score"], s1["archs"][1]["score"],
        "{running}"
    );
    // Bad input: a directory without a search checkpoint, a broken arch file; each named.
    // Fewer than 20 images (2 per IS split) would score every architecture 1.0: refused.
    let broken = root.join("broken.json");
    std::fs::write(&broken, "{\"cells\": [").unwrap();
    for (dir, arch, extra, says) in [
        (root.as_path(), paper_a, "20", "no search checkpoint"),
        (out.as_path(), broken.to_str().unwrap(), "20", "broken.json"),
        (
            out.as_path(),
            paper_a,
            "10",
            "--images 10: give at least 20",
        ),
        (out.as_path(), paper_a, "1", "--images 1: give at least 20"),
    ] {
        let o = common::autogan_cmd(Some(&home))
            .args(["--device", "cpu", "--quiet", "arch", "score"])
            .args([dir.to_str().unwrap(), arch, "--images", extra])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{err}");
    }

    // best.json trains as is.
    trains_as_is(&home, &out.join("best.json"), d, &root.join("run2"));
}

/// A search's `best` file trains as is: one G step of the tiny model on `data` into `out`.
fn trains_as_is(home: &Path, best: &Path, data: &str, out: &Path) {
    let mut args = vec!["train", "--arch", best.to_str().unwrap()];
    args.extend(TINY);
    args.extend([
        "--dataset",
        data,
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    autogan(home, &args);
    assert!(out.join("generator.safetensors").is_file());
}

/// The vector of an architecture file, as JSON.
fn best_vector_of(path: &Path) -> serde_json::Value {
    serde_json::json!(autogan::arch::Arch::load(path).unwrap().to_vector())
}

/// The iteration of a search checkpoint (None while it cannot be read).
fn ckpt_iteration(path: &Path) -> Option<u64> {
    autogan::safetensors::read_metadata(path)
        .ok()
        .and_then(|m| m.get("iteration").and_then(|s| s.parse().ok()))
}

/// Lines of search.jsonl of kind "iteration" so far.
fn iterations_logged(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("search.jsonl"))
        .map(|t| {
            t.lines()
                .filter(|l| l.contains("\"kind\":\"iteration\""))
                .count()
        })
        .unwrap_or(0)
}

/// `autogan search` killed with SIGKILL mid-run, and another one stopped with Ctrl-C, both
/// resumed, log the same iterations and controller steps as an uninterrupted search with the
/// same seed and the same thread count (1); while a search runs, its directory is locked; a
/// search directory without a checkpoint resumes from its config.json.
#[test]
fn killed_and_resumed_search_matches_the_uninterrupted_one() {
    const ITERATIONS: usize = 6;
    let root = tmp("e2e-search-resume");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    let args = |out: &Path| -> Vec<String> {
        let mut a: Vec<String> = [
            "search",
            "--preset",
            "quick",
            "--dataset",
            d,
            "--scorer",
            "classifier",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(TINY.iter().map(|s| s.to_string()));
        a.extend(
            ["--out", out.to_str().unwrap()]
                .iter()
                .map(|s| s.to_string()),
        );
        let iterations = ITERATIONS.to_string();
        a.extend(common::tiny_search(&[
            ("--iterations", &iterations),
            ("--stage-changes", "2,4"),
            ("--max-shared-steps", "10"),
        ]));
        a
    };
    let spawn = |out: &Path| {
        common::Running::new(
            common::autogan_cmd(Some(&home))
                .args(["--device", "cpu", "--threads", "1", "--quiet"])
                .args(args(out))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let limit = std::time::Duration::from_secs(600);
    let lines = |dir: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("search.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect()
    };
    let same_log = |a: &Path, b: &Path| {
        let (la, lb) = (lines(a), lines(b));
        assert_eq!(la.len(), lb.len(), "same number of log lines");
        for (x, y) in la.iter().zip(&lb) {
            for key in [
                "kind",
                "iteration",
                "stage",
                "d_loss",
                "g_loss",
                "archs",
                "scores",
                "reward",
                "baseline",
            ] {
                assert_eq!(x[key], y[key], "{key} differs:\n{x}\n{y}");
            }
        }
        let best = |dir: &Path| std::fs::read_to_string(dir.join("best.json")).unwrap();
        assert_eq!(best(a), best(b));
    };
    // The classifier is trained once (by the first run) and read from the cache afterwards.
    let full = root.join("full");
    let a = args(&full);
    autogan(&home, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(iterations_logged(&full), ITERATIONS);

    // SIGKILL once the checkpoint of iteration 3 exists, while the search still runs: the
    // resumed search starts inside stage 1 (iterations 3 and 4), where paths keep changing.
    let cut = root.join("cut");
    let mut child = spawn(&cut);
    let ckpt = cut.join("checkpoint/last.safetensors");
    child.wait_until("the checkpoint of iteration 3", limit, || {
        ckpt_iteration(&ckpt).is_some_and(|i| i >= 3)
    });
    assert!(child.is_running(), "killed mid-run");
    let status = child.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the search was killed, it had not ended"
    );
    let at_kill = iterations_logged(&cut);
    assert!(
        at_kill < ITERATIONS,
        "the log of the killed search is short"
    );
    eprintln!("search killed after {at_kill} of {ITERATIONS} iterations");
    autogan(&home, &["search", "--resume", cut.to_str().unwrap()]);
    same_log(&full, &cut);

    // Ctrl-C once an iteration is logged: exit 130 with the checkpoint of the last completed
    // iteration and the command that continues the search; meanwhile the run is locked.
    let int = root.join("int");
    let mut child = spawn(&int);
    child.wait_until("an iteration was logged", limit, || {
        iterations_logged(&int) >= 1
    });
    let o = common::autogan_cmd(Some(&home))
        .args(["search", "--resume", int.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is in use by process {}", child.id())),
        "{err}"
    );
    assert!(child.is_running(), "interrupted mid-run");
    let out = child.signal_and_wait(libc::SIGINT);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{err}");
    let kept = ckpt_iteration(&int.join("checkpoint/last.safetensors")).unwrap();
    assert_eq!(
        iterations_logged(&int) as u64,
        kept,
        "the log ends with the checkpoint's iteration"
    );
    if err.contains("will be repeated") {
        assert!(
            err.contains(&format!(
                "interrupted during iteration {} of {ITERATIONS}",
                kept + 1
            )),
            "{err}"
        );
    } else {
        assert!(
            err.contains(&format!("stopped after iteration {kept} of {ITERATIONS}")),
            "{err}"
        );
    }
    let resume = format!(
        "{} --device cpu --threads 1 search --resume {}",
        env!("CARGO_BIN_EXE_autogan"),
        int.display()
    );
    assert!(err.contains(&resume), "no resume command in:\n{err}");
    autogan(&home, &["search", "--resume", int.to_str().unwrap()]);
    same_log(&full, &int);

    // A search directory with its config.json and no checkpoint (stopped while it was set
    // up) starts from iteration 0 as recorded: here a shorter search of the same kind.
    let fresh = root.join("config-only");
    std::fs::create_dir_all(&fresh).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("config.json")).unwrap()).unwrap();
    config["search"]["iterations"] = 3.into();
    config["search"]["stage_changes"] = serde_json::json!([1, 2]);
    std::fs::write(fresh.join("config.json"), config.to_string()).unwrap();
    autogan(&home, &["search", "--resume", fresh.to_str().unwrap()]);
    assert_eq!(iterations_logged(&fresh), 3);
    autogan::arch::Arch::load(&fresh.join("best.json")).expect("a usable best.json");
}

/// `autogan search --strategy random|evolution`: the strategy and its parameters are recorded
/// in config.json, every reward-phase line says which strategy made it, and best.json trains
/// as is.
#[test]
fn random_and_evolution_searches_write_a_best_json_that_trains() {
    let root = tmp("e2e-strategies");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    for strategy in ["random", "evolution"] {
        let out = root.join(strategy);
        let mut args = vec![
            "search",
            "--preset",
            "quick",
            "--dataset",
            d,
            "--scorer",
            "classifier",
            "--strategy",
            strategy,
        ];
        // Evolution's own flags (another strategy refuses them).
        if strategy == "evolution" {
            args.extend(["--population", "3", "--tournament", "2"]);
        }
        args.extend(TINY);
        args.extend(["--json", "--out", out.to_str().unwrap()]);
        let tiny_search = common::tiny_search(&[]);
        args.extend(tiny_search.iter().map(String::as_str));
        let o = autogan(&home, &args);
        let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(!summary["topk"].as_array().unwrap().is_empty());
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["search"]["strategy"], strategy);
        if strategy == "evolution" {
            assert_eq!(config["search"]["population"], 3);
            assert_eq!(config["search"]["tournament"], 2);
        }
        assert_eq!(config["reward_budget_per_iteration"], 4);
        let log = std::fs::read_to_string(out.join("search.jsonl")).unwrap();
        let ctrl: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["kind"] == "controller")
            .collect();
        assert_eq!(ctrl.len(), 6, "{log}");
        assert!(ctrl.iter().all(|l| l["strategy"] == strategy));
        let best_path = out.join("best.json");
        let best = autogan::arch::Arch::load(&best_path).expect("best.json is a usable arch file");
        assert!(best.is_complete());
        trains_as_is(
            &home,
            &best_path,
            d,
            &root.join(format!("train-{strategy}")),
        );
    }
}

/// `autogan search --strategy sac` (E2GAN's agent): one controller line per cell with the
/// agent's losses once it learns, SIGKILL mid-search and `--resume` give the same log and
/// best.json as an uninterrupted search, and best.json trains as is. SAC's flags are refused
/// with another strategy.
#[test]
fn sac_search_resumes_after_sigkill_and_writes_a_best_json_that_trains() {
    const EPISODES: usize = 6;
    let root = tmp("e2e-sac");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let d = data.to_str().unwrap();
    let args = |out: &Path| -> Vec<String> {
        let mut a: Vec<&str> = vec![
            "search",
            "--preset",
            "quick",
            "--dataset",
            d,
            "--scorer",
            "classifier",
            "--strategy",
            "sac",
        ];
        a.extend(TINY);
        let n = EPISODES.to_string();
        a.extend([
            "--sac-episodes",
            &n,
            "--sac-exploit-episodes",
            "2",
            "--sac-max-steps",
            "6",
            "--sac-hidden",
            "16",
            "--sac-start",
            "4",
            "--sac-batch",
            "4",
            "--sac-exploit-updates",
            "2",
            "--rl-num-eval-img",
            "40",
            "--topk",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        a.iter().map(|s| s.to_string()).collect()
    };
    let lines = |dir: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("search.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect()
    };
    let full = root.join("full");
    let a = args(&full);
    autogan(&home, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let log = lines(&full);
    let ctrl: Vec<&serde_json::Value> = log.iter().filter(|l| l["kind"] == "controller").collect();
    assert_eq!(ctrl.len(), 3 * EPISODES, "one line per cell");
    for (i, l) in ctrl.iter().enumerate() {
        assert_eq!(l["strategy"], "sac");
        assert_eq!(l["stage"], (i % 3) as u64);
        let arch = l["archs"][0].as_array().unwrap();
        assert_eq!(arch.len(), autogan::arch::prefix_len(i % 3 + 1));
        assert!(l["fid"].as_f64().unwrap() >= 0.0 && l["is"].as_f64().unwrap() >= 1.0 - 1e-9);
        // Updates begin once the buffer holds 4 transitions: from the 4th step on.
        assert_eq!(l["q1_loss"].is_number(), i >= 3, "{l}");
        assert_eq!(l["exploit"], i >= 3 * (EPISODES - 2));
    }
    assert!(ctrl[2]["episode_update"]["policy_loss"].is_number());
    assert!(full.join("tb").is_dir());
    // The top-K has --topk distinct architectures even where the deterministic episodes
    // repeated one.
    assert!(full.join("archs/top2.json").is_file());
    // The report draws the agent's curves, not REINFORCE's.
    autogan(&home, &["report", full.to_str().unwrap()]);
    let html = std::fs::read_to_string(full.join("report.html")).unwrap();
    let at = html
        .find("Controller (sac)")
        .expect("a SAC controller section");
    let section = &html[at..at + html[at..].find("<h2>").unwrap_or(html.len() - at)];
    assert!(
        section.contains("Q1 loss") && !section.contains("no data"),
        "{section}"
    );

    // SIGKILL once the checkpoint of episode 2 exists, then --resume: the same log.
    let cut = root.join("cut");
    let mut child = common::Running::new(
        common::autogan_cmd(Some(&home))
            .args(["--device", "cpu", "--threads", "1", "--quiet"])
            .args(args(&cut))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let ckpt = cut.join("checkpoint/last.safetensors");
    child.wait_until(
        "the checkpoint of episode 2",
        std::time::Duration::from_secs(600),
        || ckpt_iteration(&ckpt).is_some_and(|i| i >= 2),
    );
    assert!(child.is_running(), "killed mid-run");
    child.kill();
    assert!(iterations_logged(&cut) < EPISODES);
    autogan(&home, &["search", "--resume", cut.to_str().unwrap()]);
    let (la, lb) = (log, lines(&cut));
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        for key in [
            "kind",
            "iteration",
            "d_loss",
            "g_loss",
            "archs",
            "scores",
            "reward",
            "fid",
            "q1_loss",
            "policy_loss",
        ] {
            assert_eq!(x[key], y[key], "{key} differs:\n{x}\n{y}");
        }
    }
    let best = |dir: &Path| std::fs::read_to_string(dir.join("best.json")).unwrap();
    assert_eq!(best(&full), best(&cut));

    trains_as_is(&home, &full.join("best.json"), d, &root.join("train"));

    // A SAC flag with another strategy is refused by name.
    let o = common::autogan_cmd(Some(&home))
        .args(["search", "--strategy", "evolution", "--sac-lr", "0.001"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--sac-lr applies to --strategy sac"),
        "{err}"
    );
}
