//! `autogan compare`: its statistics against SciPy (Welch's one-sided t-test, the Student-t
//! distribution function, the regularised incomplete beta function, Kendall's tau-b), the
//! random architectures, and a tiny comparison end to end (one search, two random
//! architectures, the paper's arch a, a few steps each) that is then resumed.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use autogan::compare::{self, stats};
use autogan::data::SplitMix64;
use common::autogan_output;
use serde_json::{json, Value};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Values that need no reference: closed forms of special cases.
#[test]
fn statistics_match_closed_forms() {
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
    for x in [0.0, 0.01, 0.3, 0.5, 0.77, 1.0] {
        assert!(close(stats::inc_beta(1.0, 1.0, x), x, 1e-13), "I_{x}(1,1)");
        assert!(close(stats::inc_beta(3.5, 1.0, x), x.powf(3.5), 1e-12));
        assert!(close(
            stats::inc_beta(1.0, 2.5, x),
            1.0 - (1.0 - x).powf(2.5),
            1e-12
        ));
    }
    // One degree of freedom is the Cauchy distribution; two have a closed form too.
    for t in [-20.0, -1.5, -0.2, 0.0, 0.4, 3.0, 50.0] {
        let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
        assert!(close(stats::student_t_cdf(t, 1.0), cauchy, 1e-12), "t={t}");
        let two = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
        assert!(close(stats::student_t_cdf(t, 2.0), two, 1e-12), "t={t}");
    }
    // ln Gamma at integers and at 1/2.
    assert!(close(stats::ln_gamma(5.0), 24f64.ln(), 1e-13));
    assert!(close(
        stats::ln_gamma(0.5),
        std::f64::consts::PI.sqrt().ln(),
        1e-13
    ));
    // Mean, sample std.
    assert_eq!(stats::mean(&[1.0, 2.0, 6.0]), Some(3.0));
    assert!(close(
        stats::std_dev(&[1.0, 2.0, 6.0]).unwrap(),
        7f64.sqrt(),
        1e-14
    ));
    assert_eq!(stats::std_dev(&[1.0]), None);
    // A test needs two values per group and some spread.
    assert!(stats::welch_greater(&[1.0], &[1.0, 2.0]).is_none());
    assert!(stats::welch_greater(&[1.0, 1.0], &[2.0, 2.0]).is_none());
    let w = stats::welch_greater(&[5.0, 6.0, 7.0], &[1.0, 2.0, 3.0]).unwrap();
    assert!(w.t > 0.0 && w.p < 0.01, "{w:?}");
    let w = stats::welch_greater(&[1.0, 2.0, 3.0], &[5.0, 6.0, 7.0]).unwrap();
    assert!(w.p > 0.99, "{w:?}");
    // Kendall: same order 1, reversed -1, constant undefined.
    assert_eq!(
        stats::kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]),
        Some(1.0)
    );
    assert_eq!(
        stats::kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]),
        Some(-1.0)
    );
    assert_eq!(stats::kendall_tau(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
    assert_eq!(stats::kendall_tau(&[1.0], &[3.0]), None);
}

/// Seeded samples of sizes 2..12 with various shifts and spreads, for the SciPy comparison.
fn samples() -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut rng = SplitMix64::new(2024);
    let mut v = Vec::new();
    for k in 0..24usize {
        let na = 2 + k % 11;
        let nb = 2 + (k * 7) % 10;
        let shift = (k % 5) as f64 * 0.3 - 0.4;
        let spread = 0.2 + (k % 3) as f64;
        let mut draw = |n: usize, mu: f64| -> Vec<f64> {
            (0..n)
                .map(|_| mu + spread * (rng.f32() as f64 - 0.5))
                .collect()
        };
        v.push((draw(na, shift), draw(nb, 0.0)));
    }
    v
}

#[test]
fn statistics_match_scipy() {
    let Some(py) = common::venv_python(
        "statistics vs SciPy",
        "scipy.stats, scipy.special",
        "scripts/setup.sh --with-metrics",
    ) else {
        return;
    };
    let beta_args: Vec<(f64, f64, f64)> = [0.5, 1.5, 4.0, 17.0, 120.0]
        .iter()
        .flat_map(|&a| {
            [0.5, 2.0, 9.5, 60.0].iter().flat_map(move |&b| {
                [1e-4, 0.02, 0.3, 0.5, 0.81, 0.999]
                    .iter()
                    .map(move |&x| (a, b, x))
            })
        })
        .collect();
    let t_args: Vec<(f64, f64)> = [-40.0, -6.1, -2.0, -0.3, 0.0, 0.7, 1.9, 4.4, 25.0]
        .iter()
        .flat_map(|&t| {
            [0.7, 1.0, 2.5, 7.3, 31.0, 400.0]
                .iter()
                .map(move |&d| (t, d))
        })
        .collect();
    let pairs = samples();
    // Kendall on paired samples: truncated to the shorter one, every other pair rounded to
    // quarters so that both variables have ties.
    let quarter = |v: &[f64]| {
        v.iter()
            .map(|x| (x * 4.0).round() / 4.0)
            .collect::<Vec<_>>()
    };
    let paired: Vec<(Vec<f64>, Vec<f64>)> = pairs
        .iter()
        .enumerate()
        .map(|(k, (a, b))| {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            if k % 2 == 0 {
                (quarter(a), quarter(b))
            } else {
                (a.to_vec(), b.to_vec())
            }
        })
        .filter(|(a, _)| a.len() >= 2)
        .collect();
    // Mann-Whitney: the samples as drawn (exact below 9 values, asymptotic above), rounded to
    // quarters (ties: asymptotic with tie correction), and the sizes of a comparison (8 vs 16).
    let mut mw: Vec<(Vec<f64>, Vec<f64>)> = pairs.clone();
    mw.extend(pairs.iter().map(|(a, b)| (quarter(a), quarter(b))));
    let mut rng = SplitMix64::new(77);
    for shift in [0.0, 0.2, 0.5] {
        let a: Vec<f64> = (0..8).map(|_| shift + rng.f32() as f64).collect();
        let b: Vec<f64> = (0..16).map(|_| rng.f32() as f64).collect();
        mw.push((a, b));
    }
    mw.push((vec![1.0, 1.0], vec![1.0, 1.0, 1.0]));
    let input =
        json!({"beta": beta_args, "t": t_args, "welch": pairs, "kendall": paired, "mw": mw});
    let script = r#"
import json, sys, math
import scipy.stats as st, scipy.special as sp
d = json.load(sys.stdin)
out = {
  "beta": [float(sp.betainc(a, b, x)) for a, b, x in d["beta"]],
  "t": [float(st.t.cdf(t, df)) for t, df in d["t"]],
  "welch": [],
  "kendall": [],
  "mw": [],
}
for a, b in d["mw"]:
    r = st.mannwhitneyu(a, b, alternative="greater", method="auto")
    out["mw"].append([float(r.statistic), float(r.pvalue)])
for a, b in d["welch"]:
    r = st.ttest_ind(a, b, equal_var=False, alternative="greater")
    out["welch"].append(None if math.isnan(r.statistic) else [float(r.statistic), float(r.df), float(r.pvalue)])
for x, y in d["kendall"]:
    r = st.kendalltau(x, y)
    out["kendall"].append(None if math.isnan(r.statistic) else float(r.statistic))
print(json.dumps(out))
"#;
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scipy side failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("SciPy output is not JSON ({e}): {text}"));
    for ((a, b, x), want) in beta_args.iter().zip(r["beta"].as_array().unwrap()) {
        let got = stats::inc_beta(*a, *b, *x);
        let want = want.as_f64().unwrap();
        assert!(
            close(got, want, 1e-10),
            "I_{x}({a}, {b}) = {got}, SciPy {want}"
        );
    }
    for ((t, df), want) in t_args.iter().zip(r["t"].as_array().unwrap()) {
        let got = stats::student_t_cdf(*t, *df);
        let want = want.as_f64().unwrap();
        assert!(
            close(got, want, 1e-10),
            "t cdf({t}; {df}) = {got}, SciPy {want}"
        );
    }
    for ((a, b), want) in pairs.iter().zip(r["welch"].as_array().unwrap()) {
        let got = stats::welch_greater(a, b);
        match (got, want.as_array()) {
            (Some(w), Some(v)) => {
                let (t, df, p) = (
                    v[0].as_f64().unwrap(),
                    v[1].as_f64().unwrap(),
                    v[2].as_f64().unwrap(),
                );
                assert!(close(w.t, t, 1e-10), "t {} vs {t} for {a:?} {b:?}", w.t);
                assert!(close(w.df, df, 1e-10), "df {} vs {df}", w.df);
                assert!(close(w.p, p, 1e-9), "p {} vs {p} for {a:?} {b:?}", w.p);
            }
            (None, None) => {}
            (g, w) => panic!("welch {g:?} vs SciPy {w:?} for {a:?} {b:?}"),
        }
    }
    for ((a, b), want) in mw.iter().zip(r["mw"].as_array().unwrap()) {
        let got = stats::mann_whitney_greater(a, b).expect("both groups have values");
        let (u, p) = (want[0].as_f64().unwrap(), want[1].as_f64().unwrap());
        assert_eq!(got.u, u, "U for {a:?} {b:?}");
        // The normal tail uses a 1.2e-7 erfc; the exact one is counted.
        assert!(
            (got.p - p).abs() < 1e-6,
            "Mann-Whitney p {} ({}) vs SciPy {p} for {a:?} {b:?}",
            got.p,
            got.method
        );
    }
    assert!(stats::mann_whitney_greater(&[], &[1.0]).is_none());
    // A comparison's largest groups (8 searches against 10,000 random architectures) are not
    // counted exactly (that would take gigabytes); all eight above every other: p near 0.
    let big: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
    let top: Vec<f64> = (0..8).map(|i| 20_000.0 + i as f64).collect();
    let m = stats::mann_whitney_greater(&top, &big).unwrap();
    assert_eq!((m.u, m.method), (80_000.0, "asymptotic"));
    assert!(m.p < 1e-5, "{m:?}");
    for ((x, y), want) in paired.iter().zip(r["kendall"].as_array().unwrap()) {
        match (stats::kendall_tau(x, y), want.as_f64()) {
            (Some(g), Some(w)) => assert!(close(g, w, 1e-12), "tau {g} vs {w} for {x:?} {y:?}"),
            (None, None) => {}
            (g, w) => panic!("tau {g:?} vs SciPy {w:?} for {x:?} {y:?}"),
        }
    }
}

#[test]
fn random_architectures_are_seeded_and_cover_the_space() {
    let a = compare::random_archs(400, 5);
    let b = compare::random_archs(400, 5);
    let c = compare::random_archs(400, 6);
    assert_eq!(a.len(), 400);
    assert_eq!(a, b, "the same seed gives the same architectures");
    assert_ne!(a, c, "another seed gives others");
    // Every value of every decision appears (uniform draws over 400 archs).
    let sizes = [2, 3, 3, 2, 2, 3, 3, 2, 2, 2, 3, 3, 2, 4];
    for (i, &n) in sizes.iter().enumerate() {
        for v in 0..n {
            assert!(
                a.iter().any(|x| x.to_vector()[i] == v as i64),
                "decision {i} never takes value {v}"
            );
        }
    }
}

use common::tmp;

/// A labelled folder of 3 shape classes x 30 images (the classifier scorer trains on it in
/// seconds).
fn labelled_folder(root: &Path) {
    common::labelled_folder(root, &common::THREE_CLASSES, 30, 5);
}

/// A plan of `random` random architectures and nothing else, written as `compare` writes a
/// new comparison (config.json and the architecture files) into `out`.
fn create_plan(out: &Path, random: usize) -> compare::Plan {
    let plan = compare::Plan {
        strategies: vec!["reinforce".into()],
        seeds: 0,
        seed: 0,
        random,
        paper: Vec::new(),
        train_steps: 2,
        train_seeds: 1,
        preset: "quick".into(),
        dataset: None,
        data_dir: None,
        eval_images: 20,
        topk_train: 1,
        search_args: Vec::new(),
        train_args: Vec::new(),
        scorers: vec!["classifier".into()],
        device: "cpu".into(),
        threads: Some(1),
        random_archs: compare::random_archs(random, 0)
            .iter()
            .map(|a| a.to_vector())
            .collect(),
    };
    let layout = compare::Layout {
        root: out.to_path_buf(),
    };
    compare::create(&layout, &plan, &autogan::launch::LauncherConfig::default()).unwrap();
    plan
}

/// A small but whole safetensors file (a result file the launcher accepts as finished).
fn write_safetensors(path: &Path) {
    let t = tch::Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu));
    tch::Tensor::write_safetensors(&[("x", &t)], path).unwrap();
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const SIZES: &str = "--gf-dim 8 --df-dim 8 --latent-dim 8 --batch-size 4 --gen-batch-size 4";

#[test]
fn tiny_comparison_runs_reports_and_resumes() {
    let root = tmp("compare-e2e");
    let data = root.join("data");
    let home = root.join("home");
    labelled_folder(&data);
    let out = root.join("cmp");
    let search_args = format!(
        "{SIZES} --iterations 3 --stage-changes 1,2 --max-shared-steps 4 --ctrl-steps 1 \
         --ctrl-sample-batch 2 --rl-num-eval-img 20 --num-candidate 3 --topk 2"
    );
    let train_args = format!("{SIZES} --checkpoint-every 1");
    let o = autogan_output(
        Some(&home),
        &[
            "compare",
            "--dataset",
            data.to_str().unwrap(),
            "--seeds",
            "1",
            "--random",
            "2",
            "--paper",
            "a",
            "--train-steps",
            "2",
            "--eval-images",
            "20",
            "--topk-train",
            "2",
            "--search-args",
            &search_args,
            "--train-args",
            &train_args,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "compare failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = read(&out.join("compare.json"));
    assert_eq!(r["complete"], true, "{r:#}");
    let groups: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["reinforce", "random", "paper"]);
    let n = |g: usize| r["groups"][g]["metrics"]["classifier_is"]["n"].as_u64();
    assert_eq!((n(0), n(1), n(2)), (Some(1), Some(2), Some(1)));
    // Every trained architecture has finite scores from `autogan eval`.
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        2 + 2 + 1,
        "top-2 of the search, 2 random, paper a"
    );
    for run in runs {
        let is = run["classifier_is"].as_f64().unwrap();
        let fid = run["classifier_fid"].as_f64().unwrap();
        assert!(is >= 1.0 && is.is_finite() && fid.is_finite(), "{run}");
        let eval = read(
            &out.join("train")
                .join(run["label"].as_str().unwrap())
                .join("eval-classifier.json"),
        );
        assert_eq!(eval["is_mean"].as_f64(), Some(is));
        assert_eq!(eval["num_images"], 20);
    }
    // The random group's numbers are the statistics of its two runs.
    let random: Vec<f64> = runs
        .iter()
        .filter(|x| x["group"] == "random")
        .map(|x| x["classifier_is"].as_f64().unwrap())
        .collect();
    let g = &r["groups"][1]["metrics"]["classifier_is"];
    let mean = (random[0] + random[1]) / 2.0;
    let std = (random[0] - random[1]).abs() / 2f64.sqrt();
    assert!(close(g["mean"].as_f64().unwrap(), mean, 1e-12), "{g}");
    assert!(close(g["std"].as_f64().unwrap(), std, 1e-12), "{g}");
    // The found arch is one of the search's top-2 and is its best.json.
    let best = read(&out.join("search/reinforce-s0/best.json"));
    let found: Vec<&Value> = runs.iter().filter(|x| x["found"] == true).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["vector"], best["vector"]);
    // Kendall over the 2 trained top architectures: +1, -1 or undefined (a tie).
    let k = &r["kendall"][0];
    assert_eq!(k["k"], 2);
    let tau = &k["tau_classifier_is"];
    assert!(tau.is_null() || tau.as_f64().unwrap().abs() == 1.0, "{k}");
    // Pooled over every search's trained top-K: here the one search's two.
    let pooled = &r["kendall_tau_pooled"]["classifier_is"];
    assert_eq!(pooled["n"], 2, "{r:#}");
    assert_eq!(&pooled["tau"], tau, "{r:#}");
    // The search's supernet scored every trained architecture (`arch score`), and the tau over
    // all of them is computed from those scores and the trained ones.
    let sup = read(&out.join("search/reinforce-s0/supernet-scores.json"));
    let sup_archs = sup["archs"].as_array().unwrap();
    assert_eq!(sup_archs.len(), runs.len(), "{sup:#}");
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for a in sup_archs {
        let run = runs
            .iter()
            .find(|x| x["arch_file"] == a["file"])
            .expect("a trained arch");
        xs.push(a["score"].as_f64().unwrap());
        ys.push(run["classifier_is"].as_f64().unwrap());
    }
    let all = &r["kendall_all"][0];
    assert_eq!(
        (all["n"].as_u64(), all["search"].as_str()),
        (Some(5), Some("reinforce-s0")),
        "{all}"
    );
    // The earlier stages' rewards: every architecture's prefix scored on the supernet kept at
    // the end of stages 0 and 1, one tau per stage over the five.
    for stage in 0..2u64 {
        let f = out.join(format!(
            "search/reinforce-s0/supernet-scores-stage{stage}.json"
        ));
        let scored = read(&f);
        assert_eq!(scored["stage"], stage, "{scored:#}");
        for a in scored["archs"].as_array().unwrap() {
            let cells = if stage == 0 { 4 } else { 9 };
            assert_eq!(a["vector"].as_array().unwrap().len(), cells, "{a}");
        }
        let st = &r["kendall_stages"][stage as usize];
        assert_eq!(
            (st["stage"].as_u64(), st["searches"][0]["n"].as_u64()),
            (Some(stage), Some(5)),
            "{st}"
        );
        assert!(
            stdout.contains(&format!("stage-{stage} reward")),
            "{stdout}"
        );
    }
    let mut concordant = 0.0;
    let mut ties = false;
    for i in 0..xs.len() {
        for j in 0..i {
            let p = (xs[i] - xs[j]) * (ys[i] - ys[j]);
            ties |= p == 0.0;
            concordant += p.signum();
        }
    }
    if !ties {
        let tau = concordant / 10.0; // 5 choose 2 pairs
        assert!(
            close(all["tau_classifier_is"].as_f64().unwrap(), tau, 1e-12),
            "{all} vs {tau}"
        );
    }
    // The table names every group and every run.
    for word in [
        "reinforce",
        "random",
        "paper",
        "random-02",
        "paper-a",
        "Kendall",
        "pooled",
        "over every trained architecture",
    ] {
        assert!(stdout.contains(word), "table lacks {word}:\n{stdout}");
    }

    // `autogan report` on the directory: a strip plot of IS and of FID, each with every
    // group's trained architectures as points.
    let o = autogan_output(Some(&home), &["--quiet", "report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("class=\"chart strip\"").count(), 2);
    for (g, n) in [("reinforce", 1), ("random", 2), ("paper", 1)] {
        let group = format!("data-group=\"{g}\" data-n=\"{n}\"");
        assert_eq!(html.matches(&group).count(), 2, "{g}");
    }

    // Resume: a finished comparison runs nothing again; a removed training and evaluation
    // are redone, and only they.
    let gen = |l: &str| out.join("train").join(l).join("generator.safetensors");
    let stamp = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
    let kept = stamp(gen("random-01"));
    std::fs::remove_dir_all(out.join("train/random-02")).unwrap();
    let o = autogan_output(
        Some(&home),
        &["--quiet", "compare", "--resume", out.to_str().unwrap()],
    );
    assert!(
        o.status.success(),
        "resume failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(gen("random-02").is_file());
    assert_eq!(
        stamp(gen("random-01")),
        kept,
        "a finished training ran again"
    );
    let again = read(&out.join("compare.json"));
    assert_eq!(
        again["runs"], r["runs"],
        "the redone training differs (same seed)"
    );
    // A directory without the launcher's records (as compare wrote them before it ran its jobs
    // through the launcher): the results decide, so nothing runs again.
    std::fs::remove_dir_all(out.join("jobs")).unwrap();
    let kept = stamp(gen("random-02"));
    let o = autogan_output(
        Some(&home),
        &["--quiet", "compare", "--resume", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stamp(gen("random-02")),
        kept,
        "a finished training ran again"
    );
    assert!(!out.join("jobs").exists(), "a job ran");
    assert_eq!(read(&out.join("compare.json"))["runs"], r["runs"]);
    // An evaluation cut short does not count as finished: it is named, kept aside, and its
    // job runs again; no member of the table is lost.
    let eval1 = out.join("train/random-01/eval-classifier.json");
    std::fs::write(&eval1, "{\"is_mean\": \"x\"").unwrap();
    std::fs::remove_file(out.join("compare.json")).unwrap();
    let o = autogan_output(
        Some(&home),
        &["--quiet", "compare", "--resume", out.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("eval-classifier.json is unreadable") && err.contains("running the job again"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("train/random-01/eval-classifier.json.invalid-1"))
            .unwrap(),
        "{\"is_mean\": \"x\""
    );
    let again = read(&out.join("compare.json"));
    assert_eq!(again["runs"], r["runs"], "the rerun evaluation differs");
    assert_eq!(again["groups"], r["groups"]);
    // One that parses but lacks its numbers is refused by name, never left out of the table.
    std::fs::write(&eval1, "{\"is_mean\": \"x\"}").unwrap();
    let o = autogan_output(
        Some(&home),
        &["--quiet", "compare", "--resume", out.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "a table lost a member silently");
    assert!(
        err.contains(&format!("{}: no numbers", eval1.display())) && err.contains("--resume"),
        "{err}"
    );
    std::fs::remove_file(&eval1).unwrap();
    let o = autogan_output(
        Some(&home),
        &["--quiet", "compare", "--resume", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out.join("compare.json"))["runs"], r["runs"]);
    // The supernet scores match the architectures by their vectors, so a moved comparison
    // directory keeps its Kendall tau over every trained architecture.
    let moved = root.join("cmp-moved");
    std::fs::rename(&out, &moved).unwrap();
    std::fs::remove_file(moved.join("compare.json")).unwrap();
    let o = autogan_output(
        Some(&home),
        &[
            "--quiet",
            "compare",
            "--resume",
            moved.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["kendall_all"][0]["n"], r["kendall_all"][0]["n"], "{m}");
    assert_eq!(m["kendall_all"][0]["n"], 5);
    std::fs::rename(&moved, &out).unwrap();
    // Flags that would change the plan are refused with --resume.
    let o = autogan_output(
        Some(&home),
        &[
            "compare",
            "--resume",
            out.to_str().unwrap(),
            "--random",
            "3",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--random"), "{err}");
}

#[test]
fn bad_plans_are_refused_before_anything_is_written() {
    let root = tmp("compare-bad");
    let out = root.join("cmp");
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--strategies",
            "reinforce,annealing",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("annealing") && err.contains("evolution"),
        "{err}"
    );
    let o = autogan_output(
        Some(&root),
        &["compare", "--paper", "a,z", "--out", out.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("'z'"));
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--train-args",
            "--steps 5",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--train-steps"));
    assert!(
        !out.exists(),
        "a refused comparison wrote {}",
        out.display()
    );
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--resume",
            root.join("nothing").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a comparison directory"));
}

#[test]
fn dry_run_writes_nothing_and_prints_the_jobs_without_running_them() {
    let root = tmp("compare-dry");
    let out = root.join("cmp");
    let o = autogan_output(
        Some(&root),
        &[
            "--seed",
            "7",
            "compare",
            "--seeds",
            "2",
            "--random",
            "3",
            "--paper",
            "b",
            "--train-steps",
            "5",
            "--train-args",
            "--gf-dim 8",
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    // 2 searches (seeds 7 and 8), then 3 random + 1 paper trainings, each with its evaluation.
    assert_eq!(lines.len(), 2 + 4 * 2, "{text}");
    assert!(lines[0].contains("--seed 7") && lines[0].contains(" search --preset quick"));
    assert!(lines[1].contains("--seed 8") && !lines[1].contains("--strategy"));
    let train: Vec<&&str> = lines.iter().filter(|l| l.contains(" train ")).collect();
    assert_eq!(train.len(), 4);
    for l in &train {
        assert!(
            l.contains("--seed 7") && l.contains("--steps 5") && l.contains(" --gf-dim 8 --out "),
            "{l}"
        );
    }
    assert!(lines.iter().any(|l| l.contains(" eval ")
        && l.contains("--json-out ")
        && l.contains("eval-classifier.json")));
    // The trainings name the random architectures' files the real run writes.
    assert!(train[0].contains("archs/random-01.json"), "{}", train[0]);
    // Nothing is written, and nothing ran.
    assert!(!out.exists(), "a dry run wrote {}", out.display());
    // Every strategy of `search --strategy` can be compared, SAC included, each with its flag.
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--strategies",
            "reinforce,evolution,sac,random",
            "--seeds",
            "1",
            "--random",
            "1",
            "--paper",
            "none",
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let searches: Vec<&str> = text.lines().filter(|l| l.contains(" search ")).collect();
    assert_eq!(searches.len(), 4, "{text}");
    for (l, s) in searches.iter().zip(["", "evolution", "sac", "random"]) {
        assert_eq!(l.contains("--strategy"), !s.is_empty(), "{l}");
        assert!(
            l.contains(&format!("--strategy {s}")) || s.is_empty(),
            "{l}"
        );
    }
    assert!(!out.exists());
    // Counts no comparison could run are refused at once, without a plan drawn or written.
    for (flag, n, says) in [
        ("--seeds", "4294967295", "at most 1000 searches"),
        ("--random", "100000", "at most 10000 random"),
    ] {
        let mut a = vec!["compare", "--paper", "none", flag, n, "--out"];
        a.extend([out.to_str().unwrap(), "--dry-run"]);
        if flag == "--seeds" {
            a.extend(["--random", "0"]);
        }
        let o = autogan_output(Some(&root), &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{err}");
        assert!(!out.exists());
    }
    // A base seed whose later searches' seeds would pass 2^64 - 1.
    let o = autogan_output(
        Some(&root),
        &[
            "--seed",
            "18446744073709551615",
            "compare",
            "--seeds",
            "2",
            "--random",
            "0",
            "--paper",
            "none",
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("give a smaller --seed"),
        "{err}"
    );
}

#[test]
fn resume_with_another_launcher_is_refused_while_slurm_may_still_run_jobs() {
    use autogan::launch::{Job, LauncherConfig, LauncherKind, Record, Submission};
    let root = tmp("compare-launcher");
    let out = root.join("cmp");
    create_plan(&out, 1);
    // The training batch as a Slurm submission left it: job 42 runs the one training.
    let train = out.join("train/random-01");
    let rec = Record {
        batch: "train".into(),
        autogan_version: "test".into(),
        launcher: LauncherConfig {
            launcher: LauncherKind::Slurm,
            ..LauncherConfig::default()
        },
        jobs: vec![Job {
            name: "train-random-01".into(),
            command: "train".into(),
            result: Some(train.join("generator.safetensors")),
            run_dir: train.clone(),
            ..Job::default()
        }],
        submissions: vec![Submission {
            job_id: "42".into(),
            tasks: vec![1],
            script: out.join("jobs/train.sbatch"),
            submitted_unix: 0,
        }],
    };
    std::fs::create_dir_all(out.join("jobs")).unwrap();
    std::fs::write(
        out.join("jobs/train.json"),
        serde_json::to_string(&rec).unwrap(),
    )
    .unwrap();
    let resume = |extra: &[&str]| {
        let mut a = vec!["compare", "--resume", out.to_str().unwrap()];
        a.extend(extra);
        autogan_output(Some(&root), &a)
    };
    let o = resume(&["--launcher", "local"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("records Slurm job 42") && err.contains("--launcher slurm"),
        "{err}"
    );
    assert!(!train.exists(), "a refused resume ran the training");
    // Once the job's result is there, nothing can run twice: another launcher may collect.
    std::fs::create_dir_all(&train).unwrap();
    write_safetensors(&train.join("generator.safetensors"));
    let o = resume(&["--launcher", "local", "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text.contains(" train ") && text.contains(" eval "),
        "{text}"
    );
}

#[test]
fn a_comparison_directory_is_locked_keeps_its_plan_settings_and_is_no_sweep() {
    let root = tmp("compare-guard");
    let out = root.join("cmp");
    create_plan(&out, 1);
    let bin = env!("CARGO_BIN_EXE_autogan");
    let run = |args: &[&str]| {
        Command::new(bin)
            .env("AUTOGAN_HOME", &root)
            .args(args)
            .output()
            .unwrap()
    };
    let dir = out.to_str().unwrap();
    // A second process is refused while one holds the directory, naming the holder.
    {
        let _held = autogan::run::lock::lock_run_dir(&out).unwrap();
        let o = run(&["compare", "--resume", dir]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(
            err.contains(&format!("is in use by process {}", std::process::id())),
            "{err}"
        );
        assert!(!out.join("train").exists() && !out.join("jobs").exists());
    }
    // The seed, device and threads of the jobs are the plan's: such flags are refused.
    for extra in [
        vec!["--threads", "2", "--seed", "9"],
        vec!["--device", "cpu"],
    ] {
        let mut a = extra.clone();
        a.extend(["compare", "--resume", dir, "--dry-run"]);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{a:?} was accepted");
        for flag in extra.iter().filter(|f| f.starts_with("--")) {
            assert!(
                err.contains(&format!("drop {flag}")) || err.contains(flag),
                "{err}"
            );
        }
        assert!(err.contains("drop"), "{err}");
    }
    // `sweep --resume` of a comparison says what the directory is.
    let o = run(&["sweep", "--resume", dir]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("is a compare directory, not a sweep")
            && err.contains("autogan compare --resume"),
        "{err}"
    );
    assert!(!out.join("sweep.json").exists());
}

#[test]
fn pass_through_flags_are_checked_before_anything_is_written_and_can_be_mended() {
    let root = tmp("compare-pass");
    let out = root.join("cmp");
    let dir = out.to_str().unwrap();
    // A flag no search knows is refused, with or without --dry-run, and nothing is written.
    for dry in [true, false] {
        let mut a = vec![
            "compare", "--seeds", "1", "--random", "0", "--paper", "none",
        ];
        a.extend(["--search-args", "--bogus 3", "--out", dir]);
        if dry {
            a.push("--dry-run");
        }
        let o = autogan_output(Some(&root), &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(
            err.contains("--search-args \"--bogus 3\"") && err.contains("--bogus"),
            "{err}"
        );
        assert!(!out.exists());
    }
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--random",
            "1",
            "--paper",
            "none",
            "--seeds",
            "0",
            "--train-args",
            "--gf-dim eight",
            "--out",
            dir,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--train-args"), "{err}");
    assert!(!out.exists());
    // More trained top-K than the searches write is refused, not silently cut.
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--topk-train",
            "10",
            "--random",
            "0",
            "--paper",
            "none",
            "--out",
            dir,
            "--dry-run",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("only their top 3"),
        "{err}"
    );
    // With the searches' own --topk (in either spelling) it is planned.
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--topk-train",
            "10",
            "--search-args",
            "--topk=10 --num-candidate 10",
            "--random",
            "0",
            "--paper",
            "none",
            "--out",
            dir,
            "--dry-run",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());

    // A directory an earlier version wrote with a bad training flag is mended on resume: the
    // flags are replaced while no training has run, then it runs through.
    let data = root.join("data");
    labelled_folder(&data);
    let mut plan = create_plan(&out, 1);
    plan.dataset = Some(data.display().to_string());
    plan.train_args = vec!["--bogus".into()];
    let mut cfg = read(&out.join("config.json"));
    cfg["plan"] = serde_json::to_value(&plan).unwrap();
    std::fs::write(out.join("config.json"), cfg.to_string()).unwrap();
    // A dry run says what would run and changes nothing.
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--resume",
            dir,
            "--train-args",
            SIZES,
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains(" train --arch ") && text.contains(SIZES),
        "{text}"
    );
    assert_eq!(
        read(&out.join("config.json"))["plan"]["train_args"],
        json!(["--bogus"])
    );
    let o = autogan_output(
        Some(&root),
        &["--quiet", "compare", "--resume", dir, "--train-args", SIZES],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<&str> = SIZES.split_whitespace().collect();
    assert_eq!(
        read(&out.join("config.json"))["plan"]["train_args"],
        json!(want)
    );
    let r = read(&out.join("compare.json"));
    assert!(r["runs"][0]["classifier_is"].is_number(), "{r}");
    // More trainings per architecture are added on resume: the finished training is kept
    // (not run again), the batch records listing the old jobs are set aside, and the
    // architecture's scores become the means over its two trainings.
    let first = out.join("train/random-01/generator.safetensors");
    let before = std::fs::metadata(&first).unwrap().modified().unwrap();
    let o = autogan_output(
        Some(&root),
        &[
            "compare",
            "--resume",
            dir,
            "--train-seeds",
            "2",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("random-01.seed1"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.ends_with("/train/random-01") || l.contains("/train/random-01 ")),
        "the first training runs again:\n{text}"
    );
    assert_eq!(read(&out.join("config.json"))["plan"]["train_seeds"], 1);
    let o = autogan_output(
        Some(&root),
        &["--quiet", "compare", "--resume", dir, "--train-seeds", "2"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out.join("config.json"))["plan"]["train_seeds"], 2);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        before
    );
    assert!(out.join("jobs/train.replaced-1.json").is_file());
    assert!(out.join("jobs/train.replaced-1").is_dir());
    let train = read(&out.join("jobs/train.json"));
    assert_eq!(
        train["jobs"][1]["global"],
        json!(["--seed", "1", "--quiet"])
    );
    let r = read(&out.join("compare.json"));
    let run = &r["runs"][0];
    let each: Vec<f64> = run["classifier_is_trainings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(each.len(), 2, "{run}");
    let is = run["classifier_is"].as_f64().unwrap();
    assert!((is - (each[0] + each[1]) / 2.0).abs() < 1e-12, "{run}");
    assert!(r["training_noise"]["classifier_is"]["pooled_std"].is_number());
    // ... and never dropped.
    let o = autogan_output(
        Some(&root),
        &["compare", "--resume", dir, "--train-seeds", "1"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("never drop them"),
        "{err}"
    );
    // Once a training has run, its flags can no longer change.
    let o = autogan_output(
        Some(&root),
        &["compare", "--resume", dir, "--train-args", "--lr 0.1"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("ran with the recorded flags already") && err.contains("train-random-01"),
        "{err}"
    );
}

#[test]
fn several_trainings_per_architecture_are_jobs_of_their_own_and_averaged() {
    let root = tmp("compare-train-seeds");
    let out = root.join("cmp");
    let mut plan = create_plan(&out, 2);
    plan.seed = 5;
    plan.train_seeds = 2;
    plan.validate().unwrap();
    let layout = compare::Layout { root: out.clone() };
    let entries = compare::entries(&plan, &layout).unwrap();
    // One round of trainings, then the next, each with its own seed and run directory.
    let jobs = compare::train_jobs(&plan, &layout, &entries);
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "train-random-01",
            "train-random-02",
            "train-random-01.seed6",
            "train-random-02.seed6"
        ]
    );
    assert_eq!(jobs[0].global[..2], ["--seed", "5"]);
    assert_eq!(jobs[2].global[..2], ["--seed", "6"]);
    assert_eq!(jobs[2].run_dir, layout.train_dir("random-01.seed6"));
    let evals = compare::eval_jobs(&plan, &layout, &entries);
    assert_eq!(evals.len(), 4);
    assert_eq!(
        evals[2].result.as_deref(),
        Some(layout.eval_file("random-01.seed6", "classifier").as_path())
    );
    // Every eval is scored with the same latents (the plan's seed).
    assert!(evals.iter().all(|j| j.global[..2] == ["--seed", "5"]));
    let write = |label: &str, is: f64, fid: f64| {
        let f = layout.eval_file(label, "classifier");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, json!({"is_mean": is, "fid": fid}).to_string()).unwrap();
    };
    write("random-01", 1.0, 100.0);
    write("random-01.seed6", 2.0, 90.0);
    write("random-02", 3.0, 50.0);
    let r = compare::collect(&plan, &layout, &Default::default()).unwrap();
    // random-02 has one of its two trainings scored: no score yet, the results incomplete.
    assert_eq!(r["complete"], false);
    assert_eq!(r["runs"][0]["classifier_is"], 1.5);
    assert_eq!(r["runs"][0]["classifier_fid"], 95.0);
    assert_eq!(r["runs"][0]["classifier_is_trainings"], json!([1.0, 2.0]));
    assert!(r["runs"][1]["classifier_is"].is_null(), "{}", r["runs"][1]);
    let noise = &r["training_noise"]["classifier_is"];
    assert_eq!(noise["archs"], 1);
    assert!((noise["pooled_std"].as_f64().unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
    write("random-02.seed6", 3.0, 70.0);
    let r = compare::collect(&plan, &layout, &Default::default()).unwrap();
    assert_eq!(r["complete"], true);
    let g = &r["groups"][1]["metrics"]["classifier_fid"];
    assert_eq!(g["values"], json!([95.0, 60.0]));
    // Pooled over both architectures: variances 0.5 and 0 (IS), 50 and 200 (FID).
    let noise = &r["training_noise"];
    assert!((noise["classifier_is"]["pooled_std"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((noise["classifier_fid"]["pooled_std"].as_f64().unwrap() - 125f64.sqrt()).abs() < 1e-9);
    assert!(
        (noise["classifier_fid"]["std_of_mean"].as_f64().unwrap() - 62.5f64.sqrt()).abs() < 1e-9
    );
    // Both trainings order the two architectures alike (IS 1 < 3 and 2 < 3; FID 100 > 50 and
    // 90 > 70).
    assert_eq!(noise["classifier_is"]["tau_between_trainings"], 1.0);
    assert_eq!(noise["classifier_fid"]["tau_between_trainings"], 1.0);
    let t = compare::table(&r);
    assert!(t.contains("trained 2 times (seeds 5 to 6)"), "{t}");
    assert!(t.contains("training noise (2 architectures)"), "{t}");
    assert!(
        t.contains("two trainings rank the architectures alike with Kendall tau 1.000 (classifier IS) and 1.000 (FID)"),
        "{t}"
    );
    assert_eq!(noise["classifier_is"]["tau_between_halves"], json!(null));
    assert!(
        !t.contains("the means of"),
        "two trainings have no halves of two: {t}"
    );
    // Four trainings: the means of two disjoint pairs of them rank the architectures alike
    // (random-01 below random-02 on IS and above it on FID in every split).
    plan.train_seeds = 4;
    write("random-01.seed7", 1.0, 100.0);
    write("random-01.seed8", 2.0, 90.0);
    write("random-02.seed7", 3.0, 50.0);
    write("random-02.seed8", 3.0, 70.0);
    let r = compare::collect(&plan, &layout, &Default::default()).unwrap();
    assert_eq!(r["complete"], true);
    let noise = &r["training_noise"];
    assert_eq!(noise["classifier_is"]["half_trainings"], 2);
    assert_eq!(noise["classifier_fid"]["tau_between_halves"], 1.0);
    let t = compare::table(&r);
    assert!(
        t.contains("the means of 2 trainings rank them alike with Kendall tau 1.000 (classifier IS) and 1.000 (FID)"),
        "{t}"
    );
    plan.train_seeds = 2;
    // A plan of zero trainings, too many, or one whose seeds pass u64 is refused.
    for (k, seed) in [(0, 0), (compare::MAX_TRAIN_SEEDS + 1, 0), (2, u64::MAX)] {
        let mut p = plan.clone();
        p.train_seeds = k;
        p.seed = seed;
        let e = p.validate().unwrap_err();
        assert!(format!("{e:#}").contains("--train-seeds"), "{e:#}");
    }
}

/// The tau between trainings, by hand: 4 architectures x 3 trainings. Trainings 0 and 1 order
/// them alike but for one swapped pair (5 of 6 pairs concordant: tau 4/6), trainings 0 and 2
/// in reverse (-1), trainings 1 and 2 with one concordant pair (1 - 5 = -4/6): mean -1/3.
#[test]
fn the_tau_between_trainings_averages_every_pair_of_trainings() {
    let scores = vec![
        vec![1.0, 2.0, 4.0],
        vec![2.0, 1.0, 3.0],
        vec![3.0, 3.0, 2.0],
        vec![4.0, 4.0, 1.0],
    ];
    let tau = compare::between_trainings_tau(&scores).unwrap();
    assert!(
        (tau - (4.0 / 6.0 - 1.0 - 4.0 / 6.0) / 3.0).abs() < 1e-12,
        "{tau}"
    );
    // One training, or one architecture, says nothing.
    assert_eq!(
        compare::between_trainings_tau(&[vec![1.0], vec![2.0]]),
        None
    );
    assert_eq!(compare::between_trainings_tau(&[vec![1.0, 2.0]]), None);
    assert_eq!(compare::between_trainings_tau(&[]), None);
}

/// The tau between the means of two disjoint sets of trainings, by hand: 4 architectures x 4
/// trainings, so sets of 2 and three splits. A, B and D score 1, 2 and 10 in every training;
/// C scores 0, 6, 0, 6. Split {0,1} | {2,3}: C's means 3 and 3, both orders 1 < 2 < 3 < 10
/// (tau 1); {0,2} | {1,3}: C 0 against 6, so A-C and B-C disagree (4 of 6 pairs concordant, 2
/// discordant: tau 1/3); {0,3} | {1,2}: 3 and 3 again (tau 1). Mean 7/9.
#[test]
fn the_tau_between_halves_averages_every_split_of_the_trainings() {
    let scores = vec![
        vec![1.0; 4],
        vec![2.0; 4],
        vec![0.0, 6.0, 0.0, 6.0],
        vec![10.0; 4],
    ];
    let (m, tau) = compare::between_halves_tau(&scores).unwrap();
    assert_eq!(m, 2);
    assert!((tau - 7.0 / 9.0).abs() < 1e-12, "{tau}");
    // Five trainings: sets of two (one training left out of each split); three are too few.
    let five: Vec<Vec<f64>> = scores.iter().map(|s| [&s[..], &s[..1]].concat()).collect();
    assert_eq!(compare::between_halves_tau(&five).unwrap().0, 2);
    let three: Vec<Vec<f64>> = scores.iter().map(|s| s[..3].to_vec()).collect();
    assert_eq!(compare::between_halves_tau(&three), None);
    // Beyond twelve trainings the splits are drawn: identical trainings still agree fully.
    let same: Vec<Vec<f64>> = (0..4).map(|a| vec![a as f64; 13]).collect();
    assert_eq!(compare::between_halves_tau(&same), Some((6, 1.0)));
    assert_eq!(compare::between_halves_tau(&[vec![1.0; 4]]), None);
}

#[test]
fn random_search_and_random_architectures_are_separate_groups() {
    let root = tmp("compare-groups");
    let out = root.join("cmp");
    let mut plan = create_plan(&out, 2);
    plan.strategies = vec!["evolution".into(), "random".into()];
    plan.seeds = 1;
    plan.eval_images = 20;
    let layout = compare::Layout { root: out.clone() };
    let paper = compare::paper_arch_file("a");
    // Each search found the paper's arch a; every trained architecture has its scores.
    for s in ["evolution-s0", "random-s0"] {
        let d = out.join("search").join(s);
        std::fs::create_dir_all(d.join("archs")).unwrap();
        std::fs::copy(&paper, d.join("best.json")).unwrap();
        std::fs::copy(&paper, d.join("archs/top1.json")).unwrap();
    }
    let labels = [
        "evolution-s0-top1",
        "random-s0-top1",
        "random-01",
        "random-02",
    ];
    for (i, l) in labels.iter().enumerate() {
        let f = layout.eval_file(l, "classifier");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        let v = json!({"is_mean": 1.0 + i as f64, "fid": 100.0 - i as f64});
        std::fs::write(&f, v.to_string()).unwrap();
    }
    let r = compare::collect(&plan, &layout, &Default::default()).unwrap();
    let groups: Vec<(&str, u64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap(),
                g["metrics"]["classifier_is"]["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("evolution", 1),
            ("random-search", 1),
            ("random", 2),
            ("paper", 0)
        ]
    );
    let run_group = |label: &str| {
        r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["label"] == label)
            .map(|x| x["group"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(run_group("random-s0-top1"), "random-search");
    assert_eq!(run_group("random-01"), "random");
    // The table names both.
    let t = compare::table(&r);
    for g in ["random-search ", "random        "] {
        assert!(t.lines().any(|l| l.starts_with(g)), "no row {g:?}:\n{t}");
    }
    // A result file cut short is named by the collector, never left out.
    std::fs::write(
        layout.eval_file("random-02", "classifier"),
        "{\"is_mean\": 1",
    )
    .unwrap();
    let e = compare::collect(&plan, &layout, &Default::default()).unwrap_err();
    assert!(
        format!("{e:#}").contains("random-02/eval-classifier.json: not valid JSON"),
        "{e:#}"
    );
}

/// Whether the first training of the comparison in `out` stopped as one SIGINT stops it: at
/// the end of a step, with a checkpoint, saying so in its log (a second SIGINT, or any other
/// signal, ends it at once without that line).
fn first_training_stopped_at_its_checkpoint(out: &Path) -> bool {
    let log = std::fs::read_to_string(out.join("jobs/train/1.log")).unwrap_or_default();
    log.contains("interrupted: stopped after G step")
        && out
            .join("train/random-01/checkpoint/last.safetensors")
            .is_file()
}

/// The comparison in `out` ended as one SIGINT ends it: status 130 and its message, its first
/// training stopped at its checkpoint, no other started. Returns its stderr.
fn assert_interrupted_once(o: &std::process::Output, out: &Path) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    assert!(
        first_training_stopped_at_its_checkpoint(out),
        "the running training stopped at its checkpoint, after one SIGINT"
    );
    assert!(
        !out.join("train/random-02").exists(),
        "a job started after the SIGINT"
    );
    err
}

/// A comparison of two random architectures whose trainings are far too long to end by
/// themselves, in a process group of its own, once its first training has logged a step:
/// the running comparison and its directory.
fn long_compare_running(name: &str) -> (common::Running, PathBuf) {
    use std::os::unix::process::CommandExt;
    let root = tmp(name);
    let data = root.join("data");
    labelled_folder(&data);
    let out = root.join("cmp");
    let mut child = common::Running::new(
        common::autogan_cmd(Some(&root.join("home")))
            .args(["--device", "cpu", "--threads", "1", "compare", "--dataset"])
            .arg(&data)
            .args(["--seeds", "0", "--random", "2", "--paper", "none"])
            .args(["--train-steps", "100000", "--train-args"])
            .arg(format!("{SIZES} --log-every 1"))
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let log = out.join("train/random-01/train.jsonl");
    child.wait_until(
        "the first training logged a step",
        std::time::Duration::from_secs(300),
        || std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2),
    );
    (child, out)
}

#[test]
fn ctrl_c_stops_the_running_job_starts_no_other_and_prints_the_resume_command() {
    let (child, out) = long_compare_running("compare-ctrl-c");
    // Ctrl-C in a terminal reaches the whole process group: here compare alone, since each
    // job runs in a group of its own and compare passes the SIGINT on.
    let o = child.signal_group_and_wait(libc::SIGINT);
    let err = assert_interrupted_once(&o, &out);
    assert!(
        err.contains(&format!("autogan compare --resume {}", out.display())),
        "no resume command in:\n{err}"
    );
    // Finished another way (by hand), the interrupted job has no wall time, rather than that
    // of its interrupted attempt.
    write_safetensors(&out.join("train/random-01/generator.safetensors"));
    let wall = compare::wall_times(&compare::Layout { root: out.clone() });
    assert!(!wall.contains_key("train-random-01"), "{wall:?}");
}

/// A SIGINT sent to compare alone (`kill -INT PID`, not a terminal's Ctrl-C) is passed on to
/// the running training, which stops at its checkpoint; compare killed alone (SIGKILL) leaves
/// no training running without it.
#[test]
fn signals_sent_to_compare_alone_reach_its_running_job() {
    let limit = std::time::Duration::from_secs(180);
    let (child, out) = long_compare_running("compare-sigint-alone");
    let o = child.signal_and_wait_within(libc::SIGINT, limit);
    assert_interrupted_once(&o, &out);

    let (child, out) = long_compare_running("compare-sigkill-alone");
    let pid: i32 = std::fs::read_to_string(out.join("jobs/train/1.pid"))
        .expect("the running training's pid file")
        .trim()
        .parse()
        .unwrap();
    let status = child.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    // The orphaned training stops (reaped by init, or a zombie if nothing reaps it here).
    let t0 = std::time::Instant::now();
    let ended = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    };
    while !ended() {
        if t0.elapsed() > limit {
            // SAFETY: kill(2) on the training this test started through compare.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the training {pid} still runs {limit:?} after its compare was killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        first_training_stopped_at_its_checkpoint(&out),
        "the orphaned training stopped at its checkpoint, after one SIGINT"
    );
}
